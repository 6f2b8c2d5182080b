/**
 * Scoring a classifier on a set of images (browser-safe): predictions in batches without
 * gradients, accuracy, mean cross-entropy, per-class accuracy, and the eval command's last line.
 *
 * ```ts
 * const r = scoreImages(model, test, { mean: 0.1307, std: 0.3081 });
 * formatAccuracyLine(r.accuracy); // "accuracy: 99.12%"
 * ```
 */
import { noGrad } from "../../autograd/graph.js";
import type { VisionTransformer } from "../../nn/vit.js";
import { crossEntropy } from "../../ops/functional.js";
import { argmax } from "../../ops/reduce.js";
import { imagesToTensor, type Normalization } from "./batches.js";
import type { ImageSet } from "./datasets.js";

export interface ImageScores {
  /** Percent of images whose top class is their label. */
  accuracy: number;
  /** Mean cross-entropy (nats). */
  loss: number;
  correct: number;
  total: number;
  /** Per class: [correct, total]. */
  perClass: [number, number][];
  /** The predicted class of every image. */
  predictions: Int32Array;
}

/** Runs the model (in eval mode, restored afterwards) over every image of `set`. */
export function scoreImages(model: VisionTransformer, set: ImageSet, norm: Normalization,
  opts: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {}): ImageScores {
  const bs = opts.batchSize ?? 500, K = model.config.numClasses;
  const wasTraining = model.training;
  model.eval();
  const predictions = new Int32Array(set.count);
  const perClass: [number, number][] = Array.from({ length: K }, () => [0, 0]);
  let lossSum = 0, correct = 0;
  try {
    noGrad(() => {
      for (let i = 0; i < set.count; i += bs) {
        const end = Math.min(set.count, i + bs);
        const { x, y } = imagesToTensor(set, i, end, norm);
        const logits = model.forward(x); // [n, K]
        lossSum += crossEntropy(logits, y, { reduction: "sum" }).item();
        const pred = argmax(logits, 1).data;
        for (let k = 0; k < end - i; k++) {
          const p = Number(pred[k]), t = Number(y.data[k]);
          predictions[i + k] = p;
          const c = perClass[t];
          if (c) {
            c[1]++;
            if (p === t) c[0]++;
          }
          if (p === t) correct++;
        }
        opts.onBatch?.(end, set.count);
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { accuracy: (100 * correct) / Math.max(1, set.count), loss: lossSum / Math.max(1, set.count), correct, total: set.count, perClass, predictions };
}

/** The last line of `qkv classify eval`: `accuracy: 99.12%` (percent, two decimals). */
export function formatAccuracyLine(accuracy: number): string {
  return `accuracy: ${accuracy.toFixed(2)}%`;
}
