/**
 * Hugging Face ViT import: the name map on a tiny hand-made checkpoint, the errors, and the outputs
 * of a random transformers.ViTModel (test/fixtures/interop/hf-vit, written by
 * tools/interop/hf_vit_check.py --fixture: config.json, model.safetensors, images and outputs).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { HfConfigError } from "../../src/interop/hf.js";
import { hfViTNameMap, loadHfViT, parseHfViTConfig } from "../../src/interop/hf-vit.js";
import { decodeSafetensors } from "../../src/io/safetensors.js";
import { StateDictError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

const E = 4, I = 8;
const CONFIG = {
  architectures: ["ViTForImageClassification"], model_type: "vit", hidden_size: E, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: I,
  hidden_act: "gelu", hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, layer_norm_eps: 1e-12, image_size: [4, 6], patch_size: 2, num_channels: 1,
  qkv_bias: true, encoder_stride: 16, pooler_act: "tanh", pooler_output_size: E, id2label: { 0: "a", 1: "b", 2: "c" }, label2id: { a: 0, b: 1, c: 2 },
  initializer_range: 0.02, dtype: "float32", transformers_version: "5.18.0",
};

/** Every tensor of the config in Hugging Face's names; tensor k holds k * 1000 + 0, 1, 2, … so each element is traceable. */
function handMade(prefix = "", classifier = true): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  hfViTNameMap(parseHfViTConfig(CONFIG), { classifier }).forEach((r, k) => {
    const n = r.shape.reduce((a, b) => a * b, 1);
    m.set((r.hf.startsWith("classifier.") ? "" : prefix) + r.hf, new Tensor(Float32Array.from({ length: n }, (_, i) => k * 1000 + i), r.shape, "float32"));
  });
  return m;
}

describe("loadHfViT: name map", () => {
  test("q, k, v stack into attn.qkv; embeddings, norms, MLP, final norm and classifier land on qkv's (timm's) names", () => {
    const hf = handMade("vit.");
    const vit = loadHfViT(CONFIG, hf);
    assert.deepEqual([vit.config.numClasses, vit.config.imageSize, vit.config.patchSize, vit.config.mlpRatio, vit.config.layerNormEps], [3, [4, 6], 2, 2, 1e-12]);
    const sd = vit.stateDict();
    const at = (n: string): number[] => Array.from(hf.get(n)!.data as Float32Array);
    const L1 = "vit.encoder.layer.1";
    assert.deepEqual(Array.from(sd["blocks.1.attn.qkv.weight"]!.data), [...at(`${L1}.attention.attention.query.weight`), ...at(`${L1}.attention.attention.key.weight`), ...at(`${L1}.attention.attention.value.weight`)]);
    assert.deepEqual(Array.from(sd["blocks.1.attn.qkv.bias"]!.data), [...at(`${L1}.attention.attention.query.bias`), ...at(`${L1}.attention.attention.key.bias`), ...at(`${L1}.attention.attention.value.bias`)]);
    const same: [string, string][] = [
      ["vit.embeddings.cls_token", "cls_token"],
      ["vit.embeddings.position_embeddings", "pos_embed"],
      ["vit.embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight"],
      ["vit.encoder.layer.0.layernorm_before.weight", "blocks.0.norm1.weight"],
      ["vit.encoder.layer.0.attention.output.dense.weight", "blocks.0.attn.proj.weight"],
      ["vit.encoder.layer.0.layernorm_after.bias", "blocks.0.norm2.bias"],
      ["vit.encoder.layer.1.intermediate.dense.weight", "blocks.1.mlp.fc1.weight"],
      ["vit.encoder.layer.1.output.dense.bias", "blocks.1.mlp.fc2.bias"],
      ["vit.layernorm.weight", "norm.weight"],
      ["classifier.weight", "head.weight"],
      ["classifier.bias", "head.bias"],
    ];
    for (const [h, q] of same) assert.deepEqual(Array.from(sd[q]!.data), at(h), `${h} -> ${q}`);
    // every qkv tensor is written by the map
    const mapped = new Set(hfViTNameMap(parseHfViTConfig(CONFIG)).map((r) => r.qkv));
    assert.deepEqual(Object.keys(sd).filter((n) => !mapped.has(n)), []);
  });

  test("ViTModel: no prefix, the pooler left out, a zero head of num_labels rows", () => {
    const hf = handMade("", false);
    hf.set("pooler.dense.weight", new Tensor(new Float32Array(E * E), [E, E], "float32"));
    hf.set("pooler.dense.bias", new Tensor(new Float32Array(E), [E], "float32"));
    const vit = loadHfViT(JSON.stringify(CONFIG), hf);
    assert.deepEqual(vit.head.weight.shape, [3, E]);
    assert.ok(Array.from(vit.head.weight.data).every((v) => v === 0));
    assert.deepEqual(Array.from(vit.stateDict()["norm.bias"]!.data), Array.from(hf.get("layernorm.bias")!.data));
  });
});

