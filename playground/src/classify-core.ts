/**
 * What the image panel computes for one image (no DOM): the shipped classifier's class
 * probabilities, its three best classes, and where it looks — the attention rollout read from the
 * class token over the patch grid and each layer's per-head maps. The numbers come from the same
 * functions as `qkv viz --image` (classifierGrid, captureAttention, imagePageDataFromCapture),
 * without the gradient. The image worker runs it in the page; the browser test runs it in Node
 * on the same bytes to compare.
 *
 * ```ts
 * const bundle = decodeClassifier(bytes, "classify-mnist/model.safetensors");
 * const r = classifyImage(bundle, pixels);  // pixels: Uint8Array(28 * 28), white on black
 * r.top[0];                                 // { index: 7, label: "7", p: 0.99… }
 * ```
 */
import type { ClassifierBundle } from "../../src/apps/classify/model-file.js";
import { imagesToTensor } from "../../src/apps/classify/batches.js";
import { classifierGrid } from "../../src/apps/classify/viz.js";
import { captureAttention, noGrad, softmax, ValueError } from "../../src/index.js";
import { imagePageDataFromCapture } from "../../src/viz/image-from-capture.js";

export interface ClassScore {
  index: number;
  label: string;
  p: number;
}

export interface ImageLayerMaps {
  name: string;
  /** One [gh * gw] map per head. */
  heads: Float64Array[];
}

export interface ImageClassification {
  /** Every class's probability, in label order. */
  probs: Float64Array;
  /** The three most probable classes, best first. */
  top: ClassScore[];
  /** The patch grid [gh, gw]. */
  grid: [number, number];
  /** Attention rollout: what the class token (or, with mean pooling, the mean token) reads of each patch, [gh * gw]. */
  rollout: Float64Array;
  /** Each attention layer's per-head maps over the patches. */
  layers: ImageLayerMaps[];
}

/** Classifies one gray image (pixels [H * W] in 0..255, the model's size) and reads its attention. */
export function classifyImage(bundle: ClassifierBundle, pixels: Uint8Array): ImageClassification {
  const op = "classifyImage";
  const m = bundle.model, [H, W] = m.config.imageSize;
  if (!(pixels instanceof Uint8Array) || pixels.length !== H * W) {
    throw new ValueError(op, "pixels", `${H} x ${W} = ${H * W} gray values (the model's image size)`, pixels instanceof Uint8Array ? `${pixels.length} values` : typeof pixels);
  }
  m.eval();
  const { x } = imagesToTensor({ images: pixels, labels: new Uint8Array(1), count: 1, height: H, width: W }, 0, 1, bundle.normalize);
  const { output, records } = noGrad(() => captureAttention(m, () => m.forward(x)));
  const probs = Float64Array.from(noGrad(() => softmax(output, -1)).data);
  const top = Array.from(probs, (p, index) => ({ index, label: bundle.classes[index] ?? String(index), p }))
    .sort((a, b) => b.p - a.p || a.index - b.index).slice(0, 3);
  const { grid, classToken } = classifierGrid(m);
  const data = imagePageDataFromCapture(records, { title: "", image: { height: H, width: W, channels: 1, pixels }, grid, classToken });
  return {
    probs, top, grid,
    rollout: Float64Array.from(data.overlays[0]!.values),
    layers: data.layers.map((l) => ({ name: l.name, heads: l.heads.map((h) => Float64Array.from(h)) })),
  };
}
