/// <reference types="@webgpu/types" />
/**
 * Device memory: a pool of storage buffers in power-of-two size classes (at least 256 bytes), so
 * that a released buffer serves the next request of its class, the free ones of a class in the
 * order they were made (not the order they came back in: a training loop that takes and gives back
 * the same arrays step after step then gets the same buffers, and the recorder keeps their bind
 * groups, bind-groups.ts); plus the two host transfers, `upload` (through the recorder's upload
 * area, or a mapped staging buffer when larger, copied in the recorder's order, so it lands after
 * every kernel recorded before it) and `read` (copy to a staging buffer, submit, mapAsync);
 * `readMany` reads many arrays with one submission (their copies packed into staging buffers of at
 * most maxBufferSize bytes, all mapped together).
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

/** The size class of `bytes`: the next power of two (at least 256), capped at the device's largest buffer. */
export function sizeClass(bytes: number, maxBufferSize: number): number {
  const c = Math.max(MIN_BYTES, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));
  return Math.min(c, maxBufferSize - (maxBufferSize % 4));
}

/** A buffer the pool made: its order of making, its size in bytes, and whether it waits in a free list. */
interface Made {
  buffer: GPUBuffer;
  id: number;
  size: number;
  idle: boolean;
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

  /** An array of n float32 elements (contents undefined) from the pool or a new buffer. */
  acquire(n: number): GpuArray {
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
      return { buffer: reused.buffer, offset: 0, length: n };
    }
    const device = this.gpu.device;
    device.pushErrorScope("out-of-memory");
    const buffer = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.report(device.popErrorScope().then((err) => (err ? new GpuOutOfMemoryError("BufferPool.acquire", size, err.message) : null)));
    this.made.set(buffer, { buffer, id: this.nextId++, size, idle: false });
    this.bytesAllocated += size;
    return { buffer, offset: 0, length: n };
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
    const list = this.free.get(m.size);
    if (!list) this.free.set(m.size, [m]);
    else {
      let i = list.length;
      while (i > 0 && list[i - 1]!.id > m.id) i--;
      list.splice(i, 0, m);
    }
  }

  /** Destroys every idle buffer (and drops the kept bind groups, which may hold them). */
  trim(): void {
    this.recorder.bindGroups.clear();
    for (const list of this.free.values()) {
      for (const m of list) {
        this.bytesAllocated -= m.size;
        m.buffer.destroy(); // still idle: a late release is ignored
      }
    }
    this.free.clear();
  }

  /** A new array holding `host`. */
  upload(host: Float32Array): GpuArray {
    const arr = this.acquire(host.length);
    this.write(arr, host);
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

  /** The array's contents once every kernel recorded before has run (submits them). */
  async read(arr: GpuArray): Promise<Float32Array> {
    if (arr.length === 0) return new Float32Array(0);
    const bytes = arr.length * 4;
    const staging = this.gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.recorder.copy(arr.buffer, arr.offset * 4, staging, 0, bytes);
    this.recorder.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
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
      const staging = this.gpu.device.createBuffer({ size: total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
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
    try {
      await Promise.all(batches.map((b) => b.staging.mapAsync(GPUMapMode.READ)));
      for (const { staging, items: its } of batches) {
        const range = staging.getMappedRange();
        for (const it of its) out[it.i] = new Float32Array(range.slice(it.at, it.at + it.bytes));
      }
      return out;
    } finally {
      for (const b of batches) b.staging.destroy();
    }
  }
}
