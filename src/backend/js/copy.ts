/** Reference strided copy: the one strided walk behind permute and expand. */
import type { TypedArray } from "../../tensor/dtype.js";

/**
 * od [outShape] (contiguous) = xd read at input strides `st` per output dim (0 broadcasts):
 * the one strided walk behind permute and expand. Rows of the last dim are copied whole.
 */
export function stridedCopy(od: TypedArray, xd: TypedArray, outShape: readonly number[], st: readonly number[]): void {
  const r = outShape.length;
  if (r === 0) {
    od[0] = xd[0]!;
    return;
  }
  const row = outShape[r - 1]!, sr = st[r - 1]!;
  const f32 = sr === 1 && od instanceof Float32Array && xd instanceof Float32Array;
  const idx = new Array<number>(r - 1).fill(0);
  let pi = 0;
  for (let o = 0; o < od.length; o += row) {
    if (f32) copyF32(od, xd, o, pi, row);
    else for (let j = 0; j < row; j++) od[o + j] = xd[pi + j * sr]!;
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      pi += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      pi -= st[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** dst[o .. o + n) = src[p .. p + n), a monomorphic loop (faster than set() for short rows). */
function copyF32(dst: Float32Array, src: Float32Array, o: number, p: number, n: number): void {
  for (let j = 0; j < n; j++) dst[o + j] = src[p + j]!;
}

