/**
 * Every application's training on a device: translation with its default dropout (0.1), the
 * summarizer (SpanExtractor: padding positions scored -Infinity, dropout 0.1), the image
 * classifiers (ViT, and the hybrid with a convolutional stem: conv2d, batch norm, max pooling,
 * dropout in attention and the MLP) and the graph node classifiers (GATConv, TransformerConv and
 * the MLP baseline, dropout 0.6, the loss over the training nodes gathered by indexSelect), each
 * run a few steps on the host-memory device backend (test/backend/host-device.ts) and on the
 * host backend: the losses agree within float32's error, and so do the validations (the image
 * classifier's run on the device, reading back only each batch's loss and predicted classes; the
 * graph classifiers' too, each epoch's loss and predicted classes: graph-device-eval.test.ts; the
 * text apps' on host copies of the device parameters). Dropout draws the same counters on both,
 * so its masks are the same.
 *
 * Each bound is 10 K u (1 + s) relative at step s (u = 2^-24): K is the longest chain of float32
 * sums through the model (the terms of its widest reductions added), the same error again after
 * each update (the steps' differences compound through the parameters).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { trainClassifier, type ClassifyTrainOptions } from "../../src/apps/classify/train.js";
import type { GraphDataset } from "../../src/apps/graph/data.js";
import { loadGraphDataset } from "../../src/apps/graph/files.js";
import { trainNodeClassifier } from "../../src/apps/graph/train.js";
import { TASKS } from "../../src/apps/text/tasks.js";
import { trainSeq2Seq } from "../../src/apps/text/train-seq2seq.js";
import { trainSpan } from "../../src/apps/text/train-span.js";
import { Generator } from "../../src/tensor/rng.js";
import { latestCheckpoint, loadCheckpoint } from "../../src/train/node/checkpoint.js";
import { deviceTestEnv, U } from "../backend/device-helpers.js";
import { idxFile } from "../fuzz/hostile-images.js";
import { genesisPairs } from "./genesis.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-device-apps-more-"));
const { host, on, watchReads } = deviceTestEnv();
after(() => rmSync(dir, { recursive: true, force: true }));

/** The losses of every step, from the latest checkpoint of a run. */
async function lossesOf(outDir: string): Promise<number[]> {
  return (await loadCheckpoint((await latestCheckpoint(join(outDir, "checkpoints")))!)).losses;
}

/**
 * The device losses are the host's within 10 K u (1 + s) |host| at step s, all finite; reports the
 * largest difference measured.
 */
function assertLosses(t: TestContext, what: string, got: number[], ref: number[], K: number): void {
  assert.equal(got.length, ref.length, `${what}: steps`);
  let worst = 0;
  ref.forEach((r, s) => {
    const g = got[s]!;
    assert.ok(Number.isFinite(g) && Number.isFinite(r), `${what} step ${s}: device ${g}, host ${r}`);
    assert.ok(Math.abs(g - r) <= 10 * K * U * (1 + s) * Math.abs(r), `${what} step ${s}: device ${g}, host ${r} (bound ${(10 * K * U * (1 + s) * Math.abs(r)).toExponential(2)})`);
    worst = Math.max(worst, Math.abs(g - r));
  });
  t.diagnostic(`${what}: ${ref.length} steps on ${host.name} and on the device, largest loss difference ${worst.toExponential(2)}`);
}

const [EN, ES] = genesisPairs(4);
const tsv = (header: string[], rows: string[][]): string => [header.join("\t"), ...rows.map((r) => r.join("\t"))].join("\n") + "\n";

