/**
 * The linear attention op over feature-mapped queries and keys: the backend's prefix-scan kernel with its
 * recorded backward (forward scan + reverse scan, no per-position state). Public entries:
 * attention/linear.ts (elu + 1) and attention/performer.ts (FAVOR+).
 *
 * fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv]
 *
 * ```ts
 * const out = linearAttentionOp(add(elu(q), 1), add(elu(k), 1), v, true);
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { LinearAttentionArgs } from "../backend/backend.js";
import type { Tensor } from "../tensor/tensor.js";
import { backendFor, empty, expectHost, fdata } from "./util.js";

export function linearAttentionOp(fq: Tensor, fk: Tensor, v: Tensor, causal: boolean): Tensor {
  for (const [arg, t] of [["fq", fq], ["fk", fk], ["v", v]] as const) expectHost(t, arg, "linearAttention");
  const [B, H, L, M] = fq.shape as [number, number, number, number];
  const Hkv = fk.shape[1]!, S = fk.shape[2]!, Dv = v.shape[3]!;
  const args: LinearAttentionArgs = { B, H, Hkv, L, S, M, Dv, causal };
  const out = empty([B, H, L, Dv], fq.dtype);
  const den = empty([B, H, L], fq.dtype);
  const be = backendFor(fq.dtype);
  be.linearAttentionForward(fdata(out), fdata(den), fdata(fq), fdata(fk), fdata(v), args);
  return attach(out, "linearAttention", [fq, fk, v], (g) => {
    const dfq = empty(fq.shape, fq.dtype), dfk = empty(fk.shape, fq.dtype), dv = empty(v.shape, fq.dtype);
    be.linearAttentionBackward(fdata(dfq), fdata(dfk), fdata(dv), fdata(g), fdata(fq), fdata(fk), fdata(v), fdata(out), fdata(den), args);
    return [dfq, dfk, dv];
  });
}
