/**
 * The fused attention op: the backend's online-softmax kernel with its recorded backward.
 * Never materializes the L x S matrix. Public entry: attention/sdpa.ts.
 *
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] -> out [B, H, L, Dv]
 */
import { attach } from "../autograd/graph.js";
import { contiguousLayouts, type AttentionArgs } from "../backend/backend.js";
import type { FloatArray } from "../tensor/dtype.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";
import type { Tensor } from "../tensor/tensor.js";
import { backendFor, emptyUninit, fdata } from "./util.js";

export interface FusedMask {
  /** Additive mask values (0 or -Infinity for bool masks). */
  data: FloatArray;
  strideB: number;
  strideH: number;
  strideL: number;
}

export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: FusedMask | null, causal: boolean, scale: number,
  dropoutP: number, generator?: Generator): Tensor {
  const [B, H, L, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!, S = k.shape[2]!, Dv = v.shape[3]!;
  const seed = dropoutP > 0 ? (generator ?? defaultGenerator).take(B * H * L * S) : { k0: 0, k1: 0, start: 0 };
  const args: AttentionArgs = {
    B, H, Hkv, L, S, D, Dv, scale, causal, ...contiguousLayouts({ H, Hkv, L, S, D, Dv }),
    mask: mask ? mask.data : null,
    maskStrideB: mask?.strideB ?? 0, maskStrideH: mask?.strideH ?? 0, maskStrideL: mask?.strideL ?? 0,
    dropoutP, seedK0: seed.k0, seedK1: seed.k1, seedStart: seed.start,
  };
  const be = backendFor(q.dtype);
  const out = emptyUninit([B, H, L, Dv], q.dtype);
  const lse = emptyUninit([B, H, L], q.dtype);
  be.attentionForward(fdata(out), fdata(lse), fdata(q), fdata(k), fdata(v), args);
  return attach(out, "fusedAttention", [q, k, v], (g) => {
    const dq = emptyUninit(q.shape, q.dtype), dk = emptyUninit(k.shape, q.dtype), dv = emptyUninit(v.shape, q.dtype);
    be.attentionBackward(fdata(dq), fdata(dk), fdata(dv), fdata(g), fdata(q), fdata(k), fdata(v), fdata(out), fdata(lse), args);
    return [dq, dk, dv];
  });
}
