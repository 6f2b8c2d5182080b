/**
 * Full-batch training of a node classifier (the whole graph every epoch, the loss on the training
 * nodes only), Adam with an L2 penalty as GAT's citation-graph recipe; the parameters of the epoch
 * with the best validation accuracy are kept (the last epoch when there are no validation nodes).
 * Seeded: one seed, one run. On a device backend (`qkv --backend webgpu`) the model trains on the
 * device and is evaluated on the host, on copies of its parameters, after every epoch; the model
 * returned stays on the device (evaluate it with `withHostData`). Every kind trains there (the
 * training nodes' loss gathered by indexSelect, dropout, the attention layers' segment ops).
 *
 * ```ts
 * const r = await trainNodeClassifier(ds, { kind: "gat", seed: 0, epochs: 200 });
 * console.log(r.test);                          // test accuracy in [0, 1]
 * ```
 */
import { backward } from "../../autograd/backward.js";
import { noGrad } from "../../autograd/graph.js";
import { withHostData } from "../../backend/host-copies.js";
import { getBackend } from "../../backend/registry.js";
import { writeValues } from "../../backend/tensor-arrays.js";
import { crossEntropy } from "../../ops/functional.js";
import { argmax } from "../../ops/reduce.js";
import { indexSelect } from "../../ops/shape.js";
import { Adam } from "../../optim/adam.js";
import { ValueError } from "../../tensor/errors.js";
import { Generator } from "../../tensor/rng.js";
import { Tensor } from "../../tensor/tensor.js";
import { graphTensors, type GraphDataset, type GraphTensors } from "./data.js";
import { NodeClassifier, type GraphModelKind } from "./model.js";

export interface TrainGraphOptions {
  kind: GraphModelKind;
  /** Epochs (default 200). */
  epochs?: number;
  /** Adam's learning rate (default 0.005). */
  lr?: number;
  /** L2 penalty (default 5e-4). */
  weightDecay?: number;
  /** Seeds the initialization and the dropout masks (default 0). */
  seed?: number;
  hidden?: number;
  heads?: number;
  dropout?: number;
  /** Called after every epoch. */
  onEpoch?: (r: EpochReport) => void;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  train: number;
  /** Validation accuracy, null without validation nodes. */
  valid: number | null;
}

export interface TrainGraphResult {
  model: NodeClassifier;
  /** The epoch whose parameters were kept (1-based). */
  epoch: number;
  train: number;
  valid: number | null;
  test: number;
  seconds: number;
}

/** The fraction of `nodes` whose largest logit is their label. */
export function accuracyOf(logits: Tensor, labels: Tensor, nodes: Int32Array): number {
  if (nodes.length === 0) return NaN;
  const pred = argmax(logits, -1).data, y = labels.data;
  let ok = 0;
  for (const n of nodes) if (Number(pred[n]) === Number(y[n])) ok++;
  return ok / nodes.length;
}

/** The model's logits on the whole graph in evaluation mode: [N, C]. */
export function predict(model: NodeClassifier, t: GraphTensors): Tensor {
  const was = model.training;
  model.eval();
  const logits = noGrad(() => model.forward(t.x, t.edgeIndex));
  model.train(was);
  return logits;
}

/** Test accuracy of a trained model. */
export function evaluateNodeClassifier(model: NodeClassifier, ds: GraphDataset, t: GraphTensors = graphTensors(ds)): { train: number; valid: number | null; test: number } {
  const logits = predict(model, t);
  return {
    train: accuracyOf(logits, t.labels, ds.split.train),
    valid: ds.split.valid.length ? accuracyOf(logits, t.labels, ds.split.valid) : null,
    test: accuracyOf(logits, t.labels, ds.split.test),
  };
}

export async function trainNodeClassifier(ds: GraphDataset, o: TrainGraphOptions): Promise<TrainGraphResult> {
  const op = "trainNodeClassifier";
  const epochs = o.epochs ?? 200, seed = o.seed ?? 0;
  if (!Number.isInteger(epochs) || epochs < 1) throw new ValueError(op, "epochs", "a positive integer", String(epochs));
  if (!Number.isInteger(seed) || seed < 0) throw new ValueError(op, "seed", "a non-negative integer", String(seed));
  const started = Date.now();
  const t = graphTensors(ds);
  const model = new NodeClassifier({
    kind: o.kind, inFeatures: t.x.shape[1]!, classes: ds.classes.length,
    ...(o.hidden !== undefined ? { hidden: o.hidden } : {}), ...(o.heads !== undefined ? { heads: o.heads } : {}), ...(o.dropout !== undefined ? { dropout: o.dropout } : {}),
  }, new Generator(seed));
  model.toDevice(getBackend()); // a no-op on a CPU backend
  const params = model.parameters();
  const tensors = Object.values(model.stateDict());
  // evaluation on the host: on copies of a device model's parameters (as is, on a host model)
  const evaluate = (): Promise<ReturnType<typeof evaluateNodeClassifier>> => withHostData(tensors, () => evaluateNodeClassifier(model, ds, t));
  const opt = new Adam(params, { lr: o.lr ?? 0.005, weightDecay: o.weightDecay ?? 5e-4 });
  const trainIdx = new Tensor(ds.split.train, [ds.split.train.length], "int32");
  const trainLabels = indexSelect(t.labels, 0, trainIdx); // [T]
  let best = { epoch: epochs, valid: -1, params: null as (Float32Array | Float64Array)[] | null };
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    opt.zeroGrad();
    const logits = model.forward(t.x, t.edgeIndex); // [N, C]
    const loss = crossEntropy(indexSelect(logits, 0, trainIdx), trainLabels); // over the training nodes
    backward(loss);
    opt.step();
    const lossValue = Number((await loss.read())[0]);
    const acc = await evaluate();
    if (acc.valid !== null && acc.valid > best.valid) {
      // the evaluation read a device model's parameters back: their data is current
      best = { epoch, valid: acc.valid, params: params.map((p) => (p.data as Float32Array | Float64Array).slice()) };
    }
    o.onEpoch?.({ epoch, epochs, loss: lossValue, train: acc.train, valid: acc.valid });
  }
  if (best.params) params.forEach((p, i) => writeValues(p, best.params![i]!));
  const acc = await evaluate();
  return { model, epoch: best.epoch, ...acc, seconds: (Date.now() - started) / 1000 };
}
