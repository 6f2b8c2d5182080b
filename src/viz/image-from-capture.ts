/**
 * Captured ViT attention (interpret/capture.ts; records [B, H, T, T] of `blocks.{i}.attn`) as the
 * data of an image page (viz/image-view.ts). Every map is what the pooled output reads from the
 * patches: with a class token (T = gh·gw + 1, token 0), its row over the patch columns 1..T-1;
 * with mean pooling (T = gh·gw), the mean of all rows.
 * - per layer and head: that row of the head's weights;
 * - rollout: that row of attentionRollout over the head means, A = rownorm(W + I) (0.5·W + 0.5·I
 *   for rows summing to 1; interpret/rollout.ts), R = A_L · … · A_1;
 * - with gradients (captureAttention's `gradient` option): per layer and head the positive part
 *   of attention × gradient, (A ⊙ ∇A)⁺, and that row of gradientRollout (Chefer et al. 2021).
 *
 * ```ts
 * const { records } = captureAttention(vit, () => vit.forward(x)); // x [1, 1, 28, 28]
 * const html = imagePageHtml(imagePageDataFromCapture(records, { title: "ViT", image, grid: [7, 7], classToken: true }));
 * ```
 */
import type { AttentionRecord } from "../interpret/capture.js";
import { gradientRollout, positiveGradientAttention } from "../interpret/gradient-rollout.js";
import { attentionRollout, headMean } from "../interpret/rollout.js";
import { ValueError, fmtShape } from "../tensor/errors.js";
import type { ImageLayer, ImageOverlay, ImagePageData, ViewImage } from "./image-view.js";

export interface ImagePageFromCaptureOptions {
  title: string;
  subtitle?: string;
  image: ViewImage;
  /** The patch grid [gh, gw] (a ViT: image size / patch size; a CNN-stem hybrid: the stem's feature map). */
  grid: [number, number];
  /** Whether token 0 is a class token (pooling "cls"); otherwise every token is a patch (mean pooling). */
  classToken: boolean;
  /** Batch row to show (default 0). */
  b?: number;
  /** What the gradient was taken of, for the page (e.g. "the logit of class 7"). */
  gradientOf?: string;
}

/**
 * What the pooled output reads of each patch from a [T, T] row-major map: with a class token its
 * row 0 over columns 1..T-1, else the mean of the rows. Returns Float64Array [T - (classToken ? 1 : 0)].
 */
export function pooledRow(m: ArrayLike<number>, T: number, classToken: boolean): Float64Array {
  const op = "pooledRow";
  if (!Number.isInteger(T) || T < (classToken ? 2 : 1)) throw new ValueError(op, "T", `an integer >= ${classToken ? 2 : 1}`, String(T));
  if (m?.length !== T * T) throw new ValueError(op, "m", `T x T = ${T * T} values`, `${m?.length} values`);
  if (classToken) return Float64Array.from({ length: T - 1 }, (_, j) => Number(m[j + 1]));
  const out = new Float64Array(T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) out[j]! += Number(m[i * T + j]) / T;
  return out;
}

export function imagePageDataFromCapture(records: readonly AttentionRecord[], o: ImagePageFromCaptureOptions): ImagePageData {
  const op = "imagePageDataFromCapture";
  const b = o.b ?? 0;
  const g = o.grid;
  if (!Array.isArray(g) || g.length !== 2 || !g.every((v) => Number.isInteger(v) && v >= 1)) throw new ValueError(op, "grid", "[gh, gw], positive integers", JSON.stringify(g) ?? String(g));
  const T = g[0] * g[1] + (o.classToken ? 1 : 0);
  const recs = records.filter((r) => r.kind === "self" && r.call === 0);
  if (!recs.length) throw new ValueError(op, "records", "self-attention records (a ViT's blocks.{i}.attn)", `none among ${records.length} records`);
  for (const r of recs) {
    const s = r.weights.shape;
    if (r.weights.rank !== 4 || s[2] !== T || s[3] !== T) {
      throw new ValueError(op, "records", `weights [B, H, ${T}, ${T}] (a ${g[0]} x ${g[1]} grid${o.classToken ? " and a class token" : ""})`, `${fmtShape(s)} in ${r.name}`);
    }
    if (!Number.isInteger(b) || b < 0 || b >= s[0]!) throw new ValueError(op, "b", `a batch row in [0, ${s[0]})`, String(b));
  }
  const layers: ImageLayer[] = [], gradLayers: ImageLayer[] = [];
  const hasGrad = recs.every((r) => r.grad !== undefined);
  for (const r of recs) {
    const H = r.weights.shape[1]!, heads: Float64Array[] = [], gheads: Float64Array[] = [];
    for (let h = 0; h < H; h++) {
      const at = (b * H + h) * T * T;
      heads.push(pooledRow(r.weights.data.subarray(at, at + T * T), T, o.classToken));
      if (hasGrad) {
        const prod = new Float64Array(T * T);
        if (r.grad) for (let k = 0; k < T * T; k++) prod[k] = Math.max(0, Number(r.weights.data[at + k]) * Number(r.grad.data[at + k]));
        gheads.push(pooledRow(prod, T, o.classToken));
      }
    }
    layers.push({ name: r.name, heads });
    if (hasGrad) gradLayers.push({ name: r.name, heads: gheads });
  }
  const who = o.classToken ? "the class token's" : "the mean query's";
  const overlays: ImageOverlay[] = [{
    name: "attention rollout",
    values: pooledRow(attentionRollout(recs.map((r) => headMean(r.weights, b)), T), T, o.classToken),
    note: `${who} row of R = A_${recs.length} · … · A_1 over the patches, A = rownorm(W + I) (0.5·W + 0.5·I, the residual connection), W the layer's mean of heads`,
  }];
  if (hasGrad) {
    overlays.push({
      name: "attention × gradient rollout",
      values: pooledRow(gradientRollout(recs.map((r) => positiveGradientAttention(r.weights, r.grad ?? null, b)), T), T, o.classToken),
      note: `${who} row of R = (I + Ā_${recs.length}) · … · (I + Ā_1), Ā the mean over heads of (A ⊙ ∂y/∂A)⁺ (Chefer et al. 2021)` +
        (o.gradientOf ? `, y ${o.gradientOf}` : ""),
    });
  }
  return {
    title: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}),
    image: o.image, grid: [g[0], g[1]], overlays, layers, ...(hasGrad ? { gradLayers } : {}),
    layerNote: `each map: ${who} attention weights on the patches${hasGrad ? "; attention × gradient: the positive part of weights ⊙ gradient" : ""}`,
  };
}
