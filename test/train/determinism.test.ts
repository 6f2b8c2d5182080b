/**
 * Training is deterministic on the backend under test (tools/test-backends.ts runs this file once
 * per backend; docs/robustness.md, "Determinism"): a small encoder–decoder transformer with
 * dropout trained by `fit` twice from one seed gives the same parameters, losses and evaluations
 * bit for bit, and other seeds give other results; a run resumed from a checkpoint file gives the
 * uninterrupted run's bits; the text trainers write identical files; and on the native and wasm
 * backends, a model large enough that the kernels split their work trains to the same bits on 1
 * thread and on 3.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { TASKS } from "../../src/apps/text/tasks.js";
import { trainSeq2Seq } from "../../src/apps/text/train-seq2seq.js";
import { trainSpan } from "../../src/apps/text/train-span.js";
import { noGrad } from "../../src/autograd/graph.js";
import { getNumThreads, loadNativeBackend, setNumThreads } from "../../src/backend/native/index.js";
import { getBackend } from "../../src/backend/registry.js";
import { getWasmThreads, setWasmThreads } from "../../src/backend/wasm/load.js";
import type { Module } from "../../src/nn/module.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { reshape } from "../../src/ops/shape.js";
import { AdamW } from "../../src/optim/adam.js";
import { LRScheduler, warmupCosine } from "../../src/optim/schedule.js";
import { fit, type FitResult } from "../../src/train/fit.js";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/node/checkpoint.js";
import type { TrainState } from "../../src/train/state.js";
import { Generator, manualSeed } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { genesisPairs } from "../apps/genesis.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-determinism-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Size { vocab: number; dModel: number; nhead: number; ff: number; batch: number; srcLen: number; tgtLen: number }
/** Trains in milliseconds on every backend. */
const SMALL: Size = { vocab: 50, dModel: 16, nhead: 2, ff: 32, batch: 4, srcLen: 10, tgtLen: 8 };
/**
 * Large enough that the native and wasm kernels split their work: the projections and the output
 * layer are products of 128 to 384 rows (2^19 to 2^23 multiply-adds), the feed-forward
 * activations and the vocabulary's softmax 2^15 to 2^17 elements, and the encoder's attention
 * 4 (batch, head) pairs of 192 x 192 scores, two key blocks each (on 3 native threads, the
 * backward's path for fewer kv heads than threads).
 */
const SPLIT: Size = { vocab: 256, dModel: 64, nhead: 2, ff: 256, batch: 2, srcLen: 192, tgtLen: 64 };
const STEPS = 5;

interface Batch { src: Tensor; tgtIn: Tensor; tgtOut: Tensor }

/** Token ids in [1, vocab) from their own generator (the same data for every seed), padded (0) at the ends of some rows. */
function batchAt(size: Size, step: number): Batch {
  const g = new Generator(1000 + step);
  const ids = (rows: number, cols: number): Tensor => {
    const u = new Float32Array(rows * cols);
    g.fillUniform(u);
    const out = Int32Array.from(u, (x) => 1 + Math.floor(x * (size.vocab - 1)));
    for (let r = 1; r < rows; r += 2) out.fill(0, r * cols + cols - r, (r + 1) * cols);
    return new Tensor(out, [rows, cols], "int32");
  };
  const tgt = ids(size.batch, size.tgtLen + 1);
  const cut = (from: number): Tensor => {
    const d = tgt.data as Int32Array, T = size.tgtLen, out = new Int32Array(size.batch * T);
    for (let r = 0; r < size.batch; r++) out.set(d.subarray(r * (T + 1) + from, r * (T + 1) + from + T), r * T);
    return new Tensor(out, [size.batch, T], "int32");
  };
  return { src: ids(size.batch, size.srcLen), tgtIn: cut(0), tgtOut: cut(1) };
}

