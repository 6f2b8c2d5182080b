/**
 * The text models validated on a device (the validation of `qkv translate train` and `qkv
 * summarize train` when the model is on a device), on the host-memory device backend
 * (test/backend/host-device.ts):
 * - `TextGenerator.generateAsync` of a Seq2SeqTransformer and of a SpanExtractor on the device
 *   gives exactly the strings of `generate` on the host with the same parameters; it reads back
 *   one batched read per decoding step holding only that step's ids [B] (a span model: one per
 *   batch holding its start and end scores [B, N]), the same steps the host run takes, and no
 *   parameter. `greedySearchAsync` and `bestSpansAsync` likewise.
 * - `trainSeq2Seq` / `trainSpan` on the device: the validation's batched reads are the decoding
 *   steps' ids and each validation batch's summed loss (translate), each batch's scores
 *   (summarize), nothing before them reads a parameter; BLEU / ROUGE equal to the host run's and
 *   the validation loss within float32's bound.
 * - The typed errors of the new entry points.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { evaluateFile } from "../../src/apps/text/evaluate.js";
import { TextGenerator } from "../../src/apps/text/generator.js";
import { wordTokens } from "../../src/apps/text/span-data.js";
import { TASKS } from "../../src/apps/text/tasks.js";
import { trainSeq2Seq } from "../../src/apps/text/train-seq2seq.js";
import { trainSpan } from "../../src/apps/text/train-span.js";
import { isGradEnabled, noGrad } from "../../src/autograd/graph.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { SpanExtractor } from "../../src/nn/span-extractor.js";
import { beamSearch, beamSearchAsync, beamSteps, greedySearch, greedySearchAsync, greedySteps } from "../../src/seq2seq/search.js";
import { ValueError } from "../../src/tensor/errors.js";
import { runReadSteps, runReadStepsAsync, stepsPerRead, type ReadSteps } from "../../src/tensor/read-steps.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { deviceTestEnv, U } from "../backend/device-helpers.js";
import { genesisPairs } from "./genesis.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-text-device-eval-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const { host, dev, on, watchReads } = deviceTestEnv();

const [EN, ES] = genesisPairs(8);
const tok = BpeTokenizer.train([...EN, ...ES], { vocabSize: 300 });

/** Runs `steps` on the host, recording the sizes of the tensors of each step (recording off). */
function hostSteps<R>(steps: ReadSteps<R>): { result: R; sizes: number[][] } {
  return noGrad(() => {
    const sizes: number[][] = [];
    let r = steps.next();
    while (!r.done) {
      sizes.push(r.value.map((t) => t.size));
      r = steps.next(r.value.map((t) => t.data));
    }
    return { result: r.value, sizes };
  });
}

/** The runs of equal values of `xs`: [value, count] each. */
function runs(xs: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const x of xs) {
    const last = out.at(-1);
    if (last && last[0] === x) last[1]++;
    else out.push([x, 1]);
  }
  return out;
}

/**
 * Whether `reads` (the sizes of each batched read) are a device decoding of B rows that took
 * `steps` steps: each read holds the ids [B] of 1, 2, 4, then 8 steps (stepsPerRead), the last
 * possibly fewer (cut at maxLen), and it is the first to reach `steps`.
 */
function decodingWindows(reads: number[][], steps: number, B: number): boolean {
  let sum = 0;
  return reads.every((r, i) => {
    const full = stepsPerRead(true, i), last = i === reads.length - 1;
    const ok = r.every((n) => n === B) && (last ? r.length >= 1 && r.length <= full && sum + r.length >= steps : r.length === full && sum + r.length < steps);
    sum += r.length;
    return ok;
  });
}

/** The parameters that have a host copy (none should: nothing read them back). */
const hostCopies = (m: Seq2SeqTransformer | SpanExtractor): string[] =>
  Object.entries(m.stateDict()).filter(([, t]) => t.onDevice && t.host !== null).map(([k]) => k);

