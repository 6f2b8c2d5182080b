/**
 * Full-batch training of a node classifier (the whole graph every epoch, the loss on the training
 * nodes only), Adam with an L2 penalty as GAT's citation-graph recipe; the parameters of the epoch
 * with the best validation accuracy are kept (the last epoch when there are no validation nodes).
 * Seeded: one seed, one run. On a device backend (`qkv --backend webgpu`) the model trains on the
 * device and is evaluated there after every epoch: the epoch's loss [] and the predicted classes of
 * the training and validation nodes [T + V] come back in one batched read, no parameter; the best
 * epoch's parameters are kept as copies on the device (`KeptParameters`) and put back there after
 * the last epoch. The model returned stays on the device (`evaluateNodeClassifierAsync` evaluates
 * it there; `withHostData` for host code). Every kind trains there (the training nodes' loss
 * gathered by indexSelect, dropout, the attention layers' segment ops).
 *
 * ```ts
 * const r = await trainNodeClassifier(ds, { kind: "gat", seed: 0, epochs: 200 });
 * console.log(r.test);                          // test accuracy in [0, 1]
 * const acc = await evaluateNodeClassifierAsync(r.model, ds); // a model on a device, evaluated there
 * ```
 */
import { backward } from "../../autograd/backward.js";
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import { anyOnDevice } from "../../backend/host-copies.js";
import { getBackend } from "../../backend/registry.js";
import { crossEntropy } from "../../ops/functional.js";
import { argmax } from "../../ops/reduce.js";
import { indexSelect } from "../../ops/shape.js";
import { Adam } from "../../optim/adam.js";
import { ValueError } from "../../tensor/errors.js";
import { readAll } from "../../tensor/read-all.js";
import { Generator } from "../../tensor/rng.js";
import { Tensor } from "../../tensor/tensor.js";
import { KeptParameters } from "../../train/kept-parameters.js";
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

/** The fraction of `nodes` whose predicted class (pred, by node) is their label (labels, by node). */
function fractionCorrect(pred: ArrayLike<number>, labels: ArrayLike<number>, nodes: Int32Array): number {
  if (nodes.length === 0) return NaN;
  let ok = 0;
  for (const n of nodes) if (Number(pred[n]) === Number(labels[n])) ok++;
  return ok / nodes.length;
}

/** The fraction of `nodes` whose largest logit is their label. */
export function accuracyOf(logits: Tensor, labels: Tensor, nodes: Int32Array): number {
  if (nodes.length === 0) return NaN;
  return fractionCorrect(argmax(logits, -1).data, labels.data, nodes);
}

/** The model's logits on the whole graph in evaluation mode: [N, C]. */
export function predict(model: NodeClassifier, t: GraphTensors): Tensor {
  const was = model.training;
  model.eval();
  const logits = noGrad(() => model.forward(t.x, t.edgeIndex));
  model.train(was);
  return logits;
}

export interface NodeAccuracies { train: number; valid: number | null; test: number }

/** Test accuracy of a trained model. */
export function evaluateNodeClassifier(model: NodeClassifier, ds: GraphDataset, t: GraphTensors = graphTensors(ds)): NodeAccuracies {
  const logits = predict(model, t);
  return {
    train: accuracyOf(logits, t.labels, ds.split.train),
    valid: ds.split.valid.length ? accuracyOf(logits, t.labels, ds.split.valid) : null,
    test: accuracyOf(logits, t.labels, ds.split.test),
  };
}

/**
 * The predicted classes of `nodes` by a model on a device, computed there (evaluation mode, the
 * device backend active, nothing recorded): [N] by node, -1 for a node not asked. Only the rows of
 * `nodes` are reduced to classes, and their ids [n] come back in one batched read with `also`
 * (read in the same `readAll`, their values returned in order); no parameter is read.
 */
