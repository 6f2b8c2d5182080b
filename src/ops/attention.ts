/**
 * The fused attention op: the backend's online-softmax kernel with its recorded backward.
 * Never materializes the L x S matrix. Public entry: attention/sdpa.ts.
 *
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] -> out [B, H, L, Dv]
 */
import { attach } from "../autograd/graph.js";
import { contiguousLayouts, type AnyBackend, type AttentionArgs, type KernelArray } from "../backend/backend.js";
import { toDevice } from "../backend/tensor-arrays.js";
import type { FloatArray } from "../tensor/dtype.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { arrayOf, emptyOn, kernelsFor } from "./util.js";

export interface FusedMask {
  /** Additive mask values (0 or -Infinity for bool masks). */
  data: FloatArray;
  strideB: number;
  strideH: number;
  strideL: number;
}

/** On a device backend, the additive mask as a device tensor (for GradNode.saved); null on the host or without a mask. */
export function maskOn(be: AnyBackend, mask: FusedMask | null): Tensor | null {
  if (mask === null || be.kind === "host") return null;
  return toDevice(new Tensor(mask.data as Float32Array, [mask.data.length], "float32"), be);
}

export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: FusedMask | null, causal: boolean, scale: number,
  dropoutP: number, generator?: Generator): Tensor {
  const [B, H, L, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!, S = k.shape[2]!, Dv = v.shape[3]!;
  const seed = dropoutP > 0 ? (generator ?? defaultGenerator).take(B * H * L * S) : { k0: 0, k1: 0, start: 0 };
  const be = kernelsFor(q.dtype);
  // a mask is built on the host; a device backend gets a device tensor of it (saved for the backward)
  const maskT = maskOn(be, mask);
  const maskArr: KernelArray | null = mask === null ? null : maskT ? arrayOf(maskT, be) : mask.data;
  const args: AttentionArgs<KernelArray> = {
    B, H, Hkv, L, S, D, Dv, scale, causal, ...contiguousLayouts({ H, Hkv, L, S, D, Dv }),
    mask: maskArr,
    maskStrideB: mask?.strideB ?? 0, maskStrideH: mask?.strideH ?? 0, maskStrideL: mask?.strideL ?? 0,
    dropoutP, seedK0: seed.k0, seedK1: seed.k1, seedStart: seed.start,
  };
  const out = emptyOn(be, [B, H, L, Dv], q.dtype);
  const lse = emptyOn(be, [B, H, L], q.dtype);
  be.attentionForward(arrayOf(out, be), arrayOf(lse, be), arrayOf(q, be), arrayOf(k, be), arrayOf(v, be), args);
  return attach(out, "fusedAttention", [q, k, v], (g) => {
    const dq = emptyOn(be, q.shape, q.dtype), dk = emptyOn(be, k.shape, q.dtype), dv = emptyOn(be, v.shape, q.dtype);
    be.attentionBackward(arrayOf(dq, be), arrayOf(dk, be), arrayOf(dv, be), arrayOf(g, be), arrayOf(q, be), arrayOf(k, be),
      arrayOf(v, be), arrayOf(out, be), arrayOf(lse, be), args);
    return [dq, dk, dv];
  }, maskT ? [lse, maskT] : [lse]);
}
