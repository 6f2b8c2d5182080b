/**
 * Reference batched matmul over flat arrays (see Backend.matmul for the layout).
 * out [batch, M, N] = op(a) [M, K] @ op(b) [K, N]
 */
import type { FloatArray } from "../../tensor/dtype.js";

export function matmul(out: FloatArray, a: FloatArray, b: FloatArray, batch: number, M: number, N: number, K: number,
  transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
  // element (i, k) of op(a) sits at ai*i + ak*k; (k, j) of op(b) at bk*k + bj*j
  const ai = transA ? 1 : K, ak = transA ? M : 1;
  const bk = transB ? 1 : N, bj = transB ? K : 1;
  const row = new Float64Array(N);
  for (let p = 0; p < batch; p++) {
    const oa = p * strideA, ob = p * strideB, oo = p * M * N;
    for (let i = 0; i < M; i++) {
      if (transB) {
        // dot products: rows of a against rows of b, both contiguous when !transA
        for (let j = 0; j < N; j++) {
          let s = 0;
          const pa = oa + ai * i, pb = ob + bj * j;
          for (let k = 0; k < K; k++) s += a[pa + ak * k]! * b[pb + k]!;
          row[j] = s;
        }
      } else {
        row.fill(0);
        for (let k = 0; k < K; k++) {
          const x = a[oa + ai * i + ak * k]!;
          if (x === 0) continue;
          const pb = ob + bk * k;
          for (let j = 0; j < N; j++) row[j]! += x * b[pb + j]!;
        }
      }
      const po = oo + i * N;
      if (accumulate) for (let j = 0; j < N; j++) out[po + j]! += row[j]!;
      else for (let j = 0; j < N; j++) out[po + j] = row[j]!;
    }
  }
}
