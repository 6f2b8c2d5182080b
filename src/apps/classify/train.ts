/**
 * Training an image classifier (a Vision Transformer, or the hybrid with a CNN stem) on MNIST or
 * Fashion-MNIST: the training images less the last 5,000 (the validation split), random shifts of
 * up to 2 pixels, AdamW (no decay on biases, norms, the class token and positions) with linear
 * warm-up and cosine decay over the run's epochs, label smoothing, gradient clipping; validation
 * accuracy after every epoch (on a device backend, run on the device: `scoreImagesAsync`),
 * checkpoints and resume through train/node/loop.ts. The same seed gives the same run.
 *
 * Output directory: model.safetensors (rewritten after each validation), checkpoints/ (the last
 * two), log.jsonl (one JSON line per validation).
 *
 * ```ts
 * await trainClassifier({ dataset: "mnist", outDir: "runs/classify-mnist", epochs: 30 });
 * ```
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { VisionTransformer, type ViTConfig } from "../../nn/vit.js";
import { crossEntropy } from "../../ops/functional.js";
import { AdamW } from "../../optim/adam.js";
import { LRScheduler, warmupCosine } from "../../optim/schedule.js";
import { ValueError } from "../../tensor/errors.js";
import { manualSeed } from "../../tensor/rng.js";
import type { Tensor } from "../../tensor/tensor.js";
import { checkRunOptions, resumeState, runTrainingLoop, type RunOptions, type TrainResult } from "../../train/node/loop.js";
import { ImageBatches, type ImageBatch } from "./batches.js";
import { DATASETS, checkDatasetName, splitValidation, type DatasetName } from "./datasets.js";
import { scoreImages, scoreImagesAsync } from "./evaluate.js";
import { loadImageSet } from "./idx-files.js";
import type { ClassifierKind } from "./model-file.js";
import { saveClassifierDir } from "./node-files.js";

export interface ClassifyTrainOptions extends RunOptions {
  dataset: DatasetName;
  /** Directory with the IDX files (default: where the dataset's package puts them). */
  dataDir?: string;
  /** "vit" (default) or "hybrid" (a CNN stem instead of the patch projection). */
  arch?: ClassifierKind;
  /** Passes over the training images (default 30): the schedule's length and a budget. */
  epochs?: number;
  /** Continue from the latest checkpoint in outDir/checkpoints (same options). */
  resume?: boolean;
  batchSize?: number;
  /** Peak learning rate (default 1e-3). */
  lr?: number;
  weightDecay?: number;
  /** Warm-up steps (default: one epoch, at most a tenth of the run). */
  warmup?: number;
  labelSmoothing?: number;
  /** Largest random shift in pixels (default 2; 0 turns augmentation off). */
  shift?: number;
  /** Validation images, the last of the training split (default 5000). */
  validSize?: number;
  /** Model size (defaults: patch 4, dim 64, depth 6, heads 4, MLP ratio 2, no dropout; hybrid stem [16, 32]). */
  patchSize?: number;
  dim?: number;
  depth?: number;
  heads?: number;
  mlpRatio?: number;
  dropout?: number;
  stem?: number[];
  /** Save float32 weights (default F16). */
  float32?: boolean;
  log?: (line: string) => void;
}

/** The default model of an architecture for images of `size` with `channels` and `classes`. */
export function defaultClassifierConfig(o: ClassifyTrainOptions, size: [number, number], classes: number): ViTConfig {
  const hybrid = (o.arch ?? "vit") === "hybrid";
  const stem = hybrid ? o.stem ?? [16, 32] : null;
  return {
    imageSize: size, inChannels: 1, numClasses: classes,
    patchSize: stem ? 2 ** stem.length : o.patchSize ?? 4,
    dim: o.dim ?? 64, depth: o.depth ?? 6, heads: o.heads ?? 4, mlpRatio: o.mlpRatio ?? 2, dropout: o.dropout ?? 0,
    pooling: "cls", positions: "learned", stem,
  };
}

