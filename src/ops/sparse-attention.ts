/**
 * The sparse attention op: the backend's sparse kernel (softmax over each row's allowed keys only) with its
 * recorded backward. Public entries: attention/window.ts, global.ts, bigbird.ts, block-sparse.ts.
 *
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] -> out [B, H, L, Dv]
 * On the active backend, host or device (host operands of a device call are uploaded).
 *
 * ```ts
 * const out = sparseAttentionOp(q, k, v, windowPattern(L, S, 2), 1 / Math.sqrt(D));
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { SparseAttentionArgs, SparsePattern } from "../backend/backend.js";
import type { Tensor } from "../tensor/tensor.js";
import { arrayOf, emptyOn, kernelsFor } from "./util.js";

export function sparseAttentionOp(q: Tensor, k: Tensor, v: Tensor, pattern: SparsePattern, scale: number): Tensor {
  const [B, H, L, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!, Dv = v.shape[3]!;
  const args: SparseAttentionArgs = { B, H, Hkv, D, Dv, scale, pattern };
  const be = kernelsFor(q.dtype);
  const out = emptyOn(be, [B, H, L, Dv], q.dtype); // [B, H, L, Dv]
  const lse = emptyOn(be, [B, H, L], q.dtype); // [B, H, L]
  be.sparseAttentionForward(arrayOf(out, be), arrayOf(lse, be), arrayOf(q, be), arrayOf(k, be), arrayOf(v, be), args);
  return attach(out, "sparseAttention", [q, k, v], (g) => {
    const dq = emptyOn(be, q.shape, q.dtype), dk = emptyOn(be, k.shape, q.dtype), dv = emptyOn(be, v.shape, q.dtype);
    be.sparseAttentionBackward(arrayOf(dq, be), arrayOf(dk, be), arrayOf(dv, be), arrayOf(g, be), arrayOf(q, be), arrayOf(k, be),
      arrayOf(v, be), arrayOf(out, be), arrayOf(lse, be), args);
    return [dq, dk, dv];
  });
}
