import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, MultiheadAttention, SelfAttention, StateDictError, ValueError, ShapeError,
  DTypeError, Generator, backward, mul, randn, sum, tensor, ones, manualSeed, causalMask, Tensor,
} from "../../src/index.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

class Block extends Module {
  lin = this.registerModule("lin", new Linear(4, 3));
  norm = this.registerModule("norm", new LayerNorm(3));
  layers = this.registerModule("layers", new ModuleList([new Linear(3, 3), new Linear(3, 2, { bias: false })]));
}

describe("Module", () => {
  test("dotted parameter names in registration order", () => {
    assert.deepEqual(new Block().namedParameters().map(([n, p]) => `${n}:${p.shape.join("x")}`),
      ["lin.weight:3x4", "lin.bias:3", "norm.weight:3", "norm.bias:3", "layers.0.weight:3x3", "layers.0.bias:3", "layers.1.weight:2x3"]);
  });
  test("stateDict round trip copies values", () => {
    const a = new Block(), b = new Block();
    b.loadStateDict(a.stateDict());
    for (const [n, p] of b.namedParameters()) assert.deepEqual(p.data, a.stateDict()[n]!.data);
  });
  test("loadStateDict names every missing, unexpected and mis-shaped entry, and copies nothing", () => {
    const m = new Block();
    const sd = { ...m.stateDict() };
    const before = Array.from(m.lin.weight.data);
    delete sd["norm.bias"];
    sd["extra.weight"] = ones([1]);
    sd["lin.weight"] = ones([4, 3]);
    assertThrowsMsg(() => m.loadStateDict(sd), StateDictError,
      "loadStateDict: state dict mismatch: missing keys: norm.bias; unexpected keys: extra.weight; lin.weight expected [3, 4], got [4, 3]");
    assert.deepEqual(Array.from(m.lin.weight.data), before);
    sd["lin.weight"] = ones([3, 4]);
    m.loadStateDict(sd, { strict: false });
    assert.deepEqual(Array.from(m.lin.weight.data), new Array(12).fill(1));
  });
  test("train/eval propagate; dropout is the identity in eval", () => {
    const d = new Dropout(0.5);
    const m = new ModuleList([d]);
    m.eval();
    assert.equal(d.training, false);
    const x = ones([10]);
    assert.equal(d.forward(x), x);
    m.train();
    assert.notDeepEqual(Array.from(d.forward(x).data), Array.from(x.data));
  });
  test("layer option errors", () => {
    assertThrowsMsg(() => new Linear(0, 3), ValueError, "Linear: inFeatures expected a positive integer, got 0");
    assertThrowsMsg(() => new Dropout(1), ValueError, "Dropout: p expected a probability in [0, 1), got 1");
    assertThrowsMsg(() => new Embedding(4, 2, { paddingIdx: 4 }), ValueError, "Embedding: paddingIdx expected an integer in [-4, 4), got 4");
    assertThrowsMsg(() => new MultiheadAttention(10, 3), ValueError, "MultiheadAttention: embedDim expected a multiple of numHeads (3), got 10");
    assertThrowsMsg(() => new MultiheadAttention(8, 2, { dropout: 1.2 }), ValueError, "MultiheadAttention: dropout expected a probability in [0, 1), got 1.2");
  });
  test("Embedding padding row starts at zero", () => {
    const e = new Embedding(5, 3, { paddingIdx: -1 });
    assert.deepEqual(Array.from(e.weight.data.slice(12)), [0, 0, 0]);
  });
});

