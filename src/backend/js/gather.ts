/**
 * Gathers along one dim: out [outer, m, inner] = x [outer, n, inner] at index [m] (indexSelect,
 * embedding), and its backward, which sums for each row r the gradient rows whose index is r, in
 * index order (deterministic; no scatter), over the indices grouped by row on the host
 * (backend/index-grouping.ts: `order`, `offsets`).
 *
 * ```ts
 * indexSelect(out, weight, ids, 1, V, E, N);                      // out [N, E] = weight [V, E] rows at ids
 * const { order, offsets } = indexGrouping("embedding", ids, V);
 * indexSelectBackward(dw, g, order, offsets, 1, V, E, N);         // dw [V, E]
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** out [outer, m, inner] = x [outer, n, inner] at index [m] along n. */
export function indexSelect(out: FloatArray, x: FloatArray, index: FloatArray, outer: number, n: number, inner: number,
  m: number): void {
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < m; k++) {
      const src = (o * n + index[k]!) * inner, dst = (o * m + k) * inner;
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
