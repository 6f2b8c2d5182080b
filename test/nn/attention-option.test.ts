/** One option selects the attention variant in MultiheadAttention, SelfAttention and encoder layers (decoder layers: decoder-attention.test.ts). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  MultiheadAttention, SelfAttention, TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, ValueError,
  randn, tensor, Generator, backward, sum, mul,
} from "../../src/index.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

const g = new Generator(5);

describe("attention option", () => {
  test("window attention in MHA equals full attention with the equivalent mask", () => {
    const m = new MultiheadAttention(16, 4, { batchFirst: true, attention: { kind: "window", window: 2 } });
    const full = new MultiheadAttention(16, 4, { batchFirst: true });
    full.loadStateDict(m.stateDict());
    const x = randn([2, 9, 16], { generator: g, requiresGrad: true });
    const a = m.forward(x, x, x, { needWeights: false }).output;
    // bool mask: true where |i - j| > 2
    const mask = tensor(Array.from({ length: 9 }, (_, i) => Array.from({ length: 9 }, (_, j) => Math.abs(i - j) > 2)));
    const b = full.forward(x, x, x, { needWeights: false, attnMask: mask }).output;
    assertClose(a.data, b.data, 1e-5);
    const cot = randn(a.shape, { generator: new Generator(1) });
    backward(sum(mul(a, cot)));
    const ga = Float32Array.from(x.grad!.data);
    x.grad = null;
    backward(sum(mul(b, cot)));
    assertClose(ga, x.grad!.data, 1e-5);
  });
  test("isCausal maps onto the causal window; kinds without a causal form refuse it", () => {
    const m = new MultiheadAttention(8, 2, { batchFirst: true, attention: { kind: "window", window: 3 } });
    const x = randn([1, 6, 8], { generator: g });
    const r = m.forward(x, x, x, { isCausal: true, needWeights: true, averageAttnWeights: false });
    const w = r.weights!.data;
    for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) assert.equal(w[i * 6 + j], 0);
    const n = new MultiheadAttention(8, 2, { batchFirst: true, attention: { kind: "nystrom", landmarks: 2 } });
    assertThrowsMsg(() => n.forward(x, x, x, { isCausal: true }), ValueError, 'multiheadAttention: isCausal expected an attention kind with a causal form (full | window | dilated | longformer | bigbird | block | linear | performer), got true (kind "nystrom")');
  });
  test("linformer registers E and F; performer can redraw; linear runs", () => {
    const m = new MultiheadAttention(8, 2, { batchFirst: true, attention: { kind: "linformer", k: 3 }, maxLen: 10 });
    assert.deepEqual(m.namedParameters().map(([n, p]) => `${n}:${p.shape.join("x")}`).filter((s) => s.startsWith("E") || s.startsWith("F")), ["E:3x10", "F:3x10"]);
    const x = randn([2, 7, 8], { generator: g });
    assert.deepEqual(m.forward(x, x, x).output.shape, [2, 7, 8]);
    const p = new MultiheadAttention(8, 2, { batchFirst: true, attention: { kind: "performer", features: 16, seed: 1 } });
    const before = p.forward(x, x, x, { needWeights: false }).output.data.slice();
    p.redraw();
    assert.notDeepEqual(Array.from(p.forward(x, x, x, { needWeights: false }).output.data), Array.from(before));
    const l = new SelfAttention(8, 2, { attention: { kind: "linear" } });
    assert.deepEqual(l.forward(x, { isCausal: true }).output.shape, [2, 7, 8]);
  });
  test("encoder layers and stacks take the option (attention dropout off for efficient kinds)", () => {
    const layer = new TransformerEncoderLayer(8, 2, { batchFirst: true, dimFeedforward: 16, attention: { kind: "longformer", window: 2, numGlobal: 1 } });
    const enc = new TransformerEncoder(layer, 2);
    assert.equal(enc.layers.at(1).selfAttn.attention.kind, "longformer");
    enc.eval();
    assert.deepEqual(enc.forward(randn([2, 12, 8], { generator: g })).shape, [2, 12, 8]);
  });
  test("errors", () => {
    assertThrowsMsg(() => new MultiheadAttention(8, 2, { attention: { kind: "window", window: 2 }, dropout: 0.1 }), ValueError,
      'MultiheadAttention: dropout expected 0 with attention kind "window" (the efficient kernels have no attention dropout), got 0.1');
    assertThrowsMsg(() => new MultiheadAttention(8, 2, { attention: { kind: "linformer", k: 2 } }), ValueError,
      'MultiheadAttention: maxLen expected a positive integer with attention kind "linformer", got undefined');
    assertThrowsMsg(() => new MultiheadAttention(8, 2, { attention: { kind: "sparse" } as never }), ValueError, "MultiheadAttention: attention.kind expected full | ");
    const m = new MultiheadAttention(8, 2, { batchFirst: true, attention: { kind: "window", window: 2 } });
    const x = randn([1, 4, 8], { generator: g });
    assertThrowsMsg(() => m.forward(x, x, x, { keyPaddingMask: tensor([[false, false, false, true]]) }), ValueError,
      'multiheadAttention: keyPaddingMask expected none with attention kind "window", got a mask');
    // decoder layers take the causal form of a kind (test/nn/decoder-attention.test.ts); linformer has none
    assertThrowsMsg(() => new TransformerDecoderLayer(8, 2, { attention: { kind: "linformer", k: 2 }, maxLen: 4 }), ValueError,
      'TransformerDecoderLayer: attention expected an attention kind with a causal form');
  });
});
