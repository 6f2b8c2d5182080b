/// <reference types="@webgpu/types" />
/**
 * Device memory: a pool of storage buffers in power-of-two size classes (at least 256 bytes), so
 * that a released buffer serves the next request of its class, the free ones of a class in the
 * order they were made (not the order they came back in: a training loop that takes and gives back
 * the same arrays step after step then gets the same buffers, and the recorder keeps their bind
 * groups, bind-groups.ts); plus the two host transfers, `upload` and `read` (copy to a staging
 * buffer, submit, mapAsync; the staging buffers of reads kept by size class for the next read).
 * An upload into a buffer that no command of the open submission uses (a new one, or one given
 * back before the last submission) is written by the queue at once, ahead of that submission, with
 * no copy in it; otherwise, as `write` always, through the recorder's upload area (or a mapped
 * staging buffer when larger), copied in the recorder's order so that it lands after every kernel
 * recorded before it. `readMany` reads many arrays with one submission (their copies packed into
 * staging buffers of at most maxBufferSize bytes, all mapped together); `read` is readMany of one.
 *
 * ```ts
 * const x = pool.upload(Float32Array.of(1, 2, 3)); // GpuArray { buffer, offset: 0, length: 3 }
 * await pool.read(x); // Float32Array [1, 2, 3]
 * await pool.readMany([x, y]); // [Float32Array [1, 2, 3], ...]: one submission
 * pool.release(x);
 * ```
 */
import type { GpuArray } from "./context.js";
import type { GpuDevice } from "./device.js";
import { GpuOutOfMemoryError } from "./errors.js";
import type { Recorder } from "./recorder.js";

const MIN_BYTES = 256;
/** Read staging buffers kept per size class, and the largest kept. */
const READ_STAGING_KEPT = 2;
const READ_STAGING_MAX_BYTES = 4 << 20;

/** The size class of `bytes`: the next power of two (at least 256), capped at the device's largest buffer. */
export function sizeClass(bytes: number, maxBufferSize: number): number {
  // up to 2^31 by the count of leading zeros (exact, no logarithm), past it by log2
  const c = bytes <= MIN_BYTES ? MIN_BYTES : bytes <= 2 ** 31 ? 2 ** (32 - Math.clz32(bytes - 1)) : 2 ** Math.ceil(Math.log2(bytes));
  return Math.min(c, maxBufferSize - (maxBufferSize % 4));
}

/**
 * A buffer the pool made: its order of making, its size in bytes, whether it waits in a free list,
 * and the submission open when it was given back (the recorder's `open`; -1: none, or never given
 * back), which may still hold commands that use it.
 */
interface Made {
  buffer: GPUBuffer;
  id: number;
  size: number;
  idle: boolean;
  releasedIn: number;
}

export class BufferPool {
  /** The idle buffers of each size class, in the order they were made (the oldest is handed out first). */
  private readonly free = new Map<number, Made[]>();
  private readonly made = new WeakMap<GPUBuffer, Made>();
  private nextId = 0;
  /** Bytes in buffers this pool created and has not destroyed. */
  bytesAllocated = 0;

  constructor(private readonly gpu: GpuDevice, private readonly recorder: Recorder,
    private readonly report: (check: Promise<Error | null>) => void) {}

  /** Host data written by the queue at once (`upload` into a buffer no open command uses). */
  directWrites = 0;

  /** An array of n float32 elements (contents undefined) from the pool or a new buffer. */
  acquire(n: number): GpuArray {
    const m = this.take(n);
    return { buffer: m.buffer, offset: 0, length: n };
  }

  /** The record of a buffer for n float32 elements: an idle one of its class, or a new one. */
  private take(n: number): Made {
    const bytes = Math.max(4, n * 4);
    const { maxBufferSize } = this.gpu.limits;
    if (!Number.isSafeInteger(n) || n < 0 || bytes > maxBufferSize) {
      throw new GpuOutOfMemoryError("BufferPool.acquire", bytes, `the device's maxBufferSize is ${maxBufferSize}`);
    }
    const size = sizeClass(bytes, maxBufferSize);
    const list = this.free.get(size);
    const reused = list?.shift();
    if (reused) {
      reused.idle = false;
      return reused;
    }
    const device = this.gpu.device;
    device.pushErrorScope("out-of-memory");
    const buffer = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.report(device.popErrorScope().then((err) => (err ? new GpuOutOfMemoryError("BufferPool.acquire", size, err.message) : null)));
    const m: Made = { buffer, id: this.nextId++, size, idle: false, releasedIn: -1 };
    this.made.set(buffer, m);
    this.bytesAllocated += size;
    return m;
  }

  /**
   * The pool's record of b (its id, the order of making, and its size in bytes, kept on the host:
   * the size getter calls into the WebGPU implementation); undefined for a buffer it did not make.
   */
  recordOf(b: GPUBuffer): { readonly id: number; readonly size: number } | undefined {
    return this.made.get(b);
  }

  /**
   * Returns an array's buffer to its class. Dispatches recorded before still see the old contents
   * (the queue runs in order); arrays not from `acquire` and second releases are ignored.
   */
  release(arr: GpuArray): void {
    const m = this.made.get(arr.buffer);
    if (!m || m.idle) return;
    m.idle = true;
    m.releasedIn = this.recorder.open;
    const list = this.free.get(m.size);
    if (!list) this.free.set(m.size, [m]);
    else {
      let i = list.length;
      while (i > 0 && list[i - 1]!.id > m.id) i--;
      list.splice(i, 0, m);
    }
  }

