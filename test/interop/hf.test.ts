/**
 * Hugging Face BERT import: the name map on a tiny hand-made checkpoint, the errors, and the outputs
 * of a random transformers.BertModel (test/fixtures/interop/hf-bert, written by
 * tools/interop/hf_check.py --fixture: config.json, model.safetensors, inputs and outputs).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { HfConfigError, hfBertNameMap, loadHfBert, parseHfBertConfig } from "../../src/interop/hf.js";
import { decodeSafetensors } from "../../src/io/safetensors.js";
import { DTypeError, ShapeError, StateDictError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

const E = 4, I = 6;
const CONFIG = {
  architectures: ["BertModel"], model_type: "bert", vocab_size: 7, hidden_size: E, num_hidden_layers: 2, num_attention_heads: 2,
  intermediate_size: I, max_position_embeddings: 5, type_vocab_size: 2, hidden_act: "gelu", layer_norm_eps: 1e-12, pad_token_id: 0,
  transformers_version: "5.18.0", dtype: "float32", use_cache: true,
};

/** Every tensor of the config in Hugging Face's names; tensor k holds k * 1000 + 0, 1, 2, … so each element is traceable. */
function handMade(prefix = ""): Map<string, Tensor> {
  const c = parseHfBertConfig(CONFIG);
  const m = new Map<string, Tensor>();
  hfBertNameMap(c).forEach((r, k) => {
    const n = r.shape.reduce((a, b) => a * b, 1);
    m.set(prefix + r.hf, new Tensor(Float32Array.from({ length: n }, (_, i) => k * 1000 + i), r.shape, "float32"));
  });
  return m;
}

describe("loadHfBert: name map", () => {
  test("q, k, v stack into in_proj; dense / LayerNorm / intermediate / output / pooler land on qkv's names", () => {
    const hf = handMade();
    const sd = loadHfBert(CONFIG, hf).stateDict();
    const at = (n: string): number[] => Array.from(hf.get(n)!.data as Float32Array);
    const L1 = "encoder.layer.1";
    assert.deepEqual(Array.from(sd["encoder.layers.1.self_attn.in_proj_weight"]!.data), [...at(`${L1}.attention.self.query.weight`), ...at(`${L1}.attention.self.key.weight`), ...at(`${L1}.attention.self.value.weight`)]);
    assert.deepEqual(Array.from(sd["encoder.layers.1.self_attn.in_proj_bias"]!.data), [...at(`${L1}.attention.self.query.bias`), ...at(`${L1}.attention.self.key.bias`), ...at(`${L1}.attention.self.value.bias`)]);
    const same: [string, string][] = [
      ["embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"],
      ["embeddings.position_embeddings.weight", "embeddings.position_embeddings.weight"],
      ["embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight"],
      ["embeddings.LayerNorm.weight", "embeddings.norm.weight"],
      ["encoder.layer.0.attention.output.dense.weight", "encoder.layers.0.self_attn.out_proj.weight"],
      ["encoder.layer.0.attention.output.LayerNorm.bias", "encoder.layers.0.norm1.bias"],
      ["encoder.layer.0.intermediate.dense.weight", "encoder.layers.0.linear1.weight"],
      ["encoder.layer.0.output.dense.bias", "encoder.layers.0.linear2.bias"],
      ["encoder.layer.1.output.LayerNorm.weight", "encoder.layers.1.norm2.weight"],
      ["pooler.dense.weight", "pooler.weight"],
    ];
    for (const [h, q] of same) assert.deepEqual(Array.from(sd[q]!.data), at(h), `${h} -> ${q}`);
    // every qkv parameter is written by the map
    const mapped = new Set(hfBertNameMap(parseHfBertConfig(CONFIG)).map((r) => r.qkv));
    assert.deepEqual(Object.keys(sd).filter((n) => !mapped.has(n)), []);
  });

  test("a bert. prefix, LayerNorm gamma / beta and the old position_ids buffer are taken as transformers takes them", () => {
    const hf = handMade("bert.");
    const g = hf.get("bert.embeddings.LayerNorm.weight")!, b = hf.get("bert.encoder.layer.0.output.LayerNorm.bias")!;
    hf.delete("bert.embeddings.LayerNorm.weight");
    hf.delete("bert.encoder.layer.0.output.LayerNorm.bias");
    hf.set("bert.embeddings.LayerNorm.gamma", g);
    hf.set("bert.encoder.layer.0.output.LayerNorm.beta", b);
    hf.set("bert.embeddings.position_ids", new Tensor(Int32Array.from([0, 1, 2, 3, 4]), [1, 5], "int32"));
    const sd = loadHfBert(JSON.stringify(CONFIG), hf).stateDict();
    assert.deepEqual(Array.from(sd["embeddings.norm.weight"]!.data), Array.from(g.data));
    assert.deepEqual(Array.from(sd["encoder.layers.0.norm2.bias"]!.data), Array.from(b.data));
  });

  test("no pooler in the checkpoint: none built; a task head is unexpected unless strict is false", () => {
    const hf = handMade("bert.");
    hf.delete("bert.pooler.dense.weight");
    hf.delete("bert.pooler.dense.bias");
    assert.equal(loadHfBert(CONFIG, hf).pooler, null);
    hf.set("cls.predictions.bias", new Tensor(new Float32Array(7), [7], "float32"));
    assertThrowsMsg(() => loadHfBert(CONFIG, hf), StateDictError, "loadHfBert: state dict mismatch: unexpected keys: cls.predictions.bias");
    assert.equal(loadHfBert(CONFIG, hf, { strict: false }).pooler, null);
    assertThrowsMsg(() => loadHfBert(CONFIG, hf, { pooler: true, strict: false }), StateDictError, "missing keys: bert.pooler.dense.weight, bert.pooler.dense.bias");
  });
});