describe("MultiheadAttention", () => {
  test("PyTorch parameter names and shapes", () => {
    const names = (m: Module) => m.namedParameters().map(([n, p]) => `${n}:${p.shape.join("x")}`);
    assert.deepEqual(names(new MultiheadAttention(8, 2)), ["in_proj_weight:24x8", "in_proj_bias:24", "out_proj.weight:8x8", "out_proj.bias:8"]);
    assert.deepEqual(names(new MultiheadAttention(8, 2, { kdim: 5, vdim: 3, addBiasKV: true, bias: true })),
      ["q_proj_weight:8x8", "k_proj_weight:8x5", "v_proj_weight:8x3", "in_proj_bias:24", "bias_k:1x1x8", "bias_v:1x1x8", "out_proj.weight:8x8", "out_proj.bias:8"]);
    assert.deepEqual(names(new MultiheadAttention(8, 2, { bias: false })), ["in_proj_weight:24x8", "out_proj.weight:8x8"]);
  });
  test("shapes: sequence-first, batch-first, unbatched, per-head weights", () => {
    manualSeed(1);
    const m = new MultiheadAttention(8, 2);
    const x = randn([5, 3, 8]);
    const r = m.forward(x, x, x);
    assert.deepEqual(r.output.shape, [5, 3, 8]);
    assert.deepEqual(r.weights!.shape, [3, 5, 5]);
    assert.deepEqual(m.forward(x, x, x, { averageAttnWeights: false }).weights!.shape, [3, 2, 5, 5]);
    const u = m.forward(randn([5, 8]), randn([4, 8]), randn([4, 8]));
    assert.deepEqual([u.output.shape, u.weights!.shape], [[5, 8], [5, 4]]);
    const bf = new MultiheadAttention(8, 2, { batchFirst: true });
    assert.deepEqual(bf.forward(randn([3, 5, 8]), randn([3, 4, 8]), randn([3, 4, 8])).output.shape, [3, 5, 8]);
  });
  test("the one-tensor self-attention path gives the same output and the summed gradients", () => {
    const m = new MultiheadAttention(8, 2, { batchFirst: true });
    const x = randn([2, 4, 8], { requiresGrad: true });
    const [q, k, v] = [x.clone().requiresGrad_(), x.clone().requiresGrad_(), x.clone().requiresGrad_()];
    const cot = randn([2, 4, 8], { generator: new Generator(2) });
    const a = m.forward(x, x, x, { needWeights: false });
    backward(sum(mul(a.output, cot)));
    const b = m.forward(q, k, v, { needWeights: false });
    backward(sum(mul(b.output, cot)));
    assertClose(a.output.data, b.output.data, 1e-6);
    const s = Array.from(q.grad!.data, (g, i) => g + k.grad!.data[i]! + v.grad!.data[i]!);
    assertClose(x.grad!.data, s, 1e-5);
  });
  test("needWeights false gives the same output (fused path); isCausal equals the explicit mask", () => {
    const m = new MultiheadAttention(8, 4, { batchFirst: true });
    const x = randn([2, 5, 8]);
    const kpm = tensor([[false, false, false, true, true], [false, false, false, false, false]]);
    assertClose(m.forward(x, x, x, { keyPaddingMask: kpm }).output.data, m.forward(x, x, x, { keyPaddingMask: kpm, needWeights: false }).output.data, 1e-6);
    assertClose(m.forward(x, x, x, { isCausal: true }).output.data, m.forward(x, x, x, { attnMask: causalMask(5, 5) }).output.data, 1e-6);
  });
  test("a fully padded sequence gives zeros, not NaN", () => {
    const m = new MultiheadAttention(4, 2, { batchFirst: true, bias: false });
    const x = randn([1, 3, 4]);
    const { output } = m.forward(x, x, x, { keyPaddingMask: tensor([[true, true, true]]) });
    assert.ok(Array.from(output.data).every((v) => v === 0));
  });
  test("input errors name the argument and the expected layout", () => {
    const m = new MultiheadAttention(8, 2);
    const x = randn([4, 2, 8]);
    assertThrowsMsg(() => m.forward(x, randn([5, 2, 6]), randn([5, 2, 8])), ShapeError, "multiheadAttention: key expected [S, B, 8], got [5, 2, 6]");
    assertThrowsMsg(() => m.forward(x, randn([5, 2, 8]), randn([4, 2, 8])), ShapeError, "multiheadAttention: value expected [5, B, 8], got [4, 2, 8]");
    assertThrowsMsg(() => m.forward(randn([4, 2, 7]), x, x), ShapeError, "multiheadAttention: query expected [L, B, 8], got [4, 2, 7]");
    assertThrowsMsg(() => m.forward(randn([8]), x, x), ShapeError, "multiheadAttention: query expected [L, B, 8] or [L, 8], got [8]");
    assertThrowsMsg(() => m.forward(x, x, x, { keyPaddingMask: tensor([[true, false]]) }), ShapeError,
      "multiheadAttention: keyPaddingMask expected [B, S] = [2, 4], got [1, 2]");
    assertThrowsMsg(() => m.forward(x, x, x, { attnMask: ones([3, 4]) }), ShapeError,
      "multiheadAttention: attnMask expected [L, S] = [4, 4] or [B * numHeads, L, S] = [4, 4, 4], got [3, 4]");
    assertThrowsMsg(() => m.forward(x, x, x, { attnMask: new Tensor(new Int32Array(16), [4, 4], "int32") }), DTypeError,
      "multiheadAttention: attnMask expected bool or float, got int32");
    assertThrowsMsg(() => m.forward(x, x.clone(), randn([4, 2, 8], { dtype: "float64" })), DTypeError, "multiheadAttention: value expected float32, got float64");
  });
});

describe("SelfAttention", () => {
  test("one set of q/k/v projections", () => {
    const s = new SelfAttention(8, 2);
    assert.deepEqual(s.namedParameters().map(([n]) => n), ["attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias"]);
    const x = randn([2, 5, 8]);
    const r = s.forward(x, { isCausal: true, needWeights: true });
    assert.deepEqual(r.output.shape, [2, 5, 8]);
    assert.deepEqual(r.weights!.shape, [2, 5, 5]);
    assert.equal(r.weights!.data[1], 0); // causal: query 0 sees key 0 only
    assert.equal(s.forward(x).weights, null);
  });
});
