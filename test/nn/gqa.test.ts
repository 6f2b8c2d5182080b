import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GroupedQueryAttention } from "../../src/nn/gqa-attention.js";
import { KVCache } from "../../src/nn/kv-cache.js";
import { applyRotary } from "../../src/nn/rope.js";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { linear } from "../../src/ops/matmul.js";
import { concat, permute, reshape, slice } from "../../src/ops/shape.js";
import { noGrad } from "../../src/autograd/graph.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";
import { float64Params } from "./float64-module.js";

describe("GroupedQueryAttention", () => {
  test("Llama-style parameter names and shapes", () => {
    const a = new GroupedQueryAttention(16, 4, 2, { generator: new Generator(0) });
    const sd = a.stateDict();
    assert.deepEqual(Object.keys(sd), ["q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"]);
    assert.deepEqual(sd["q_proj.weight"]!.shape, [16, 16]);
    assert.deepEqual(sd["k_proj.weight"]!.shape, [8, 16]);
    assert.deepEqual(sd["v_proj.weight"]!.shape, [8, 16]);
    assert.deepEqual(sd["o_proj.weight"]!.shape, [16, 16]);
    const b = new GroupedQueryAttention(16, 4, 1, { bias: true, headDim: 8 });
    assert.deepEqual(Object.keys(b.stateDict()), ["q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias", "o_proj.weight", "o_proj.bias"]);
    assert.deepEqual(b.stateDict()["q_proj.weight"]!.shape, [32, 16]);
    assert.deepEqual(b.stateDict()["k_proj.weight"]!.shape, [8, 16]);
  });

  test("equals projections + rotary + grouped causal sdpa written out", () => {
    const a = new GroupedQueryAttention(16, 4, 2, { rotary: { layout: "interleaved" }, generator: new Generator(3) });
    const x = randn([2, 5, 16]);
    const { output, weights } = a.forward(x, { needWeights: true });
    const heads = (t: ReturnType<typeof randn>, n: number): ReturnType<typeof randn> => permute(reshape(t, [2, 5, n, 4]), [0, 2, 1, 3]);
    const pos = [0, 1, 2, 3, 4];
    const q = applyRotary(heads(linear(x, a.qProj.weight), 4), pos, { layout: "interleaved" });
    const k = applyRotary(heads(linear(x, a.kProj.weight), 2), pos, { layout: "interleaved" });
    const v = heads(linear(x, a.vProj.weight), 2);
    const r = scaledDotProductAttention(q, k, v, { isCausal: true, needWeights: true });
    const o = linear(reshape(permute(r.output, [0, 2, 1, 3]), [2, 5, 16]), a.oProj.weight);
    assertClose(output.data, o.data, 1e-6);
    assert.deepEqual(weights!.shape, [2, 4, 5, 5]);
    assertClose(weights!.data, r.weights!.data, 1e-6);
  });

  test("decoding through a KVCache (token by token, and a prefill chunk) equals one causal pass (RoPE offset by the cache)", () => {
    for (const layout of ["half", "interleaved"] as const) {
      const a = new GroupedQueryAttention(16, 4, 2, { rotary: { layout, rotaryDim: 2 * 2 }, bias: true, generator: new Generator(5) });
      const x = randn([2, 6, 16]);
      const full = noGrad(() => a.forward(x).output);
      const cache = new KVCache();
      const steps = [];
      for (let t = 0; t < 6; t++) steps.push(noGrad(() => a.forward(slice(x, 1, t, t + 1), { cache }).output));
      assert.equal(cache.length, 6);
      assertClose(concat(steps, 1).data, full.data, 1e-5);
      const c2 = new KVCache();
      const pre = a.forward(slice(x, 1, 0, 3), { cache: c2 }).output; // prefill 3
      const chunk = a.forward(slice(x, 1, 3, 5), { cache: c2 }).output; // 2 more: the cached causal mask
      const last = a.forward(slice(x, 1, 5, 6), { cache: c2 }).output;
      assertClose(concat([pre, chunk, last], 1).data, full.data, 1e-5);
    }
  });

  test("MQA (one kv head) and a non-causal mode", () => {
    const a = new GroupedQueryAttention(8, 4, 1, { causal: false });
    const x = randn([1, 3, 8]);
    const { weights } = a.forward(x, { needWeights: true });
    assert.deepEqual(weights!.shape, [1, 4, 3, 3]);
    assert.ok(weights!.data[1]! > 0); // query 0 sees key 1
    const causal = a.forward(x, { isCausal: true, needWeights: true }).weights!;
    assert.equal(causal.data[1], 0);
  });

  test("gradcheck of the module (float64), with rotary and grouped heads", () => {
    const a = new GroupedQueryAttention(4, 2, 1, { rotary: {}, bias: true, generator: new Generator(2) });
    const params = float64Params(a);
    const x = r64([1, 3, 4]);
    assertGrad((xx) => a.forward(xx).output, [x, ...params]);
  });

  test("errors", () => {
    assertThrowsMsg(() => new GroupedQueryAttention(16, 4, 3), ValueError, "GroupedQueryAttention: numKVHeads expected a divisor of numHeads (4), got 3");
    assertThrowsMsg(() => new GroupedQueryAttention(10, 4, 2), ValueError, "GroupedQueryAttention: embedDim expected a multiple of numHeads (4) unless headDim is given, got 10");
    assertThrowsMsg(() => new GroupedQueryAttention(16, 0, 1), ValueError, "GroupedQueryAttention: numHeads expected a positive integer, got 0");
    assertThrowsMsg(() => new GroupedQueryAttention(16, 4, 2, { rotary: { rotaryDim: 6 } }), ValueError, "RotaryEmbedding: rotaryDim expected an even integer in [2, 4], got 6");
    const a = new GroupedQueryAttention(16, 4, 2);
    assertThrowsMsg(() => a.forward(randn([2, 5, 12])), ShapeError, "GroupedQueryAttention.forward: x expected [B, L, 16], got [2, 5, 12]");
    const cache = new KVCache();
    a.forward(randn([2, 1, 16]), { cache });
    assertThrowsMsg(() => a.forward(randn([3, 1, 16]), { cache }), ShapeError, "GroupedQueryAttention.forward: x expected [2, L, 16] (the cached batch), got [3, 1, 16]");
  });
});