  /**
   * Mappable staging buffers for reads, by size class, kept for the next read of their class (a
   * training loop reads its loss every step; a GPU driver's mappable memory is costly to make):
   * at most READ_STAGING_KEPT a class, none past READ_STAGING_MAX_BYTES.
   */
  private readonly readStaging = new Map<number, GPUBuffer[]>();
  /** The size class of each read staging buffer (kept here: GPUBuffer.size calls into the implementation). */
  private readonly readStagingSize = new WeakMap<GPUBuffer, number>();
  /** Staging buffers made for reads (tests). */
  readStagingMade = 0;

  /** A mappable staging buffer of at least `bytes` (its class): a kept one, or a new one. */
  private takeReadStaging(bytes: number): GPUBuffer {
    const size = sizeClass(bytes, this.gpu.limits.maxBufferSize);
    const kept = this.readStaging.get(size)?.pop();
    if (kept) return kept;
    this.readStagingMade++;
    const b = this.gpu.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.readStagingSize.set(b, size);
    return b;
  }

  /** A staging buffer whose mapped contents were copied out: unmapped and kept for the next read of its class, or destroyed. */
  private giveReadStaging(b: GPUBuffer, mapped: boolean): void {
    const size = this.readStagingSize.get(b)!;
    if (!mapped || size > READ_STAGING_MAX_BYTES) {
      b.destroy();
      return;
    }
    b.unmap();
    const list = this.readStaging.get(size);
    if (!list) this.readStaging.set(size, [b]);
    else if (list.length < READ_STAGING_KEPT) list.push(b);
    else b.destroy();
  }

  /** Destroys every idle buffer (and drops the kept bind groups, which may hold them) and the kept read staging buffers. */
  trim(): void {
    for (const list of this.readStaging.values()) for (const b of list) b.destroy();
    this.readStaging.clear();
    this.recorder.bindGroups.clear();
    for (const list of this.free.values()) {
      for (const m of list) {
        this.bytesAllocated -= m.size;
        m.buffer.destroy(); // still idle: a late release is ignored
      }
    }
    this.free.clear();
  }

  /**
   * A new array holding `host`. When no command recorded since the last submission can use its
   * buffer (a new one, or one given back before that submission), the queue writes it at once:
   * queue writes run after the work submitted before them and before the next submission, so the
   * open submission needs no copy (nor a break in its compute pass). Otherwise as `write`.
   */
  upload(host: Float32Array): GpuArray {
    const m = this.take(host.length);
    const arr = { buffer: m.buffer, offset: 0, length: host.length };
    // (from an ArrayBuffer: whether each implementation takes shared memory here is not known)
    if (host.length > 0 && m.releasedIn < this.recorder.submissions && host.buffer instanceof ArrayBuffer) {
      this.gpu.device.queue.writeBuffer(m.buffer, 0, host.buffer, host.byteOffset, host.byteLength);
      this.directWrites++;
    } else this.write(arr, host);
    return arr;
  }

  /** Writes `host` into arr (host.length <= arr.length), ordered after the kernels recorded so far. */
  write(arr: GpuArray, host: Float32Array): void {
    if (host.length === 0) return;
    if (this.recorder.upload(host, arr.buffer, arr.offset * 4)) return;
    // larger than the recorder's upload area: a mapped staging buffer of its own
    const bytes = host.length * 4;
    const staging = this.gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Float32Array(staging.getMappedRange()).set(host);
    staging.unmap();
    this.recorder.copy(staging, 0, arr.buffer, arr.offset * 4, bytes);
    this.recorder.destroyAfterSubmit(staging);
  }

  /** The array's contents once every kernel recorded before has run (submits them): readMany of one. */
  async read(arr: GpuArray): Promise<Float32Array> {
    return (await this.readMany([arr]))[0]!;
  }

  /**
   * The contents of each of `arrs` (in order) once every kernel recorded before has run: the
   * copies go into staging buffers of at most `maxBytes` bytes each (the device's largest buffer;
   * an array larger than `maxBytes` gets one of its own), recorded into one submission, and the
   * staging buffers are mapped together.
   */
  async readMany(arrs: readonly GpuArray[], maxBytes = this.gpu.limits.maxBufferSize): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array<Float32Array>(arrs.length);
    const batches: { staging: GPUBuffer; items: { i: number; at: number; bytes: number }[] }[] = [];
    let items: { i: number; at: number; bytes: number }[] = [], total = 0;
    const close = (): void => {
      if (items.length === 0) return;
      const staging = this.takeReadStaging(total);
      for (const it of items) {
        const arr = arrs[it.i]!;
        this.recorder.copy(arr.buffer, arr.offset * 4, staging, it.at, it.bytes);
      }
      batches.push({ staging, items });
      items = [];
      total = 0;
    };
    arrs.forEach((arr, i) => {
      const bytes = arr.length * 4;
      if (bytes === 0) {
        out[i] = new Float32Array(0);
        return;
      }
      if (total > 0 && total + bytes > maxBytes) close();
      items.push({ i, at: total, bytes });
      total += bytes;
    });
    close();
    if (batches.length === 0) return out;
    this.recorder.flush();
    let mapped = false;
    try {
      await Promise.all(batches.map((b) => b.staging.mapAsync(GPUMapMode.READ)));
      mapped = true;
      for (const { staging, items: its } of batches) {
        const last = its[its.length - 1]!, range = staging.getMappedRange(0, last.at + last.bytes);
        for (const it of its) out[it.i] = new Float32Array(range.slice(it.at, it.at + it.bytes));
      }
      return out;
    } finally {
      // (a failed map leaves the others' state unknown: all are destroyed then)
      for (const b of batches) this.giveReadStaging(b.staging, mapped);
    }
  }
}
