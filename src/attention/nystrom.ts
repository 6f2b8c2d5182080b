/**
 * Nyström attention (Nyströmformer): m landmarks are the segment means of q and k; with
 * A1 = softmax(q K̃^T s) [L, m], A2 = softmax(Q̃ K̃^T s) [m, m], A3 = softmax(Q̃ k^T s) [m, S],
 * output = A1 · pinv(A2) · (A3 v) — O(N·m·D + m³). pinv is the iterative Moore-Penrose
 * approximation of the paper: Z0 = A2^T / (‖A2‖₁ ‖A2‖∞), then
 * Z ← ¼ Z (13 I − A2 Z (15 I − A2 Z (7 I − A2 Z))), `pinvIterations` times (default 6); the norms
 * are per matrix (each batch and head). Segment j covers [floor(jN/m), floor((j+1)N/m)), so N need
 * not divide by m; m is clamped to min(L, S). Non-causal only. Differentiable through every step.
 *
 * ```ts
 * const q = randn([1, 2, 64, 8]), k = randn([1, 2, 64, 8]), v = randn([1, 2, 64, 8]);
 * const { output } = nystromAttention(q, k, v, { landmarks: 16 }); // ≈ scaledDotProductAttention
 * ```
 */
import { div, mul, sub } from "../ops/elementwise.js";
import { matmul } from "../ops/matmul.js";
import { max, sum } from "../ops/reduce.js";
import { reshape, transpose } from "../ops/shape.js";
import { softmax } from "../ops/softmax.js";
import { allocate, type FloatDType } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast, repeatKv, scaleOf } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";

export interface NystromOptions {
  landmarks: number;
  scale?: number;
  pinvIterations?: number;
  /** Also return the (approximate) weights A1 pinv(A2) A3 [..., L, S] (O(L·S)). */
  needWeights?: boolean;
}

/** The segment-mean matrix [m, N]: row j averages segment j. */
export function segmentMeans(m: number, N: number, dtype: FloatDType): Tensor {
  const d = allocate(dtype, m * N);
  for (let j = 0; j < m; j++) {
    const a = Math.floor((j * N) / m), b = Math.floor(((j + 1) * N) / m);
    for (let t = a; t < b; t++) d[j * N + t] = 1 / (b - a);
  }
  return new Tensor(d, [m, N], dtype);
}

/** Iterative Moore-Penrose pseudo-inverse of a batch of non-negative square matrices a [..., m, m]. */
export function iterativePinv(a: Tensor, iterations = 6): Tensor {
  const m = a.shape[a.rank - 1]!;
  const eyeData = allocate(a.dtype as FloatDType, m * m);
  for (let i = 0; i < m; i++) eyeData[i * m + i] = 1;
  const I = new Tensor(eyeData, [m, m], a.dtype);
  // ‖a‖₁ ‖a‖∞ per matrix (a >= 0, so no abs): max column sum times max row sum, as [..., 1, 1]
  const n1 = max(sum(a, -2), -1, { keepdim: true }).values;
  const nInf = max(sum(a, -1), -1, { keepdim: true }).values;
  const norm = reshape(mul(n1, nInf), [...a.shape.slice(0, -2), 1, 1]);
  let z = div(transpose(a, -2, -1), norm);
  for (let it = 0; it < iterations; it++) {
    const az = matmul(a, z);
    const t1 = sub(mul(I, 7), az);
    const t2 = sub(mul(I, 15), matmul(az, t1));
    const t3 = sub(mul(I, 13), matmul(az, t2));
    z = mul(matmul(z, t3), 0.25);
  }
  return z;
}

export function nystromAttention(q: Tensor, k: Tensor, v: Tensor, opts: NystromOptions): AttentionResult {
  const op = "nystromAttention";
  const c = canonQKV(op, q, k, v);
  const s = scaleOf(op, opts.scale, c.D);
  const m = Math.min(intAtLeast(op, "landmarks", opts.landmarks, 1), c.L, c.S);
  const iters = intAtLeast(op, "pinvIterations", opts.pinvIterations ?? 6, 0);
  const dtype = q.dtype as FloatDType;
  const kk = repeatKv(k, c.H / c.Hkv), vv = repeatKv(v, c.H / c.Hkv);
  const ql = matmul(segmentMeans(m, c.L, dtype), q); // [..., m, D]
  const kl = matmul(segmentMeans(m, c.S, dtype), kk); // [..., m, D]
  const a1 = softmax(mul(matmul(q, transpose(kl, -2, -1)), s), -1); // [..., L, m]
  const a2 = softmax(mul(matmul(ql, transpose(kl, -2, -1)), s), -1); // [..., m, m]
  const a3 = softmax(mul(matmul(ql, transpose(kk, -2, -1)), s), -1); // [..., m, S]
  const z = iterativePinv(a2, iters);
  const output = matmul(a1, matmul(z, matmul(a3, vv))); // [..., L, Dv]
  const weights = opts.needWeights ? matmul(matmul(a1, z), a3) : null;
  return { output, weights };
}
