/**
 * The image view (viz/image-view.ts) of an image classifier (a ViT or the CNN-stem hybrid) on one
 * gray image: the image as the model reads it, the attention rollout from the class token (or
 * the mean of the tokens, for mean pooling) over the patch grid, every layer × head, and — by
 * default — attention × gradient of the top class's logit. Browser-safe.
 *
 * ```ts
 * const { pixels } = await readPngImage("digit.png", [28, 28]);
 * const html = classifierAttentionPage(await loadClassifierDir("models/classify-mnist"), pixels, { source: "digit.png" });
 * ```
 */
import { noGrad } from "../../autograd/graph.js";
import { captureAttention } from "../../interpret/capture.js";
import { softmax } from "../../ops/softmax.js";
import { slice } from "../../ops/shape.js";
import { ValueError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { vitTokens, type VisionTransformer } from "../../nn/vit.js";
import { imagePageDataFromCapture } from "../../viz/image-from-capture.js";
import { imagePageHtml } from "../../viz/image-view.js";
import { imagesToTensor } from "./batches.js";
import type { ClassifierBundle } from "./model-file.js";

export interface ClassifierPageOptions {
  /** Also differentiate a class's logit for attention × gradient (default true). */
  gradient?: boolean;
  /** The class whose logit is differentiated (its index; default: the predicted class). */
  target?: number;
  /** The image's file name, for the page. */
  source?: string;
  op?: string;
}

/** The patch grid and whether token 0 is a class token, from the model's config. */
export function classifierGrid(model: VisionTransformer): { grid: [number, number]; classToken: boolean } {
  const { gh, gw } = vitTokens(model.config);
  return { grid: [gh, gw], classToken: model.config.pooling === "cls" };
}

/** The page of `bundle` on one gray image, pixels [H * W] in 0..255 (the model's image size). */
export function classifierAttentionPage(bundle: ClassifierBundle, pixels: Uint8Array, o: ClassifierPageOptions = {}): string {
  const op = o.op ?? "classifierAttentionPage";
  const m = bundle.model, [H, W] = m.config.imageSize, K = bundle.classes.length;
  if (m.config.inChannels !== 1) throw new ValueError(op, "model", "a classifier of gray images (inChannels 1)", `inChannels ${m.config.inChannels}`);
  if (!(pixels instanceof Uint8Array) || pixels.length !== H * W) {
    throw new ValueError(op, "pixels", `${H} x ${W} = ${H * W} gray values (the model's image size)`, pixels instanceof Uint8Array ? `${pixels.length} values` : typeof pixels);
  }
  if (o.target !== undefined && !(Number.isInteger(o.target) && o.target >= 0 && o.target < K)) {
    throw new ValueError(op, "target", `a class index in [0, ${K})`, String(o.target));
  }
  m.eval();
  const { x } = imagesToTensor({ images: pixels, labels: new Uint8Array(1), count: 1, height: H, width: W }, 0, 1, bundle.normalize); // [1, 1, H, W]
  const gradient = o.gradient ?? true;
  let target = o.target ?? -1;
  const pickLogit = (logits: Tensor): Tensor => {
    if (target < 0) {
      const d = logits.data;
      target = 0;
      for (let k = 1; k < K; k++) if (Number(d[k]) > Number(d[target])) target = k;
    }
    return slice(slice(logits, 0, 0, 1), 1, target, target + 1); // [1, 1]
  };
  const { output, records } = gradient
    ? captureAttention(m, () => m.forward(x), { gradient: pickLogit })
    : noGrad(() => captureAttention(m, () => m.forward(x)));
  if (gradient) m.zeroGrad();
  const probs = noGrad(() => softmax(output, -1)).data; // [1, K]
  const top = Array.from(probs, (p, k) => [Number(p), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
  const { grid, classToken } = classifierGrid(m);
  const pct = (p: number): string => `${(100 * p).toFixed(2)}%`;
  const what = bundle.kind === "hybrid" ? "CNN-stem hybrid" : "ViT";
  return imagePageHtml(imagePageDataFromCapture(records, {
    title: `${what} on ${o.source ?? "an image"}: attention over the ${grid[0]} x ${grid[1]} ${bundle.kind === "hybrid" ? "feature-map cells" : "patches"}`,
    subtitle: `${bundle.dataset}: ${top.map(([p, k]) => `${bundle.classes[k]} ${pct(p)}`).join(", ")}` +
      (gradient ? `; attention × gradient of the logit of ${bundle.classes[target]}` : ""),
    image: { height: H, width: W, channels: 1, pixels },
    grid, classToken,
    ...(gradient ? { gradientOf: `the logit of class ${bundle.classes[target]}` } : {}),
  }));
}
