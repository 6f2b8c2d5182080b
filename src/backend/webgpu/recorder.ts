/// <reference types="@webgpu/types" />
/**
 * Command recording: one command encoder that kernels record compute dispatches and copies into,
 * submitted at `flush()` (a read flushes; so does the encoder filling up). Every dispatch's
 * parameter words (and its shape table) go into one arena buffer at 256-byte-aligned slots; the
 * arena is written to the device once per submission, just before it. Uploads of host data go the
 * same way: into an upload area (1 MiB) written once per submission, copied from there in order.
 * A dispatch's bind group is made once for its pipeline and arrays and kept (bind-groups.ts), the
 * slots passed as dynamic offsets. Between `startTimestamps` and `stopTimestamps` every compute
 * pass writes a timestamp where it begins and where it ends (timer.ts reads them).
 *
 * ```ts
 * const rec = new Recorder(gpu);
 * rec.dispatch(pipeline, bindings, params, params.length, undefined, [4, 1, 1]);
 * rec.flush();
 * ```
 */
import { BindGroupCache, bindGroupEntries, layoutOf, type Bindings } from "./bind-groups.js";
import type { GpuDevice } from "./device.js";

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly host: Uint32Array;
  private readonly arena: GPUBuffer;
  private readonly align: number;
  private used = 0;
  private recorded = 0;
  private garbage: GPUBuffer[] = [];
  private timer: { set: GPUQuerySet; next: number } | null = null;
  /** Host data of this submission's uploads, written to `uploads` just before it (see `upload`). */
  private readonly staged: Uint8Array;
  private readonly uploads: GPUBuffer;
  private stagedBytes = 0;
  /** The pipeline set in the open pass, and the dynamic offsets of a dispatch with and without a table (reused, not made per call). */
  private pipeline: GPUComputePipeline | null = null;
  private readonly offsets1 = [0];
  private readonly offsets2 = [0, 0];
  /** Submissions so far. */
  submissions = 0;
  /** Dispatches so far. */
  dispatches = 0;
  /** Buffer copies and clears so far (each ends the compute pass open before it). */
  copies = 0;
  clears = 0;
  /** Compute passes begun so far. */
  passes = 0;
  /**
   * When set, every dispatch is recorded with zero workgroups (a no-op): everything else as usual,
   * so a training loop's time is the host's share alone (bench/demo.ts --host-only). Results are
   * meaningless meanwhile.
   */
  emptyDispatches = false;
  /** The bind groups of pipelines with an explicit layout (bind-groups.ts). */
  readonly bindGroups: BindGroupCache;

  constructor(private readonly gpu: GpuDevice, private readonly arenaBytes = 1 << 16, private readonly maxDispatches = 256,
    private readonly uploadBytes = 1 << 20) {
    this.host = new Uint32Array(arenaBytes / 4);
    this.staged = new Uint8Array(uploadBytes);
    this.uploads = gpu.device.createBuffer({ size: uploadBytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.align = Math.max(gpu.limits.minUniformBufferOffsetAlignment, gpu.limits.minStorageBufferOffsetAlignment);
    this.arena = gpu.device.createBuffer({ size: arenaBytes, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.bindGroups = new BindGroupCache(gpu.device);
  }

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.gpu.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
    this.pipeline = null;
  }

  /** Records a buffer-to-buffer copy (byte offsets and size multiples of 4). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.recorded++;
    this.copies++;
  }

  /**
   * Records writing `host` into dst from byte `dstOffset` (a multiple of 4), in the recorder's
   * order: the bytes go into this submission's upload area, written to the device by `flush` just
   * before the submission, and a copy from there is recorded here, so the data lands after every
   * kernel recorded before. False when they do not fit the area (the caller uploads another way).
   */
  upload(host: Float32Array, dst: GPUBuffer, dstOffset: number): boolean {
    const bytes = host.byteLength;
    if (bytes > this.uploadBytes) return false;
    if (this.stagedBytes + bytes > this.uploadBytes) this.flush();
    const at = this.stagedBytes;
    this.staged.set(new Uint8Array(host.buffer, host.byteOffset, bytes), at);
    this.stagedBytes += bytes;
    this.copy(this.uploads, at, dst, dstOffset, bytes);
    return true;
  }

  /** Records zeroing `bytes` bytes of a buffer from byte `offset` (both multiples of 4). */
  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    this.endPass();
    this.enc().clearBuffer(buffer, offset, bytes);
    this.recorded++;
    this.clears++;
  }

  /** Destroys b once the commands recorded so far are submitted. */
  destroyAfterSubmit(b: GPUBuffer): void {
    this.garbage.push(b);
  }

  /**
   * From now until `stopTimestamps`, each compute pass writes timestamps 2i (where it begins) and
   * 2i + 1 (where it ends) of `set`, from i = 0; the device needs the timestamp-query feature.
   */
  startTimestamps(set: GPUQuerySet): void {
    this.endPass();
    this.timer = { set, next: 0 };
  }

  /** Ends the timed passes and returns how many timestamps they write. */
  stopTimestamps(): number {
    this.endPass();
    const n = this.timer?.next ?? 0;
    this.timer = null;
    return n;
  }

  /** Records resolving timestamps 0 .. count - 1 of `set` into `dst` (QUERY_RESOLVE usage) from byte 0. */
  resolveTimestamps(set: GPUQuerySet, count: number, dst: GPUBuffer): void {
    this.endPass();
    this.enc().resolveQuerySet(set, 0, count, dst, 0);
    this.recorded++;
  }

  private beginPass(): GPUComputePassEncoder {
    this.passes++;
    const t = this.timer;
    if (!t) return this.enc().beginComputePass();
    if (t.next + 2 > t.set.count) {
      throw new RangeError(`Recorder.dispatch: more timed passes than the ${t.set.count / 2} the query set holds`);
    }
    const timestampWrites = { querySet: t.set, beginningOfPassWriteIndex: t.next, endOfPassWriteIndex: t.next + 1 };
    t.next += 2;
    return this.enc().beginComputePass({ timestampWrites });
  }

  private slotBytes(bytes: number): number {
    return Math.ceil(Math.max(bytes, 16) / this.align) * this.align;
  }

  private slot(bytes: number): number {
    const at = this.used;
    this.used += this.slotBytes(bytes);
    return at;
  }

  /**
   * Records one dispatch: binding 0 is the first `words` words of `params` (uniform), then the
   * windows of `b` (bindings 1..n), then `table` (read-only storage) when given.
   */
  dispatch(pipeline: GPUComputePipeline, b: Bindings, params: Uint32Array, words: number, table: Uint32Array | undefined,
    groups: readonly [number, number, number]): void {
    const need = this.slotBytes(4 * words) + (table ? this.slotBytes(table.byteLength) : 0);
    if (need > this.arenaBytes) throw new RangeError(`Recorder.dispatch: parameters of ${need} bytes exceed the arena`);
    if (this.used + need > this.arenaBytes || this.recorded >= this.maxDispatches) this.flush();
    const pAt = this.slot(4 * words), host = this.host;
    for (let i = 0, w = pAt / 4; i < words; i++) host[w + i] = params[i]!;
    const paramBytes = Math.max(16, Math.ceil(words / 4) * 16);
    let tAt = 0;
    if (table) {
      tAt = this.slot(table.byteLength);
      host.set(table, tAt / 4);
    }
    const tableBytes = table ? Math.max(4, table.byteLength) : 0;
    const layout = layoutOf(pipeline);
    this.pass ??= this.beginPass();
    if (pipeline !== this.pipeline) this.pass.setPipeline(pipeline); // the pass keeps it between dispatches
    this.pipeline = pipeline;
    if (layout) {
      // kept across dispatches over the same arrays; the arena slots as dynamic offsets
      const group = this.bindGroups.get(pipeline, layout, this.arena, b, paramBytes, tableBytes);
      if (table) {
        this.offsets2[0] = pAt;
        this.offsets2[1] = tAt;
        this.pass.setBindGroup(0, group, this.offsets2);
      } else {
        this.offsets1[0] = pAt;
        this.pass.setBindGroup(0, group, this.offsets1);
      }
    } else {
      const entries = bindGroupEntries(this.arena, pAt, paramBytes, b, tAt, tableBytes);
      this.pass.setBindGroup(0, this.gpu.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    }
    if (this.emptyDispatches) this.pass.dispatchWorkgroups(0, 0, 0);
    else this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.recorded++;
    this.dispatches++;
  }

  /**
   * The submission that commands recorded now go into (`submissions`, the count so far) while one
   * is open (something recorded since the last flush); -1 when none is.
   */
  get open(): number {
    return this.encoder ? this.submissions : -1;
  }

  /** Submits everything recorded (nothing when nothing was). */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      const queue = this.gpu.device.queue;
      if (this.used > 0) queue.writeBuffer(this.arena, 0, this.host.buffer, 0, this.used);
      if (this.stagedBytes > 0) queue.writeBuffer(this.uploads, 0, this.staged.buffer, 0, this.stagedBytes);
      queue.submit([this.encoder.finish()]);
      this.submissions++;
    }
    this.encoder = null;
    this.used = 0;
    this.stagedBytes = 0;
    this.recorded = 0;
    for (const b of this.garbage) b.destroy();
    this.garbage = [];
  }
}
