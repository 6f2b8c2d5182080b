/// <reference types="@webgpu/types" />
/**
 * The device side of the deferred index checks (backend/index-checks.ts) on webgpu: one buffer of
 * `capacity` u32 flags, zeroed when made, never given back; a gather with unchecked device indices
 * gets a slot (`slot`) and its kernel stores 1 there when an index is out of range. A read takes
 * the slots in use (`take`: the flags as an array to copy with the read's own, in its submission)
 * and records their zeroing after that copy (`clear`); WebGPUKernels turns the words read into the
 * error. When every slot is in use, `slot` reads and clears them at once (a copy into a staging
 * buffer, the zeroing, a submission) and reports their error, if any, through `report`: WebGPUKernels
 * keeps it and throws it at the next read, as it does WebGPU's own asynchronous errors.
 * `WebGPUKernels.finish` does the same (`checkPending`), so an index out of range is reported by
 * the wait for the device too, not only by a read.
 *
 * ```ts
 * const { flags, slot } = checks.slot({ op: "embedding", arg: "indices" }, V); // bound by the gather kernel
 * const taken = checks.take(); // { arr, ranges } or null: read arr with the arrays asked for
 * checks.clear(taken.ranges.length);
 * ```
 */
import { CheckSlots, flaggedError, type CheckedRange, type IndexCheck } from "../index-checks.js";
import type { GpuArray } from "./context.js";
import type { GpuDevice } from "./device.js";
import type { BufferPool } from "./pool.js";
import type { Recorder } from "./recorder.js";

export class DeviceIndexChecks {
  private readonly slots: CheckSlots;
  private flags: GpuArray | null = null;

  constructor(private readonly gpu: GpuDevice, private readonly pool: BufferPool, private readonly recorder: Recorder,
    private readonly report: (check: Promise<Error | null>) => void, capacity?: number) {
    this.slots = new CheckSlots(capacity);
  }

  /** Slots this device has (the flag buffer's u32 words). */
  get capacity(): number {
    return this.slots.capacity;
  }

  /** The flag array and the slot of `check` over [0, n), reading and clearing the slots first when every one is in use. */
  slot(check: IndexCheck, n: number): { flags: GpuArray; slot: number } {
    const flags = this.flagArray();
    let s = this.slots.slot(check, n);
    if (s === null) {
      this.checkPending();
      s = this.slots.slot(check, n)!;
    }
    return { flags, slot: s };
  }

  /** For a read: the slots in use as an array (their u32 words) and their descriptions, every slot freed; null when none is in use. */
  take(): { arr: GpuArray; ranges: CheckedRange[] } | null {
    if (this.slots.used === 0 || this.flags === null) return null;
    const ranges = this.slots.take();
    return { arr: { buffer: this.flags.buffer, offset: 0, length: ranges.length }, ranges };
  }

  /** Records zeroing the first `count` slots, after the work (the copy of a read) recorded so far. */
  clear(count: number): void {
    if (this.flags !== null && count > 0) this.recorder.clear(this.flags.buffer, 0, count * 4);
  }

  private flagArray(): GpuArray {
    if (this.flags === null) {
      this.flags = this.pool.acquire(this.slots.capacity);
      this.recorder.clear(this.flags.buffer, 0, this.slots.capacity * 4);
    }
    return this.flags;
  }

  /**
   * The slots in use copied to a staging buffer and zeroed, and everything recorded submitted; the
   * error of the words copied goes to `report` (nothing is submitted when no slot is in use).
   */
  checkPending(): void {
    const taken = this.take();
    if (taken === null) return;
    const bytes = taken.ranges.length * 4;
    const staging = this.gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.recorder.copy(taken.arr.buffer, 0, staging, 0, bytes);
    this.clear(taken.ranges.length);
    this.recorder.flush();
    this.report(staging.mapAsync(GPUMapMode.READ)
      .then(() => flaggedError(taken.ranges, new Uint32Array(staging.getMappedRange())))
      .finally(() => staging.destroy()));
  }
}