/** A model initialized from `initSeed`, trained by fit with `seed` (dropout 0.2 everywhere). */
async function train(size: Size, o: { initSeed: number; seed: number; steps?: number; resumeFrom?: TrainState; checkpoint?: (s: TrainState) => Promise<void> }) {
  manualSeed(o.initSeed);
  const model = new Seq2SeqTransformer({ vocabSize: size.vocab, dModel: size.dModel, nhead: size.nhead, encoderLayers: 1, decoderLayers: 1,
    dimFeedforward: size.ff, dropout: 0.2, maxLen: 200, padId: 0 });
  const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
  const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps: 2, totalSteps: STEPS }));
  const lossOf = (b: Batch): Tensor => crossEntropy(reshape(model.forward(b.src, b.tgtIn), [-1, size.vocab]), reshape(b.tgtOut, [-1]), { ignoreIndex: 0 });
  const result = await fit({
    model, optimizer, scheduler, steps: o.steps ?? STEPS, seed: o.seed, clipNorm: 1,
    batches: (step) => batchAt(size, step), trainStep: lossOf,
    evalEvery: 2, evaluate: () => ({ loss: noGrad(() => lossOf(batchAt(size, 99)).item()) }),
    ...(o.checkpoint ? { checkpointEvery: 2, checkpoint: o.checkpoint } : {}),
    ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
  });
  return { model, result };
}

/** The bytes of every tensor of the state dict. */
function bitsOf(m: Module): Map<string, Uint8Array> {
  return new Map(Object.entries(m.stateDict()).map(([k, t]) => [k, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice()]));
}

function sameBits(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: names`);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    if (Buffer.compare(x, y) === 0) continue;
    const fx = new Float32Array(x.buffer), fy = new Float32Array(y.buffer);
    const i = fx.findIndex((v, j) => !Object.is(v, fy[j]));
    assert.fail(`${what}: ${k}[${i}] ${fx[i]} vs ${fy[i]}`);
  }
}

function differs(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): boolean {
  return [...a].some(([k, x]) => Buffer.compare(x, b.get(k)!) !== 0);
}

function sameRun(a: { model: Module; result: FitResult }, b: { model: Module; result: FitResult }, what: string): void {
  assert.deepEqual(a.result.losses, b.result.losses, `${what}: losses`);
  assert.deepEqual(a.result.evals, b.result.evals, `${what}: evaluations`);
  sameBits(bitsOf(a.model), bitsOf(b.model), `${what}: parameters`);
}

describe(`training on the ${getBackend().name} backend is deterministic`, () => {
  test("a transformer with dropout: the same seed twice gives the same bits; another seed, or another dropout seed, other results", async () => {
    const a = await train(SMALL, { initSeed: 1, seed: 7 });
    const b = await train(SMALL, { initSeed: 1, seed: 7 });
    assert.equal(a.result.losses.length, STEPS);
    assert.ok(a.result.losses.every(Number.isFinite));
    sameRun(a, b, "same seeds");
    const c = await train(SMALL, { initSeed: 2, seed: 8 });
    assert.notDeepEqual(c.result.losses, a.result.losses);
    assert.ok(differs(bitsOf(c.model), bitsOf(a.model)), "other seeds: other parameters");
    // the same initialization, another seed for fit: only the dropout masks differ
    const d = await train(SMALL, { initSeed: 1, seed: 8 });
    assert.notDeepEqual(d.result.losses.slice(0, 1), a.result.losses.slice(0, 1), "dropout draws from fit's seed from the first step on");
    assert.ok(differs(bitsOf(d.model), bitsOf(a.model)), "another dropout seed: other parameters");
  });

  test("a run resumed from a checkpoint file gives the uninterrupted run's bits", async () => {
    const paths: string[] = [];
    const full = await train(SMALL, { initSeed: 1, seed: 7, checkpoint: async (s) => { paths.push(await saveCheckpoint(join(dir, "ckpt"), s)); } });
    assert.equal(paths.length, 2);
    const state = await loadCheckpoint(paths[0]!);
    assert.equal(state.step, 2);
    // another initialization and seed: everything must come from the file
    const resumed = await train(SMALL, { initSeed: 5, seed: 9, resumeFrom: state });
    assert.equal(resumed.result.startStep, 2);
    sameRun(resumed, full, "resumed at step 2");
  });

  test("the text trainers: the same seed twice writes identical model and checkpoint files; another seed, other files", async () => {
    const [EN, ES] = genesisPairs(6);
    const tsv = (path: string, header: string[], rows: string[][]): void =>
      writeFileSync(path, [header.join("\t"), ...rows.map((r) => r.join("\t"))].join("\n") + "\n");
    const mt = join(dir, "mt"), sum = join(dir, "sum");
    mkdirSync(mt);
    mkdirSync(sum);
    const pairs = EN.map((e, i) => [`r${i}`, e, ES[i]!]);
    tsv(join(mt, "train.tsv"), ["ref", "en", "es"], pairs);
    tsv(join(mt, "valid.tsv"), ["ref", "en", "es"], pairs.slice(0, 2));
    const docs = EN.map((e, i) => [`p${i}`, e.split(" ").slice(1, 4).join(" "), `${e} ${ES[i]}`]);
    tsv(join(sum, "train.tsv"), ["package", "synopsis", "description"], docs);
    tsv(join(sum, "valid.tsv"), ["package", "synopsis", "description"], docs.slice(0, 2));
    const common = { vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxTokens: 96, steps: 3, evalEvery: 3,
      checkpointEvery: 3, log: () => {}, tty: false };
    /** model.safetensors, tokenizer.json and the checkpoint of the run in outDir. */
    const files = (out: string): Map<string, Buffer> => {
      const names = ["model.safetensors", "tokenizer.json", ...readdirSync(join(out, "checkpoints")).map((f) => join("checkpoints", f))];
      return new Map(names.map((n) => [n, readFileSync(join(out, n))]));
    };
    const runs = {
      seq2seq: (out: string, seed: number) => trainSeq2Seq({ ...common, task: TASKS.translate, dataDir: mt, outDir: join(dir, out), seed, dropout: 0.2, evalSamples: 1 }),
      span: (out: string, seed: number) => trainSpan({ ...common, task: TASKS.summarize, dataDir: sum, outDir: join(dir, out), seed, dropout: 0.2, maxLen: 48 }),
    };
    for (const [kind, run] of Object.entries(runs)) {
      await run(`${kind}-a`, 3);
      await run(`${kind}-b`, 3);
      await run(`${kind}-c`, 4);
      const a = files(join(dir, `${kind}-a`)), b = files(join(dir, `${kind}-b`)), c = files(join(dir, `${kind}-c`));
      assert.deepEqual([...a.keys()], ["model.safetensors", "tokenizer.json", join("checkpoints", "step-00000003.safetensors")]);
      for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${kind}: ${name} differs between two runs of seed 3`);
      for (const name of ["model.safetensors", join("checkpoints", "step-00000003.safetensors")]) {
        assert.ok(!a.get(name)!.equals(c.get(name)!), `${kind}: ${name} is the same for seeds 3 and 4`);
      }
    }
  });
});

