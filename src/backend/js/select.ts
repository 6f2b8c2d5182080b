/**
 * The select kernel: out = cond != 0 ? a : b with broadcasting through element strides (the walk
 * of the binary kernel, three operands). cond holds 0 / 1 as floats.
 *
 * ```ts
 * where(out, cond, a, b, [2, 3], [3, 1], [0, 1], [0, 0]); // cond [2, 3], a [3], b a scalar
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** out [outShape] (contiguous) = cond ? a : b, each read at its strides per out dim (0 broadcasts). */
export function where(out: FloatArray, cond: FloatArray, a: FloatArray, b: FloatArray, outShape: readonly number[],
  condStrides: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  const rank = outShape.length;
  const n = outShape.reduce((x, y) => x * y, 1);
  const idx = new Array<number>(rank).fill(0);
  let pc = 0, pa = 0, pb = 0;
  for (let i = 0; i < n; i++) {
    out[i] = cond[pc] !== 0 ? a[pa]! : b[pb]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      pc += condStrides[d]!;
      pa += aStrides[d]!;
      pb += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      pc -= condStrides[d]! * outShape[d]!;
      pa -= aStrides[d]! * outShape[d]!;
      pb -= bStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}
