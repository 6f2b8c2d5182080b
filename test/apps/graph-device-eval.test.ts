/**
 * The graph trainer's evaluation on a device (`trainNodeClassifier` with the host-memory device
 * backend active, test/backend/host-device.ts; `evaluateNodeClassifierAsync`): the same accuracies,
 * every epoch's and the final ones, and the same kept epoch as the host run; the kept epoch's
 * parameters put back exactly (those of a run stopped at that epoch, bit for bit); the losses within
 * float32's error; and nothing read back but each epoch's loss [] with the training and validation
 * nodes' predicted classes [T + V] (one batched read an epoch), then the final evaluation's
 * predicted classes of every split's nodes: no parameter. `qkv graph train` and `qkv graph eval`
 * (the commands, run in this process) on the device print the host run's lines and read back the
 * training's reads, then `graph eval` the split's predicted classes once more; the parameters only
 * for `--out`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Command } from "commander";
import { registerGraphCommands } from "../../src/apps/graph/cli.js";
import { isGradEnabled } from "../../src/autograd/graph.js";
import type { GraphDataset } from "../../src/apps/graph/data.js";
import { loadGraphDataset, loadGraphModel } from "../../src/apps/graph/files.js";
import { NodeClassifier } from "../../src/apps/graph/model.js";
import { evaluateNodeClassifier, evaluateNodeClassifierAsync, trainNodeClassifier, type EpochReport, type TrainGraphResult } from "../../src/apps/graph/train.js";
import { readAll } from "../../src/tensor/read-all.js";
import { deviceTestEnv, U } from "../backend/device-helpers.js";

const { host, dev, on, watchReads } = deviceTestEnv();

const karate = await loadGraphDataset("karate");
// ten of the test members as validation nodes (as device-apps-more.test.ts): T = 2, V = 10, 22 test nodes
const ds: GraphDataset = { ...karate, split: { train: karate.split.train, valid: karate.split.test.slice(0, 10), test: karate.split.test.slice(10) } };
const T = 2, V = 10, N = 34;
// one-hot features of 34 nodes, 8 heads of 8 (64 terms), softmax over at most 18 neighbours (as device-apps-more.test.ts)
const K = 34 + 64 + 18;

interface Run { r: TrainGraphResult; epochs: EpochReport[] }

const train = (kind: "gat" | "transformer" | "mlp", epochs: number, data = ds) => async (): Promise<Run> => {
  const seen: EpochReport[] = [];
  const r = await trainNodeClassifier(data, { kind, seed: 0, epochs, onEpoch: (e) => seen.push(e) });
  return { r, epochs: seen };
};

/** Every parameter's values (read back after the run). */
async function valuesOf(r: TrainGraphResult): Promise<number[][]> {
  return (await readAll(r.model.parameters())).map((a) => Array.from(a));
}

describe("graph train on a device: evaluated there, the best epoch kept there", () => {
  test("evaluateNodeClassifierAsync: the host evaluation's accuracies with the same parameters; one batched read of the split's predicted classes", async () => {
    const { r } = await on(false, train("transformer", 12));
    const want = evaluateNodeClassifier(r.model, ds);
    assert.ok(want.test > 0 && want.test < 1, `a test accuracy that tells predictions apart: ${want.test}`);
    const got = await watchReads(async () => {
      r.model.toDevice(dev);
      return evaluateNodeClassifierAsync(r.model, ds);
    });
    assert.equal(r.model.parameters()[0]!.onDevice, true);
    assert.equal(r.model.training, true, "train mode restored");
    assert.equal(isGradEnabled(), true, "recording restored");
    assert.deepEqual(got.lengths, [[N]], "one batched read: the predicted classes of the train, valid and test nodes");
    assert.equal(got.single, 0, "single reads");
    assert.deepEqual(got.result, want);
  });

  for (const [kind, kept] of [["gat", 1], ["transformer", 10], ["mlp", 5]] as const) {
    test(`${kind}: the host run's accuracies and kept epoch (${kept} of 12), the kept epoch's parameters, one batched read an epoch`, async (t) => {
      const E = 12;
      const ref = await on(false, train(kind, E));
      const { result: got, lengths, single: reads } = await watchReads(train(kind, E));
      // each epoch: the training and validation nodes' predicted classes [T + V] and its loss [1]; then the
      // final evaluation's predicted classes of the 34 split nodes; no parameter, no single read
      assert.deepEqual(lengths, [...Array.from({ length: E }, () => [T + V, 1]), [N]], `${kind}: batched reads`);
      assert.equal(reads, 0, `${kind}: single reads`);
      assert.ok(got.r.model.parameters().every((p) => p.onDevice && p.host === null), `${kind}: no parameter read back`);
      // the evaluations and the epoch they keep
      assert.deepEqual(got.epochs.map((e) => [e.train, e.valid]), ref.epochs.map((e) => [e.train, e.valid]), `${kind}: every epoch's accuracies`);
      assert.equal(ref.r.epoch, kept, `${kind}: the host run's kept epoch`);
      assert.deepEqual([got.r.epoch, got.r.train, got.r.valid, got.r.test], [ref.r.epoch, ref.r.train, ref.r.valid, ref.r.test], `${kind}: kept epoch and accuracies`);
      // the losses within 10 K u (1 + s) of the host's at epoch s
      let worst = 0;
      ref.epochs.forEach((e, s) => {
        const g = got.epochs[s]!.loss;
        assert.ok(Math.abs(g - e.loss) <= 10 * K * U * (1 + s) * e.loss, `${kind} epoch ${s + 1}: loss ${g} on the device, ${e.loss} on the host`);
        worst = Math.max(worst, Math.abs(g - e.loss));
      });
      // the parameters put back are exactly the kept epoch's: those of the same run stopped there
      const stopped = await on(true, train(kind, kept));
      assert.equal(stopped.r.epoch, kept);
      assert.deepEqual(await valuesOf(got.r), await valuesOf(stopped.r), `${kind}: the kept epoch's parameters`);
      if (kept < E) {
        // without validation nodes the same training keeps its last epoch: other parameters
        const last = await on(true, train(kind, E, { ...ds, split: { ...ds.split, valid: new Int32Array(0) } }));
        assert.equal(last.r.epoch, E);
        assert.notDeepEqual(await valuesOf(got.r), await valuesOf(last.r), `${kind}: the last epoch's parameters differ from the kept epoch's`);
      }
      t.diagnostic(`${kind} on ${host.name}: kept epoch ${kept}, test accuracy ${got.r.test}; largest loss difference ${worst.toExponential(2)}`);
    });
  }
});

