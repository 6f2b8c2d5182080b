/**
 * The rows of a gather's gradient grouped by the row they picked, for Backend.indexSelectBackward:
 * a stable counting sort, so `order` lists the positions k of the indices row by row, ascending
 * within a row, and row r holds order[offsets[r] .. offsets[r + 1]). An index outside [0, n), or
 * equal to `skip` (the embedding's padding index), is left out: its gradient row adds nowhere.
 * Integers stored as floats (exact below 2^24).
 *
 * Host indices are grouped on the host (`indexGrouping`, the js kernel `groupIndices`) and
 * uploaded; indices on a device are grouped there by the backend's `groupIndices`, the same
 * order and offsets, so both give the same sums in the same order. `gatherBackward` and
 * `gatherBackwardOnDevice` run the backward each way and give their temporaries back.
 *
 * ```ts
 * const { order, offsets } = indexGrouping("embedding", ids, V, paddingIdx); // order [<= N], offsets [V + 1]
 * gatherBackward(be, "embedding", dw, g, ids, 1, V, E, paddingIdx);          // dw [V, E], ids on the host
 * gatherBackwardOnDevice(be, "embedding", dw, g, idsArr, N, 1, V, E, paddingIdx); // ids [N] on be's device
 * ```
 */
import type { DeviceArray, DeviceStore } from "../tensor/device.js";
import { ValueError } from "../tensor/errors.js";
import type { AnyBackend, KernelArray } from "./backend.js";
import { groupIndices } from "./js/gather.js";

export interface IndexGrouping {
  /** The positions k of the kept indices, row by row, ascending within a row. */
  order: Float32Array;
  /** [n + 1]: row r holds order[offsets[r] .. offsets[r + 1]). */
  offsets: Float32Array;
}

/** m indices of `op` fit a device's float integers (below 2^24), else a ValueError. */
function checkCount(op: string, m: number): void {
  if (m >= 2 ** 24) throw new ValueError(op, "indices", "fewer than 2^24 indices on a device", String(m));
}

/** Groups the positions of `index` [m] by the row in [0, n) each picks (see the module comment). */
export function indexGrouping(op: string, index: ArrayLike<number>, n: number, skip?: number): IndexGrouping {
  const m = index.length;
  checkCount(op, m);
  const order = new Float32Array(m), offsets = new Float32Array(n + 1);
  groupIndices(order, offsets, index, n, m, skip ?? -1);
  return { order: order.subarray(0, offsets[n]!), offsets };
}

/** Gives the temporaries of a backward back to a device backend's store (a no-op on a host backend). */
function giveBack(be: AnyBackend, arrs: readonly KernelArray[]): void {
  if (be.kind === "host") return;
  for (const a of arrs) (be as unknown as DeviceStore).release(a as DeviceArray);
}

/**
 * dx [outer, n, inner] of a gather by the host indices `index` [m] on the backend `be` (a device
 * backend: the grouping is uploaded as one array, order then offsets, read through two views of
 * it, and given back after the call; the recorded work still sees it): be.indexSelectBackward over
 * indexGrouping(op, index, n, skip).
 */
export function gatherBackward(be: AnyBackend, op: string, dx: KernelArray, g: KernelArray, index: ArrayLike<number>, outer: number,
  n: number, inner: number, skip?: number): void {
  const { order, offsets } = indexGrouping(op, index, n, skip);
  if (be.kind === "host") {
    be.indexSelectBackward(dx, g, be.upload(order), be.upload(offsets), outer, n, inner, index.length);
    return;
  }
  const both = new Float32Array(order.length + offsets.length);
  both.set(order);
  both.set(offsets, order.length);
  const arr = be.upload(both);
  be.indexSelectBackward(dx, g, be.view(arr, 0, order.length), be.view(arr, order.length, offsets.length), outer, n, inner, index.length);
  giveBack(be, [arr]);
}

/**
 * dx [outer, n, inner] of a gather by the indices `index` [m] that live on be's device: grouped
 * there (be.groupIndices into order [m] and offsets [n + 1], given back after the call), then
 * be.indexSelectBackward; nothing is read back.
 */
export function gatherBackwardOnDevice(be: AnyBackend, op: string, dx: KernelArray, g: KernelArray, index: KernelArray, m: number,
  outer: number, n: number, inner: number, skip?: number): void {
  checkCount(op, m);
  const order = be.alloc(m), offsets = be.alloc(n + 1);
  be.groupIndices(order, offsets, index, n, m, skip ?? -1);
  be.indexSelectBackward(dx, g, order, offsets, outer, n, inner, m);
  giveBack(be, [order, offsets]);
}
