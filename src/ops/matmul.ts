/**
 * Matrix products: `matmul` with broadcast batch dims (PyTorch's rules, 1-D operands included)
 * and `linear` (x W^T + b, PyTorch's weight layout [out, in]).
 *
 * ```ts
 * const y = matmul(x, w);            // [B, L, E] @ [E, F] -> [B, L, F]
 * const z = linear(x, weight, bias); // [..., in] -> [..., out]
 * ```
 */
import { attach, isGradEnabled } from "../autograd/graph.js";
import type { AnyBackend, KernelArray, MatmulBias, PackedMatrix, PrepackedMatmul } from "../backend/backend.js";
import type { DeviceStore } from "../tensor/device.js";
import type { FloatArray } from "../tensor/dtype.js";
import { ShapeError, fmtShape } from "../tensor/errors.js";
import { keepPrepacked, prepackedOf } from "../tensor/prepacked.js";
import { broadcastShapes, numel } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { expand, reshape } from "./shape.js";
import { arrayOf, emptyOn, fullOn, kernelsFor, onesArray, sameFloat, sumToShape } from "./util.js";

/** out [P, M, N] = op(a) @ op(b) for 3-D operands whose batch is P or 1. */
function bmm(a: Tensor, b: Tensor, P: number, M: number, N: number, K: number, transA: boolean, transB: boolean): Tensor {
  const be = kernelsFor(a.dtype);
  const out = emptyOn(be, [P, M, N], a.dtype);
  const sa = a.shape[0] === 1 ? 0 : M * K, sb = b.shape[0] === 1 ? 0 : K * N;
  be.matmul(arrayOf(out, be), arrayOf(a, be), arrayOf(b, be), P, M, N, K, transA, transB, sa, sb, false);
  return out;
}

/** Matrix product with broadcast batch dims: [..., M, K] @ [..., K, N] -> [..., M, N]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  expectTensor(a, "a", "matmul");
  expectTensor(b, "b", "matmul");
  sameFloat(a, b, "a", "b", "matmul");
  if (a.rank === 0 || b.rank === 0) throw new ShapeError("matmul", a.rank === 0 ? "a" : "b", "at least 1 dimension", "a scalar");
  // 1-D operands become matrices and lose that dim afterwards (as torch.matmul)
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
  const M = a2.shape[a2.rank - 2]!, K = a2.shape[a2.rank - 1]!;
  const K2 = b2.shape[b2.rank - 2]!, N = b2.shape[b2.rank - 1]!;
  if (K !== K2) throw new ShapeError("matmul", "b", `[..., ${K}, N] to match a ${fmtShape(a.shape)}`, fmtShape(b.shape));
  const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2), "matmul");
  const P = numel(batch);
  // operands as [P or 1, M, K] and [P or 1, K, N]
  const fit = (t: Tensor, r: number, c: number): Tensor => {
    const n = numel(t.shape.slice(0, -2));
    if (n === 1) return reshape(t, [1, r, c]);
    if (n === P) return reshape(t, [P, r, c]);
    return reshape(expand(t, [...batch, r, c]), [P, r, c]);
  };
  const A = fit(a2, M, K), Bm = fit(b2, K, N);
  let out = bmm(A, Bm, P, M, N, K, false, false);
  let outShape = [...batch, M, N];
  if (a.rank === 1) outShape = outShape.filter((_, i) => i !== outShape.length - 2);
  if (b.rank === 1) outShape = outShape.slice(0, -1);
  out = attach(out, "matmul", [A, Bm], (g) => {
    // g [P, M, N]; dA = g @ B^T, dB = A^T @ g (summed over P where the operand was shared)
    let dA: Tensor | null = null, dB: Tensor | null = null;
    if (A.requiresGrad) {
      dA = bmm(g, Bm, P, M, K, N, false, true);
      if (A.shape[0] === 1 && P > 1) dA = sumToShape(dA, A.shape);
    }
    if (Bm.requiresGrad) {
      if (Bm.shape[0] === 1 && P > 1) {
        // sum_p A_p^T g_p = (A as [P*M, K])^T @ (g as [P*M, N])
        const Af = A.shape[0] === 1 ? reshape(expand(A, [P, M, K]), [1, P * M, K]) : reshape(A, [1, P * M, K]);
        dB = bmm(Af, reshape(g, [1, P * M, N]), 1, K, N, P * M, true, false);
      } else {
        dB = bmm(A, g, P, K, N, M, true, false);
      }
    }
    return [dA, dB];
  });
  return reshape(out, outShape);
}

/** y = x W^T + b over the last dim: x [..., in], weight [out, in], bias [out] -> [..., out]. */
/** Whether linear on these inputs records a graph node (grad mode on and an input requires grad). */
function recordsGrad(x: Tensor, weight: Tensor, bias: Tensor | null | undefined): boolean {
  return isGradEnabled() && (x.requiresGrad || weight.requiresGrad || bias?.requiresGrad === true);
}

/**
 * The packed copy of a weight marked for prepacking (tensor/prepacked.ts), packed now when it has
 * none or the one it has no longer fits the backend; null when the weight is not marked or the
 * backend packs no operands.
 */
function prepackedWeight(w: Tensor, be: AnyBackend, N: number, K: number): PackedMatrix | null {
  const have = prepackedOf(w);
  if (have === undefined || be.kind !== "host" || w.dtype !== "float32" || w.onDevice) return null;
  const pm = be as unknown as Partial<PrepackedMatmul>;
  if (typeof pm.packMatmulB !== "function" || typeof pm.packedUsable !== "function") return null;
  if (have && have.N === N && have.K === K && pm.packedUsable(have)) return have;
  const made = pm.packMatmulB(arrayOf(w, be) as FloatArray, N, K, true); // w [N, K] = B^T
  keepPrepacked(w, made);
  return made;
}