export async function trainClassifier(o: ClassifyTrainOptions): Promise<TrainResult> {
  const op = "classify train";
  checkRunOptions(op, o, ["epochs", "batchSize", "warmup", "validSize", "patchSize", "dim", "depth", "heads"], ["lr", "mlpRatio"]);
  const dataset = checkDatasetName(o.dataset, op, "dataset");
  const arch = o.arch ?? "vit";
  if (arch !== "vit" && arch !== "hybrid") throw new ValueError(op, "arch", '"vit" or "hybrid"', JSON.stringify(arch));
  for (const k of ["labelSmoothing", "weightDecay", "dropout"] as const) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && v >= 0 && v < 1)) throw new ValueError(op, k, "a number in [0, 1)", String(v));
  }
  if (o.arch !== "hybrid" && o.stem !== undefined) throw new ValueError(op, "stem", 'arch "hybrid" (a stem is the hybrid\'s)', `arch "${arch}"`);
  const log = o.log ?? ((l: string) => console.log(l));
  const t0 = performance.now(), seed = o.seed ?? 0, info = DATASETS[dataset];
  const all = await loadImageSet(dataset, "train", o.dataDir !== undefined ? { dataDir: o.dataDir } : {});
  const { fit, valid } = splitValidation(all, o.validSize ?? 5000);
  const norm = { mean: info.mean, std: info.std };
  const plan = new ImageBatches(fit, { batchSize: o.batchSize ?? 128, seed, shift: o.shift ?? 2, ...norm });
  const epochs = o.epochs ?? 30;
  const total = o.steps ?? epochs * plan.batchesPerEpoch;
  await mkdir(o.outDir, { recursive: true });
  const resumeFrom = await resumeState(o.outDir, o.resume === true, log);

  manualSeed(seed);
  const model = new VisionTransformer(defaultClassifierConfig(o, [all.height, all.width], info.classes.length));
  const c = model.config;
  const nParams = model.parameters().reduce((s, p) => s + p.size, 0);
  log(`${info.title}: ${fit.count.toLocaleString("en-US")} training images (${valid.count.toLocaleString("en-US")} for validation), ` +
    `${plan.batchesPerEpoch} batches of ${plan.batchSize} per epoch, ${total} steps; ${arch === "hybrid" ? `hybrid (CNN stem ${c.stem!.join("-")}) ` : ""}` +
    `ViT patch ${c.patchSize}, dim ${c.dim}, depth ${c.depth}, ${c.heads} heads, ${nParams.toLocaleString("en-US")} parameters`);

  // no weight decay on biases, norms, the class token and the positions (as timm)
  const decay: Tensor[] = [], noDecay: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) (p.rank >= 2 && name !== "cls_token" && name !== "pos_embed" ? decay : noDecay).push(p);
  const optimizer = new AdamW([{ params: decay, weightDecay: o.weightDecay ?? 0.05 }, { params: noDecay, weightDecay: 0 }], { lr: o.lr ?? 1e-3 });
  const warmup = o.warmup ?? Math.max(1, Math.min(plan.batchesPerEpoch, Math.floor(total / 10)));
  const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps: Math.min(warmup, total - 1), totalSteps: total, minLr: 0.01 }));
  const ls = o.labelSmoothing ?? 0.1;
  const bundle = { kind: arch, dataset, classes: info.classes.slice(), normalize: norm, model };
  return runTrainingLoop<ImageBatch>({
    ...o, steps: total, seed, evalEvery: o.evalEvery ?? plan.batchesPerEpoch, checkpointEvery: o.checkpointEvery ?? Math.min(plan.batchesPerEpoch, 200),
  }, {
    model, optimizer, scheduler, resumeFrom, log, t0, modelFile: join(o.outDir, "model.safetensors"),
    batchAt: (s) => plan.batchAt(s),
    epochOf: (s) => plan.epochOf(s),
    lossOf: (b) => crossEntropy(model.forward(b.x), b.y, { labelSmoothing: ls }),
    evaluate: () => {
      const r = scoreImages(model, valid, norm);
      return { validLoss: r.loss, validAccuracy: r.accuracy };
    },
    // a model on a device is validated there: each batch's loss and predicted classes read back
    evaluateOnDevice: async () => {
      const r = await scoreImagesAsync(model, valid, norm);
      return { validLoss: r.loss, validAccuracy: r.accuracy };
    },
    save: (step, metrics) => saveClassifierDir(o.outDir, { ...bundle, info: { steps: step, epochs: step / plan.batchesPerEpoch, ...metrics } }, o.float32 ? { float32: true } : {}),
  });
}