describe("every application trains on a device backend as on the host", () => {
  test("translate train with its default dropout (0.1)", async (t) => {
    const data = join(dir, "mt");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`r${i}`, e, ES[i]!]);
    writeFileSync(join(data, "train.tsv"), tsv(["ref", "en", "es"], rows));
    writeFileSync(join(data, "valid.tsv"), tsv(["ref", "en", "es"], rows.slice(0, 2)));
    const common = { task: TASKS.translate, dataDir: data, vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxTokens: 64,
      steps: 4, evalEvery: 4, checkpointEvery: 4, evalSamples: 2, log: () => {}, tty: false };
    const ref = await on(false, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-host") }));
    const got = await on(true, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-dev") }));
    // the encoder-decoder's sums: at most 2 dModel + vocabulary terms (as device-apps.test.ts)
    const K = 2 * 16 + 300;
    assertLosses(t, "translate", await lossesOf(join(dir, "mt-dev")), await lossesOf(join(dir, "mt-host")), K);
    const vl = ref.lastEval!.validLoss!;
    assert.ok(Math.abs(got.lastEval!.validLoss! - vl) <= 10 * K * U * 5 * vl, `valid loss: device ${got.lastEval!.validLoss}, host ${vl}`);
    assert.equal(got.lastEval!.bleu, ref.lastEval!.bleu);
  });

  test("summarize train (SpanExtractor, dropout 0.1, padding scored -Infinity)", async (t) => {
    const data = join(dir, "sum");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`p${i}`, e.split(" ").slice(1, 4).join(" "), `${e} ${ES[i]}`]);
    writeFileSync(join(data, "train.tsv"), tsv(["package", "synopsis", "description"], rows));
    writeFileSync(join(data, "valid.tsv"), tsv(["package", "synopsis", "description"], rows.slice(0, 3)));
    // maxTokens 64 puts descriptions of different lengths in one batch: padded positions
    const common = { task: TASKS.summarize, dataDir: data, vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxLen: 48, maxTokens: 64,
      steps: 4, evalEvery: 4, checkpointEvery: 4, log: () => {}, tty: false };
    const ref = await on(false, () => trainSpan({ ...common, outDir: join(dir, "sum-host") }));
    const got = await on(true, () => trainSpan({ ...common, outDir: join(dir, "sum-dev") }));
    // the encoder's sums (dModel, dimFeedforward) and the scores' softmax over at most maxLen positions
    assertLosses(t, "summarize", await lossesOf(join(dir, "sum-dev")), await lossesOf(join(dir, "sum-host")), 2 * 16 + 32 + 48);
    assert.deepEqual(got.lastEval, ref.lastEval);
  });

  test("classify train: the ViT, and the hybrid (convolutional stem, batch norm, max pooling) with dropout 0.1", async (t) => {
    const data = join(dir, "idx");
    mkdirSync(data, { recursive: true });
    // 60 images of noise with labels 0-9: 40 to train on (5 batches of 8), the last 20 for validation
    const n = 60, u = new Float32Array(n * 784);
    new Generator(1).fillUniform(u);
    writeFileSync(join(data, "train-images-idx3-ubyte"), idxFile([n, 28, 28], Uint8Array.from(u, (x) => Math.floor(255 * x))));
    writeFileSync(join(data, "train-labels-idx1-ubyte"), idxFile([n], Uint8Array.from({ length: n }, (_, i) => i % 10)));
    const common = { dataset: "mnist" as const, dataDir: data, validSize: 20, batchSize: 8, dim: 16, depth: 1, heads: 2, steps: 3,
      evalEvery: 3, checkpointEvery: 3, log: () => {}, tty: false };
    const runs: ["vit" | "hybrid", Partial<ClassifyTrainOptions>, number][] = [
      // patches of 7 x 7 (49 terms), dim 16 (norms, attention's dot products), MLP 32, 17 tokens, 10 classes
      ["vit", { patchSize: 7 }, 49 + 2 * 16 + 32 + 17 + 10],
      // the stem: 3 x 3 convolutions over 1 and 4 channels (9, 36 terms), batch-norm statistics over B H W = 8 x 28 x 28 and
      // 8 x 14 x 14 values (on webgpu a workgroup of 256 threads each sums n / 256 of them, then 8 halvings: 33 and 15 terms;
      // float64 on the host), the 1 x 1 projection of 8 channels; then the ViT over 7 x 7 tokens and a class token
      ["hybrid", { stem: [4, 8], dropout: 0.1 }, 9 + 36 + 33 + 15 + 8 + 2 * 16 + 32 + 50 + 10],
    ];
    for (const [arch, extra, K] of runs) {
      const ref = await on(false, () => trainClassifier({ ...common, ...extra, arch, outDir: join(dir, `${arch}-host`) }));
      // the array lengths of each batched read of the device run
      const { result: got, lengths, single } = await watchReads(() => trainClassifier({ ...common, ...extra, arch, outDir: join(dir, `${arch}-dev`) }));
      // each step's loss and clipped norm; the validation at step 3 on the device, reading back its 20 images' summed
      // loss and predicted classes, no parameter; then the parameters for the model file, and the checkpoint's state
      assert.deepEqual(lengths.slice(0, 4), [[1, 1], [1, 1], [1, 1], [1, 20]], `${arch}: batched reads`);
      assert.equal(lengths.length, 4 + 2, `${arch}: batched reads`);
      assert.equal(single, 0, `${arch}: single reads`);
      assertLosses(t, arch, await lossesOf(join(dir, `${arch}-dev`)), await lossesOf(join(dir, `${arch}-host`)), K);
      const vl = ref.lastEval!.validLoss!;
      assert.ok(Math.abs(got.lastEval!.validLoss! - vl) <= 10 * K * U * 4 * vl, `${arch} valid loss: device ${got.lastEval!.validLoss}, host ${vl}`);
      assert.equal(got.lastEval!.validAccuracy, ref.lastEval!.validAccuracy, arch);
    }
  });

  test("graph train: GATConv and TransformerConv node classifiers and the MLP baseline (dropout 0.6), the best epoch's parameters kept", async (t) => {
    const karate = await loadGraphDataset("karate");
    // ten of the test members as validation nodes, so that the best epoch's parameters are kept and put back
    const ds: GraphDataset = { ...karate, split: { train: karate.split.train, valid: karate.split.test.slice(0, 10), test: karate.split.test.slice(10) } };
    for (const kind of ["gat", "transformer", "mlp"] as const) {
      const run = async (device: boolean) => {
        const losses: number[] = [], valid: (number | null)[] = [];
        const r = await on(device, () => trainNodeClassifier(ds, { kind, seed: 0, epochs: 4, onEpoch: (e) => { losses.push(e.loss); valid.push(e.valid); } }));
        assert.equal(r.model.parameters()[0]!.onDevice, device);
        return { r, losses, valid };
      };
      const ref = await run(false), got = await run(true);
      // one-hot features of 34 nodes, 8 heads of 8 (64 terms), softmax over at most 18 neighbours (17 and the node itself);
      // the MLP (graph compare's baseline) has the first two
      assertLosses(t, kind, got.losses, ref.losses, 34 + 64 + 18);
      assert.deepEqual(got.valid, ref.valid, kind);
      assert.deepEqual([got.r.epoch, got.r.train, got.r.valid, got.r.test], [ref.r.epoch, ref.r.train, ref.r.valid, ref.r.test], kind);
    }
  });
});
