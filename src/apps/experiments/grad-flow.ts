/**
 * How much a late output depends on each earlier input: the norm of the gradient of the last
 * position's log-probability of the right answer with respect to the model's input at every
 * position, by distance from the last position.
 *
 * ```ts
 * const norms = inputGradientNorms(model, batch.ids, batch.labels); // norms[d]: mean over the batch of |d log p / d x_{L-1-d}|
 * ```
 */
import { backward } from "../../autograd/backward.js";
import { noGrad } from "../../autograd/graph.js";
import { crossEntropy } from "../../ops/functional.js";
import { ValueError } from "../../tensor/errors.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Module } from "../../nn/module.js";

/** A model split at its inputs: ids -> body inputs [B, L, E] -> logits [B, K] (SequenceClassifier is one). */
export type SplitModel = Module & { embed(ids: Tensor): Tensor; head(x: Tensor): Tensor };

/**
 * grad [B, L, E] (row-major) -> out[d] = mean over b of the 2-norm of grad[b, L-1-d, :], for
 * d = 0 (the last position) .. L-1 (the first).
 */
export function normsByDistance(grad: ArrayLike<number>, B: number, L: number, E: number): number[] {
  if (grad.length !== B * L * E) throw new ValueError("normsByDistance", "grad", `${B * L * E} values ([${B}, ${L}, ${E}])`, `${grad.length}`);
  const out = new Array<number>(L).fill(0);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      let s = 0;
      const o = (b * L + t) * E;
      for (let e = 0; e < E; e++) s += grad[o + e]! * grad[o + e]!;
      out[L - 1 - t]! += Math.sqrt(s) / B;
    }
  }
  return out;
}

/**
 * The gradient of sum over the batch of log p(label | ids) at the last position with respect to
 * the body's inputs (embeddings, plus positions), as norms by distance (see normsByDistance).
 * Each example's gradient is its own (the sum does not mix examples).
 */
export function inputGradientNorms(model: SplitModel, ids: Tensor, labels: Tensor): number[] {
  const x = noGrad(() => model.embed(ids)); // [B, L, E]
  const leaf = new Tensor(Float32Array.from(x.data as Float32Array), x.shape, "float32").requiresGrad_(true);
  const wasTraining = model.training;
  model.eval();
  try {
    const loss = crossEntropy(model.head(leaf), labels, { reduction: "sum" }); // -sum log p
    backward(loss);
  } finally {
    model.train(wasTraining);
  }
  for (const p of model.parameters()) p.grad = null;
  const [B, L, E] = x.shape as [number, number, number];
  return normsByDistance(leaf.grad!.data as Float32Array, B, L, E);
}