describe("loadHfViT: errors", () => {
  test("config.json: every unknown field and bad value in one HfConfigError", () => {
    const bad = { ...CONFIG, rope_theta: 1e4, use_mask_token: true, hidden_act: "gelu_new", qkv_bias: false, patch_size: [2, 3], num_hidden_layers: 0, num_attention_heads: 3 };
    let err: unknown;
    try {
      loadHfViT(bad, handMade());
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof HfConfigError);
    assert.deepEqual(err.problems, [
      "unknown fields: rope_theta, use_mask_token",
      "num_hidden_layers expected an integer >= 1, got 0",
      'hidden_act expected "gelu", got "gelu_new"',
      "patch_size expected a square patch (an integer or [p, p]), got [2,3]",
      "qkv_bias expected true, got false",
      "hidden_size expected a multiple of num_attention_heads (3), got 4",
    ]);
    assert.equal(err.message, `loadHfViT: config.json: ${err.problems.join("; ")}`);
    assertThrowsMsg(() => parseHfViTConfig({ ...CONFIG, num_attention_heads: 3, image_size: 5, num_labels: 4 }), HfConfigError,
      "hidden_size expected a multiple of num_attention_heads (3), got 4", "image_size expected multiples of patch_size (2), got 5",
      "num_labels expected the size of id2label (3), got 4");
    assertThrowsMsg(() => loadHfViT({ ...CONFIG, image_size: [4, 8192] }, handMade()), HfConfigError,
      "loadHfViT: config.json: config.imageSize (qkv's ViT) expected a side or [height, width], integers in [1, 4096], got [4,8192]");
    assertThrowsMsg(() => parseHfViTConfig("[1]"), HfConfigError, "loadHfViT: config.json: expected a JSON object, got an array");
  });

  test("checkpoint: every missing, unexpected, wrongly shaped or non-float tensor in one StateDictError, in Hugging Face's names", () => {
    const hf = handMade("vit.");
    hf.delete("vit.encoder.layer.1.attention.attention.value.weight");
    hf.delete("vit.embeddings.cls_token");
    hf.set("vit.embeddings.position_embeddings", new Tensor(new Float32Array(5 * E), [1, 5, E], "float32"));
    hf.set("vit.encoder.layer.0.attention.attention.query.bias", new Tensor(new Int32Array(E), [E], "int32"));
    hf.set("vit.encoder.layer.2.attention.attention.query.bias", new Tensor(new Float32Array(E), [E], "float32"));
    hf.set("distillation_token", new Tensor(new Float32Array(E), [1, 1, E], "float32"));
    let err: unknown;
    try {
      loadHfViT(CONFIG, hf);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof StateDictError);
    assert.deepEqual(err.missing, ["vit.embeddings.cls_token", "vit.encoder.layer.1.attention.attention.value.weight"]);
    assert.deepEqual(err.unexpected, ["distillation_token", "vit.encoder.layer.2.attention.attention.query.bias"]);
    assert.deepEqual(err.mismatched, [
      { name: "vit.embeddings.position_embeddings", expected: [1, 7, E], actual: [1, 5, E] },
      { name: "vit.encoder.layer.0.attention.attention.query.bias (dtype int32, expected a float)", expected: [E], actual: [E] },
    ]);
    assert.equal(loadHfViT(CONFIG, (() => { const h = handMade("vit."); h.set("distillation_token", new Tensor(new Float32Array(E), [1, 1, E], "float32")); return h; })(), { strict: false }).config.dim, E);
  });
});

describe("loadHfViT: a random transformers.ViTModel", () => {
  const dir = new URL("../fixtures/interop/hf-vit/", import.meta.url);
  const config = readFileSync(new URL("config.json", dir), "utf8");
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(new URL("model.safetensors", dir))));
  const io = decodeSafetensors(new Uint8Array(readFileSync(new URL("io.safetensors", dir)))).tensors;

  test("features equal last_hidden_state within 1e-5", () => {
    const vit = loadHfViT(config, tensors);
    const h = noGrad(() => vit.features(io.get("pixel_values")!));
    assert.deepEqual(h.shape, io.get("last_hidden_state")!.shape);
    assertClose(h.data, io.get("last_hidden_state")!.data, 1e-5, 0);
  });
});
