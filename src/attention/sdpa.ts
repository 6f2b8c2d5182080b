/**
 * The attention core: scaled dot-product, dot-product and cosine-similarity attention.
 *
 * Mask convention (one for all of qkv, as torch.nn.MultiheadAttention):
 *   a bool mask marks with **true the keys a query may NOT attend**; a float mask is **added** to the
 *   scores (use -Infinity to forbid). Note: torch.nn.functional.scaled_dot_product_attention uses the
 *   opposite polarity for bool masks (true = may attend) — invert such a mask when porting code.
 * A query row whose keys are all masked returns output 0 and weights 0, with zero gradients.
 *
 * ```ts
 * const q = randn([2, 4, 5, 8]), k = randn([2, 4, 7, 8]), v = randn([2, 4, 7, 8]);
 * const { output } = scaledDotProductAttention(q, k, v, { isCausal: true });       // [2, 4, 5, 8]
 * const { weights } = scaledDotProductAttention(q, k, v, { needWeights: true });   // [2, 4, 5, 7]
 * ```
 */
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { canonQKV, repeatKv } from "./canon.js";
import { broadcastsTo } from "../tensor/shape.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { fusedAttention } from "../ops/attention.js";
import { fusedMask } from "../ops/fused-mask.js";
import { add, div, maskedFill, mul, sqrt } from "../ops/elementwise.js";
import { dropout } from "../ops/functional.js";
import { matmul } from "../ops/matmul.js";
import { sum } from "../ops/reduce.js";
import { reshape, transpose } from "../ops/shape.js";
import { softmax } from "../ops/softmax.js";
import { checkDropoutP } from "../ops/util.js";

export interface AttentionOptions {
  /** bool (true = may not attend) or float (added), broadcastable to [..., L, S]. */
  attnMask?: Tensor | null;
  /** Query i may attend key j only when j <= i (top-left aligned, also when L != S). */
  isCausal?: boolean;
  /** Score scale; default 1/sqrt(D) (scaledDotProductAttention), 1 (dotProductAttention). */
  scale?: number;
  /** Dropout on the attention weights (seeded by `generator`). */
  dropoutP?: number;
  /** Also return the weights [..., L, S] (uses the plain composition instead of the fused kernel). */
  needWeights?: boolean;
  generator?: Generator;
}

export interface AttentionResult {
  /** [..., L, Dv] */
  output: Tensor;
  /** [..., L, S] when needWeights, else null. */
  weights: Tensor | null;
}

interface Canon {
  lead: number[];
  L: number; S: number; D: number; Dv: number;
  /** kv heads (GQA) when k/v have fewer heads than q on dim -3. */
  Hkv: number;
}

function validate(op: string, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Canon {
  const { lead, L, S, D, Dv, Hkv } = canonQKV(op, q, k, v);
  const m = opts.attnMask;
  if (m !== undefined && m !== null) {
    expectTensor(m, "attnMask", op);
    if (m.dtype !== "bool" && m.dtype !== "float32" && m.dtype !== "float64") throw new DTypeError(op, "attnMask", "bool or float", m.dtype);
    const full = [...lead, L, S];
    if (!broadcastsTo(m.shape, full)) {
      throw new ShapeError(op, "attnMask", `a shape broadcastable to ${fmtShape(full)}`, fmtShape(m.shape));
    }
  }
  if (opts.scale !== undefined && !(typeof opts.scale === "number" && Number.isFinite(opts.scale))) {
    throw new ValueError(op, "scale", "a finite number", String(opts.scale));
  }
  checkDropoutP(opts.dropoutP ?? 0, op, "dropoutP");
  return { lead, L, S, D, Dv, Hkv };
}

/** The bool mask of a causal pattern [L, S]: true above the diagonal (j > i). */
export function causalMask(L: number, S: number): Tensor {
  const m = new Tensor(new Uint8Array(L * S), [L, S], "bool");
  for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) m.data[i * S + j] = 1;
  return m;
}

/** Attention with explicit scale (shared by the three public functions). */
function attend(op: string, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, scale: number, c: Canon): AttentionResult {
  const { lead, L, S, D, Dv, Hkv } = c;
  const mask = opts.attnMask ?? null;
  const causal = opts.isCausal ?? false;
  const p = opts.dropoutP ?? 0;
  const H = lead.length ? lead[lead.length - 1]! : 1;
  const floatMaskGrad = mask !== null && mask.dtype !== "bool" && mask.requiresGrad;
  if (!opts.needWeights && !floatMaskGrad) {
    // canonical case: [B, H, L, D] for the fused kernel
    const B = lead.length >= 2 ? lead.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
    const q4 = reshape(q, [B, H, L, D]);
    const k4 = reshape(k, [B, Hkv, S, D]);
    const v4 = reshape(v, [B, Hkv, S, Dv]);
    const fm = mask ? fusedMask(mask, lead, L, S, q.dtype === "float64" ? "float64" : "float32") : null;
    const out = fusedAttention(q4, k4, v4, fm, causal, scale, p, opts.generator);
    return { output: reshape(out, [...lead, L, Dv]), weights: null };
  }
  // plain composition: scores, masks, softmax, dropout, weighted sum
  const G = H / Hkv;
  const kk = repeatKv(k, G), vv = repeatKv(v, G);
  let scores = mul(matmul(q, transpose(kk, -2, -1)), scale); // [..., L, S]
  if (mask) {
    if (mask.dtype === "bool") scores = maskedFill(scores, mask, -Infinity);
    else scores = add(scores, mask.dtype === q.dtype ? mask : new Tensor(q.dtype === "float64" ? Float64Array.from(mask.data) : Float32Array.from(mask.data), mask.shape, q.dtype));
  }
  if (causal) scores = maskedFill(scores, causalMask(L, S), -Infinity);
  let weights = softmax(scores, -1); // [..., L, S]; rows of only -Infinity give 0
  // dropout of the weights takes its counters in the fused kernel's (b, h, i, j) order: the same mask
  if (p > 0) weights = dropout(weights, p, { training: true, ...(opts.generator ? { generator: opts.generator } : {}) });
  const output = matmul(weights, vv); // [..., L, Dv]
  return { output, weights: opts.needWeights ? weights : null };
}

/** softmax(q k^T · scale + mask) v with scale = 1/sqrt(D) by default. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
  const c = validate("scaledDotProductAttention", q, k, v, opts);
  return attend("scaledDotProductAttention", q, k, v, opts, opts.scale ?? 1 / Math.sqrt(c.D), c);
}

/** softmax(q k^T + mask) v: no scaling (unless `scale` is given). */
export function dotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
  const c = validate("dotProductAttention", q, k, v, opts);
  return attend("dotProductAttention", q, k, v, opts, opts.scale ?? 1, c);
}

/** Rows divided by sqrt(sum x^2 + eps). */
function normalizeRows(x: Tensor, eps: number): Tensor {
  return div(x, sqrt(add(sum(mul(x, x), -1, { keepdim: true }), eps)));
}

/**
 * Cosine-similarity attention: scores = scale · (q·k) / (|q| |k|), |x| = sqrt(sum x² + eps);
 * scale defaults to 1, eps to 1e-8.
 */
export function cosineAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions & { eps?: number } = {}): AttentionResult {
  const c = validate("cosineAttention", q, k, v, opts);
  const eps = opts.eps ?? 1e-8;
  if (!(eps >= 0)) throw new ValueError("cosineAttention", "eps", "a non-negative number", String(eps));
  return attend("cosineAttention", normalizeRows(q, eps), normalizeRows(k, eps), v, opts, opts.scale ?? 1, c);
}

