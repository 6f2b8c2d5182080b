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
import { ValueError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { arrayOf, emptyOn, kernelsFor } from "./util.js";

export interface FusedMask {
  /** Additive mask values (0 or -Infinity for bool masks) on the host; null for a mask on a device (`tensor`). */
  data: FloatArray | null;
  /** A float32 additive mask on a device, dense (data null): the kernels read it there. */
  tensor?: Tensor;
  strideB: number;
  strideH: number;
  strideL: number;
}

/**
 * The additive mask's array for `be`'s kernels (null without a mask): its host data on a host
 * backend; on a device a device tensor of it, which the op lists in `saved` (GradNode.saved) so
 * freeGraph gives it back with the graph, after the backward that reads it. A mask already on the
 * device is read where it is (the op's backward holds its array through the kernel arguments).
 */
export function maskFor(be: AnyBackend, mask: FusedMask | null, saved: Tensor[]): KernelArray | null {
  if (mask === null) return null;
  if (mask.tensor) {
    if ((mask.tensor.store as unknown) !== be) {
      throw new ValueError("attention", "attnMask", `a mask on the host or on the ${be.name} device of q, k and v`,
        `${mask.tensor.toString()} on the ${mask.tensor.store!.name} device`);
    }
    return arrayOf(mask.tensor, be);
  }
  if (be.kind === "host") return mask.data!;
  const t = toDevice(new Tensor(mask.data as Float32Array, [mask.data!.length], "float32"), be);
  saved.push(t);
  return arrayOf(t, be);
}

export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: FusedMask | null, causal: boolean, scale: number,
  dropoutP: number, generator?: Generator): Tensor {
  const [B, H, L, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!, S = k.shape[2]!, Dv = v.shape[3]!;
  const seed = dropoutP > 0 ? (generator ?? defaultGenerator).take(B * H * L * S) : { k0: 0, k1: 0, start: 0 };
  const be = kernelsFor(q.dtype);
  const saved: Tensor[] = []; // what only the backward reads: lse, and on a device the mask
  const maskArr = maskFor(be, mask, saved);
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
  }, [lse, ...saved]);
}
