/**
 * Training and scoring of the classifiers on a synthetic task, with the same budget for every
 * model: the same number of updates of the same batch size on the same stream of examples, AdamW
 * with the same learning-rate schedule, gradient norm clipped to 1.
 *
 * ```ts
 * const task = flaggedTokenTask({ length: 40, distance: 32 });
 * const model = new SequenceClassifier(matchedTo("gru", task, 40)); // sized to the transformer at E = 40
 * const r = await trainClassifier(model, task, { steps: 300, batchSize: 32, seed: 0 });
 * r.accuracy; // on 512 held-out sequences
 * ```
 */
import { noGrad } from "../../autograd/graph.js";
import { crossEntropy } from "../../ops/functional.js";
import { argmax } from "../../ops/reduce.js";
import { AdamW } from "../../optim/adam.js";
import { LRScheduler, warmupCosine } from "../../optim/schedule.js";
import { Generator } from "../../tensor/rng.js";
import { Tensor } from "../../tensor/tensor.js";
import { fit } from "../../train/fit.js";
import type { SequenceClassifier } from "./models.js";
import type { SequenceTask, TaskBatch } from "./tasks.js";

export interface TrainBudget {
  steps: number;
  batchSize: number;
  /** Seeds the data stream and (through fit) the default generator. */
  seed: number;
  /** Peak learning rate (default 3e-3). */
  lr?: number;
  /** Held-out sequences to score (default 512). */
  evalSize?: number;
}

export interface TrainResult {
  accuracy: number;
  /** Mean loss of the last 10% of the updates. */
  finalLoss: number;
  trainSeconds: number;
  /** Wall time per update, ms. */
  msPerStep: number;
}

/** A fixed held-out set: drawn from its own stream, the same for every model and seed. */
export function heldOut(task: SequenceTask, size: number, seed = 987_654_321): TaskBatch {
  return task.batch(size, new Generator(seed));
}

/** The fraction of `batch` that `model` classifies right (no gradient recorded), in chunks. */
export function accuracy(model: SequenceClassifier, batch: TaskBatch, chunk = 128): number {
  const [B, L] = batch.ids.shape as [number, number];
  const labels = batch.labels.data as Int32Array;
  const ids = batch.ids.data as Int32Array;
  let right = 0;
  const wasTraining = model.training;
  model.eval();
  noGrad(() => {
    for (let s = 0; s < B; s += chunk) {
      const n = Math.min(chunk, B - s);
      const part = new Tensor(ids.slice(s * L, (s + n) * L), [n, L], "int32");
      const pred = argmax(model.forward(part), -1).data as Int32Array; // [n]
      for (let i = 0; i < n; i++) if (pred[i] === labels[s + i]) right++;
    }
  });
  model.train(wasTraining);
  return right / Math.max(B, 1);
}

/** Trains `model` on `task` within `budget`; returns its held-out accuracy and timings. */
export async function trainClassifier(model: SequenceClassifier, task: SequenceTask, budget: TrainBudget): Promise<TrainResult> {
  const { steps, batchSize, seed } = budget;
  const data = new Generator(seed * 7919 + 13);
  const optimizer = new AdamW(model.parameters(), { lr: budget.lr ?? 3e-3, weightDecay: 0.01 });
  const warmupSteps = Math.min(50, Math.floor(steps / 10));
  const scheduler = steps > warmupSteps ? new LRScheduler(optimizer, warmupCosine({ warmupSteps, totalSteps: steps, minLr: 0.05 })) : undefined;
  const t0 = performance.now();
  const r = await fit<TaskBatch>({
    model, optimizer, steps, seed, clipNorm: 1, freeGraph: true,
    ...(scheduler ? { scheduler } : {}),
    batches: () => task.batch(batchSize, data),
    trainStep: (b) => crossEntropy(model.forward(b.ids), b.labels),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const tail = r.losses.slice(-Math.max(1, Math.ceil(steps / 10)));
  return {
    accuracy: accuracy(model, heldOut(task, budget.evalSize ?? 512)),
    finalLoss: tail.reduce((s, v) => s + v, 0) / tail.length,
    trainSeconds,
    msPerStep: (1000 * trainSeconds) / Math.max(steps, 1),
  };
}
