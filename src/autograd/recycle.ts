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
 * Device tensors are counted the same way by their device array (a reshape shares it), and a dead
 * one goes back to its backend's pool (`DeviceStore.release`) instead of the host pool.
 */
import { recycleBuffer } from "../tensor/pool.js";
import type { Tensor } from "../tensor/tensor.js";

export class Recycler {
  /** Buffers born during the pass (filled by tensor/pool.ts while tracked): ArrayBuffers, and device arrays. */
  readonly born = new Set<object>();
  private readonly pinned = new Set<object>();
  private readonly refs = new Map<object, number>();

  /** Never recycle t's buffer. */
  pin(t: Tensor): void {
    this.pinned.add(keyOf(t));
  }

  /** A pending gradient now refers to t's buffer. */
  ref(t: Tensor): void {
    const b = keyOf(t);
    this.refs.set(b, (this.refs.get(b) ?? 0) + 1);
  }

  /** A pending reference to t's buffer is gone. */
  unref(t: Tensor): void {
    const b = keyOf(t);
    const n = (this.refs.get(b) ?? 0) - 1;
    if (n > 0) this.refs.set(b, n);
    else this.refs.delete(b);
  }

  /** True when t's buffer is the pass's own and nothing else refers to it. */
  exclusive(t: Tensor): boolean {
    const dev = t.device;
    if (dev !== null) return dev.base === undefined && this.born.has(dev) && !this.pinned.has(dev) && !this.refs.has(dev);
    const a = t.data;
    if (!(a instanceof Float32Array)) return false;
    const b = a.buffer as ArrayBuffer;
    return this.born.has(b) && !this.pinned.has(b) && !this.refs.has(b) && a.byteOffset === 0;
  }

  /** Recycles t's buffer (gives a device array back to its store) when it is the pass's own and nothing refers to it any more. */
  drop(t: Tensor): void {
    const dev = t.device;
    if (dev !== null) {
      const root = dev.base ?? dev; // a view gives back the array it was taken from, as a host view its buffer
      if (!this.born.has(root) || this.pinned.has(root) || this.refs.has(root)) return;
      this.born.delete(root);
      t.store!.release(root);
      return;
    }
    const a = t.data;
    if (!(a instanceof Float32Array)) return;
    const b = a.buffer as ArrayBuffer;
    if (!this.born.has(b) || this.pinned.has(b) || this.refs.has(b)) return;
    this.born.delete(b); // once: a later view of the same buffer must not give it back again
    recycleBuffer(b);
  }
}

/** The identity of t's memory: its device array (a view's base), or its host array's ArrayBuffer (shared by views). */
function keyOf(t: Tensor): object {
  const d = t.device;
  return d === null ? t.data.buffer : d.base ?? d;
}
