/**
 * Reductions along one dim of x [outer, n, inner]: max / min with the index of the first extreme
 * (indices as floats), its backward (the gradient placed at the index), and logsumexp.
 *
 * ```ts
 * extreme(values, indices, x, outer, n, inner, "max"); // values, indices [outer, inner]
 * logsumexp(out, x, outer, n, inner);                  // out [outer, inner]
 * ```
 */
import type { ExtremeOp } from "../backend.js";
import type { FloatArray } from "../../tensor/dtype.js";

/** values, indices [outer, inner] = the max (or min) of x [outer, n, inner] over n and its first index; NaN wins. */
export function extreme(values: FloatArray, indices: FloatArray, x: FloatArray, outer: number, n: number, inner: number,
  op: ExtremeOp): void {
  const isMax = op === "max";
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let best = x[o * n * inner + j]!, bi = 0;
      for (let k = 1; k < n && !Number.isNaN(best); k++) {
        const v = x[(o * n + k) * inner + j]!;
        if (isMax ? v > best || Number.isNaN(v) : v < best || Number.isNaN(v)) { best = v; bi = k; }
      }
      values[o * inner + j] = best;
      indices[o * inner + j] = bi;
    }
  }
}

/** dx [outer, n, inner] = g [outer, inner] where k equals indices [outer, inner], else 0. */
export function extremeBackward(dx: FloatArray, g: FloatArray, indices: FloatArray, outer: number, n: number, inner: number): void {
  dx.fill(0, 0, outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) dx[(o * n + indices[o * inner + j]!) * inner + j] = g[o * inner + j]!;
  }
}

/** out [outer, inner] = m + log sum_k exp(x - m) over n, m the max (0 when not finite); summed in float64. */
export function logsumexp(out: FloatArray, x: FloatArray, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = o * n * inner + j;
      let m = -Infinity;
      for (let k = 0; k < n; k++) {
        const v = x[at + k * inner]!;
        if (v > m || Number.isNaN(v)) m = v;
        if (Number.isNaN(v)) break;
      }
      const shift = Number.isFinite(m) ? m : 0;
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x[at + k * inner]! - shift);
      out[o * inner + j] = Math.log(s) + shift;
    }
  }
}
