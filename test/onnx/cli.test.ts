import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadClassifierDir, saveClassifierDir } from "../../src/apps/classify/node-files.js";
import { loadTextModelDir, saveTextModelDir } from "../../src/apps/text/node-files.js";
import { noGrad } from "../../src/autograd/graph.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { decodeModelProto } from "../../src/onnx/proto.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { int64, maxDiff, ortSkip, session, toOrt } from "./ort.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", ...args], { encoding: "utf8" });

describe("qkv export --format onnx", { skip: ortSkip }, () => {
  test("writes the four graphs, the tokenizer and the Hugging Face configs; the encoder graph equals the model file's encoder", async () => {
    const tok = BpeTokenizer.train(["the earth was formless and empty", "let there be light", "la tierra estaba desordenada y vacía"], { vocabSize: 280 });
    const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 32, padId: tok.padId },
      { generator: new Generator(2) });
    const m = join(dir, "model");
    await saveTextModelDir(m, { kind: "seq2seq", task: "translate", model, tokenizer: tok });
    const out = join(dir, "onnx");
    const r = cli(["export", "--format", "onnx", "--model", m, "--out", out, "--attention", "fused"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ["config.json", "decoder_model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx", "encoder_model.onnx",
      "generation_config.json", "tokenizer.json", "tokenizer_config.json"]);
    assert.match(r.stdout, /decoder_model_merged\.onnx: \d+ bytes, inputs 8, outputs 5, attention fused/);
    assert.match(r.stdout, /encoder_model\.onnx: \d+ bytes, inputs 2, outputs 1, attention fused/);
    // the model as saved (F16 weights), against the exported graph
    const saved = (await loadTextModelDir(m)).model as Seq2SeqTransformer;
    saved.eval();
    const ids = tok.encode("let there be light");
    const src = new Tensor(Int32Array.from(ids), [1, ids.length], "int32");
    const want = noGrad(() => saved.encode(src));
    const s = await session(new Uint8Array(readFileSync(join(out, "encoder_model.onnx"))));
    const got = await s.run({ input_ids: int64(ids, [1, ids.length]), attention_mask: int64(ids.map(() => 1), [1, ids.length]) });
    const d = maxDiff(got.last_hidden_state!.data as Float32Array, want.data as Float32Array);
    assert.ok(d <= 1e-5, `max |diff| ${d}`);
  });

  test("an image classifier (qkv classify's model file): model.onnx with the classes and normalization in its metadata", async () => {
    const g = new Generator(4);
    const model = new VisionTransformer({ imageSize: 12, patchSize: 4, inChannels: 1, numClasses: 3, dim: 16, depth: 1, heads: 2, stem: [4, 8] }, { generator: g });
    for (const [n, t] of Object.entries(model.stateDict())) if (n.endsWith("running_var")) t.data.fill(2.5);
    const m = join(dir, "classifier");
    await saveClassifierDir(m, { kind: "hybrid", dataset: "mnist", classes: ["zero", "one", "two"], normalize: { mean: 0.1307, std: 0.3081 }, model });
    const out = join(dir, "classifier-onnx");
    const r = cli(["export", "--format", "onnx", "--model", m, "--out", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out), ["model.onnx"]);
    assert.match(r.stdout, /model\.onnx: \d+ bytes, inputs 1, outputs 2, attention plain/);
    assert.match(r.stdout, /classes \(metadata qkv\.classes\): zero, one, two/);
    const bytes = new Uint8Array(readFileSync(join(out, "model.onnx")));
    const meta = Object.fromEntries(decodeModelProto(bytes).metadata_props.map((p) => [p.key, p.value]));
    assert.deepEqual([meta["qkv.kind"], meta["qkv.dataset"], meta["qkv.classes"], meta["qkv.normalize"]], ["hybrid", "mnist", '["zero","one","two"]', '{"mean":0.1307,"std":0.3081}']);
    const saved = (await loadClassifierDir(m)).model; // F16 weights, eval mode
    const x = randn([2, 1, 12, 12], { generator: g });
    const want = noGrad(() => saved.forward(x));
    const s = await session(bytes);
    const got = await s.run({ pixel_values: toOrt(x) });
    const d = maxDiff(got.logits!.data as Float32Array, want.data as Float32Array);
    assert.ok(d <= 1e-5, `max |diff| ${d}`);
  });

  test("bad arguments: one line and exit code 1", () => {
    const f = cli(["export", "--format", "tflite", "--model", dir, "--out", join(dir, "x")]);
    assert.equal(f.status, 1);
    assert.equal(f.stderr.trim(), 'qkv: --format must be onnx, got "tflite"');
  });
});
