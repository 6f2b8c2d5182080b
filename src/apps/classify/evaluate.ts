/**
 * Scoring a classifier on a set of images (browser-safe): predictions in batches without
 * gradients, accuracy, mean cross-entropy, per-class accuracy, and the eval command's last line.
 *
 * ```ts
 * const r = scoreImages(model, test, { mean: 0.1307, std: 0.3081 });
 * formatAccuracyLine(r.accuracy); // "accuracy: 99.12%"
 * const d = await scoreImagesAsync(model, test, norm); // a model on a device, scored there
 * ```
 */
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import type { VisionTransformer } from "../../nn/vit.js";
import { crossEntropy } from "../../ops/functional.js";
import { argmax } from "../../ops/reduce.js";
import { readAll } from "../../tensor/read-all.js";
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

interface ScoreOptions {
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

/** Running totals over the batches: the predictions, per-class counts, correct and the summed loss. */
class Tally {
  readonly predictions: Int32Array;
  readonly perClass: [number, number][];
  lossSum = 0;
  correct = 0;

  constructor(readonly count: number, K: number) {
    this.predictions = new Int32Array(count);
    this.perClass = Array.from({ length: K }, () => [0, 0]);
  }

  /** Adds the batch of images [start, start + n): its summed loss, predicted and true classes. */
  add(start: number, n: number, lossSum: number, pred: ArrayLike<number>, labels: ArrayLike<number>): void {
    this.lossSum += lossSum;
    for (let k = 0; k < n; k++) {
      const p = Number(pred[k]), t = Number(labels[k]);
      this.predictions[start + k] = p;
      const c = this.perClass[t];
      if (c) {
        c[1]++;
        if (p === t) c[0]++;
      }
      if (p === t) this.correct++;
    }
  }

  scores(): ImageScores {
    const { count, correct, lossSum, perClass, predictions } = this;
    return { accuracy: (100 * correct) / Math.max(1, count), loss: lossSum / Math.max(1, count), correct, total: count, perClass, predictions };
  }
}

/** Runs the model (in eval mode, restored afterwards) over every image of `set`. */
export function scoreImages(model: VisionTransformer, set: ImageSet, norm: Normalization, opts: ScoreOptions = {}): ImageScores {
  const bs = opts.batchSize ?? 500;
  const wasTraining = model.training;
  model.eval();
  const tally = new Tally(set.count, model.config.numClasses);
  try {
    noGrad(() => {
      for (let i = 0; i < set.count; i += bs) {
        const end = Math.min(set.count, i + bs);
        const { x, y } = imagesToTensor(set, i, end, norm);
        const logits = model.forward(x); // [n, K]
        const lossSum = crossEntropy(logits, y, { reduction: "sum" }).item();
        tally.add(i, end - i, lossSum, argmax(logits, 1).data, y.data);
        opts.onBatch?.(end, set.count);
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return tally.scores();
}

/**
 * `scoreImages` of a model on a device, run there (the device backend active): each batch's
 * summed loss [] and predicted classes [n] read back together (one `readAll`), nothing else; the
 * images go up as the training batches do. The same scores as on the host, the loss within
 * float32's error of the device's sums.
 */
export async function scoreImagesAsync(model: VisionTransformer, set: ImageSet, norm: Normalization, opts: ScoreOptions = {}): Promise<ImageScores> {
  const bs = opts.batchSize ?? 500;
  const wasTraining = model.training;
  model.eval();
  const tally = new Tally(set.count, model.config.numClasses);
  try {
    await noGradAsync(async () => {
      for (let i = 0; i < set.count; i += bs) {
        const end = Math.min(set.count, i + bs);
        const { x, y } = imagesToTensor(set, i, end, norm);
        const logits = model.forward(x); // [n, K]
        const [loss, pred] = await readAll([crossEntropy(logits, y, { reduction: "sum" }), argmax(logits, 1)]); // [], [n]
        tally.add(i, end - i, Number(loss![0]), pred!, y.data);
        opts.onBatch?.(end, set.count);
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return tally.scores();
}

/** The last line of `qkv classify eval`: `accuracy: 99.12%` (percent, two decimals). */
export function formatAccuracyLine(accuracy: number): string {
  return `accuracy: ${accuracy.toFixed(2)}%`;
}
