/**
 * The dates demo and translation (seq2seq, here without dropout; with it and the other apps:
 * device-apps-more.test.ts) train on a device as on the host, on the host-memory device backend
 * (test/backend/host-device.ts), against the host backend, within float32's error; the demo's
 * periodic evaluation decodes on the device (`greedyDecodeAsync`, the host decoding's strings) and
 * gives the host run's exact match, one batched read of the [B] ids a decoding step; the other
 * evaluation, decoding, model files and checkpoints run on the host from parameters read back, and
 * a device run resumed from its checkpoint is the uninterrupted device run. And `qkv --backend webgpu` without a GPU (no webgpu package here) says
 * so once and trains on the CPU (and a command that only runs a model keeps the CPU backend).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { makeBatch } from "../../src/apps/dates/batches.js";
import { greedyDecode, greedyDecodeAsync, greedyDecodeSteps } from "../../src/apps/dates/decode.js";
import { runDatesDemo } from "../../src/apps/dates/demo.js";
import { DateModel } from "../../src/apps/dates/model.js";
import { isGradEnabled, noGrad } from "../../src/autograd/graph.js";
import { CharVocab, generateDatePairs } from "../../src/data/dates.js";
import { DeviceSyncError, ValueError } from "../../src/tensor/errors.js";
import { runReadSteps, stepsPerRead } from "../../src/tensor/read-steps.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { TASKS } from "../../src/apps/text/tasks.js";
import { trainSeq2Seq } from "../../src/apps/text/train-seq2seq.js";
import { latestCheckpoint, loadCheckpoint } from "../../src/train/node/checkpoint.js";
import { deviceTestEnv, U } from "../backend/device-helpers.js";
import { genesisPairs } from "./genesis.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-device-apps-"));
const { dev, on, watchReads } = deviceTestEnv();
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The steps greedy decoding takes when step t gives the ids `ids[t]` (one per row): up to the step
 * at which every row has written <eos>, at most maxLen; and each row's ids before its <eos>.
 */
function decodingSteps(ids: ArrayLike<number>[], eosId: number, maxLen: number): { steps: number; rows: number[][] } {
  const B = ids[0]?.length ?? 0;
  const rows: number[][] = Array.from({ length: B }, () => []), done = new Array<boolean>(B).fill(false);
  for (let t = 0; t < Math.min(ids.length, maxLen); t++) {
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      if (ids[t]![b] === eosId) done[b] = true;
      else rows[b]!.push(ids[t]![b]!);
    }
    if (done.every(Boolean)) return { steps: t + 1, rows };
  }
  return { steps: maxLen, rows };
}

/** The steps of each read of a device decoding that took `steps` steps of at most maxLen: 1, 2, 4, then 8 (stepsPerRead). */
function readWindows(steps: number, maxLen: number): number[] {
  const out: number[] = [];
  for (let done = 0, r = 0; done < steps; r++) {
    const k = Math.min(stepsPerRead(true, r), maxLen - done);
    out.push(k);
    done += k;
  }
  return out;
}

/** The batched reads of a device decoding of B rows that took `steps` steps: each read holds its steps' ids [B]. */
const decodingReads = (steps: number, B: number, maxLen: number): number[][] => readWindows(steps, maxLen).map((k) => Array.from({ length: k }, () => B));

