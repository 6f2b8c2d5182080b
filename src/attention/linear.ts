/**
 * Linear (kernelized) attention with the feature map phi(x) = elu(x) + 1:
 *   out_i = phi(q_i)^T (sum_j phi(k_j) v_j^T) / (phi(q_i)^T sum_j phi(k_j))
 * over all keys j, or j <= i when causal (a prefix scan; L = S). O(N·D·Dv) time, O(D·Dv) state
 * per head, and a backward that re-runs the scans instead of storing per-position states.
 * No epsilon in the denominator (phi > 0).
 *
 * ```ts
 * const q = randn([1, 2, 5, 3]), k = randn([1, 2, 5, 3]), v = randn([1, 2, 5, 4]);
 * const { output } = linearAttention(q, k, v, { causal: true }); // [1, 2, 5, 4]
 * ```
 */
import { add, div, elu, mul } from "../ops/elementwise.js";
import { linearAttentionOp } from "../ops/linear-attention.js";
import { matmul } from "../ops/matmul.js";
import { sum } from "../ops/reduce.js";
import { indexSelect, reshape, transpose } from "../ops/shape.js";
import type { DType } from "../tensor/dtype.js";
import { ShapeError, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { canonQKV, to4d, type Canon } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";

export interface LinearAttentionOptions {
  /** Query i sees keys j <= i (requires L = S). */
  causal?: boolean;
  /** Also return the normalized weights phi(q_i)·phi(k_j) / den_i [..., L, S] (O(L·S)). */
  needWeights?: boolean;
}

/** phi(x) = elu(x) + 1. */
export function eluFeatureMap(x: Tensor): Tensor {
  return add(elu(x, 1), 1);
}

/** [L, S] in `dtype`: 1 where key j may be seen by query i (j <= i), else 0. */
function causalKeep(L: number, S: number, dtype: DType): Tensor {
  const m = dtype === "float64" ? new Float64Array(L * S) : new Float32Array(L * S);
  for (let i = 0; i < L; i++) m.fill(1, i * S, i * S + Math.min(S, i + 1));
  return new Tensor(m, [L, S], dtype === "float64" ? "float64" : "float32");
}

/**
 * Linear attention over feature-mapped fq [..., L, M], fk [..., S, M] and v [..., S, Dv] (shared by
 * linear.ts and performer.ts). Validates like the others; `c` is the canon of (fq, fk, v).
 */
export function featureAttention(op: string, fq: Tensor, fk: Tensor, v: Tensor, c: Canon, causal: boolean, needWeights: boolean): AttentionResult {
  if (causal && c.L !== c.S) throw new ShapeError(op, "k", `S = L = ${c.L} for causal attention`, fmtShape(fk.shape));
  const [q4, k4, v4] = to4d(fq, fk, v, c);
  const output = reshape(linearAttentionOp(q4, k4, v4, causal), [...c.lead, c.L, c.Dv]);
  let weights: Tensor | null = null;
  if (needWeights) {
    const G = c.H / c.Hkv;
    let kk = fk;
    if (G > 1) {
      const idx: number[] = [];
      for (let h = 0; h < c.H; h++) idx.push(Math.floor(h / G));
      kk = indexSelect(fk, fk.rank - 3, idx);
    }
    let a = matmul(fq, transpose(kk, -2, -1)); // [..., L, S]
    if (causal) a = mul(a, causalKeep(c.L, c.S, fq.dtype)); // zero above the diagonal (a product, so it also serves device tensors)
    weights = div(a, sum(a, -1, { keepdim: true }));
  }
  return { output, weights };
}

export function linearAttention(q: Tensor, k: Tensor, v: Tensor, opts: LinearAttentionOptions = {}): AttentionResult {
  const op = "linearAttention";
  const c = canonQKV(op, q, k, v);
  return featureAttention(op, eluFeatureMap(q), eluFeatureMap(k), v, c, opts.causal ?? false, opts.needWeights ?? false);
}
