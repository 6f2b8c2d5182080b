/**
 * Segment kernels over rows grouped by a CSR-style ordering (the reference for the device
 * kernels; ops/scatter.ts's host path runs its own loops over the int32 index): `order` [E] lists
 * the rows segment by segment (ascending within a segment), segment s holding
 * order[offsets[s] .. offsets[s + 1]); `order`, `offsets` and `index` hold integers as floats.
 * src / out rows are `inner` elements wide.
 *
 * ```ts
 * segmentSum(out, src, order, offsets, S, inner);   // out [S, inner]
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** out [S, inner] = the sum of each segment's rows of src [E, inner], in row order (0 for an empty segment). */
export function segmentSum(out: FloatArray, src: FloatArray, order: FloatArray, offsets: FloatArray, S: number, inner: number): void {
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < inner; j++) {
      let acc = 0;
      for (let k = offsets[s]!; k < offsets[s + 1]!; k++) acc += src[order[k]! * inner + j]!;
      out[s * inner + j] = acc;
    }
  }
}

/** out [E, inner] = x [S, inner] at row index[e] for every row e. */
export function segmentBroadcast(out: FloatArray, x: FloatArray, index: FloatArray, E: number, inner: number): void {
  for (let e = 0; e < E; e++) out.set(x.subarray(index[e]! * inner, (index[e]! + 1) * inner), e * inner);
}

/** out [E, inner] = softmax of src over the rows of each segment, per trailing element (max-shifted). */
export function segmentSoftmax(out: FloatArray, src: FloatArray, order: FloatArray, offsets: FloatArray, S: number, inner: number): void {
  for (let s = 0; s < S; s++) {
    const k0 = offsets[s]!, k1 = offsets[s + 1]!;
    for (let j = 0; j < inner; j++) {
      let m = -Infinity, den = 0;
      for (let k = k0; k < k1; k++) m = Math.max(m, src[order[k]! * inner + j]!);
      for (let k = k0; k < k1; k++) den += Math.exp(src[order[k]! * inner + j]! - m);
      for (let k = k0; k < k1; k++) out[order[k]! * inner + j] = Math.exp(src[order[k]! * inner + j]! - m) / den;
    }
  }
}

/** dx [E, inner] = y (dy - sum over the segment of dy y), from the forward output y. */
export function segmentSoftmaxBackward(dx: FloatArray, y: FloatArray, dy: FloatArray, order: FloatArray, offsets: FloatArray,
  S: number, inner: number): void {
  for (let s = 0; s < S; s++) {
    const k0 = offsets[s]!, k1 = offsets[s + 1]!;
    for (let j = 0; j < inner; j++) {
      let dot = 0;
      for (let k = k0; k < k1; k++) { const i = order[k]! * inner + j; dot += dy[i]! * y[i]!; }
      for (let k = k0; k < k1; k++) { const i = order[k]! * inner + j; dx[i] = y[i]! * (dy[i]! - dot); }
    }
  }
}
