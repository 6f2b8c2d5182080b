/**
 * captureAttention on every kind of attention module: names, shapes and values against the
 * modules' own weight-returning paths, one record per call (KV-cached decoding), restoration of
 * every module afterwards (also after a throw), attention × gradient against a hand-written
 * gradient, and bad input.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { attentionModules, attentionTimesGradient, captureAttention, recordsOf } from "../../src/interpret/capture.js";
import { EfficientSelfAttention } from "../../src/nn/efficient-self-attention.js";
import { GATConv } from "../../src/nn/gat.js";
import { GroupedQueryAttention } from "../../src/nn/gqa-attention.js";
import { Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { MultiheadAttention, SelfAttention } from "../../src/nn/multihead-attention.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { greedySearch } from "../../src/seq2seq/search.js";
import { ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertClose } from "../helpers.js";

function seq2seq(): Seq2SeqTransformer {
  manualSeed(3);
  const m = new Seq2SeqTransformer({ vocabSize: 20, dModel: 16, nhead: 2, encoderLayers: 2, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 32, padId: 0 });
  return m.eval();
}
const ids = (rows: number[][]): Tensor => new Tensor(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length], "int32");

describe("captureAttention: encoder-decoder", () => {
  test("every layer's self- and cross-attention, with dotted names, equal to the layers' own capture", () => {
    const m = seq2seq();
    const src = ids([[3, 4, 5, 6, 7], [8, 9, 10, 0, 0]]), tgt = ids([[1, 5, 6], [1, 7, 8]]);
    const plain = noGrad(() => m.forward(src, tgt));
    const { output, records } = noGrad(() => captureAttention(m, () => m.forward(src, tgt)));
    assertClose(output.data, plain.data, 1e-5, 1e-5);
    assert.deepEqual(records.map((r) => [r.name, r.kind, r.module, r.call, r.weights.shape.join("x")]), [
      ["encoder.layers.0.self_attn", "self", "MultiheadAttention", 0, "2x2x5x5"],
      ["encoder.layers.1.self_attn", "self", "MultiheadAttention", 0, "2x2x5x5"],
      ["decoder.layers.0.self_attn", "self", "MultiheadAttention", 0, "2x2x3x3"],
      ["decoder.layers.0.multihead_attn", "cross", "MultiheadAttention", 0, "2x2x3x5"],
    ]);
    // the same numbers as the layers' own capture flags
    noGrad(() => {
      m.encoder.setCaptureAttention(true);
      m.decoder.setCaptureAttention(true);
      m.forward(src, tgt);
    });
    assertClose(records[1]!.weights.data, m.encoder.attentionWeights()[1]!.data, 0, 0);
    assertClose(records[3]!.weights.data, m.decoder.crossAttentionWeights()[0]!.data, 0, 0);
    m.encoder.setCaptureAttention(false);
    m.decoder.setCaptureAttention(false);
    // batch row 1 has two padding keys: they get no weight; rows sum to 1; the decoder's self-attention is causal
    const cross = records[3]!.weights.data;
    for (let i = 0; i < 3; i++) {
      const row = Array.from(cross.slice((1 * 2 + 0) * 15 + i * 5, (1 * 2 + 0) * 15 + i * 5 + 5));
      assert.equal(row[3], 0);
      assert.equal(row[4], 0);
      assertClose([row.reduce((a, b) => a + b, 0)], [1], 1e-6);
    }
    assert.equal(records[2]!.weights.data[1], 0, "query 0 of the decoder does not see key 1");
  });

  test("everything is restored: no instance forward left, flags and last weights as before", () => {
    const m = seq2seq();
    const src = ids([[3, 4, 5]]), tgt = ids([[1, 5]]);
    noGrad(() => captureAttention(m, () => m.forward(src, tgt)));
    for (const [, mod] of m.namedModules()) assert.equal(Object.hasOwn(mod, "forward"), false, mod.constructor.name);
    for (const l of m.encoder.layers) {
      assert.equal(l.captureAttention, false);
      assert.equal(l.lastAttnWeights, null);
    }
    for (const l of m.decoder.layers) assert.equal(l.captureAttention, false);
    // restored after a throw as well
    assert.throws(() => captureAttention(m, () => { m.forward(src, tgt); throw new Error("boom"); }), /boom/);
    for (const [, mod] of m.namedModules()) assert.equal(Object.hasOwn(mod, "forward"), false);
    assert.equal(m.encoder.layers.at(0).captureAttention, false);
  });

  test("KV-cached greedy decoding: one record per step and layer, cross-attention over the source", () => {
    const m = seq2seq();
    const src = ids([[3, 4, 5, 6]]);
    const { output, records } = captureAttention(m, () => greedySearch(m, src, { bosId: 1, eosId: 2, maxLen: 5 }));
    const steps = recordsOf(records, "decoder.layers.0.multihead_attn");
    assert.equal(steps.length, Math.min(output[0]!.length + 1, 5), "one step per output token, plus the one that wrote <eos>");
    steps.forEach((r, t) => {
      assert.equal(r.call, t);
      assert.deepEqual(r.weights.shape, [1, 2, 1, 4]);
    });
    const self = recordsOf(records, "decoder.layers.0.self_attn");
    self.forEach((r, t) => assert.deepEqual(r.weights.shape, [1, 2, 1, t + 1], `step ${t} sees its ${t + 1} tokens`));
    assert.equal(recordsOf(records, "encoder.layers.0.self_attn").length, 1);
  });
});

describe("captureAttention: other attention modules", () => {
  class Zoo extends Module {
    sa = this.registerModule("sa", new SelfAttention(8, 2));
    mha = this.registerModule("cross", new MultiheadAttention(8, 2, { batchFirst: true }));
    gqa = this.registerModule("gqa", new GroupedQueryAttention(8, 4, 2));
    eff = this.registerModule("eff", new EfficientSelfAttention(8, 2, { kind: "window", window: 1 }));
    gat = this.registerModule("gat", new GATConv(8, 4, { heads: 2 }));
    forward(x: Tensor, mem: Tensor): Tensor[] {
      const a = this.sa.forward(x).output;
      const b = this.mha.forward(a, mem, mem).output;
      const c = this.gqa.forward(b).output;
      const d = this.eff.forward(c).output;
      const edges = tensor([[0, 1, 2], [1, 2, 0]], { dtype: "int32" });
      return [d, this.gat.forward(randn([3, 8]), edges).output];
    }
  }

  test("SelfAttention, cross MultiheadAttention, GQA, an efficient variant and GATConv", () => {
    manualSeed(5);
    const z = new Zoo().eval();
    assert.deepEqual(attentionModules(z).map(([n]) => n), ["sa.attn", "cross", "gqa", "eff", "gat"]);
    const x = randn([2, 4, 8]), mem = randn([2, 6, 8]);
    const { records } = noGrad(() => captureAttention(z, () => z.forward(x, mem)));
    assert.deepEqual(records.map((r) => [r.name, r.kind, r.module, r.weights.shape.join("x")]), [
      ["sa.attn", "self", "MultiheadAttention", "2x2x4x4"],
      ["cross", "cross", "MultiheadAttention", "2x2x4x6"],
      ["gqa", "self", "GroupedQueryAttention", "2x4x4x4"],
      ["eff", "self", "EfficientSelfAttention", "2x2x4x4"],
      ["gat", "graph", "GATConv", "6x2"],
    ]);
    assert.deepEqual(Array.from(records[4]!.edgeIndex!.data), [0, 1, 2, 0, 1, 2, 1, 2, 0, 0, 1, 2]);
    // GQA is causal: query 0 sees only key 0; the window-1 variant sees at most 3 keys
    assert.deepEqual(Array.from(records[2]!.weights.data.slice(0, 4)), [1, 0, 0, 0]);
    const eff = records[3]!.weights.data;
    assert.equal(eff[3], 0, "query 0 does not see key 3 through a window of 1");
    // the callers that asked for no weights still get none; the averaged form is the head mean
    const r = noGrad(() => captureAttention(z, () => z.mha.forward(x, mem, mem)));
    const w = r.records[0]!.weights, avg = r.output.weights!;
    assert.deepEqual(avg.shape, [2, 4, 6]);
    assertClose([avg.data[0]!], [(w.data[0]! + w.data[24]!) / 2], 1e-6);
    const s = noGrad(() => captureAttention(z, () => z.sa.forward(x)));
    assert.equal(s.output.weights, null);
  });

  test("unbatched MultiheadAttention input gains the batch dim", () => {
    manualSeed(2);
    const m = new MultiheadAttention(8, 2);
    const x = randn([5, 8]);
    const { records } = noGrad(() => captureAttention(m, () => m.forward(x, x, x)));
    assert.deepEqual(records[0]!.weights.shape, [1, 2, 5, 5]);
    assert.equal(records[0]!.name, "");
  });
});

describe("attention × gradient", () => {
  test("d sum(c * output) / d weights equals the hand-written gradient dO_h V_h^T", () => {
    manualSeed(9);
    const E = 4, H = 2, D = 2, L = 3;
    const m = new MultiheadAttention(E, H, { batchFirst: true });
    const x = randn([1, L, E]), c = randn([1, L, E]);
    const { records } = captureAttention(m, () => m.forward(x, x, x).output, { gradient: (o) => sum(mul(o, c)) });
    const g = records[0]!.grad!;
    assert.ok(g, "a gradient");
    assert.deepEqual(g.shape, [1, H, L, L]);
    // v = x Wv^T + bv; dL/d(attn out)[l, e] = sum_o c[l, o] Wout[o, e]; dL/dW_h[l, s] = sum_d dA[l, h D + d] v[s, h D + d]
    const W = m.inProjWeight!.data, b = m.inProjBias!.data, Wo = m.outProj.weight.data;
    const v = (s: number, e: number): number => { let a = b[2 * E + e]!; for (let k = 0; k < E; k++) a += x.data[s * E + k]! * W[(2 * E + e) * E + k]!; return a; };
    const dA = (l: number, e: number): number => { let a = 0; for (let o = 0; o < E; o++) a += c.data[l * E + o]! * Wo[o * E + e]!; return a; };
    const want: number[] = [];
    for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) for (let s = 0; s < L; s++) {
      let a = 0;
      for (let d = 0; d < D; d++) a += dA(l, h * D + d) * v(s, h * D + d);
      want.push(a);
    }
    assertClose(g.data, want, 1e-5, 1e-4);
    const axg = attentionTimesGradient(records[0]!);
    assertClose(axg.data, Array.from(records[0]!.weights.data, (w, i) => w * want[i]!), 1e-5, 1e-4);
  });

  test("encoder-decoder: every record gets a gradient of its weights' shape", () => {
    const m = seq2seq();
    const { records } = captureAttention(m, () => m.forward(ids([[3, 4, 5]]), ids([[1, 5]])), { gradient: (o) => sum(o) });
    for (const r of records) {
      assert.ok(r.grad, r.name);
      assert.deepEqual(r.grad.shape, r.weights.shape);
    }
    assert.ok(records.some((r) => r.grad!.data.some((v) => v !== 0)));
  });
});

describe("captureAttention: bad input", () => {
  test("a model without attention modules, a non-module, a bad gradient", () => {
    assert.throws(() => captureAttention(new Linear(2, 2), () => 0),
      (e: unknown) => e instanceof ValueError && e.op === "captureAttention" && e.arg === "model" && /none in Linear/.test(e.message));
    assert.throws(() => captureAttention({} as Module, () => 0), (e: unknown) => e instanceof ValueError && e.arg === "model" && /a Module/.test(e.message));
    const m = new MultiheadAttention(4, 2);
    const x = randn([3, 4]);
    assert.throws(() => captureAttention(m, () => m.forward(x, x, x).output, { gradient: (o) => o }),
      (e: unknown) => e instanceof Error && (e as ValueError).arg === "opts.gradient");
    assert.throws(() => captureAttention(m, () => Promise.resolve(1)), (e: unknown) => e instanceof ValueError && e.arg === "fn");
    assert.equal(Object.hasOwn(m, "forward"), false);
  });
});
