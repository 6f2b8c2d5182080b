/**
 * Which gradient temporaries of one backward pass may go back to the buffer pool (tensor/pool.ts).
 * A buffer is recycled only when all of these hold:
 * - it was born during this pass (allocated or taken from the pool while the pass ran), so it is
 *   never a parameter, a cached constant or anything the caller made;
 * - it is not the data of any tensor on the graph (views share buffers: a backward may return a
 *   reshape of a forward tensor), nor a `.grad` handed out to a leaf or a retained tensor;
 * - no pending gradient refers to it: references are counted per ArrayBuffer, so a gradient an op
 *   handed to two inputs, or a view of one (reshape, contiguous slice, a BlockGrad's block), keeps
 *   the buffer alive until the last of them is consumed.
 */
import { recycleBuffer } from "../tensor/pool.js";
import type { Tensor } from "../tensor/tensor.js";

export class Recycler {
  /** Buffers born during the pass (filled by tensor/pool.ts while tracked). */
  readonly born = new Set<ArrayBuffer>();
  private readonly pinned = new Set<ArrayBuffer>();
  private readonly refs = new Map<ArrayBuffer, number>();

  /** Never recycle t's buffer. */
  pin(t: Tensor): void {
    if (t.device !== null) return; // device buffers are the device pool's (DeviceRelease)
    this.pinned.add(t.data.buffer as ArrayBuffer);
  }

  /** A pending gradient now refers to t's buffer. */
  ref(t: Tensor): void {
    if (t.device !== null) return;
    const b = t.data.buffer as ArrayBuffer;
    this.refs.set(b, (this.refs.get(b) ?? 0) + 1);
  }

  /** A pending reference to t's buffer is gone. */
  unref(t: Tensor): void {
    if (t.device !== null) return;
    const b = t.data.buffer as ArrayBuffer;
    const n = (this.refs.get(b) ?? 0) - 1;
    if (n > 0) this.refs.set(b, n);
    else this.refs.delete(b);
  }

  /** True when t's buffer is the pass's own and nothing else refers to it. */
  exclusive(t: Tensor): boolean {
    if (t.device !== null) return false;
    const a = t.data;
    if (!(a instanceof Float32Array)) return false;
    const b = a.buffer as ArrayBuffer;
    return this.born.has(b) && !this.pinned.has(b) && !this.refs.has(b) && a.byteOffset === 0;
  }

  /** Recycles t's buffer when it is the pass's own and nothing refers to it any more. */
  drop(t: Tensor): void {
    if (t.device !== null) return;
    const a = t.data;
    if (!(a instanceof Float32Array)) return;
    const b = a.buffer as ArrayBuffer;
    if (!this.born.has(b) || this.pinned.has(b) || this.refs.has(b)) return;
    this.born.delete(b); // once: a later view of the same buffer must not give it back again
    recycleBuffer(b);
  }
}
