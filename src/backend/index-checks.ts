/**
 * The range check of indices that live on a device, deferred to the next read (as CUDA's
 * device-side asserts are): a gather whose indices are a device array (an int32 tensor's, e.g.
 * argmax's) cannot check them on the host without reading them back, so its kernel writes a row
 * of zeros for an index outside [0, n) and sets a flag, a u32 slot of a small buffer the device
 * backend keeps; the backend's next `read` / `readMany` reads the slots in use with the arrays it
 * was asked for (one submission), clears them, and throws this module's ValueError for the first
 * one set (on webgpu `finish`, the wait for the device, reads them too):
 *
 *   indexSelect: indices expected values in [0, 10), got an index outside it (found on the device)
 *
 * `CheckSlots` is the host side that the device backends share (webgpu, the tests' host-memory
 * device): a description per slot in use (op, argument, n), one slot per distinct description
 * since the last read (a training loop's embedding reuses one), at most `capacity` of them. Every
 * read frees them all. When they run out, the backend reads and clears them at once
 * (flush-and-check) and keeps the error, if any, for the next read.
 *
 * ```ts
 * const slots = new CheckSlots(64);
 * const s = slots.slot({ op: "embedding", arg: "indices" }, 10); // 0: the kernel flags word s
 * const err = flaggedError(slots.take(), words);                 // the ValueError, or null; every slot free
 * ```
 */
import { ValueError } from "../tensor/errors.js";

/** Names the device indices of a gather for its deferred range check: the op and its argument. */
export interface IndexCheck {
  readonly op: string;
  readonly arg: string;
}

/** A check and the range [0, n) its indices must lie in. */
export interface CheckedRange extends IndexCheck {
  readonly n: number;
}

/** Slots the device backends keep when not told otherwise (64 u32 words: 256 bytes). */
export const CHECK_SLOTS = 64;

/** The error of an index outside [0, n) found on the device. */
export function indexRangeError(c: CheckedRange): ValueError {
  return new ValueError(c.op, c.arg, `values in [0, ${c.n})`, "an index outside it (found on the device)");
}

/** The descriptions of a device's check slots in use (see the module comment). */
export class CheckSlots {
  private readonly byKey = new Map<string, number>();
  private ranges: CheckedRange[] = [];

  constructor(readonly capacity = CHECK_SLOTS) {}

  /** Slots in use: the words [0, used) of the flag buffer. */
  get used(): number {
    return this.ranges.length;
  }

  /** The slot of `check` over [0, n): the one it already has since the last take, a new one, or null when all are in use. */
  slot(check: IndexCheck, n: number): number | null {
    const key = `${check.op}\u0000${check.arg}\u0000${n}`;
    const s = this.byKey.get(key);
    if (s !== undefined) return s;
    if (this.ranges.length >= this.capacity) return null;
    this.byKey.set(key, this.ranges.length);
    this.ranges.push({ op: check.op, arg: check.arg, n });
    return this.ranges.length - 1;
  }

  /** The descriptions of the slots in use, in slot order; every slot is free afterwards. */
  take(): CheckedRange[] {
    const taken = this.ranges;
    this.ranges = [];
    this.byKey.clear();
    return taken;
  }
}

/** The error of the first slot set in `flags` (its words, slot order) among `ranges`, or null when none is. */
export function flaggedError(ranges: readonly CheckedRange[], flags: ArrayLike<number>): ValueError | null {
  for (let s = 0; s < ranges.length; s++) if (flags[s] !== 0) return indexRangeError(ranges[s]!);
  return null;
}
