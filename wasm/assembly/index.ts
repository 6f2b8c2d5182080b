/**
 * The wasm backend's kernels. Every pointer is a byte offset into this module's memory; the host
 * copies inputs in, calls one kernel, and copies outputs out. Kernels never allocate: scratch comes
 * in through `work` pointers sized by the *WorkBytes functions.
 */
import { gemm, gemmWorkBytes } from "./gemm";

export { gemmWorkBytes } from "./gemm";
export { unary, binary } from "./elementwise";
export { softmax, softmaxBackward } from "./softmax";
export { layerNorm, layerNormBackward } from "./layernorm";
export { attentionForward, attentionBackward, attentionWorkBytes } from "./attention";

/** First free byte after the static data: the arena the host allocates from. */
export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

/**
 * Batched matmul (Backend.matmul): out [batch, M, N] (+)= op(a) @ op(b), a at b * strideA, b at
 * b * strideB (elements; 0 shares one operand). `work` holds gemmWorkBytes(M, N, K).
 */
export function matmul(out: usize, a: usize, b: usize, batch: i32, M: i32, N: i32, K: i32, transA: bool, transB: bool,
  strideA: i32, strideB: i32, accumulate: bool, work: usize): void {
  const lda = transA ? M : K, ldb = transB ? K : N;
  for (let p = 0; p < batch; p++) {
    gemm(out + (<usize>(p * M * N) << 2), N, a + (<usize>(p * strideA) << 2), lda, transA,
      b + (<usize>(p * strideB) << 2), ldb, transB, M, N, K, accumulate, work);
  }
}
