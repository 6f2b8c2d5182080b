/// <reference types="@webgpu/types" />
/**
 * GPU time of recorded work from timestamp queries (devices with the timestamp-query feature):
 * every compute pass recorded between `start()` and `stop()` writes a timestamp where it begins and
 * one where it ends; the time is the last end minus the first beginning, so the gaps between
 * passes count too. Chromium quantizes timestamps (to about 0.1 ms) unless started with
 * --enable-webgpu-developer-features; node-gpu.ts turns dawn.node's quantization off.
 *
 * ```ts
 * const timer = new GpuTimer(kernels);
 * timer.start();
 * kernels.matmul(out, a, b, 1, n, n, n, false, false, 0, 0, false);
 * timer.stop();
 * const ms = await timer.read(); // submits, waits for the work, reads the timestamps
 * ```
 */
import type { GpuDevice } from "./device.js";
import { WebGPUUnsupportedError } from "./errors.js";
import type { Recorder } from "./recorder.js";

export class GpuTimer {
  private readonly set: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;
  private count = 0;

  /** A timer for up to `maxPasses` compute passes per measurement. */
  constructor(private readonly k: { gpu: GpuDevice; recorder: Recorder }, readonly maxPasses = 64) {
    if (!k.gpu.features.timestampQuery) {
      throw new WebGPUUnsupportedError("GpuTimer", "device", "a device with the timestamp-query feature", "a device without it");
    }
    const device = k.gpu.device, bytes = 16 * maxPasses;
    this.set = device.createQuerySet({ type: "timestamp", count: 2 * maxPasses });
    this.resolved = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Times the compute passes recorded from now. */
  start(): void {
    this.k.recorder.startTimestamps(this.set);
  }

  /** Ends the timed passes and records reading their timestamps back. */
  stop(): void {
    this.count = this.k.recorder.stopTimestamps();
    if (this.count === 0) return;
    this.k.recorder.resolveTimestamps(this.set, this.count, this.resolved);
    this.k.recorder.copy(this.resolved, 0, this.staging, 0, 8 * this.count);
  }

  /**
   * Milliseconds from the first pass's beginning to the last pass's end (submits what is
   * recorded); 0 when no pass was timed, NaN when the device wrote timestamps out of order.
   */
  async read(): Promise<number> {
    if (this.count === 0) return 0;
    this.k.recorder.flush();
    await this.staging.mapAsync(GPUMapMode.READ, 0, 8 * this.count);
    const t = new BigInt64Array(this.staging.getMappedRange(0, 8 * this.count).slice(0));
    this.staging.unmap();
    const ns = t[this.count - 1]! - t[0]!;
    return ns > 0n ? Number(ns) / 1e6 : NaN;
  }

  destroy(): void {
    this.set.destroy();
    this.resolved.destroy();
    this.staging.destroy();
  }
}
