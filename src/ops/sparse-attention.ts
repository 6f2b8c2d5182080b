/**
 * The sparse attention op: the backend's sparse kernel (softmax over each row's allowed keys only) with its
 * recorded backward. Public entries: attention/window.ts, global.ts, bigbird.ts, block-sparse.ts.
 *
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] -> out [B, H, L, Dv]
 *
 * ```ts
 * const out = sparseAttentionOp(q, k, v, windowPattern(L, S, 2), 1 / Math.sqrt(D));
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { SparseAttentionArgs, SparsePattern } from "../backend/backend.js";
import type { Tensor } from "../tensor/tensor.js";
import { backendFor, empty, expectHost, fdata } from "./util.js";

export function sparseAttentionOp(q: Tensor, k: Tensor, v: Tensor, pattern: SparsePattern, scale: number): Tensor {
  for (const [arg, t] of [["q", q], ["k", k], ["v", v]] as const) expectHost(t, arg, "sparseAttention");
  const [B, H, L, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!, Dv = v.shape[3]!;
  const args: SparseAttentionArgs = { B, H, Hkv, D, Dv, scale, pattern };
  const out = empty([B, H, L, Dv], q.dtype);
  const lse = empty([B, H, L], q.dtype);
  const be = backendFor(q.dtype);
  be.sparseAttentionForward(fdata(out), fdata(lse), fdata(q), fdata(k), fdata(v), args);
  return attach(out, "sparseAttention", [q, k, v], (g) => {
    const dq = empty(q.shape, q.dtype), dk = empty(k.shape, q.dtype), dv = empty(v.shape, q.dtype);
    be.sparseAttentionBackward(fdata(dq), fdata(dk), fdata(dv), fdata(g), fdata(q), fdata(k), fdata(v), fdata(out), fdata(lse), args);
    return [dq, dk, dv];
  });
}
