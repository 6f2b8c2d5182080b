/**
 * Gathers along one dim: out [outer, m, inner] = x [outer, n, inner] at index [m] (indexSelect,
 * embedding; the row of an index outside [0, n) is zeros), and its backward, which sums for each
 * row r the gradient rows whose index is r, in index order (deterministic; no scatter), over the
 * indices grouped by row (`groupIndices`: `order`, `offsets`; backend/index-grouping.ts builds it
 * on the host for the ops).
 *
 * ```ts
 * indexSelect(out, weight, ids, 1, V, E, N);                      // out [N, E] = weight [V, E] rows at ids
 * groupIndices(order, offsets, ids, V, N, -1);                    // order [N], offsets [V + 1]
 * indexSelectBackward(dw, g, order, offsets, 1, V, E, N);         // dw [V, E]
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** out [outer, m, inner] = x [outer, n, inner] at index [m] along n; zeros for an index outside [0, n). */
export function indexSelect(out: FloatArray, x: FloatArray, index: FloatArray, outer: number, n: number, inner: number,
  m: number): void {
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < m; k++) {
      const r = index[k]!, dst = (o * m + k) * inner;
      if (!(r >= 0 && r < n)) { // an index nobody checked (on a device): a row of zeros
        out.fill(0, dst, dst + inner);
        continue;
      }
      const src = (o * n + r) * inner;
      for (let j = 0; j < inner; j++) out[dst + j] = x[src + j]!;
    }
  }
}

/**
 * dx [outer, n, inner] = for each row r, the sum in order of k of the rows k of g [outer, m, inner]
 * listed for r: order[offsets[r] .. offsets[r + 1]) (ascending k; an index outside [0, n) is in no
 * row). Accumulated in dx's element type, as the device kernels do.
 */
export function indexSelectBackward(dx: FloatArray, g: FloatArray, order: FloatArray, offsets: FloatArray, outer: number, n: number,
  inner: number, m: number): void {
  dx.fill(0, 0, outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < n; r++) {
      const dst = (o * n + r) * inner;
      for (let t = offsets[r]!; t < offsets[r + 1]!; t++) {
        const src = (o * m + order[t]!) * inner;
        for (let j = 0; j < inner; j++) dx[dst + j]! += g[src + j]!;
      }
    }
  }
}

/**
 * offsets [n + 1] and order [m] (the first offsets[n] entries written) of index [m]: a stable
 * counting sort, row r holding the positions k of its indices, ascending, at order[offsets[r] ..
 * offsets[r + 1]); an index outside [0, n) or equal to `skip` is left out.
 */
export function groupIndices(order: FloatArray, offsets: FloatArray, index: ArrayLike<number>, n: number, m: number, skip: number): void {
  const kept = (r: number): boolean => r >= 0 && r < n && r !== skip;
  offsets.fill(0, 0, n + 1);
  for (let k = 0; k < m; k++) {
    const r = index[k]!;
    if (kept(r)) offsets[r + 1]!++;
  }
  for (let r = 0; r < n; r++) offsets[r + 1]! += offsets[r]!;
  const next = offsets.slice(0, n);
  for (let k = 0; k < m; k++) {
    const r = index[k]!;
    if (kept(r)) order[next[r]!++] = k;
  }
}
