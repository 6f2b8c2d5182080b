/**
 * Gives the memory of leaf gradients back once an update has used them, instead of leaving it to
 * the garbage collector: a `.grad` that `backward` made (its own buffer, born in the pass) goes
 * back to the buffer pool (host float32, tensor/pool.ts) or to its device's store
 * (`DeviceStore.release`), so the next backward pass takes the same memory again and a device's
 * pool stops growing between collections. Reading a released gradient afterwards throws
 * `FreedTensorError`. A gradient anything else may share is only dropped (`.grad = null`, as
 * `zeroGrad`): one set by hand, one a view was made of since backward handed it out (a reshape,
 * a slice, `detach()`), a view itself, or a small host buffer (the pool does not take those).
 *
 * ```ts
 * backward(loss);
 * optimizer.step();
 * optimizer.zeroGrad({ release: true }); // fit({ freeGraph: true }) does this before every step
 * ```
 */
import { deviceTensorCount, MIN_ELEMENTS, recycleBuffer, viewCount } from "../tensor/pool.js";
import type { Tensor } from "../tensor/tensor.js";
import { poison, poisonDevice } from "./free-graph.js";

/**
 * The gradients `backward` handed to leaves (and retained tensors), each over a buffer no other
 * live tensor shares, with the number of tensors ever made over that buffer when it was handed out
 * (the pass's own dead temporaries: a reshape it returned): one made since (a view the caller
 * took) keeps the buffer.
 */
const made = new WeakMap<Tensor, number>();

/** The tensors ever made over t's buffer (device: its array; host: views besides the owner). */
function sharers(t: Tensor): number {
  const dev = t.device;
  if (dev !== null) return deviceTensorCount(dev.base ?? dev);
  const a = t.data;
  return ArrayBuffer.isView(a) ? viewCount(a.buffer as ArrayBuffer) : -1;
}

/** Records that backward handed g out as a `.grad`, over a buffer born in its pass that no live tensor shares. */
export function noteGradMade(g: Tensor): void {
  made.set(g, sharers(g));
}

const RELEASED = "a gradient whose memory went back after the update (zeroGrad({ release: true }), or fit with freeGraph; clone() it before to keep it)";

/** Gives back g's memory when it is backward's own and unshared; returns the bytes given back. */
function releaseOne(g: Tensor): number {
  const atHandOut = made.get(g);
  if (atHandOut === undefined || sharers(g) !== atHandOut) return 0;
  made.delete(g);
  const dev = g.device;
  if (dev !== null) {
    if (dev.base !== undefined) return 0;
    const store = g.store!;
    poisonDevice(g, RELEASED);
    store.release(dev);
    return dev.length * 4;
  }
  const a = g.data;
  if (!(a instanceof Float32Array) || a.byteOffset !== 0) return 0;
  const b = a.buffer as ArrayBuffer;
  if (b.byteLength < MIN_ELEMENTS * 4) return 0;
  poison(g, RELEASED);
  recycleBuffer(b);
  return b.byteLength;
}

/** Sets `.grad` of each tensor to null, giving back the memory of those backward made (see above); returns the bytes given back. */
export function releaseGrads(tensors: Iterable<Tensor>): number {
  let bytes = 0;
  for (const t of tensors) {
    const g = t.grad;
    t.grad = null;
    if (g !== null) bytes += releaseOne(g);
  }
  return bytes;
}
