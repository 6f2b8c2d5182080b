/**
 * Regression tests of the findings of the apps' and Hugging Face loaders' fuzzers
 * (app-loaders.ts, hf-loaders.ts), one per fix, with the messages pinned.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { after, describe, test } from "node:test";
import { decodePngImage, maxPngDataBytes } from "../../src/apps/classify/png.js";
import { MAX_FEATURE_VALUES, parseGraphDataset } from "../../src/apps/graph/data.js";
import { loadGraphDataset, loadGraphModel } from "../../src/apps/graph/files.js";
import { HfConfigError, hfBertNameMap, parseHfBertConfig, loadHfBert } from "../../src/interop/hf.js";
import { loadHfBertDir, loadHfViTDir } from "../../src/interop/hf-node.js";
import { hfViTNameMap, loadHfViT, parseHfViTConfig } from "../../src/interop/hf-vit.js";
import { encodeSafetensors } from "../../src/io/safetensors.js";
import { saveSafetensors } from "../../src/io/safetensors-node.js";
import { FormatError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { concat, deepJson } from "./hostile.js";
import { ihdr, PNG_SIGNATURE, pngChunk } from "./hostile-images.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-app-findings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const VIT = { hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 8, image_size: 4, patch_size: 2, num_channels: 1, num_labels: 3 };
const BERT = { vocab_size: 7, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 6, max_position_embeddings: 5 };

function tensorsOf(map: { hf: string; shape: number[] }[]): Map<string, Tensor> {
  return new Map(map.map((r) => [r.hf, new Tensor(new Float32Array(r.shape.reduce((a, b) => a * b, 1)), r.shape, "float32")]));
}

const hfError = (message: string) => (e: unknown): boolean => e instanceof HfConfigError && e.message === message;

describe("Hugging Face config.json", () => {
  test("a value nested 100,000 deep is an HfConfigError, not a stack overflow (it was printed in the message)", () => {
    assert.throws(() => parseHfViTConfig(`{"hidden_size": ${deepJson(100_000)}}`),
      hfError("loadHfViT: config.json: JSON nested deeper than 128 levels (at character 143)"));
    assert.throws(() => parseHfBertConfig(`{"layer_norm_eps": ${deepJson(100_000, "{")}}`),
      hfError("loadHfBert: config.json: JSON nested deeper than 128 levels (at character 654)"));
  });
  test("a value too deep or too long to print is shown cut, and a cyclic one without a throw", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => parseHfBertConfig({ ...BERT, hidden_size: cyclic }),
      hfError("loadHfBert: config.json: hidden_size expected an integer >= 1, got a value that cannot be shown (too deep or cyclic)"));
    assert.throws(() => parseHfBertConfig({ ...BERT, hidden_size: new Array(50_000).fill(7) }),
      hfError(`loadHfBert: config.json: hidden_size expected an integer >= 1, got [${new Array(40).fill(7).join(",")}… (100001 characters)`));
  });
  test("a layer count larger than the checkpoint is refused before the name map is built (10^9 layers hung)", () => {
    const vit = tensorsOf(hfViTNameMap(parseHfViTConfig(VIT)));
    const t0 = performance.now();
    assert.throws(() => loadHfViT({ ...VIT, num_hidden_layers: 1e9 }, vit),
      hfError(`loadHfViT: config.json: num_hidden_layers expected at most ${vit.size} (the checkpoint has ${vit.size} tensors, 16 a layer), got 1000000000`));
    const bert = tensorsOf(hfBertNameMap(parseHfBertConfig(BERT)));
    assert.throws(() => loadHfBert({ ...BERT, num_hidden_layers: 2 ** 40 }, bert), hfError(`loadHfBert: config.json: num_hidden_layers expected at most ${bert.size} (the checkpoint has ${bert.size} tensors, 16 a layer), got ${2 ** 40}`));
    assert.ok(performance.now() - t0 < 1000);
  });
  test("without a classifier, a zero head larger than the checkpoint is refused before it is allocated", () => {
    const vit = tensorsOf(hfViTNameMap(parseHfViTConfig(VIT), { classifier: false }));
    const weights = [...vit.values()].reduce((n, t) => n + t.data.length, 0);
    assert.throws(() => loadHfViT({ ...VIT, num_labels: 2 ** 30 }, vit),
      hfError(`loadHfViT: config.json: num_labels expected a zero head (num_labels x hidden_size) no larger than the checkpoint's ${weights} weights, got ${2 ** 30} x 4`));
  });
  test("the directory loaders name the file: config.json for the config, model.safetensors for the tensors", async () => {
    const d = join(dir, "hf");
    mkdirSync(d);
    writeFileSync(join(d, "config.json"), JSON.stringify({ ...VIT, hidden_act: "relu" }));
    writeFileSync(join(d, "model.safetensors"), encodeSafetensors(tensorsOf(hfViTNameMap(parseHfViTConfig(VIT)))));
    await assert.rejects(loadHfViTDir(d), (e: unknown) => e instanceof FormatError && e.arg === join(d, "config.json")
      && e.message === `loadHfViTDir: ${join(d, "config.json")}: hidden_act expected "gelu", got "relu"`);
    writeFileSync(join(d, "config.json"), JSON.stringify(BERT));
    await assert.rejects(loadHfBertDir(d), (e: unknown) => e instanceof FormatError && e.arg === join(d, "model.safetensors")
      && e.message.startsWith(`loadHfBertDir: ${join(d, "model.safetensors")}: missing keys: embeddings.word_embeddings.weight`));
  });
});

describe("PNG images", () => {
  test("an interlaced image whose data inflates far past its size is refused before pngjs inflates it (without a limit)", () => {
    // 16 KiB of zlib data that inflates to 16 MiB, for a 28 x 28 image
    const bomb = deflateSync(new Uint8Array(16 * 2 ** 20), { level: 9 });
    const png = concat(PNG_SIGNATURE, pngChunk("IHDR", ihdr(28, 28, 8, 0, 1)), pngChunk("IDAT", bomb), pngChunk("IEND", new Uint8Array(0)));
    assert.equal(maxPngDataBytes(28, 28), 6784);
    assert.throws(() => decodePngImage(png, "bomb.png", [28, 28]), (e: unknown) => e instanceof FormatError
      && e.message === "readPngImage: bomb.png expected image data of at most 6784 bytes once decompressed (a 28 x 28 image), got more");
  });
});

describe("graph datasets", () => {
  test("a feature matrix (nodes x vocabulary) too large to build is refused when the file is read (graphTensors threw a RangeError)", () => {
    const N = 1000, V = 100_000;
    const doc = {
      format: "qkv-graph", version: 1, name: "wide", source: "test", nodes: Array.from({ length: N }, (_, i) => `n${i}`), classes: ["a", "b"],
      labels: new Array(N).fill(0), edges: [[0], [1]], split: { train: [0], valid: [], test: [1] },
      features: { kind: "bag-of-words", vocabulary: Array.from({ length: V }, (_, i) => `w${i}`), indices: Array.from({ length: N }, () => []) },
    };
    assert.throws(() => parseGraphDataset(JSON.stringify(doc), "wide.json"), (e: unknown) => e instanceof FormatError && e.arg === "features.vocabulary"
      && e.message === `loadGraphDataset: features.vocabulary expected at most ${MAX_FEATURE_VALUES} feature values (nodes x vocabulary words), got 1000 x 100000 (file wide.json)`);
  });
  test("a version (or other field) that cannot be turned into a string is described, not a TypeError (String({ toString: 1 }) threw)", () => {
    const text = '{"format":"qkv-graph","version":{"toString":1},"name":"x"}';
    assert.throws(() => parseGraphDataset(text, "v.json"), (e: unknown) => e instanceof FormatError && e.arg === "version"
      && e.message === "loadGraphDataset: version expected 1, got object (file v.json)");
  });
  test("a graph model whose metadata fields cannot be turned into strings is a FormatError naming them", async () => {
    const ds = await loadGraphDataset("karate");
    const dir = mkdtempSync(join(tmpdir(), "qkv-graph-meta-"));
    try {
      const path = join(dir, "m.safetensors");
      await saveSafetensors(path, { w: new Tensor(new Float32Array(2), [2], "float32") },
        { "qkv.kind": "qkv-graph-node-classifier", "qkv.graph": `{"dataset":${JSON.stringify(ds.name)},"nodes":{"toString":1}}` });
      await assert.rejects(loadGraphModel(path, ds), (e: unknown) => e instanceof FormatError && e.message.includes('({"toString":1} nodes)'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