describe("applications on a device backend", () => {
  test("dates demo: the device losses are the host's within float32's error; its evaluations on the device give the host's exact match; the attention reports on the host", async (t) => {
    const run = (device: boolean) => on(device, () => runDatesDemo({
      steps: 4, testSize: 6, batchSize: 6, dModel: 16, evalEvery: 2, log: () => {}, tty: false,
      out: join(dir, `dates-${device}.html`), viz: join(dir, `dates-viz-${device}.html`),
    }));
    const ref = await run(false);
    const { result: got, lengths, arrays, single } = await watchReads(() => run(true));
    // the demo's vocabulary (seed 0) and model (its state's sizes)
    const vocab = CharVocab.fromStrings(generateDatePairs(5000, 1).flatMap((p) => [p.source, p.target]));
    const state = Object.values(new DateModel({ vocabSize: vocab.size, dModel: 16, nhead: 4, layers: 1, dimFeedforward: 32, dropout: 0 }).stateDict()).map((t) => t.size);
    // the batched reads: each training step's loss and clipped norm [1, 1]; after steps 2 and 4 the
    // evaluation of the 6 held-out pairs on the device, each read holding the ids [6] of 1, 2, 4,
    // then 8 decoding steps, up to the read that shows every row has written <eos> (12 steps at
    // most); the final evaluation of the same pairs, on the device too; then the attention
    // reports' host copies of the model's state; no single read
    const step = [1, 1];
    /** The decoding from read `at` on (the ids of its steps, to the read at which every row is done) and the reads it took. */
    const decodedFrom = (at: number): ReturnType<typeof decodingSteps> & { reads: number } => {
      const ids: ArrayLike<number>[] = [];
      for (let k = at; lengths[k]?.every((n) => n === 6); k++) ids.push(...arrays[k]!);
      const d = decodingSteps(ids, vocab.eosId, 12);
      return { ...d, reads: readWindows(d.steps, 12).length };
    };
    const e2 = decodedFrom(2), e4 = decodedFrom(2 + e2.reads + 2), eFinal = decodedFrom(2 + e2.reads + 2 + e4.reads);
    const decoding = (k: number): number[][] => decodingReads(k, 6, 12);
    assert.deepEqual(lengths, [step, step, ...decoding(e2.steps), step, step, ...decoding(e4.steps), ...decoding(eFinal.steps), state], "batched reads");
    assert.ok(e2.reads < e2.steps || e2.steps <= 2, `fewer reads (${e2.reads}) than decoding steps (${e2.steps})`);
    assert.equal(single, 0, "single reads");
    // the final report's outputs are the ids its decoding read on the device, and those of the
    // evaluation after step 4 (the same parameters)
    assert.deepEqual(eFinal.rows.map((ids) => vocab.decode(ids)), got.examples.map((e) => e.output));
    assert.deepEqual(eFinal.rows, e4.rows);
    assert.deepEqual(got.evals.map((e) => e.step), [2, 4]);
    assert.deepEqual(got.evals, ref.evals, "exact match of the device evaluations");
    assert.equal(got.losses.length, 4);
    // float32 rounding through the encoder-decoder's sums (at most 2 * dModel + vocab terms), one such error more per update
    got.losses.forEach((l, s) => assert.ok(Math.abs(l - ref.losses[s]!) <= 10 * (2 * 16 + 64) * U * (1 + s) * ref.losses[s]!,
      `step ${s}: device ${l}, host ${ref.losses[s]}`));
    t.diagnostic(`largest loss difference ${Math.max(...got.losses.map((l, s) => Math.abs(l - ref.losses[s]!))).toExponential(2)}`);
    assert.ok(ref.losses[3]! < ref.losses[0]!, `the loss decreases: ${ref.losses.join(", ")}`);
    assert.deepEqual(got.examples, ref.examples);
    assert.equal(got.exactMatch, ref.exactMatch);
    for (const f of [`dates-true.html`, `dates-viz-true.html`]) assert.match(readFileSync(join(dir, f), "utf8"), /<svg|qkv-data/);
  });

  test("dates demo without reports: the final evaluation decodes on the device and nothing else is read back", async () => {
    const run = (device: boolean) => on(device, () => runDatesDemo({ steps: 2, testSize: 5, batchSize: 4, dModel: 16, log: () => {}, tty: false, out: null }));
    const ref = await run(false);
    const { result: got, lengths, arrays, single } = await watchReads(() => run(true));
    const vocab = CharVocab.fromStrings(generateDatePairs(5000, 1).flatMap((p) => [p.source, p.target]));
    const ids: ArrayLike<number>[] = arrays.slice(2).flat();
    const final = decodingSteps(ids, vocab.eosId, 12);
    // each step's loss and clipped norm, then the ids [5] of 1, 2, 4, then 8 decoding steps a read; no parameters
    assert.deepEqual(lengths, [[1, 1], [1, 1], ...decodingReads(final.steps, 5, 12)], "batched reads");
    assert.equal(single, 0, "single reads");
    assert.deepEqual(got.examples.map((e) => e.output), final.rows.map((r) => vocab.decode(r)));
    assert.deepEqual(got.examples, ref.examples);
    assert.equal(got.exactMatch, ref.exactMatch);
  });

  test("dates demo on the device: each training step gives back every array it makes (the live arrays level from the second step)", async () => {
    // layer norm statistics, attention's lse and masks, scalar uploads, the loss, the clipped norm,
    // the backward's seed: the ones only a garbage collection would otherwise give back
    for (const overlap of [false, true]) {
      const live: number[] = [];
      await on(true, () => runDatesDemo({ steps: 6, testSize: 1, batchSize: 4, dModel: 16, log: () => {}, tty: false, out: null, overlap,
        onStep: () => { live.push(dev.made - dev.releases); } }));
      assert.equal(live.length, 6);
      if (!overlap) assert.deepEqual(live.slice(1), Array.from({ length: 5 }, () => live[1]), `live arrays after each step: ${live.join(", ")}`);
      else {
        // step s's callback runs once update s + 1 is recorded (its arrays live), the last step's after its own
        assert.deepEqual(live.slice(1, 5), Array.from({ length: 4 }, () => live[1]), `overlap: live arrays after each step: ${live.join(", ")}`);
        assert.ok(live[5]! < live[1]!, `overlap: the last step waits for its own update: ${live.join(", ")}`);
      }
    }
  });

  test("greedy decoding on the device (one batched read of the ids of 1, 2, 4, then 8 steps) gives the host decoding's strings", async () => {
    manualSeed(5);
    const pairs = generateDatePairs(12, 5);
    const vocab = CharVocab.fromStrings(pairs.flatMap((p) => [p.source, p.target]));
    const model = new DateModel({ vocabSize: vocab.size, dModel: 16, nhead: 4, layers: 1, dimFeedforward: 32, dropout: 0 });
    model.eval();
    const batch = makeBatch(pairs, vocab);
    const want = greedyDecode(model, batch, vocab, 12);
    const wantAsync = await greedyDecodeAsync(model, batch, vocab, 12);
    // the host run's steps: the ids [12, 1] of each
    const sizes: number[][] = [];
    const stepsResult = noGrad(() => {
      const steps = greedyDecodeSteps(model, batch, vocab, 12);
      let r = steps.next();
      while (!r.done) {
        sizes.push(r.value.map((t) => t.size));
        r = steps.next(r.value.map((t) => t.data));
      }
      return r.value;
    });
    assert.deepEqual(stepsResult, want);
    assert.ok(sizes.length >= 1 && sizes.length <= 12 && sizes.every((s) => s.length === 1 && s[0] === 12), JSON.stringify(sizes));
    // the uploads of the source's padding mask [12, S] (as additive values)
    const S = batch.src.shape[1]!, d = dev as unknown as { upload: (h: Float32Array) => unknown };
    assert.ok((batch.srcPad.data as Uint8Array).some((m) => m === 1), "sources of several lengths");
    const upload = d.upload;
    let maskUploads = 0;
    d.upload = (h: Float32Array) => {
      if (h.length === 12 * S && h.some((x) => x === -Infinity)) maskUploads++;
      return upload(h);
    };
    const { result: got, lengths, single } = await watchReads(async () => {
      model.toDevice(dev);
      // device tensors have no synchronous data: the synchronous form cannot run there
      assert.throws(() => greedyDecode(model, batch, vocab, 12), DeviceSyncError);
      assert.equal(isGradEnabled(), true);
      maskUploads = 0;
      return greedyDecodeAsync(model, batch, vocab, 12);
    }).finally(() => { d.upload = upload; });
    // once for the encoder's self-attention, once for the cross-attention's cache (not at every step)
    assert.equal(maskUploads, 2, "padding mask uploads");
    assert.equal(isGradEnabled(), true);
    assert.deepEqual(wantAsync, want);
    assert.deepEqual(got, want);
    assert.ok(new Set(want).size > 1, `outputs that tell the rows apart: ${want.join(" | ")}`);
    // the host run's steps, read 1, 2, 4, then 8 at a time, each read holding only its steps' ids [12]; no single read
    assert.deepEqual(lengths, decodingReads(sizes.length, 12, 12), "batched reads");
    assert.equal(single, 0, "single reads");
    assert.ok(model.parameters().every((p) => p.onDevice && p.host === null), "no parameter read back");
  });

  test("greedy decoding: maxLen outside the model's positions is a ValueError naming the function", () => {
    const pairs = generateDatePairs(2, 5);
    const vocab = CharVocab.fromStrings(pairs.flatMap((p) => [p.source, p.target]));
    const model = new DateModel({ vocabSize: vocab.size, dModel: 8, nhead: 2, layers: 1, dimFeedforward: 16, dropout: 0, maxLen: 16 });
    const batch = makeBatch(pairs, vocab);
    assert.throws(() => greedyDecode(model, batch, vocab, 17), (e: unknown) => e instanceof ValueError &&
      e.message === "greedyDecode: maxLen expected an integer in [1, 16] (the model's positions), got 17");
    assert.throws(() => greedyDecodeAsync(model, batch, vocab, 0), /^ValueError: greedyDecodeAsync: maxLen expected an integer in \[1, 16\] \(the model's positions\), got 0$/);
    assert.throws(() => runReadSteps(greedyDecodeSteps(model, batch, vocab, 2.5)), /greedyDecodeSteps: maxLen expected an integer in \[1, 16\]/);
  });

  test("translate train: device run equals the host run; model files and checkpoints from the device; resume on the device", async (t) => {
    const [EN, ES] = genesisPairs(4);
    const data = join(dir, "mt");
    mkdirSync(data, { recursive: true });
    const tsv = (rows: string[][]) => ["ref\ten\tes", ...rows.map((r) => r.join("\t"))].join("\n") + "\n";
    const rows = EN.map((e, i) => [`r${i}`, e, ES[i]!]);
    writeFileSync(join(data, "train.tsv"), tsv(rows));
    writeFileSync(join(data, "valid.tsv"), tsv(rows.slice(0, 2)));
    // dropout 0 here (its default, 0.1, on the device: device-apps-more.test.ts)
    const common = { task: TASKS.translate, dataDir: data, vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxTokens: 64, dropout: 0,
      evalEvery: 2, checkpointEvery: 2, evalSamples: 2, log: () => {}, tty: false };
    const ref = await on(false, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-host"), steps: 4 }));
    const got = await on(true, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-dev"), steps: 4 }));
    assert.equal(got.steps, 4);
    const vl = ref.lastEval!.validLoss!;
    assert.ok(Math.abs(got.lastEval!.validLoss! - vl) <= 10 * (2 * 16 + 300) * U * 4 * vl, `valid loss: device ${got.lastEval!.validLoss}, host ${vl}`);
    assert.equal(got.lastEval!.bleu, ref.lastEval!.bleu);
    assert.ok(existsSync(join(dir, "mt-dev", "model.safetensors")));
    // the checkpoint of the device run: host tensors, within float32 of the host run's
    const [a, b] = await Promise.all(["mt-host", "mt-dev"].map(async (d) => loadCheckpoint((await latestCheckpoint(join(dir, d, "checkpoints")))!)));
    assert.equal(b!.step, 4);
    for (let s = 0; s < 4; s++) assert.ok(Math.abs(b!.losses[s]! - a!.losses[s]!) <= 10 * (2 * 16 + 300) * U * (1 + s) * a!.losses[s]!, `loss ${s}`);
    t.diagnostic(`largest loss difference ${Math.max(...b!.losses.map((l, s) => Math.abs(l - a!.losses[s]!))).toExponential(2)}`);
    for (const [name, t] of Object.entries(a!.model)) {
      const d = b!.model[name]!.data, r = t.data;
      for (let i = 0; i < r.length; i++) assert.ok(Math.abs(Number(d[i]) - Number(r[i])) <= 1e-5 * (1 + Math.abs(Number(r[i]))), `${name}[${i}]: ${d[i]} vs ${r[i]}`);
    }
    // two steps, then resumed to four, on the device: the uninterrupted device run
    await on(true, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-dev-b"), steps: 2 }));
    const resumed = await on(true, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-dev-b"), steps: 4, resume: true }));
    assert.deepEqual(resumed.lastEval, got.lastEval);
    const c = await loadCheckpoint((await latestCheckpoint(join(dir, "mt-dev-b", "checkpoints")))!);
    assert.deepEqual(c.losses, b!.losses);
  });

  test("qkv --backend webgpu without a GPU: one notice, then the demo trains on the CPU backend", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "--backend", "webgpu", "demo", "--steps", "2", "--batch-size", "4",
      "--test-size", "4", "--eval-every", "1", "--out", join(dir, "cli-demo.html")], { encoding: "utf8", env: { ...process.env, QKV_NUM_THREADS: "1" } });
    assert.equal(r.status, 0, r.stderr);
    const notices = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /WebGPU/.test(l));
    assert.equal(notices.length, 1, notices.join("\n"));
    // without the optional webgpu package (as npm install leaves it), or with it and no GPU (no Vulkan loader, or no adapter)
    assert.match(notices[0]!, /^qkv: WebGPU is not available \((nodeGpu: webgpu expected the optional webgpu package .*|requestNodeGpuDevice: (libvulkan\.so\.1|requestAdapter\(\)) expected .*)\); keeping the (native|wasm|js) backend$/);
    const backend = /^backend (\w+);/m.exec(r.stdout)?.[1];
    assert.ok(backend === "native" || backend === "wasm" || backend === "js", `trained on ${backend}`);
    assert.match(r.stdout, /^exact match: \d+\.\d%$/m);
    assert.match(r.stdout, /^step 2: exact match \d+\.\d% \(4 held-out pairs\)$/m, "--eval-every reaches the demo");
    assert.ok(existsSync(join(dir, "cli-demo.html")));
    // a command that runs a model (not a training one) stays on the CPU backend, and says so
    const run = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "--backend", "webgpu", "viz", "--model", join(dir, "none")],
      { encoding: "utf8", env: { ...process.env, QKV_NUM_THREADS: "1" } });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^qkv: --backend webgpu is for the training, generation and classification commands \(demo, .*translate run.*classify run.*\); viz runs on the (native|wasm|js) backend$/m);
    assert.doesNotMatch(run.stderr, /WebGPU is not available/);
    assert.match(run.stderr, /give the input with --text/);
    // image classification takes the device where there is one: here one notice, then the CPU backend's error for a missing file
    const cls = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "--backend", "webgpu", "classify", "run", join(dir, "none.png")],
      { encoding: "utf8", env: { ...process.env, QKV_NUM_THREADS: "1" } });
    assert.equal(cls.status, 1);
    assert.equal(cls.stderr.split("\n").filter((l) => /WebGPU/.test(l)).length, 1, cls.stderr);
    assert.match(cls.stderr, /^qkv: WebGPU is not available .*; keeping the (native|wasm|js) backend$/m);
    assert.match(cls.stderr, /none\.png expected a readable file/);
    // text generation takes the device where there is one: here one notice, then the CPU backend's translation
    const tr = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "--backend", "webgpu", "translate", "--beam", "2", "Good morning."],
      { encoding: "utf8", env: { ...process.env, QKV_NUM_THREADS: "1" } });
    assert.equal(tr.status, 0, tr.stderr);
    const trNotices = `${tr.stdout}\n${tr.stderr}`.split("\n").filter((l) => /WebGPU/.test(l));
    assert.equal(trNotices.length, 1, trNotices.join("\n"));
    assert.match(trNotices[0]!, /^qkv: WebGPU is not available .*; keeping the (native|wasm|js) backend$/);
    assert.equal(tr.stdout.trim().split("\n").length, 1, tr.stdout);
    assert.ok(tr.stdout.trim().length > 0);
  });
});
