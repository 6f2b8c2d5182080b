/**
 * The rows of a gather's gradient grouped by the row they picked, built on the host from the host
 * indices for Backend.indexSelectBackward: a stable counting sort, so `order` lists the positions k
 * of the indices row by row, ascending within a row, and row r holds order[offsets[r] ..
 * offsets[r + 1]). An index outside [0, n), or equal to `skip` (the embedding's padding index),
 * is left out: its gradient row adds nowhere. Integers stored as floats (exact below 2^24).
 *
 * `gatherBackward` builds it, uploads it, runs the backend's kernel and gives the uploads back.
 *
 * ```ts
 * const { order, offsets } = indexGrouping("embedding", ids, V, paddingIdx); // order [<= N], offsets [V + 1]
 * gatherBackward(be, "embedding", dw, g, ids, 1, V, E, paddingIdx);          // dw [V, E]
 * ```
 */
import type { DeviceArray, DeviceStore } from "../tensor/device.js";
import { ValueError } from "../tensor/errors.js";
import type { AnyBackend, KernelArray } from "./backend.js";

export interface IndexGrouping {
  /** The positions k of the kept indices, row by row, ascending within a row. */
  order: Float32Array;
  /** [n + 1]: row r holds order[offsets[r] .. offsets[r + 1]). */
  offsets: Float32Array;
}

/** Groups the positions of `index` [m] by the row in [0, n) each picks (see the module comment). */
export function indexGrouping(op: string, index: ArrayLike<number>, n: number, skip?: number): IndexGrouping {
  const m = index.length;
  if (m >= 2 ** 24) throw new ValueError(op, "indices", "fewer than 2^24 indices on a device", String(m));
  const kept = (r: number): boolean => r >= 0 && r < n && r !== skip;
  const offsets = new Float32Array(n + 1);
  for (let k = 0; k < m; k++) {
    const r = index[k]!;
    if (kept(r)) offsets[r + 1]!++;
  }
  for (let r = 0; r < n; r++) offsets[r + 1]! += offsets[r]!;
  const next = offsets.slice(0, n), order = new Float32Array(offsets[n]!);
  for (let k = 0; k < m; k++) {
    const r = index[k]!;
    if (kept(r)) order[next[r]!++] = k;
  }
  return { order, offsets };
}

/**
 * dx [outer, n, inner] of a gather by the host indices `index` [m] on the backend `be` (a device
 * backend: the grouping is uploaded for the call and given back after it; the recorded work still
 * sees it): be.indexSelectBackward over indexGrouping(op, index, n, skip).
 */
export function gatherBackward(be: AnyBackend, op: string, dx: KernelArray, g: KernelArray, index: ArrayLike<number>, outer: number,
  n: number, inner: number, skip?: number): void {
  const { order, offsets } = indexGrouping(op, index, n, skip);
  const ord = be.upload(order), off = be.upload(offsets);
  be.indexSelectBackward(dx, g, ord, off, outer, n, inner, index.length);
  for (const a of [ord, off]) (be as unknown as DeviceStore).release(a as DeviceArray);
}