/** Runs `qkv graph <args>` in this process, returning the lines it prints. */
async function graphCli(args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...xs: unknown[]) => lines.push(xs.map(String).join(" "));
  try {
    const program = new Command("qkv").exitOverride();
    registerGraphCommands(program);
    await program.parseAsync(["node", "qkv", "graph", ...args]);
  } finally {
    console.log = log;
  }
  return lines;
}

describe("qkv graph train / eval on a device: the test accuracy evaluated there", () => {
  const dir = mkdtempSync(join(tmpdir(), "qkv-graph-device-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // the shipped karate club: 2 training nodes, no validation node, 32 test nodes; 12 epochs
  const E = 12, TK = 2;
  const epochs = Array.from({ length: E }, () => [TK, 1]);
  /** The lines without the seconds, which differ from run to run. */
  const steady = (lines: string[]): string[] => lines.map((l) => l.replace(/\d+\.\d s\b/, "… s"));
  /** The sizes of the model's state, in order (a NodeClassifier of that kind on the karate club). */
  const stateSizes = (kind: "gat" | "transformer"): number[] =>
    Object.values(new NodeClassifier({ kind, inFeatures: N, classes: karate.classes.length }).stateDict()).map((t) => t.size);

  test("graph eval from the seed: the host run's lines; the training's reads, then the split's predicted classes [34]: no parameter", async () => {
    const args = ["eval", "--data", "karate", "--model", "transformer", "--epochs", String(E)];
    const want = await on(false, () => graphCli(args));
    const { result: got, lengths, single: reads } = await watchReads(() => graphCli(args));
    assert.match(want.at(-1)!, /^accuracy: \d+\.\d\d%$/);
    assert.deepEqual(steady(got), steady(want));
    // each epoch's training nodes' classes [2] and loss [1]; the trainer's final evaluation [34]; the command's [34]
    assert.deepEqual(lengths, [...epochs, [N], [N]], "batched reads");
    assert.equal(reads, 0, "single reads");
  });

  test("graph eval --viz: the split's predicted classes read on the device, then the state once for the page", async () => {
    const page = (device: boolean): string => join(dir, `karate-viz-${device}.html`);
    const args = (device: boolean): string[] => ["eval", "--data", "karate", "--model", "transformer", "--epochs", String(E), "--viz", page(device)];
    const want = await on(false, () => graphCli(args(false)));
    const { result: got, lengths, single: reads } = await watchReads(() => graphCli(args(true)));
    assert.deepEqual(steady(got).map((l) => l.replace(page(true), "PAGE")), steady(want).map((l) => l.replace(page(false), "PAGE")));
    assert.match(want.at(-1)!, /^accuracy: \d+\.\d\d%$/);
    // the training's reads, the trainer's final evaluation [34], the command's [34]; then the state for the page
    assert.deepEqual(lengths, [...epochs, [N], [N], stateSizes("transformer")], "batched reads");
    assert.equal(reads, 0, "single reads");
    assert.equal(readFileSync(page(true), "utf8"), readFileSync(page(false), "utf8"));
  });

  test("graph train: the host run's lines, no parameter read without --out; with --out one read of the state, the file written", async () => {
    const args = ["train", "--data", "karate", "--model", "gat", "--epochs", String(E)];
    const want = await on(false, () => graphCli(args));
    const plain = await watchReads(() => graphCli(args));
    assert.match(want.at(-1)!, /^test accuracy: \d+\.\d\d%$/);
    assert.deepEqual(steady(plain.result), steady(want));
    assert.deepEqual(plain.lengths, [...epochs, [N]], "batched reads");
    assert.equal(plain.single, 0, "single reads");
    const out = join(dir, "karate-gat.safetensors");
    const saved = await watchReads(() => graphCli([...args, "--out", out]));
    assert.deepEqual(saved.lengths, [...epochs, [N], stateSizes("gat")], "batched reads with --out");
    assert.equal(saved.single, 0, "single reads with --out");
    assert.deepEqual(steady(saved.result).filter((l) => !l.startsWith("model: ")), steady(want));
    assert.ok(existsSync(out));
    // the file's model, evaluated on the host, gives the printed accuracy
    const loaded = await loadGraphModel(out, karate);
    assert.equal(`test accuracy: ${(100 * evaluateNodeClassifier(loaded, karate).test).toFixed(2)}%`, want.at(-1));
  });
});