describe("TextGenerator.generateAsync: a text model on a device, run there", () => {
  test("translation: greedy decoding gives the host's strings; one batched read of the [B] ids of 1, 2, 4, then 8 steps, no parameter", async (t) => {
    manualSeed(4);
    const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 64, padId: tok.padId });
    const gen = new TextGenerator({ kind: "seq2seq", task: "translate", model, tokenizer: tok });
    const texts = [...EN, "", EN[2]!];
    const opts = { beam: 1, batchSize: 4 };
    const want = gen.generate(texts, opts);
    const steps = hostSteps(gen.generateSteps(texts, opts));
    assert.deepEqual(steps.result, want);
    // the inputs sorted by length in batches of 4, the empty one left out: 3, 4 and 2 rows; each step reads its ids [B] only
    assert.ok(steps.sizes.every((s) => s.length === 1), JSON.stringify(steps.sizes));
    assert.deepEqual(runs(steps.sizes.map((s) => s[0]!)).map(([n]) => n), [3, 4, 2]);
    assert.ok(new Set(want).size > 3, `outputs that tell the inputs apart: ${want.join(" | ")}`);
    assert.equal(want[8], "");
    // greedySearch itself, with banned ids and per-source caps
    const src = new Tensor(Int32Array.from([...tok.encode(EN[0]!).slice(0, 6), ...tok.encode(EN[3]!).slice(0, 6)]), [2, 6], "int32");
    const so = { bosId: tok.bosId, eosId: tok.eosId, maxLen: 12, banned: [tok.padId, tok.bosId], maxLens: [12, 7] };
    const ref = greedySearch(model, src, so);
    const refBeam = beamSearch(model, src, { ...so, beam: 3 });
    assert.deepEqual(hostSteps(beamSteps(model, src, { ...so, beam: 3 })).result, refBeam);
    const refSteps = hostSteps(greedySteps(model, src, so));
    assert.deepEqual(refSteps.result, ref);
    assert.ok(ref[1]!.length <= 7 && refSteps.sizes.length >= 1 && refSteps.sizes.length <= 12, `${refSteps.sizes.length} steps`);

    // beam search's steps: each yields the live hypotheses' 6 best log-probabilities and tokens [N, 6]
    const beamOpts = { beam: 3, batchSize: 4 };
    const wantBeam = gen.generate(texts, beamOpts);
    const beamHost = hostSteps(gen.generateSteps(texts, beamOpts));
    assert.deepEqual(beamHost.result, wantBeam);
    assert.ok(beamHost.sizes.every((s) => s.length === 2 && s[0] === s[1] && s[0]! % 6 === 0), JSON.stringify(beamHost.sizes));

    model.train();
    const got = await watchReads(async () => {
      model.toDevice(dev);
      return gen.generateAsync(texts, { batchSize: 4 });
    });
    assert.equal(model.parameters()[0]!.onDevice, true);
    assert.equal(isGradEnabled(), true, "recording restored");
    assert.deepEqual(got.result, want);
    // each batch's decoding steps as the host run's, 1, 2, 4, then 8 of them a batched read of their ids [B]; no single read, no parameter
    const batches = runs(steps.sizes.map((s) => s[0]!)), readBatches = runs(got.lengths.map((r) => r[0]!));
    assert.deepEqual(readBatches.map(([B]) => B), batches.map(([B]) => B));
    let at = 0;
    for (const [i, [B, n]] of batches.entries()) {
      const reads = got.lengths.slice(at, at + readBatches[i]![1]);
      at += reads.length;
      assert.ok(decodingWindows(reads, n, B), `batch ${i}: ${n} steps of ${B} rows read as ${JSON.stringify(reads)}`);
    }
    assert.ok(got.lengths.length < steps.sizes.length, `fewer reads (${got.lengths.length}) than decoding steps (${steps.sizes.length})`);
    assert.equal(got.single, 0, "single reads");
    assert.deepEqual(hostCopies(model), [], "parameters read back");
    t.diagnostic(`on ${host.name}: ${steps.sizes.length} decoding steps in ${got.lengths.length} reads, ${new Set(want).size} distinct outputs`);

    // beam search on the device: the host's strings, each step one read of its [N, 6] candidates, nothing else
    const beamGot = await watchReads(() => gen.generateAsync(texts, beamOpts));
    assert.deepEqual(beamGot.result, wantBeam);
    assert.deepEqual(beamGot.lengths, beamHost.sizes, "one read per step");
    assert.equal(beamGot.single, 0, "single reads");
    assert.deepEqual(hostCopies(model), [], "parameters read back");
    const beamDec = await watchReads(() => beamSearchAsync(model, src, { ...so, beam: 3 }));
    assert.deepEqual(beamDec.result, refBeam);
    assert.ok(beamDec.lengths.every((r) => r.length === 2 && r[0] === r[1] && r[0]! % 6 === 0), JSON.stringify(beamDec.lengths));

    const dec = await watchReads(() => greedySearchAsync(model, src, so));
    assert.deepEqual(dec.result, ref);
    // the host run's steps, 1, 2, 4, then 8 of them a batched read of their 2 ids
    assert.ok(decodingWindows(dec.lengths, refSteps.sizes.length, 2), `${refSteps.sizes.length} steps read as ${JSON.stringify(dec.lengths)}`);
    assert.equal(dec.single, 0, "single reads");
    assert.deepEqual(hostCopies(model), [], "parameters read back");
  });

  test("extractive summarization: the host's spans; one batched read of the start and end scores [B, N] per batch, no parameter", async (t) => {
    manualSeed(5);
    const model = new SpanExtractor({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxLen: 24, padId: tok.padId });
    const gen = new TextGenerator({ kind: "span", task: "summarize", model, tokenizer: tok });
    const texts = [...EN.map((e, i) => `${e} ${ES[i]}`), ""];
    const want = gen.generate(texts, { batchSize: 3 });
    const steps = hostSteps(gen.generateSteps(texts, { batchSize: 3 }));
    assert.deepEqual(steps.result, want);
    // batches of 3, 3 and 2 rows (the empty one left out), each padded to its longest (cut to maxLen 24): B N scores twice
    const sizes = [texts.slice(0, 3), texts.slice(3, 6), texts.slice(6, 8)].map((ch) => {
      const N = Math.max(...ch.map((x) => wordTokens(tok, x, 24).ids.length));
      return [ch.length * N, ch.length * N];
    });
    assert.deepEqual(steps.sizes, sizes);
    assert.ok(new Set(want).size > 4, `spans that differ: ${want.join(" | ")}`);
    want.slice(0, 8).forEach((w, i) => assert.ok(w.length > 0 && texts[i]!.includes(w), `"${w}"`));
    const ids = new Tensor(Int32Array.from([...tok.encode(EN[0]!).slice(0, 8), ...tok.encode(EN[1]!).slice(0, 8)]), [2, 8], "int32");
    const ref = model.bestSpans(ids, { maxSpan: 4 });

    model.train();
    const got = await watchReads(async () => {
      model.toDevice(dev);
      return gen.generateAsync(texts, { batchSize: 3 });
    });
    assert.deepEqual(got.result, want);
    assert.deepEqual(got.lengths, sizes, "batched reads");
    assert.equal(got.single, 0, "single reads");
    assert.deepEqual(hostCopies(model), [], "parameters read back");
    assert.equal(isGradEnabled(), true);
    t.diagnostic(`on ${host.name}: ${new Set(want).size} distinct spans, reads ${JSON.stringify(got.lengths)}`);

    // bestSpansAsync itself: the spans, their scores within float32's error of the encoder's sums
    const dec = await watchReads(() => model.bestSpansAsync(ids, { maxSpan: 4 }));
    assert.deepEqual(dec.result.map((s) => [s.start, s.end]), ref.map((s) => [s.start, s.end]));
    dec.result.forEach((s, b) => assert.ok(Math.abs(s.score - ref[b]!.score) <= 10 * (2 * 16 + 32) * U * (1 + Math.abs(ref[b]!.score)), `score ${b}`));
    assert.deepEqual(dec.lengths, [[16, 16]]);
  });

  test("evaluateFile with a model on the device: the host's hypotheses and score, generated there (beam 2, batched reads)", async () => {
    manualSeed(6);
    const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 64, padId: tok.padId });
    model.eval();
    const bundle = { kind: "seq2seq" as const, task: "translate" as const, model, tokenizer: tok };
    const file = join(dir, "eval.tsv");
    writeFileSync(file, `en\tes\n${EN.slice(0, 6).map((e, i) => `${e}\t${ES[i]}`).join("\n")}\n`);
    const quiet = { log: () => {}, warn: () => {} };
    const want = await evaluateFile(bundle, TASKS.translate, file, { beam: 2, batchSize: 4, ...quiet });
    const got = await watchReads(async () => {
      model.toDevice(dev);
      return evaluateFile(bundle, TASKS.translate, file, { beam: 2, batchSize: 4, ...quiet });
    });
    assert.deepEqual(got.result.hypotheses, want.hypotheses);
    assert.equal(got.result.line, want.line);
    assert.ok(got.lengths.length > 0 && got.lengths.every((r) => r.length === 2), JSON.stringify(got.lengths));
    assert.equal(got.single, 0, "single reads");
  });

  test("a host model: generateAsync gives generate's strings", async () => {
    manualSeed(4);
    const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 64, padId: tok.padId });
    const gen = new TextGenerator({ kind: "seq2seq", task: "translate", model, tokenizer: tok });
    assert.deepEqual(await gen.generateAsync(EN), gen.generate(EN, { beam: 1 }));
  });

  test("bad values name the function, the argument, what was expected and what came", async () => {
    manualSeed(4);
    const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 64, padId: tok.padId });
    const gen = new TextGenerator({ kind: "seq2seq", task: "translate", model, tokenizer: tok });
    const is = (message: string) => (e: unknown) => e instanceof ValueError && e.message === message;
    await assert.rejects(gen.generateAsync(EN, { beam: 0 }), is("beamSearch: beam expected a positive integer, got 0"));
    await assert.rejects(gen.generateAsync(EN, { batchSize: 0 }), is("TextGenerator.generateAsync: batchSize expected a positive integer, got 0"));
    assert.throws(() => gen.generate(EN, { batchSize: 0 }), is("TextGenerator.generate: batchSize expected a positive integer, got 0"));
    const src = new Tensor(Int32Array.from([5, 6]), [1, 2], "int32");
    assert.throws(() => greedySearch(model, src, { bosId: tok.bosId, eosId: tok.eosId, maxLen: 4, banned: [tok.vocabSize] }),
      is(`greedySearch: banned expected token ids in [0, ${tok.vocabSize}), got [${tok.vocabSize}]`));
    assert.throws(() => greedySearchAsync(model, src, { bosId: tok.bosId, eosId: tok.eosId, maxLen: 99 }), is("greedySearchAsync: maxLen expected an integer in [1, 64], got 99"));
    assert.throws(() => beamSearchAsync(model, src, { bosId: tok.bosId, eosId: tok.eosId, beam: 2.5 }), is("beamSearchAsync: beam expected a positive integer, got 2.5"));
    assert.equal(isGradEnabled(), true);
    const span = new SpanExtractor({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxLen: 24, padId: tok.padId });
    assert.throws(() => span.bestSpansAsync(src, { maxSpan: 0 }), is("SpanExtractor.bestSpansAsync: maxSpan expected a positive integer, got 0"));
    assert.throws(() => runReadSteps(null as unknown as ReadSteps<number>), is("runReadSteps: steps expected a generator (ReadSteps), got null"));
    await assert.rejects(runReadStepsAsync([] as unknown as ReadSteps<number>), is("runReadStepsAsync: steps expected a generator (ReadSteps), got object"));
  });
});

