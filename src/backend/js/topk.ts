/**
 * The k largest values of each row, in order: the selection beam search makes over a step's
 * log-probabilities, as a plain loop (the host's, and the reference of webgpu's kernel). Order:
 * the larger value first; among equal values the lower index; NaN below every number (the lower
 * index first among NaNs).
 *
 * ```ts
 * const values = new Float32Array(2), indices = new Float32Array(2);
 * topKRows(values, indices, Float32Array.of(0.1, 0.7, 0.7, -Infinity), 1, 4, 2); // [0.7, 0.7], [1, 2]
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** Whether (v, i) goes before (w, j). */
export function topKBefore(v: number, i: number, w: number, j: number): boolean {
  if (Number.isNaN(v)) return Number.isNaN(w) && i < j;
  if (Number.isNaN(w)) return true;
  return v > w || (v === w && i < j);
}

/** values, indices [rows, k] = the k first of each row of x [rows, n] in topKBefore's order (k <= n); the indices as numbers. */
export function topKRows(values: FloatArray, indices: FloatArray | Int32Array, x: ArrayLike<number>, rows: number, n: number, k: number): void {
  const v = new Float64Array(k), ix = new Int32Array(k);
  for (let r = 0; r < rows; r++) {
    let count = 0;
    const row = r * n;
    for (let j = 0; j < n; j++) {
      const e = x[row + j]!;
      if (count === k && !topKBefore(e, j, v[k - 1]!, ix[k - 1]!)) continue;
      let at = count < k ? count++ : k - 1;
      while (at > 0 && topKBefore(e, j, v[at - 1]!, ix[at - 1]!)) {
        v[at] = v[at - 1]!;
        ix[at] = ix[at - 1]!;
        at--;
      }
      v[at] = e;
      ix[at] = j;
    }
    for (let q = 0; q < k; q++) {
      values[r * k + q] = v[q]!;
      indices[r * k + q] = ix[q]!;
    }
  }
}