describe("loadHfBert: errors", () => {
  test("config.json: every unknown field and bad value in one HfConfigError", () => {
    const bad = { ...CONFIG, rope_theta: 1e4, sliding_window: 8, hidden_act: "silu", num_attention_heads: 3, hidden_dropout_prob: 1.5, is_decoder: true };
    let err: unknown;
    try {
      loadHfBert(bad, handMade());
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof HfConfigError);
    assert.deepEqual(err.problems, [
      "unknown fields: rope_theta, sliding_window",
      'hidden_act expected "gelu" or "relu" or "gelu_new" or "gelu_pytorch_tanh", got "silu"',
      "hidden_dropout_prob expected a probability in [0, 1), got 1.5",
      "is_decoder expected false, got true",
      "hidden_size expected a multiple of num_attention_heads (3), got 4",
    ]);
    assert.equal(err.message, `loadHfBert: config.json: ${err.problems.join("; ")}`);
    assertThrowsMsg(() => parseHfBertConfig("{"), HfConfigError, "loadHfBert: config.json: not JSON");
    assertThrowsMsg(() => parseHfBertConfig("[1]"), HfConfigError, "loadHfBert: config.json: expected a JSON object, got an array");
    assertThrowsMsg(() => parseHfBertConfig({ vocab_size: 4, pad_token_id: 4 }), HfConfigError, "pad_token_id expected an id below vocab_size (4), got 4");
  });

  test("checkpoint: every missing, unexpected, wrongly shaped or non-float tensor in one StateDictError, in Hugging Face's names", () => {
    const hf = handMade();
    hf.delete("encoder.layer.1.attention.self.value.weight");
    hf.delete("embeddings.token_type_embeddings.weight");
    hf.set("encoder.layer.0.intermediate.dense.weight", new Tensor(new Float32Array(5 * E), [5, E], "float32"));
    hf.set("encoder.layer.0.attention.self.query.bias", new Tensor(new Int32Array(E), [E], "int32"));
    hf.set("encoder.layer.2.attention.self.query.bias", new Tensor(new Float32Array(E), [E], "float32"));
    let err: unknown;
    try {
      loadHfBert(CONFIG, hf);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof StateDictError);
    assert.deepEqual(err.missing, ["embeddings.token_type_embeddings.weight", "encoder.layer.1.attention.self.value.weight"]);
    assert.deepEqual(err.unexpected, ["encoder.layer.2.attention.self.query.bias"]);
    assert.deepEqual(err.mismatched, [
      { name: "encoder.layer.0.attention.self.query.bias (dtype int32, expected a float)", expected: [E], actual: [E] },
      { name: "encoder.layer.0.intermediate.dense.weight", expected: [I, E], actual: [5, E] },
    ]);
    assert.match(err.message, /^loadHfBert: state dict mismatch: missing keys: embeddings\.token_type_embeddings\.weight, encoder\.layer\.1\.attention\.self\.value\.weight; unexpected keys: encoder\.layer\.2\.attention\.self\.query\.bias; /);
  });

  test("forward: ids, attention mask and token types are checked", () => {
    const bert = loadHfBert(CONFIG, handMade());
    const ids = new Tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], "int32");
    assertThrowsMsg(() => bert.forward(new Tensor(new Float32Array(6), [2, 3], "float32")), DTypeError, "BertModel.forward: ids expected int32, got float32");
    assertThrowsMsg(() => bert.forward(new Tensor(new Int32Array(12), [2, 6], "int32")), ShapeError, "BertModel.forward: ids expected at most 5 positions (max_position_embeddings), got [2, 6]");
    assertThrowsMsg(() => bert.forward(ids, { attentionMask: new Tensor(new Int32Array(4), [2, 2], "int32") }), ShapeError, "BertModel.forward: attentionMask expected [2, 3], got [2, 2]");
    assertThrowsMsg(() => bert.forward(ids, { tokenTypeIds: new Tensor(new Float32Array(6), [2, 3], "float32") }), DTypeError, "BertModel.forward: tokenTypeIds expected int32, got float32");
  });
});

describe("loadHfBert: a random transformers.BertModel", () => {
  const dir = new URL("../fixtures/interop/hf-bert/", import.meta.url);
  const config = readFileSync(new URL("config.json", dir), "utf8");
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(new URL("model.safetensors", dir))));
  const io = decodeSafetensors(new Uint8Array(readFileSync(new URL("io.safetensors", dir)))).tensors;

  test("last_hidden_state and pooler_output within 1e-5 (padding and two segments)", () => {
    const bert = loadHfBert(config, tensors);
    const r = noGrad(() => bert.forward(io.get("input_ids")!, { attentionMask: io.get("attention_mask")!, tokenTypeIds: io.get("token_type_ids")! }));
    assert.deepEqual(r.lastHiddenState.shape, io.get("last_hidden_state")!.shape);
    assertClose(r.lastHiddenState.data, io.get("last_hidden_state")!.data, 1e-5, 0);
    assertClose(r.poolerOutput!.data, io.get("pooler_output")!.data, 1e-5, 0);
    // the mask matters: without it the padded rows differ
    const open = noGrad(() => bert.forward(io.get("input_ids")!, { tokenTypeIds: io.get("token_type_ids")! }));
    const diff = Math.max(...Array.from(open.lastHiddenState.data, (v, i) => Math.abs(v - io.get("last_hidden_state")!.data[i]!)));
    assert.ok(diff > 1e-2, `padding changed nothing (${diff})`);
  });
});