const tsv = (header: string[], rows: string[][]): string => [header.join("\t"), ...rows.map((r) => r.join("\t"))].join("\n") + "\n";

describe("the text trainers validate a model on a device there", () => {
  test("translate train: the decoding steps' ids and each validation batch's loss read back, no parameter; the host run's BLEU", async (t) => {
    const data = join(dir, "mt");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`r${i}`, e, ES[i]!]);
    writeFileSync(join(data, "train.tsv"), tsv(["ref", "en", "es"], rows.slice(0, 4)));
    writeFileSync(join(data, "valid.tsv"), tsv(["ref", "en", "es"], rows.slice(4)));
    const common = { task: TASKS.translate, dataDir: data, vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxTokens: 64, dropout: 0,
      steps: 2, evalEvery: 2, checkpointEvery: 2, evalSamples: 3, log: () => {}, tty: false };
    const ref = await on(false, () => trainSeq2Seq({ ...common, outDir: join(dir, "mt-host") }));
    const got = await watchReads(() => trainSeq2Seq({ ...common, outDir: join(dir, "mt-dev") }));
    const L = got.lengths;
    // two steps (each its loss and clipped norm); then the validation: greedy decoding of the 3 sampled rows (one batch,
    // the 3 ids of 1, 2, 4, then 8 steps a read), then the summed loss of each validation batch (4 rows of <= 4096
    // tokens: one batch); then the parameters for the model file
    assert.deepEqual(L.slice(0, 2), [[1, 1], [1, 1]], `batched reads ${JSON.stringify(L)}`);
    const decode = L.slice(2).findIndex((l) => !l.every((n) => n === 3));
    const steps = L.slice(2, 2 + decode).reduce((n, l) => n + l.length, 0);
    assert.ok(decode >= 1 && steps <= 2 * 64 + 10, `decoding reads: ${decode}, steps ${steps}`);
    L.slice(2, 2 + decode).forEach((l, i) => assert.ok(l.length === stepsPerRead(true, i) || i === decode - 1, `read ${i}: ${JSON.stringify(l)}`));
    assert.deepEqual(L[2 + decode], [1], "the validation loss");
    assert.ok(L[3 + decode]!.length >= 10, `then the parameters for the model file: ${JSON.stringify(L[3 + decode])}`);
    assert.equal(got.single, 0, "single reads");
    assert.equal(got.result.lastEval!.bleu, ref.lastEval!.bleu);
    const vl = ref.lastEval!.validLoss!, K = 2 * 16 + 300;
    assert.ok(Math.abs(got.result.lastEval!.validLoss! - vl) <= 10 * K * U * 3 * vl, `valid loss: device ${got.result.lastEval!.validLoss}, host ${vl}`);
    t.diagnostic(`on ${host.name}: ${steps} decoding steps in ${decode} reads; valid loss difference ${Math.abs(got.result.lastEval!.validLoss! - vl).toExponential(2)}, BLEU ${ref.lastEval!.bleu} on both`);
  });

  test("summarize train: each validation batch's start and end scores read back, no parameter; the host run's ROUGE", async (t) => {
    const data = join(dir, "sum");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`p${i}`, e.split(" ").slice(1, 4).join(" "), `${e} ${ES[i]}`]);
    writeFileSync(join(data, "train.tsv"), tsv(["package", "synopsis", "description"], rows.slice(0, 5)));
    writeFileSync(join(data, "valid.tsv"), tsv(["package", "synopsis", "description"], rows.slice(5)));
    const common = { task: TASKS.summarize, dataDir: data, vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxLen: 48, maxTokens: 64,
      steps: 2, evalEvery: 2, checkpointEvery: 2, log: () => {}, tty: false };
    const ref = await on(false, () => trainSpan({ ...common, outDir: join(dir, "sum-host") }));
    const got = await watchReads(() => trainSpan({ ...common, outDir: join(dir, "sum-dev") }));
    // the run's tokenizer (trained on its data): the 3 validation rows in one batch of 64, padded to the longest
    const runTok = BpeTokenizer.fromJSON((await import("node:fs")).readFileSync(join(dir, "sum-dev", "tokenizer.json"), "utf8"), "tokenizer.json");
    const N = Math.max(...rows.slice(5).map((r) => wordTokens(runTok, r[2]!, 48).ids.length));
    const L = got.lengths;
    assert.deepEqual(L.slice(0, 3), [[1, 1], [1, 1], [3 * N, 3 * N]], `batched reads ${JSON.stringify(L)}`);
    assert.ok(L[3]!.length >= 10, `then the parameters for the model file: ${JSON.stringify(L[3])}`);
    assert.equal(got.single, 0, "single reads");
    assert.deepEqual(got.result.lastEval, ref.lastEval);
    assert.ok(ref.lastEval!.rouge1! > 0, `ROUGE-1 ${ref.lastEval!.rouge1}`);
    t.diagnostic(`on ${host.name}: ROUGE ${JSON.stringify(ref.lastEval)}`);
  });
});
