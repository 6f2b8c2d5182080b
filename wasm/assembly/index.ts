/**
 * The wasm backend's kernels. Every pointer is a byte offset into this module's memory; the host
 * copies inputs in, calls one kernel, and copies outputs out. Kernels never allocate: scratch comes
 * in through `work` pointers sized by the *WorkBytes functions.
 *
 * Every kernel ends in (part, parts) and computes part `part` of `parts` (parts.ts): the
 * single-threaded module is called with 0, 1; the threaded build (same sources, shared memory) runs
 * part 0 on the calling thread and the others on workers, each with its own slice of `work`.
 */
export { gemmWorkBytes } from "./gemm";
export { matmul } from "./matmul";
export { unary, binary } from "./elementwise";
export { softmax, softmaxBackward } from "./softmax";
export { layerNorm, layerNormBackward } from "./layernorm";
export { attentionForward, attentionBackward, attentionWorkBytes } from "./attention";
export { conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dWorkBytes } from "./conv";
export { sparseAttentionForward, sparseAttentionBackward, sparseAttentionWorkBytes } from "./sparse-attention";
export { linearAttentionForward, linearAttentionBackward, linearAttentionWorkBytes } from "./linear-attention";

/** First free byte after the static data: the arena the host allocates from. */
export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}
