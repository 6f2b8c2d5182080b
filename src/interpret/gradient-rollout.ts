/**
 * Gradient-weighted attention rollout (Chefer, Gur & Wolf 2021, "Generic Attention-model
 * Explainability for Interpreting Bi-Modal and Encoder-Decoder Transformers"): each layer's
 * weights A [B, H, n, n] and their gradient ∇A (captureAttention's `gradient` option) become
 * Ā = mean over heads of (∇A ⊙ A)⁺ (the positive part: the weights that raise the output), and
 * R = I, then R ← R + Ā_l · R for l = 1..L. R[i, j] is how much position i of the top layer draws
 * from input token j through the parts of attention that push the chosen output up. Rows do not
 * sum to 1 (compare within a row).
 *
 * ```ts
 * const { records } = captureAttention(vit, () => vit.forward(x), { gradient: (logits) => classLogit });
 * const layers = records.map((r) => positiveGradientAttention(r.weights, r.grad!)); // [n, n] each
 * const R = gradientRollout(layers, n); // Float64Array [n, n]
 * ```
 */
import { ValueError, fmtShape } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** mean_h (grad ⊙ weights)⁺ at batch row `b` of weights and grad [B, H, L, S]: Float64Array [L, S]. */
export function positiveGradientAttention(weights: Tensor, grad: Tensor | null, b = 0): Float64Array {
  const op = "positiveGradientAttention";
  if (weights?.rank !== 4) throw new ValueError(op, "weights", "[B, H, L, S]", weights ? fmtShape(weights.shape) : String(weights));
  const [B, H, L, S] = weights.shape as [number, number, number, number];
  if (!Number.isInteger(b) || b < 0 || b >= B) throw new ValueError(op, "b", `a batch index in [0, ${B})`, String(b));
  const out = new Float64Array(L * S);
  if (grad === null) return out; // the output does not depend on these weights
  if (grad.size !== weights.size || grad.rank !== 4 || grad.shape.some((d, k) => d !== weights.shape[k])) {
    throw new ValueError(op, "grad", `the weights' shape ${fmtShape(weights.shape)}`, fmtShape(grad.shape));
  }
  for (let h = 0; h < H; h++) {
    const base = (b * H + h) * L * S;
    for (let i = 0; i < L * S; i++) {
      const v = Number(weights.data[base + i]) * Number(grad.data[base + i]);
      if (v > 0) out[i]! += v / H;
    }
  }
  return out;
}

/**
 * R = (I + Ā_L) · … · (I + Ā_1) of layers (first layer first), each [n, n] row-major (e.g. from
 * positiveGradientAttention): the rule R ← R + Ā_l · R from R = I. Returns [n, n] row-major.
 */
export function gradientRollout(layers: readonly ArrayLike<number>[], n: number): Float64Array {
  const op = "gradientRollout";
  if (!Number.isInteger(n) || n < 1) throw new ValueError(op, "n", "a positive integer", String(n));
  if (!Array.isArray(layers) || layers.length === 0) throw new ValueError(op, "layers", "a non-empty array of [n, n] matrices", Array.isArray(layers) ? "[]" : typeof layers);
  let r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) r[i * n + i] = 1;
  layers.forEach((a, l) => {
    if (a === null || typeof a !== "object" || a.length !== n * n) {
      throw new ValueError(op, `layers[${l}]`, `n x n = ${n * n} values`, a && typeof a === "object" ? `${a.length} values` : typeof a);
    }
    const next = Float64Array.from(r);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        const aik = Number(a[i * n + k]);
        if (aik === 0) continue;
        for (let j = 0; j < n; j++) next[i * n + j]! += aik * r[k * n + j]!;
      }
    }
    r = next;
  });
  return r;
}
