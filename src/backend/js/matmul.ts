/**
 * Reference batched matmul over flat arrays (see Backend.matmul for the layout).
 * out [batch, M, N] = op(a) [M, K] @ op(b) [K, N]
 *
 * Every case is brought to one form, rows of a against rows of b^T (both contiguous in k), then a
 * 4 x 4 register tile of dot products runs over k: 8 loads feed 16 multiply-adds.
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** dst [C, R] = src [R, C]^T, reading src at `off`. */
function transposeInto(dst: FloatArray, src: FloatArray, off: number, R: number, C: number): void {
  for (let r = 0; r < R; r++) {
    const base = off + r * C;
    for (let c = 0; c < C; c++) dst[c * R + r] = src[base + c]!;
  }
}

/** out [M, N] (+)= A [M, K] @ Bt [N, K]^T, A at offset oa, Bt at offset ob, out at oo. */
function gemmNT(out: FloatArray, oo: number, A: FloatArray, oa: number, Bt: FloatArray, ob: number, M: number, N: number, K: number, accumulate: boolean): void {
  const M4 = M - (M % 4), N4 = N - (N % 4);
  for (let i = 0; i < M; i += 4) {
    const rows = i < M4 ? 4 : M - i;
    for (let j = 0; j < N; j += 4) {
      const cols = j < N4 ? 4 : N - j;
      if (rows === 4 && cols === 4) {
        const a0 = oa + i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
        const b0 = ob + j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let k = 0; k < K; k++) {
          const x0 = A[a0 + k]!, x1 = A[a1 + k]!, x2 = A[a2 + k]!, x3 = A[a3 + k]!;
          const y0 = Bt[b0 + k]!, y1 = Bt[b1 + k]!, y2 = Bt[b2 + k]!, y3 = Bt[b3 + k]!;
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
        const o0 = oo + i * N + j, o1 = o0 + N, o2 = o1 + N, o3 = o2 + N;
        if (accumulate) {
          out[o0]! += c00; out[o0 + 1]! += c01; out[o0 + 2]! += c02; out[o0 + 3]! += c03;
          out[o1]! += c10; out[o1 + 1]! += c11; out[o1 + 2]! += c12; out[o1 + 3]! += c13;
          out[o2]! += c20; out[o2 + 1]! += c21; out[o2 + 2]! += c22; out[o2 + 3]! += c23;
          out[o3]! += c30; out[o3 + 1]! += c31; out[o3 + 2]! += c32; out[o3 + 3]! += c33;
        } else {
          out[o0] = c00; out[o0 + 1] = c01; out[o0 + 2] = c02; out[o0 + 3] = c03;
          out[o1] = c10; out[o1 + 1] = c11; out[o1 + 2] = c12; out[o1 + 3] = c13;
          out[o2] = c20; out[o2 + 1] = c21; out[o2 + 2] = c22; out[o2 + 3] = c23;
          out[o3] = c30; out[o3 + 1] = c31; out[o3 + 2] = c32; out[o3 + 3] = c33;
        }
      } else {
        // edge tile: plain dot products
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const pa = oa + (i + r) * K, pb = ob + (j + c) * K;
            let s = 0;
            for (let k = 0; k < K; k++) s += A[pa + k]! * Bt[pb + k]!;
            const po = oo + (i + r) * N + j + c;
            if (accumulate) out[po]! += s;
            else out[po] = s;
          }
        }
      }
    }
  }
}

export function matmul(out: FloatArray, a: FloatArray, b: FloatArray, batch: number, M: number, N: number, K: number,
  transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
  const make = (n: number): FloatArray => (out instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
  // A as [M, K] rows, B as [N, K] rows; a shared (stride 0) operand is rearranged once
  const tA = transA ? make(M * K) : null, tB = !transB ? make(N * K) : null;
  let lastA = -1, lastB = -1;
  for (let p = 0; p < batch; p++) {
    const offA = p * strideA, offB = p * strideB;
    let A = a, oa = offA, Bt = b, ob = offB;
    if (tA) {
      if (offA !== lastA) transposeInto(tA, a, offA, K, M);
      lastA = offA;
      A = tA;
      oa = 0;
    }
    if (tB) {
      if (offB !== lastB) transposeInto(tB, b, offB, K, N);
      lastB = offB;
      Bt = tB;
      ob = 0;
    }
    gemmNT(out, p * M * N, A, oa, Bt, ob, M, N, K, accumulate);
  }
}
