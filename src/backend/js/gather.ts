/**
 * Gathers along one dim: out [outer, m, inner] = x [outer, n, inner] at index [m] (indexSelect,
 * embedding), and its backward, which sums for each row r the gradient rows whose index is r, in
 * index order (deterministic; no scatter).
 *
 * ```ts
 * indexSelect(out, weight, ids, 1, V, E, N);           // out [N, E] = weight [V, E] rows at ids
 * indexSelectBackward(dw, g, ids, 1, V, E, N);         // dw [V, E]
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

/** dx [outer, n, inner] = for each row r, the sum over k with index[k] == r of g [outer, m, inner] row k (in order of k). */
export function indexSelectBackward(dx: FloatArray, g: FloatArray, index: FloatArray, outer: number, n: number, inner: number,
  m: number): void {
  dx.fill(0, 0, outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < m; k++) {
      const r = index[k]!;
      if (!(r >= 0 && r < n)) continue;
      const dst = (o * n + r) * inner, src = (o * m + k) * inner;
      for (let j = 0; j < inner; j++) dx[dst + j]! += g[src + j]!;
    }
  }
}