/** x [..., in] @ weight^T [in, out] (+ bias [out]) -> [..., out], as F.linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return linearWith(x, weight, bias, false, "linear");
}

/**
 * relu(linear(x, weight, bias)) as one op: on a backend with MatmulBias (webgpu) and a bias, one
 * kernel stores the product, its bias and the relu; its backward takes relu's gradient from the
 * output (a kernel) and then linear's. The same bits as the two ops; the pre-activation is not kept.
 */
export function linearRelu(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return linearWith(x, weight, bias, true, "linearRelu");
}

function linearWith(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, relu: boolean, op: string): Tensor {
  expectTensor(x, "x", op);
  expectTensor(weight, "weight", op);
  sameFloat(x, weight, "x", "weight", op);
  if (weight.rank !== 2) throw new ShapeError(op, "weight", "[out, in]", fmtShape(weight.shape));
  const [O, I] = [weight.shape[0]!, weight.shape[1]!];
  if (x.rank < 1 || x.shape[x.rank - 1] !== I) throw new ShapeError(op, "x", `[..., ${I}]`, fmtShape(x.shape));
  if (bias) {
    expectTensor(bias, "bias", op);
    sameFloat(x, bias, "x", "bias", op);
    if (bias.rank !== 1 || bias.shape[0] !== O) throw new ShapeError(op, "bias", `[${O}]`, fmtShape(bias.shape));
  }
  const R = x.size / I;
  const be = kernelsFor(x.dtype);
  const out = emptyOn(be, [...x.shape.slice(0, -1), O], x.dtype);
  const od = arrayOf(out, be);
  const inGemm = bias !== null && bias !== undefined && typeof (be as Partial<MatmulBias>).matmulBias === "function";
  // a relu after the product: in place on the host; on a device from a scratch array (a kernel there reads and writes distinct arrays)
  const pd = relu && !inGemm && be.kind !== "host" ? be.alloc(out.size) : od;
  // (one row is a vector-matrix product, which packs nothing)
  const packed = R < 2 || recordsGrad(x, weight, bias) ? null : prepackedWeight(weight, be, O, I);
  if (packed) {
    // out [R, O] = x [R, in] @ packed [in, out] + bias [O], the bias added by the GEMM
    (be as unknown as PrepackedMatmul).matmulPrepacked(pd as FloatArray, arrayOf(x, be) as FloatArray, packed, R, false, false,
      bias ? arrayOf(bias, be) as FloatArray : null);
  } else if (inGemm) {
    // out [R, O] = x [R, in] @ [in, out] + bias [O] (then relu), in one kernel (the same bits as the kernels below)
    (be as unknown as MatmulBias).matmulBias(od, arrayOf(x, be), arrayOf(weight, be), arrayOf(bias, be), R, O, I, false, true, relu);
  } else {
    be.matmul(pd, arrayOf(x, be), arrayOf(weight, be), 1, R, O, I, false, true, 0, 0, false); // [R, in] @ [in, out]
    if (bias) be.binary("add", pd, pd, arrayOf(bias, be), [R, O], [O, 1], [0, 1]); // out [R, O] += bias [O]
  }
  if (relu && !inGemm && out.size > 0) be.unary("relu", od, pd, out.size, 1);
  if (pd !== od) (out.store as DeviceStore<KernelArray & { length: number }>).release(pd as KernelArray & { length: number });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return attach(out, op, inputs, (g) => {
    let gd = arrayOf(g, be), scratch: Tensor | null = null;
    if (relu) {
      // relu's gradient from the output: g where out > 0, else +0
      scratch = emptyOn(be, out.shape, x.dtype);
      gd = arrayOf(scratch, be);
      if (out.size > 0) be.binary("reluGrad", gd, arrayOf(g, be), arrayOf(out, be), [out.size], [1], [1]);
    }
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (x.requiresGrad) {
      dx = emptyOn(be, x.shape, x.dtype);
      be.matmul(arrayOf(dx, be), gd, arrayOf(weight, be), 1, R, I, O, false, false, 0, 0, false); // [R, out] @ [out, in]
    }
    const fused = bias?.requiresGrad === true && weight.requiresGrad && R > 0 && typeof (be as Partial<MatmulBias>).linearGrads === "function";
    if (fused) {
      // dw [out, in] = g^T [out, R] @ x [R, in] and db [out] = g's column sums in one kernel
      dw = emptyOn(be, weight.shape, x.dtype);
      db = emptyOn(be, [O], x.dtype);
      (be as unknown as MatmulBias).linearGrads(arrayOf(dw, be), arrayOf(db, be), gd, arrayOf(x, be), R, O, I);
    } else if (weight.requiresGrad) {
      dw = emptyOn(be, weight.shape, x.dtype);
      be.matmul(arrayOf(dw, be), gd, arrayOf(x, be), 1, O, I, R, true, false, 0, 0, false); // [out, R] @ [R, in]
    }
    if (bias && bias.requiresGrad && !fused) {
      db = R === 0 ? fullOn(be, [O], x.dtype, 0) : emptyOn(be, [O], x.dtype); // the product writes every sum
      const ones = onesArray(be, x.dtype, R);
      be.matmul(arrayOf(db, be), ones, gd, 1, 1, O, R, false, false, 0, 0, false); // [1, R] @ [R, out]: column sums
    }
    // the recorded kernels still see it
    if (scratch?.store) (scratch.store as DeviceStore<KernelArray & { length: number }>).release(gd as KernelArray & { length: number });
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
