/**
 * Frees a training step's graph once its update is done: the buffers of the intermediate tensors
 * (every non-leaf the loss was computed through) go back to the buffer pool (tensor/pool.ts), so the
 * next step's forward reuses them instead of allocating and the garbage collector has little to do.
 * Reading a freed tensor afterwards throws a `FreedTensorError`; keep what you need with `clone()`
 * before the call. The loss itself, leaves (parameters, inputs) and anything sharing their memory
 * are never freed, nor is a buffer shared with a tensor outside the graph (a `detach()`ed copy, a
 * view taken with recording off): every view made of a buffer is counted (tensor/pool.ts), and a
 * buffer goes back only when all the tensors that share it are on the graph.
 * Device tensors likewise: a device array (with its views: a reshape shares the array, a slice is a
 * view of it) goes back to its store (`DeviceStore.release`, once) when every tensor ever made over
 * it is an intermediate of the graph (tensor/pool.ts counts them); leaves and the root pin theirs.
 * So do the device tensors an op saved for its backward alone (GradNode.saved: a layer norm's
 * statistics, attention's log-sum-exps), which nothing but the graph holds.
 * A freed device tensor throws FreedTensorError on any use (its `device` and `data`).
 *
 * ```ts
 * const loss = crossEntropy(model.forward(x), y);
 * const value = loss.item();
 * backward(loss);
 * optimizer.step();
 * freeGraph(loss); // fit({ freeGraph: true }) does this after every update
 * ```
 */
import { FreedTensorError } from "../tensor/errors.js";
import type { DeviceArray } from "../tensor/device.js";
import { MIN_ELEMENTS, deviceTensorCount, recycleBuffer, viewCount } from "../tensor/pool.js";
import type { Tensor } from "../tensor/tensor.js";
import { topologicalOrder } from "./topo.js";

/** Makes every access to t's data throw (t's buffer has been given back); `what` as FreedTensorError's. */
export function poison(t: Tensor, what?: string): void {
  Object.defineProperty(t, "data", {
    get(): never {
      throw new FreedTensorError(t.toString(), what); // its dtype and shape, which stay
    },
  });
}

/** Makes every use of a device tensor throw (its array has gone back to its store); `what` as FreedTensorError's. */
export function poisonDevice(t: Tensor, what?: string): void {
  t.freeDevice(what);
}

/** Gives back the buffers of root's graph's intermediate tensors; returns the bytes freed (host and device). */
export function freeGraph(root: Tensor): number {
  const order = topologicalOrder(root); // every tensor the loss was computed through
  // the graph's tensors per buffer; leaves and the root pin theirs
  const sharers = new Map<ArrayBuffer, Tensor[]>();
  const pinned = new Set<ArrayBuffer>();
  const devSharers = new Map<DeviceArray, Tensor[]>();
  const devPinned = new Set<DeviceArray>();
  // the device tensors the graph's ops saved for their backward alone: given back with the graph's
  const saved = order.flatMap((t) => (t.gradFn?.saved ?? []).filter((s) => s.device !== null));
  for (const s of saved) {
    const r = s.device!.base ?? s.device!;
    const list = devSharers.get(r);
    if (list) list.push(s);
    else devSharers.set(r, [s]);
  }
  for (const t of order) {
    const dev = t.device;
    if (dev !== null) {
      const r = dev.base ?? dev; // a view is counted on the array it was taken from
      if (t.gradFn === null || t === root) devPinned.add(r);
      else {
        const list = devSharers.get(r);
        if (list) list.push(t);
        else devSharers.set(r, [t]);
      }
      continue;
    }
    const a = t.data;
    if (!(a instanceof Float32Array)) continue;
    const b = a.buffer as ArrayBuffer;
    if (t.gradFn === null || t === root || b.byteLength < MIN_ELEMENTS * 4) {
      pinned.add(b);
      continue;
    }
    const list = sharers.get(b);
    if (list) list.push(t);
    else sharers.set(b, [t]);
  }
  let bytes = 0;
  for (const [b, list] of sharers) {
    // all of the buffer's tensors must be these: its owner and every view ever made of it
    if (pinned.has(b) || list.length !== 1 + viewCount(b)) continue;
    for (const t of list) poison(t);
    recycleBuffer(b);
    bytes += b.byteLength;
  }
  for (const [r, list] of devSharers) {
    // every tensor made over the array or its views must be one of these
    if (devPinned.has(r) || list.length !== deviceTensorCount(r)) continue;
    const store = list[0]!.store!;
    for (const t of list) poisonDevice(t);
    store.release(r);
    bytes += r.length * 4;
  }
  return bytes;
}

/**
 * Gives back the device array of `t` when t is the only tensor ever made over it (not a view, none
 * made of it), and makes t unusable (FreedTensorError); for a temporary, or a value read already
 * (fit's loss and clipped norm). Returns whether the array went back; a host tensor is left alone.
 */
export function releaseTensor(t: Tensor): boolean {
  const dev = t.device;
  if (dev === null || dev.base !== undefined || deviceTensorCount(dev) !== 1) return false;
  const store = t.store!;
  poisonDevice(t);
  store.release(dev);
  return true;
}

/**
 * Gives back the buffer of `t`, a temporary computed without recording a graph (inference) that
 * nothing else shares: no gradient function, no views made of its buffer, host float32 data from
 * the pool. Reading `t` afterwards throws FreedTensorError. Returns whether the buffer went back.
 * Modules call it on their own intermediates under noGrad, where no graph frees them.
 */
export function releaseTemporary(t: Tensor): boolean {
  if (t.gradFn !== null || t.requiresGrad || t.device !== null) return false;
  const a = t.data;
  if (!(a instanceof Float32Array)) return false;
  const b = a.buffer as ArrayBuffer;
  if (b.byteLength < MIN_ELEMENTS * 4 || viewCount(b) !== 0) return false;
  poison(t);
  recycleBuffer(b);
  return true;
}