const backend = getBackend().name;

describe("native: training gives the same bits on 1 thread and on 3", { skip: backend !== "native" || loadNativeBackend({ quiet: true }) === null ? "runs in the native pass only" : false }, () => {
  const before = getNumThreads();
  after(() => setNumThreads(before));
  test("a transformer whose kernels split their work, with dropout", async () => {
    setNumThreads(1);
    const one = await train(SPLIT, { initSeed: 1, seed: 7, steps: 3 });
    setNumThreads(3);
    assert.equal(getNumThreads(), 3);
    const three = await train(SPLIT, { initSeed: 1, seed: 7, steps: 3 });
    sameRun(three, one, "3 threads against 1");
  });
});

describe("wasm: training gives the same bits on 1 thread and on 3", { skip: backend !== "wasm" ? "runs in the wasm pass only" : false }, () => {
  const before = getWasmThreads();
  after(() => setWasmThreads(before));
  test("a transformer whose kernels split their work, with dropout", async () => {
    setWasmThreads(1);
    const one = await train(SPLIT, { initSeed: 1, seed: 7, steps: 3 });
    setWasmThreads(3);
    assert.equal(getWasmThreads(), 3);
    assert.equal(getBackend().name, "wasm");
    const three = await train(SPLIT, { initSeed: 1, seed: 7, steps: 3 });
    sameRun(three, one, "3 threads against 1");
  });
});
