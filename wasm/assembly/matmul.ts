/**
 * Batched matmul (Backend.matmul) split between threads by independent blocks of C: whole matrices
 * of the batch when there are enough, else slices of rows (MR-aligned) or columns (NR-aligned) of
 * each. Each part runs the blocked gemm on its own block with its own scratch, so an element of C
 * is summed exactly as in one gemm over the whole matrix.
 */
import { gemm, gemmWorkBytes, MR, NR } from "./gemm";
import { partStart } from "./parts";

/**
 * out [batch, M, N] (+)= op(a) @ op(b), a at p * strideA, b at p * strideB (elements; 0 shares one
 * operand). `work` holds parts * gemmWorkBytes(M, N, K); part `part` uses its own slice of it.
 */
export function matmul(out: usize, a: usize, b: usize, batch: i32, M: i32, N: i32, K: i32, transA: bool, transB: bool,
  strideA: i32, strideB: i32, accumulate: bool, work: usize, part: i32, parts: i32): void {
  const lda = transA ? M : K, ldb = transB ? K : N;
  const myWork = work + <usize>part * gemmWorkBytes(M, N, K);
  const byRows = M >= N;
  const tiles = byRows ? (M + MR - 1) / MR : (N + NR - 1) / NR;
  const slices = batch >= parts ? 1 : max(1, min(tiles, (parts + batch - 1) / batch));
  const units = batch * slices;
  const u1 = partStart(units, part + 1, parts);
  for (let u = partStart(units, part, parts); u < u1; u++) {
    const p = u / slices, s = u % slices;
    const t0 = partStart(tiles, s, slices), t1 = partStart(tiles, s + 1, slices);
    const pa = a + (<usize>(p * strideA) << 2), pb = b + (<usize>(p * strideB) << 2);
    const pc = out + (<usize>(p * M * N) << 2);
    if (byRows) {
      // rows [i0, i1) of C and op(A)
      const i0 = t0 * MR, i1 = min(M, t1 * MR);
      gemm(pc + (<usize>(i0 * N) << 2), N, pa + (<usize>(transA ? i0 : i0 * lda) << 2), lda, transA,
        pb, ldb, transB, i1 - i0, N, K, accumulate, myWork);
    } else {
      // columns [n0, n1) of C and op(B)
      const n0 = t0 * NR, n1 = min(N, t1 * NR);
      gemm(pc + (<usize>n0 << 2), N, pa, lda, transA,
        pb + (<usize>(transB ? n0 * ldb : n0) << 2), ldb, transB, M, n1 - n0, K, accumulate, myWork);
    }
  }
}
