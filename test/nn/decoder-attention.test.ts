/** The attention option in decoder layers: causal efficient self-attention, cached decoding, errors. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/graph.js";
import type { AttentionSpec } from "../../src/attention/select.js";
import { LayerNorm } from "../../src/nn/layers.js";
import { TransformerDecoder, TransformerDecoderLayer } from "../../src/nn/transformer-decoder.js";
import { Transformer } from "../../src/nn/transformer-model.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { concat, slice } from "../../src/ops/shape.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";
import { float64Params } from "./float64-module.js";

let seed = 20;
const g = (): Generator => new Generator(seed++);

function boolMask(T: number, allowed: (i: number, j: number) => boolean): Tensor {
  return tensor(Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => !allowed(i, j))), { dtype: "bool" });
}

describe("decoder self-attention with an efficient kind is causal and exact", () => {
  for (const normFirst of [false, true]) {
    test(`window w=2 == full attention with the causal-window mask, outputs and gradients (${normFirst ? "pre" : "post"}-norm)`, () => {
      const opts = { dimFeedforward: 12, dropout: 0, batchFirst: true, normFirst };
      const win = new TransformerDecoderLayer(8, 2, { ...opts, attention: { kind: "window", window: 2 }, generator: g() });
      const full = new TransformerDecoderLayer(8, 2, opts);
      full.loadStateDict(win.stateDict());
      assert.deepEqual(win.selfAttn.attention, { kind: "window", window: 2, causal: true });
      assert.equal(win.multiheadAttn.attention.kind, "full");
      const tgt = randn([2, 9, 8], { generator: g(), requiresGrad: true }), mem = randn([2, 5, 8], { generator: g(), requiresGrad: true });
      const cot = randn([2, 9, 8], { generator: g() });
      const run = (f: () => Tensor): { out: Tensor; grads: Tensor[] } => {
        for (const t of [tgt, mem, ...win.parameters(), ...full.parameters()]) t.grad = null;
        const out = f();
        backward(sum(mul(out, cot)));
        return { out, grads: [tgt.grad!, mem.grad!] };
      };
      const a = run(() => win.forward(tgt, mem));
      const aParams = win.parameters().map((p) => Float32Array.from(p.grad!.data));
      const b = run(() => full.forward(tgt, mem, { tgtMask: boolMask(9, (i, j) => j <= i && i - j <= 2) }));
      assertClose(a.out.data, b.out.data, 1e-5);
      a.grads.forEach((x, i) => assertClose(x.data, b.grads[i]!.data, 1e-5));
      full.parameters().forEach((p, i) => assertClose(aParams[i]!, p.grad!.data, 1e-5));
      // the symmetric window would differ: the layer really is causal
      const sym = run(() => full.forward(tgt, mem, { tgtMask: boolMask(9, (i, j) => Math.abs(i - j) <= 2) }));
      assert.ok(a.out.data.some((x, i) => Math.abs(x - sym.out.data[i]!) > 1e-3));
    });
  }

  const causalKinds: [AttentionSpec, (i: number, j: number) => boolean][] = [
    [{ kind: "dilated", window: 2, dilation: 2 }, (i, j) => j <= i && (i - j) % 2 === 0 && i - j <= 4],
    [{ kind: "longformer", window: 1, numGlobal: 2 }, (i, j) => j <= i && (i - j <= 1 || i < 2 || j < 2)],
    [{ kind: "block", layout: tensor([[true, false, false], [true, true, false], [false, true, true]], { dtype: "bool" }), blockSize: 3 },
      (i, j) => j <= i && Math.floor(i / 3) - Math.floor(j / 3) <= 1 && !(Math.floor(i / 3) === 2 && Math.floor(j / 3) === 0)],
  ];
  for (const [spec, allowed] of causalKinds) {
    test(`${spec.kind} == full attention with its causal mask`, () => {
      const opts = { dimFeedforward: 12, dropout: 0, batchFirst: true };
      const eff = new TransformerDecoderLayer(8, 2, { ...opts, attention: spec, generator: g() });
      const full = new TransformerDecoderLayer(8, 2, opts);
      full.loadStateDict(eff.stateDict());
      const tgt = randn([2, 9, 8], { generator: g() }), mem = randn([2, 4, 8], { generator: g() });
      assertClose(eff.forward(tgt, mem).data, full.forward(tgt, mem, { tgtMask: boolMask(9, allowed) }).data, 1e-5);
    });
  }

  test("linear and performer: an output never depends on later tokens", () => {
    for (const spec of [{ kind: "linear" }, { kind: "performer", features: 16, seed: 2 }] as AttentionSpec[]) {
      const layer = new TransformerDecoderLayer(8, 2, { dimFeedforward: 12, dropout: 0, batchFirst: true, attention: spec, generator: g() });
      const tgt = randn([1, 6, 8], { generator: g() }), mem = randn([1, 3, 8], { generator: g() });
      const a = layer.forward(tgt, mem);
      const changed = concat([slice(tgt, 1, 0, 4), randn([1, 2, 8], { generator: g() })], 1);
      const b = layer.forward(changed, mem);
      assertClose(a.data.slice(0, 4 * 8), b.data.slice(0, 4 * 8), 1e-6);
      assert.ok(a.data.slice(4 * 8).some((x, i) => Math.abs(x - b.data[4 * 8 + i]!) > 1e-3), `${spec.kind}: later rows unchanged`);
    }
  });

  test("gradcheck: decoder layer with a causal window (float64)", () => {
    const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, attention: { kind: "window", window: 1 }, generator: g() });
    const params = float64Params(layer);
    const x = r64([4, 1, 4]), mem = r64([2, 1, 4]);
    assertGrad((xx, mm) => layer.forward(xx, mm!), [x, mem, ...params]);
  });
});

describe("cached decoding with an efficient kind equals the causal pass", () => {
  const specs: AttentionSpec[] = [
    { kind: "window", window: 2 },
    { kind: "dilated", window: 2, dilation: 2 },
    { kind: "longformer", window: 1, numGlobal: 2 },
    { kind: "bigbird", window: 1, numGlobal: 1, numRandom: 1, blockSize: 2, seed: 3 },
  ];
  for (const spec of specs) {
    for (const batchFirst of [true, false]) {
      test(`${spec.kind}, batchFirst ${batchFirst}`, () => {
        const layer = new TransformerDecoderLayer(8, 2, { dimFeedforward: 12, dropout: 0, activation: "gelu", batchFirst, attention: spec, generator: g() });
        const dec = new TransformerDecoder(layer, 2, { norm: new LayerNorm(8) });
        const T = 9, tdim = batchFirst ? 1 : 0;
        const tgt = randn(batchFirst ? [2, T, 8] : [T, 2, 8], { generator: g() }), mem = randn(batchFirst ? [2, 4, 8] : [4, 2, 8], { generator: g() });
        const full = noGrad(() => dec.forward(tgt, mem));
        const cache = dec.createCache();
        const steps: Tensor[] = [];
        for (let t = 0; t < T; t++) steps.push(noGrad(() => dec.forward(slice(tgt, tdim, t, t + 1), mem, { cache })));
        assert.equal(cache.length, T);
        assertClose(concat(steps, tdim).data, full.data, 1e-5);
        // a prefill chunk, then chunks of 3 and 2
        cache.reset();
        const parts = [[0, 4], [4, 7], [7, 9]].map(([a, b]) => dec.forward(slice(tgt, tdim, a!, b!), mem, { cache }));
        assertClose(concat(parts, tdim).data, full.data, 1e-5);
        // and the cache really is needed: without it a single token sees only itself
        assert.ok(steps[T - 1]!.data.some((x, i) => Math.abs(x - noGrad(() => dec.forward(slice(tgt, tdim, T - 1, T), mem)).data[i]!) > 1e-3));
      });
    }
  }

  test("Transformer: attention for the encoder, the causal form in the decoder, decode with a cache", () => {
    const t = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 2, dimFeedforward: 8, dropout: 0, batchFirst: true,
      attention: { kind: "window", window: 1 }, generator: g() });
    assert.deepEqual(t.encoder.layers.at(0).selfAttn.attention, { kind: "window", window: 1 });
    assert.deepEqual(t.decoder.layers.at(1).selfAttn.attention, { kind: "window", window: 1, causal: true });
    const src = randn([1, 5, 8], { generator: g() }), tgt = randn([1, 4, 8], { generator: g() });
    const full = t.forward(src, tgt);
    const memory = t.encode(src);
    const cache = t.decoder.createCache();
    const ys = [0, 1, 2, 3].map((i) => t.decode(slice(tgt, 1, i, i + 1), memory, { cache }));
    assertClose(concat(ys, 1).data, full.data, 1e-5);
    // a kind without a causal form in the encoder only
    const lin = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 8, dropout: 0,
      attention: { kind: "linformer", k: 2 }, maxLen: 6, decoderAttention: { kind: "full" } });
    assert.equal(lin.encoder.layers.at(0).selfAttn.attention.kind, "linformer");
    assert.equal(lin.decoder.layers.at(0).selfAttn.attention.kind, "full");
  });
});

describe("decoder attention errors", () => {
  test("kinds without a causal form, masks, caches the kind cannot use", () => {
    const causalList = "full | window | dilated | longformer | bigbird | block | linear | performer";
    assertThrowsMsg(() => new TransformerDecoderLayer(8, 2, { attention: { kind: "linformer", k: 2 }, maxLen: 8 }), ValueError,
      `TransformerDecoderLayer: attention expected an attention kind with a causal form (${causalList}), got "linformer"`);
    assertThrowsMsg(() => new TransformerDecoderLayer(8, 2, { attention: { kind: "nystrom", landmarks: 2 } }), ValueError, 'got "nystrom"');
    assertThrowsMsg(() => new Transformer({ dModel: 8, nhead: 2, attention: { kind: "nystrom", landmarks: 2 } }), ValueError,
      "TransformerDecoderLayer: attention expected an attention kind with a causal form");
    assertThrowsMsg(() => new TransformerDecoderLayer(8, 2, { attention: { kind: "block", layout: tensor([[true, true], [true, true]], { dtype: "bool" }), blockSize: 2 } }),
      ValueError, "TransformerDecoderLayer: attention.layout expected a lower-triangular block layout for causal attention (no block c > r), got block (0, 1) set");
    const layer = new TransformerDecoderLayer(8, 2, { dimFeedforward: 8, dropout: 0, batchFirst: true, attention: { kind: "window", window: 1 } });
    const x = randn([1, 3, 8]), mem = randn([1, 2, 8]);
    assertThrowsMsg(() => layer.forward(x, mem, { tgtMask: boolMask(3, (i, j) => j <= i) }), ValueError,
      'TransformerDecoderLayer.forward: tgtMask expected none with attention kind "window" (its self-attention is causal by construction), got a mask');
    assertThrowsMsg(() => layer.forward(x, mem, { tgtKeyPaddingMask: tensor([[false, false, true]], { dtype: "bool" }) }), ValueError,
      'TransformerDecoderLayer.forward: tgtKeyPaddingMask expected none with attention kind "window"');
    const lin = new TransformerDecoder(new TransformerDecoderLayer(8, 2, { dimFeedforward: 8, dropout: 0, batchFirst: true, attention: { kind: "linear" } }), 1);
    assertThrowsMsg(() => lin.forward(x, mem, { cache: lin.createCache() }), ValueError,
      'TransformerDecoderLayer.forward: cache expected none with attention kind "linear" (cached decoding: full | window | dilated | longformer | bigbird), got a KVCache');
  });
});