async function predictNodesAsync(model: NodeClassifier, t: GraphTensors, nodes: Int32Array, also: readonly Tensor[] = []): Promise<{ pred: Int32Array; also: ArrayLike<number>[] }> {
  const was = model.training;
  model.eval();
  try {
    return await noGradAsync(async () => {
      const logits = model.forward(t.x, t.edgeIndex); // [N, C]
      const ids = argmax(indexSelect(logits, 0, new Tensor(nodes, [nodes.length], "int32")), -1); // [n]
      const [got, ...rest] = await readAll([ids, ...also]);
      const pred = new Int32Array(t.labels.size).fill(-1);
      nodes.forEach((n, k) => (pred[n] = Number(got![k])));
      return { pred, also: rest };
    });
  } finally {
    model.train(was);
  }
}

/** The accuracies of the splits whose nodes `pred` (by node) holds; test NaN when it holds none of them. */
function accuraciesOf(pred: Int32Array, t: GraphTensors, split: GraphDataset["split"], withTest: boolean): NodeAccuracies {
  const y = t.labels.data;
  return {
    train: fractionCorrect(pred, y, split.train),
    valid: split.valid.length ? fractionCorrect(pred, y, split.valid) : null,
    test: withTest ? fractionCorrect(pred, y, split.test) : NaN,
  };
}

/** `evaluateNodeClassifier` of a model on a device, run there: the train, valid and test nodes' predicted classes read back together, nothing else. */
export async function evaluateNodeClassifierAsync(model: NodeClassifier, ds: GraphDataset, t: GraphTensors = graphTensors(ds)): Promise<NodeAccuracies> {
  const { train, valid, test } = ds.split;
  const { pred } = await predictNodesAsync(model, t, Int32Array.from([...train, ...valid, ...test]));
  return accuraciesOf(pred, t, ds.split, true);
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
  const onDevice = anyOnDevice(params);
  // the epoch's loss and accuracies: on the host, the loss's data and evaluateNodeClassifier; on a
  // device, the loss and the training and validation nodes' predicted classes in one batched read
  const trainValid = Int32Array.from([...ds.split.train, ...ds.split.valid]);
  const epochResult = async (loss: Tensor): Promise<{ loss: number; acc: { train: number; valid: number | null } }> => {
    if (!onDevice) return { loss: Number((await loss.read())[0]), acc: evaluateNodeClassifier(model, ds, t) };
    const { pred, also: [l] } = await predictNodesAsync(model, t, trainValid, [loss]);
    return { loss: Number(l![0]), acc: accuraciesOf(pred, t, ds.split, false) };
  };
  const opt = new Adam(params, { lr: o.lr ?? 0.005, weightDecay: o.weightDecay ?? 5e-4 });
  const trainIdx = new Tensor(ds.split.train, [ds.split.train.length], "int32");
  const trainLabels = indexSelect(t.labels, 0, trainIdx); // [T]
  let best = { epoch: epochs, valid: -1 };
  const kept = new KeptParameters(); // where the parameters live: a device model's stay there
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      model.train();
      opt.zeroGrad({ release: true }); // the previous epoch's gradients go back to the pool
      const logits = model.forward(t.x, t.edgeIndex); // [N, C]
      const loss = crossEntropy(indexSelect(logits, 0, trainIdx), trainLabels); // over the training nodes
      backward(loss);
      opt.step();
      const r = await epochResult(loss);
      if (r.acc.valid !== null && r.acc.valid > best.valid) {
        best = { epoch, valid: r.acc.valid };
        kept.keep(params);
      }
      o.onEpoch?.({ epoch, epochs, loss: r.loss, train: r.acc.train, valid: r.acc.valid });
    }
    kept.restore(params);
  } finally {
    kept.release(); // after a throw: a device model's copies go back
  }
  const acc = onDevice ? await evaluateNodeClassifierAsync(model, ds, t) : evaluateNodeClassifier(model, ds, t);
  return { model, epoch: best.epoch, ...acc, seconds: (Date.now() - started) / 1000 };
}
