/**
 * The linear attention op over feature-mapped queries and keys: the backend's prefix-scan kernel with its
 * recorded backward (forward scan + reverse scan, no per-position state). Public entries:
 * attention/linear.ts (elu + 1) and attention/performer.ts (FAVOR+).
 *
 * fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv]
 * On the active backend, host or device (host operands of a device call are uploaded).
 *
 * ```ts
 * const out = linearAttentionOp(add(elu(q), 1), add(elu(k), 1), v, true);
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { LinearAttentionArgs } from "../backend/backend.js";
import type { Tensor } from "../tensor/tensor.js";
import { arrayOf, emptyOn, kernelsFor } from "./util.js";

export function linearAttentionOp(fq: Tensor, fk: Tensor, v: Tensor, causal: boolean): Tensor {
  const [B, H, L, M] = fq.shape as [number, number, number, number];
  const Hkv = fk.shape[1]!, S = fk.shape[2]!, Dv = v.shape[3]!;
  const args: LinearAttentionArgs = { B, H, Hkv, L, S, M, Dv, causal };
  const be = kernelsFor(fq.dtype);
  const out = emptyOn(be, [B, H, L, Dv], fq.dtype); // [B, H, L, Dv]
  const den = emptyOn(be, [B, H, L], fq.dtype); // [B, H, L]
  be.linearAttentionForward(arrayOf(out, be), arrayOf(den, be), arrayOf(fq, be), arrayOf(fk, be), arrayOf(v, be), args);
  return attach(out, "linearAttention", [fq, fk, v], (g) => {
    const dfq = emptyOn(be, fq.shape, fq.dtype), dfk = emptyOn(be, fk.shape, fq.dtype), dv = emptyOn(be, v.shape, fq.dtype);
    be.linearAttentionBackward(arrayOf(dfq, be), arrayOf(dfk, be), arrayOf(dv, be), arrayOf(g, be), arrayOf(fq, be), arrayOf(fk, be),
      arrayOf(v, be), arrayOf(out, be), arrayOf(den, be), args);
    return [dfq, dfk, dv];
  });
}
