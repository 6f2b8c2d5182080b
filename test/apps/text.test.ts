/**
 * The text applications end to end on tiny models and data: model files (round trip, refusals),
 * word/span helpers, generation, training with checkpoints and resume, and the CLI's run / eval
 * commands with their exact last lines and exit codes. (Their quality is measured by the eval
 * commands on the test splits; see docs/applications.md.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Translator } from "../../src/apps/text/api.js";
import { averageStateDicts } from "../../src/apps/text/average.js";
import { TextGenerator } from "../../src/apps/text/generator.js";
import { decodeTextModel, encodeTextModel, type TextModelBundle } from "../../src/apps/text/model-file.js";
import { loadTextModelDir, saveTextModelDir } from "../../src/apps/text/node-files.js";
import { oracleSpan, spanText, wordTokens } from "../../src/apps/text/span-data.js";
import { TASKS, formatScoreLine } from "../../src/apps/text/tasks.js";
import { trainSeq2Seq } from "../../src/apps/text/train-seq2seq.js";
import { trainSpan } from "../../src/apps/text/train-span.js";
import { noGrad } from "../../src/autograd/graph.js";
import { encodeSafetensors } from "../../src/io/safetensors.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { SpanExtractor } from "../../src/nn/span-extractor.js";
import { FormatError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { assertThrowsMsg, firstPassOnly } from "../helpers.js";
import { genesisPairs } from "./genesis.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-text-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const [EN, ES] = genesisPairs(6);
const tok = BpeTokenizer.train([...EN, ...ES], { vocabSize: 300 });

function seq2seq(): TextModelBundle {
  manualSeed(1);
  const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 64, padId: tok.padId });
  return { kind: "seq2seq", task: "translate", model, tokenizer: tok };
}

function writeTsv(path: string, header: string[], rows: string[][]): void {
  writeFileSync(path, [header.join("\t"), ...rows.map((r) => r.join("\t"))].join("\n") + "\n");
}

describe("model files", () => {
  test("F32 round trip gives the same outputs; F16 stays close", () => {
    const b = seq2seq();
    const src = new Tensor(Int32Array.from(tok.encode(EN[0]!)), [1, tok.encode(EN[0]!).length], "int32");
    const tgt = new Tensor(Int32Array.from([tok.bosId, 5, 6]), [1, 3], "int32");
    b.model.eval();
    const want = noGrad(() => (b.model as Seq2SeqTransformer).forward(src, tgt).data);
    for (const float32 of [true, false]) {
      const { bytes, tokenizerJson } = encodeTextModel(b, { float32 });
      const back = decodeTextModel(bytes, tokenizerJson, "m");
      const got = noGrad(() => (back.model as Seq2SeqTransformer).forward(src, tgt).data);
      const tol = float32 ? 0 : 2e-2;
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${float32 ? "F32" : "F16"} [${i}] ${got[i]} vs ${want[i]}`);
      assert.equal(back.kind, "seq2seq");
      assert.equal(back.task, "translate");
    }
  });
  test("a foreign file, another tokenizer, or weights that do not fit are FormatErrors naming the file", () => {
    const b = seq2seq();
    const { bytes, tokenizerJson } = encodeTextModel(b);
    const other = BpeTokenizer.train(["something else entirely", "other words"], { vocabSize: 280 });
    assertThrowsMsg(() => decodeTextModel(bytes, other.toJSON(), "m.safetensors"), FormatError, "m.safetensors: tokenizer expected the model's tokenizer");
    const foreign = encodeSafetensors({ w: randn([2, 2]) }, { "qkv.format": "checkpoint" });
    assertThrowsMsg(() => decodeTextModel(foreign, tokenizerJson, "ck.safetensors"), FormatError, 'ck.safetensors: metadata["qkv.format"] expected "text-model"');
    assertThrowsMsg(() => decodeTextModel(bytes.subarray(0, bytes.length - 10), tokenizerJson, "cut.safetensors"), FormatError);
    const cfg = JSON.parse(JSON.stringify((b.model as Seq2SeqTransformer).config)) as Record<string, unknown>;
    cfg.dimFeedforward = 33;
    const wrong = encodeSafetensors(Object.fromEntries(Object.entries(b.model.stateDict()).filter(([n]) => n !== "pe")), {
      "qkv.format": "text-model", "qkv.version": "1", "qkv.kind": "seq2seq", "qkv.task": "translate", "qkv.config": JSON.stringify(cfg), "qkv.tokenizer": "x",
    });
    assertThrowsMsg(() => decodeTextModel(wrong, tokenizerJson, "w.safetensors"), FormatError, "w.safetensors");
  });
  test("files on disk: a missing directory names the file", async () => {
    await saveTextModelDir(join(dir, "m1"), seq2seq());
    const back = await loadTextModelDir(join(dir, "m1"));
    assert.equal(back.tokenizer.vocabSize, tok.vocabSize);
    await assert.rejects(loadTextModelDir(join(dir, "nope")), (e: unknown) => e instanceof FormatError && e.message.includes("nope/model.safetensors") && e.message.includes("no such file"));
  });
});

describe("checkpoint averaging", () => {
  test("the element-wise mean; mismatched dicts are refused", () => {
    const a = { w: new Tensor(Float32Array.from([1, 2]), [2], "float32") }, b = { w: new Tensor(Float32Array.from([3, 6]), [2], "float32") };
    assert.deepEqual(Array.from(averageStateDicts([a, b]).w!.data), [2, 4]);
    assert.throws(() => averageStateDicts([a, { v: b.w }]), /states\[1\]\["w"\] expected a tensor of 2 elements, got none/);
    assert.throws(() => averageStateDicts([]), /at least one state dict/);
  });
});

describe("spans", () => {
  test("word-by-word encoding equals encoding the text; the oracle span; span text", () => {
    const text = "2048 puzzle is mathematics based puzzle game where you slide tiles.";
    const w = wordTokens(tok, text, 1000);
    assert.deepEqual(w.ids, tok.encode(text));
    assert.equal(w.words.length, 11);
    assert.ok(w.wordOf.every((x, i) => i === 0 || x >= w.wordOf[i - 1]!));
    const o = oracleSpan(w.words, "mathematics based puzzle game", 24);
    assert.deepEqual([o.first, o.last, o.f], [3, 6, 1]);
    assert.equal(spanText(w.words, 7, 10), "where you slide tiles");
    assert.ok(wordTokens(tok, text, 5).truncated);
  });
  test("a span model outputs a run of the input's words", () => {
    manualSeed(2);
    const model = new SpanExtractor({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxLen: 32, padId: tok.padId });
    const gen = new TextGenerator({ kind: "span", task: "summarize", model, tokenizer: tok });
    const outs = gen.generate([EN[4]!, EN[5]!, ""]);
    for (const [i, o] of outs.slice(0, 2).entries()) assert.ok(EN[4 + i]!.includes(o) && o.length > 0, `"${o}"`);
    assert.equal(outs[2], "");
    // a strong length prior picks spans of about its length
    const two = gen.generate([EN[4]!, EN[5]!], { spanLengthPrior: { weight: 1e3, words: 2 } });
    for (const o of two) assert.equal(o.split(" ").length, 2, `"${o}"`);
    assert.throws(() => gen.generate([EN[4]!], { spanLengthPrior: { weight: -1, words: 2 } }), /spanLengthPrior/);
  });
});

describe("generation", () => {
  test("one output per input in input order, beam or greedy; over-long inputs are reported", () => {
    const tr = new Translator(seq2seq());
    const one = EN.map((e) => tr.translate(e, { beam: 2 })[0]);
    assert.deepEqual(tr.translate(EN, { beam: 2, batchSize: 4 }), one);
    const cut: number[] = [];
    tr.translate([EN[0]!, EN.join(" ").repeat(3)], { beam: 1, onTruncate: (i) => cut.push(i) });
    assert.deepEqual(cut, [1]);
  });
});

describe("training", () => {
  test("seq2seq: checkpoints, resume continues the same run, model files written", async () => {
    const data = join(dir, "mt");
    rmSync(data, { recursive: true, force: true });
    const { mkdirSync } = await import("node:fs");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`r${i}`, e, ES[i]!]);
    writeTsv(join(data, "train.tsv"), ["ref", "en", "es"], rows);
    writeTsv(join(data, "valid.tsv"), ["ref", "en", "es"], rows.slice(0, 2));
    const common = { task: TASKS.translate, dataDir: data, vocabSize: 300, dModel: 16, nhead: 2, layers: 1, dimFeedforward: 32, maxTokens: 64,
      evalEvery: 2, checkpointEvery: 2, evalSamples: 2, log: () => {}, tty: false };
    const full = await trainSeq2Seq({ ...common, outDir: join(dir, "run-a"), steps: 4 });
    await trainSeq2Seq({ ...common, outDir: join(dir, "run-b"), steps: 2 });
    const resumed = await trainSeq2Seq({ ...common, outDir: join(dir, "run-b"), steps: 4, resume: true });
    assert.equal(full.steps, 4);
    assert.equal(resumed.steps, 4);
    assert.deepEqual(resumed.lastEval, full.lastEval);
    const log = readFileSync(join(dir, "run-a", "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; bleu: number });
    assert.deepEqual(log.map((l) => l.step), [2, 4]);
    const b = await loadTextModelDir(join(dir, "run-a"));
    assert.equal(b.kind, "seq2seq");
    // a run started from a trained model continues its step count (and learning-rate schedule)
    const lines: string[] = [];
    await trainSeq2Seq({ ...common, outDir: join(dir, "run-c"), steps: 2, init: join(dir, "run-a"), log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes("trained 4 steps")), lines.join("\n"));
    assert.equal((await loadTextModelDir(join(dir, "run-c"))).info?.steps, 6);
    // Ctrl-C ends the run after the current step, with its checkpoint and model files
    const stopped = await trainSeq2Seq({ ...common, outDir: join(dir, "run-d"), steps: 50, evalEvery: 1,
      log: (l) => { if (l.startsWith("step 1 ")) process.emit("SIGINT"); } });
    assert.equal(stopped.steps, 1);
    assert.equal(process.listenerCount("SIGINT"), 0);
  });
  test("span: trains a few steps and scores ROUGE", async () => {
    const data = join(dir, "sum");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`p${i}`, e.split(" ").slice(1, 4).join(" "), `${e} ${ES[i]}`]);
    writeTsv(join(data, "train.tsv"), ["package", "synopsis", "description"], rows);
    writeTsv(join(data, "valid.tsv"), ["package", "synopsis", "description"], rows.slice(0, 3));
    const r = await trainSpan({ task: TASKS.summarize, dataDir: data, outDir: join(dir, "sum-run"), steps: 3, vocabSize: 300, dModel: 16, nhead: 2, layers: 1,
      dimFeedforward: 32, maxLen: 48, maxTokens: 128, evalEvery: 3, log: () => {}, tty: false });
    assert.equal(r.steps, 3);
    assert.ok(r.lastEval && r.lastEval.rougeL! >= 0 && r.lastEval.rougeL! <= 100);
    assert.match(formatScoreLine(TASKS.summarize, r.lastEval!), /^ROUGE-1: \d+\.\d\d ROUGE-2: \d+\.\d\d ROUGE-L: \d+\.\d\d$/);
  });
});

describe("training stops on a real SIGINT", { skip: firstPassOnly() }, () => {
  test("after the current step, with its checkpoint, validation and model files (exit 0)", async () => {
    const data = join(dir, "sig");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(data, { recursive: true });
    const rows = EN.map((e, i) => [`r${i}`, e, ES[i]!]);
    writeTsv(join(data, "train.tsv"), ["ref", "en", "es"], rows);
    writeTsv(join(data, "valid.tsv"), ["ref", "en", "es"], rows.slice(0, 2));
    const { spawn } = await import("node:child_process");
    const out = join(dir, "sig-run");
    const child = spawn(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "translate", "train", "--data", data, "--out", out, "--steps", "100000"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, QKV_NUM_THREADS: "1" } });
    let text = "";
    child.stdout.on("data", (b: Buffer) => {
      text += b.toString();
      if (/train step 50\//.test(text) && !child.killed) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, text);
    assert.match(text, /stopping after this step/);
    const steps = Number(/trained to step (\d+)/.exec(text)?.[1]);
    assert.ok(steps >= 50 && steps < 150, `stopped at ${steps}: the signal must be handled before the first checkpoint (step 200)`);
    assert.equal((await loadTextModelDir(out)).info?.steps, steps);
  });
});

describe("qkv translate / summarize (CLI)", () => {
  const cli = (args: string[], input?: string) => spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", ...args],
    { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
  test("run: arguments, --file and stdin; eval: the last line is BLEU; errors exit 1 with one line", async () => {
    const m = join(dir, "cli-model");
    await saveTextModelDir(m, seq2seq());
    const a = cli(["translate", "--model", m, "--beam", "2", "In the beginning"]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout.trim().split("\n").length, 1);
    writeFileSync(join(dir, "in.txt"), "In the beginning\nAnd there was light.\n");
    const f = cli(["translate", "--model", m, "--file", join(dir, "in.txt")]);
    assert.equal(f.stdout.trim().split("\n").length, 2);
    const s = cli(["translate", "--model", m], "one\ntwo\nthree\n");
    assert.equal(s.stdout.trim().split("\n").length, 3);
    writeTsv(join(dir, "t.tsv"), ["id", "es", "en", "extra"], EN.slice(0, 3).map((e, i) => [`${i}`, ES[i]!, e, "x"]));
    const e = cli(["translate", "eval", "--model", m, "--data", join(dir, "t.tsv"), "--hyp-out", join(dir, "hyps.txt"), "--beam", "1"]);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout.trim().split("\n").at(-1)!, /^BLEU: \d+\.\d\d$/);
    assert.equal(readFileSync(join(dir, "hyps.txt"), "utf8").split("\n").length, 4);
    writeTsv(join(dir, "bad.tsv"), ["a", "b"], [["1", "2"]]);
    const bad = cli(["translate", "eval", "--model", m, "--data", join(dir, "bad.tsv")]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /bad\.tsv expected a header with the columns en, es/);
    const wrongTask = cli(["summarize", "--model", m, "some text"]);
    assert.equal(wrongTask.status, 1);
    assert.match(wrongTask.stderr, /expected a summarize model, got a translate model/);
    const empty = cli(["translate", "--model", m], "\n\n");
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /some text to work on/);
  });
});
