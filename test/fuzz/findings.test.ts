/** Regression tests of the fuzzers' findings, one per fix, with the messages pinned. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { decodeTextModel, encodeTextModel } from "../../src/apps/text/model-file.js";
import { loadTextModelDir } from "../../src/apps/text/node-files.js";
import { jsonDepthExceeded } from "../../src/io/json.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.js";
import { loadSafetensors, loadSafetensorsHeader } from "../../src/io/safetensors-node.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { layerNorm } from "../../src/ops/norm.js";
import { sum } from "../../src/ops/reduce.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";
import { full, randn, tensor, type Tensor } from "../../src/tensor/tensor.js";
import { Generator } from "../../src/tensor/rng.js";
import { packedSelfAttention } from "../../src/ops/packed-attention.js";
import { windowAttention } from "../../src/attention/window.js";
import { longformerAttention } from "../../src/attention/global.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { loadTokenizer } from "../../src/text/node.js";
import { loadCheckpoint } from "../../src/train/node/checkpoint.js";
import { deepJson, rawSafetensors } from "./hostile.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-findings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const formatError = (arg: string, message: RegExp) => (e: unknown): boolean => e instanceof FormatError && e.arg === arg && message.test(e.message);

describe("JSON nesting is bounded before parsing", () => {
  test("depth scan ignores brackets in strings", () => {
    assert.equal(jsonDepthExceeded('["[[[[", {"a": "{{{"}]', 2), -1);
    assert.equal(jsonDepthExceeded("[[[]]]", 2), 2);
  });
  test("a safetensors header of 100,000 nested arrays is a FormatError, not a stack overflow", () => {
    assert.throws(() => decodeSafetensors(rawSafetensors(deepJson(100_000), new Uint8Array(0))),
      formatError("header", /^decodeSafetensors: header expected JSON nested at most 128 deep, got deeper nesting at character 128$/));
    assert.throws(() => decodeSafetensors(rawSafetensors(`{"a": ${deepJson(100_000, "{")}}`, new Uint8Array(0))), formatError("header", /nested at most 128/));
  });
  test("tokenizer.json nested 100,000 deep", () => {
    assert.throws(() => BpeTokenizer.fromJSON(`{"version": ${deepJson(100_000)}}`, "deep.json"),
      formatError("text", /^BpeTokenizer\.fromJSON: text expected JSON nested at most 128 deep, got deeper nesting at character 139 \(deep\.json\)$/));
  });
  test("a checkpoint's metadata nested 100,000 deep", async () => {
    const p = join(dir, "deep-ckpt.safetensors");
    writeFileSync(p, encodeSafetensors({}, { "qkv.format": "checkpoint", "qkv.version": "1", "qkv.step": "0", "qkv.optim.param_groups": deepJson(100_000) }));
    await assert.rejects(loadCheckpoint(p), formatError('metadata["qkv.optim.param_groups"]', new RegExp(`nested at most 128 deep, got deeper nesting \\(file ${p}\\)$`)));
  });
});

describe("paths that are not readable files are FormatErrors naming the file", () => {
  const missing = join(dir, "missing.safetensors");
  const loaders = { loadSafetensors, loadSafetensorsHeader, loadTokenizer, loadCheckpoint } as const;
  for (const [name, load] of Object.entries(loaders)) {
    test(`${name}: missing file, directory, NUL byte`, async () => {
      await assert.rejects(load(missing), formatError("file", new RegExp(`^${name}: file expected a readable file, got no such file \\(file ${missing}\\)$`)));
      if (name !== "loadCheckpoint") { // a directory is where loadCheckpoint looks for the latest checkpoint
        const d = join(dir, `adir-${name}`);
        mkdirSync(d);
        await assert.rejects(load(d), formatError("file", new RegExp(`got a directory \\(file ${d}\\)$`)));
      }
      await assert.rejects(load(`${missing}\u0000x`), formatError("file", /got an invalid path \(a NUL byte\)/));
    });
  }
});

describe("text model files", () => {
  const tokenizer = BpeTokenizer.train(["a small text", "another one"], { vocabSize: 270 });
  const model = new Seq2SeqTransformer({ vocabSize: tokenizer.vocabSize, dModel: 8, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 8, dropout: 0, maxLen: 16, padId: tokenizer.padId });
  const { bytes, tokenizerJson } = encodeTextModel({ kind: "seq2seq", task: "translate", model, tokenizer });
  const { tensors, metadata } = decodeSafetensors(bytes);

  test("a broken safetensors part names the model file", () => {
    assert.throws(() => decodeTextModel(bytes.subarray(0, 20), tokenizerJson, "models/x"),
      formatError("models/x: header length", /^loadTextModel: models\/x: header length expected at most 12 bytes/));
  });
  test("a config larger than the weights in the file is refused before anything is allocated", () => {
    for (const [k, v] of [["dModel", 2 ** 20], ["encoderLayers", 10 ** 6], ["dimFeedforward", 2 ** 40]] as const) {
      const config = { ...JSON.parse(metadata["qkv.config"]!), [k]: v };
      const forged = encodeSafetensors(tensors, { ...metadata, "qkv.config": JSON.stringify(config) });
      assert.throws(() => decodeTextModel(forged, tokenizerJson, "models/x"),
        formatError('models/x: metadata["qkv.config"]', /expected a model of at most the \d+ weights in the file, got a config of at least \d+ weights$/), k);
    }
    const long = encodeSafetensors(tensors, { ...metadata, "qkv.config": JSON.stringify({ ...JSON.parse(metadata["qkv.config"]!), maxLen: 2 ** 30 }) });
    assert.throws(() => decodeTextModel(long, tokenizerJson, "models/x"), formatError('models/x: metadata["qkv.config"]', /expected maxLen at most 65536, got 1073741824$/));
  });
});

describe("a text model directory whose writer died between its two renames", () => {
  test("loads the new model with the new tokenizer's pending temporary file; without it, a FormatError", async () => {
    const make = (texts: string[]) => {
      const tokenizer = BpeTokenizer.train(texts, { vocabSize: 265 });
      const model = new Seq2SeqTransformer({ vocabSize: tokenizer.vocabSize, dModel: 8, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 8, dropout: 0, maxLen: 16, padId: tokenizer.padId });
      return encodeTextModel({ kind: "seq2seq", task: "translate", model, tokenizer, info: { v: texts[0] } });
    };
    const oldOne = make(["aaaa aaaa aaaa"]), newOne = make(["zzzz zzzz zzzz"]);
    const d = join(dir, "half-renamed");
    mkdirSync(d);
    writeFileSync(join(d, "model.safetensors"), newOne.bytes);
    writeFileSync(join(d, "tokenizer.json"), oldOne.tokenizerJson);
    await assert.rejects(loadTextModelDir(d), formatError(`${join(d, "model.safetensors")}: tokenizer`, /expected the model's tokenizer/));
    writeFileSync(join(d, ".tokenizer.json.1.x.tmp"), "{ a partial write");
    writeFileSync(join(d, ".tokenizer.json.2.y.tmp"), newOne.tokenizerJson);
    assert.equal((await loadTextModelDir(d)).info?.["v"], "zzzz zzzz zzzz");
  });
});

describe("ops: bad options are typed errors", () => {
  test("sum with a dim that is neither a number nor a list", () => {
    assert.throws(() => sum(full([2, 2], 1), "1" as unknown as number), (e: unknown) => e instanceof ValueError && e.message === "sum: dim expected an integer or a list of integers, got 1");
  });
  test("layerNorm's eps of the wrong kind (the native kernel threw a TypeError)", () => {
    for (const eps of ["1", [], null]) {
      assert.throws(() => layerNorm(full([2, 4], 1), [4], null, null, eps as unknown as number),
        (e: unknown) => e instanceof ValueError && e.message === `layerNorm: eps expected a non-negative number, got ${String(eps)}`);
    }
  });
  test("a module too large to allocate", () => {
    assert.throws(() => new MultiheadAttention(1e9, 1), (e: unknown) => e instanceof ValueError && e.message === "allocate: size expected a tensor that fits in memory, got 3000000000000000000 float32 elements");
  });
});

describe("attention with a huge scale: finite gradients", () => {
  // Scores near ±1e10 (scale 1e9): the js kernels' backward took exp(score - lse) with the score in
  // float64 and the lse the forward stored in float32, hundreds apart at that magnitude: Infinity
  // and NaN gradients; they recompute the row's lse in float64 now. The native sparse backward
  // scored q . k times the scale where its forward scored (q times the scale) . k: thousands apart
  // at that magnitude; it scores as the forward now.
  // entries of N(0, 16), as large as the fuzzer's (scores of about 1e10 to 1e11)
  const big = (shape: number[], g: Generator): Tensor => tensor(randn(shape, { generator: g }).data.map((x) => 4 * x), { shape }).requiresGrad_(true);
  test("packedSelfAttention, causal and not", () => {
    for (const isCausal of [false, true]) {
      const qkv = big([2, 3, 18], new Generator(11));
      sum(packedSelfAttention(qkv, 1, { scale: 1e9, isCausal })).backward();
      const g = qkv.grad!.data;
      assert.ok(g.every(Number.isFinite), `causal ${isCausal}: ${Array.from(g).find((x) => !Number.isFinite(x))}`);
    }
  });
  test("windowAttention (the sparse kernels)", () => {
    const g = new Generator(12);
    const [q, k, v] = [0, 1, 2].map(() => big([1, 2, 5, 6], g)) as [Tensor, Tensor, Tensor];
    sum(windowAttention(q, k, v, { window: 2, scale: 1e9 }).output).backward();
    for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) assert.ok(t.grad!.data.every(Number.isFinite), `d${name}`);
  });
  test("longformerAttention with a global token over 1100 keys (the native kernel's wide rows, in chunks of keys)", () => {
    const g = new Generator(13);
    const [q, k, v] = [0, 1, 2].map(() => big([1, 1, 1100, 2], g)) as [Tensor, Tensor, Tensor];
    sum(longformerAttention(q, k, v, { window: 1, numGlobal: 1, scale: 1e9 }).output).backward();
    for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) assert.ok(t.grad!.data.every(Number.isFinite), `d${name}`);
  });
});
