import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/graph.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { DecoderCache } from "../../src/nn/kv-cache.js";
import { LayerNorm } from "../../src/nn/layers.js";
import { TransformerDecoder, TransformerDecoderLayer } from "../../src/nn/transformer-decoder.js";
import { Transformer } from "../../src/nn/transformer-model.js";
import { generateSquareSubsequentMask, TransformerEncoder, TransformerEncoderLayer } from "../../src/nn/transformer.js";
import { concat, reshape, slice, transpose } from "../../src/ops/shape.js";
import { sum } from "../../src/ops/reduce.js";
import { mul } from "../../src/ops/elementwise.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";
import { float64Params } from "./float64-module.js";
import { hostDevice } from "../backend/host-device.js";

// state_dict().keys() of torch.nn.TransformerEncoderLayer / TransformerDecoderLayer
const ENCODER_LAYER_KEYS = [
  "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
  "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
  "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
];
const DECODER_LAYER_KEYS = [
  "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
  "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
  "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
  "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias",
];
// torch.nn.Transformer(num_encoder_layers=2, num_decoder_layers=1)
const TRANSFORMER_KEYS = [
  ...ENCODER_LAYER_KEYS.map((k) => `encoder.layers.0.${k}`),
  ...ENCODER_LAYER_KEYS.map((k) => `encoder.layers.1.${k}`),
  "encoder.norm.weight", "encoder.norm.bias",
  ...DECODER_LAYER_KEYS.map((k) => `decoder.layers.0.${k}`),
  "decoder.norm.weight", "decoder.norm.bias",
];
// torch.nn.TransformerEncoderLayer(bias=False)
const ENCODER_LAYER_NOBIAS_KEYS = ["self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight", "linear2.weight", "norm1.weight", "norm2.weight"];

const g = (): Generator => new Generator(11);

describe("state dicts match torch.nn", () => {
  test("TransformerEncoderLayer / DecoderLayer names and shapes", () => {
    const enc = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, generator: g() });
    assert.deepEqual(Object.keys(enc.stateDict()), ENCODER_LAYER_KEYS);
    const sd = enc.stateDict();
    assert.deepEqual(sd["self_attn.in_proj_weight"]!.shape, [24, 8]);
    assert.deepEqual(sd["linear1.weight"]!.shape, [16, 8]);
    assert.deepEqual(sd["linear2.weight"]!.shape, [8, 16]);
    const dec = new TransformerDecoderLayer(8, 2, { dimFeedforward: 16 });
    assert.deepEqual(Object.keys(dec.stateDict()), DECODER_LAYER_KEYS);
    assert.deepEqual(Object.keys(new TransformerEncoderLayer(8, 2, { dimFeedforward: 4, bias: false }).stateDict()), ENCODER_LAYER_NOBIAS_KEYS);
  });

  test("Transformer names; defaults as torch (dimFeedforward 2048, dropout 0.1, relu, post-norm, sequence-first)", () => {
    const t = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: 4 });
    assert.deepEqual(Object.keys(t.stateDict()), TRANSFORMER_KEYS);
    const l = new TransformerEncoderLayer(8, 2);
    assert.deepEqual(l.options, { dimFeedforward: 2048, dropout: 0.1, activation: "relu", layerNormEps: 1e-5, batchFirst: false, normFirst: false, bias: true, generator: undefined, attention: undefined, maxLen: undefined });
    const d = new Transformer({ numEncoderLayers: 1, numDecoderLayers: 1 });
    assert.equal(d.dModel, 512);
    assert.deepEqual(d.stateDict()["decoder.layers.0.linear1.weight"]!.shape, [2048, 512]);
  });

  test("stacks clone the layer (identical start, separate tensors); Transformer re-initializes each", () => {
    const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, { dimFeedforward: 4 }), 2);
    const a = enc.stateDict(), b = a["layers.0.linear1.weight"]!, c = a["layers.1.linear1.weight"]!;
    assert.notEqual(b, c);
    assertClose(b.data, c.data, 0);
    const t = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: 4 });
    const s = t.stateDict();
    assert.notDeepEqual(Array.from(s["encoder.layers.0.linear1.weight"]!.data), Array.from(s["encoder.layers.1.linear1.weight"]!.data));
    assert.equal(s["encoder.layers.0.linear1.bias"]!.data.length, 4);
  });

  test("a torch-shaped state dict round-trips", () => {
    const a = new TransformerDecoderLayer(8, 2, { dimFeedforward: 4, generator: new Generator(1) });
    const b = new TransformerDecoderLayer(8, 2, { dimFeedforward: 4, generator: new Generator(2) });
    b.loadStateDict(a.stateDict());
    const x = randn([3, 1, 8]), m = randn([4, 1, 8]);
    a.eval(); b.eval();
    assertClose(b.forward(x, m).data, a.forward(x, m).data, 0);
  });
});

describe("layers compute", () => {
  test("generateSquareSubsequentMask: 0 on/below the diagonal, -Infinity above", () => {
    const m = generateSquareSubsequentMask(3);
    assert.equal(m.dtype, "float32");
    assert.deepEqual(Array.from(m.data), [0, -Infinity, -Infinity, 0, 0, -Infinity, 0, 0, 0]);
    assert.deepEqual(Array.from(Transformer.generateSquareSubsequentMask(2).data), [0, -Infinity, 0, 0]);
    assertThrowsMsg(() => generateSquareSubsequentMask(0), ValueError, "generateSquareSubsequentMask: n expected a positive integer, got 0");
  });

  test("batchFirst false equals batchFirst true on transposed inputs; isCausal equals the float causal mask", () => {
    const a = new TransformerEncoderLayer(8, 2, { dimFeedforward: 8, dropout: 0, generator: g() });
    const b = new TransformerEncoderLayer(8, 2, { dimFeedforward: 8, dropout: 0, batchFirst: true });
    b.loadStateDict(a.stateDict());
    const x = randn([5, 2, 8]);
    const ya = a.forward(x, { srcMask: generateSquareSubsequentMask(5) });
    assertClose(transpose(b.forward(transpose(x, 0, 1), { isCausal: true }), 0, 1).data, ya.data, 1e-6);
    const un = a.forward(reshape(slice(x, 1, 1, 2), [5, 8]), { isCausal: true }); // unbatched [L, E]
    assert.deepEqual(un.shape, [5, 8]);
    assertClose(un.data, reshape(slice(ya, 1, 1, 2), [5, 8]).data, 1e-6);
  });

  test("Transformer forward: [T, B, E] out; encode + decode pieces", () => {
    const t = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 2, dimFeedforward: 8, dropout: 0, generator: g() });
    const src = randn([6, 2, 8]), tgt = randn([4, 2, 8]);
    const y = t.forward(src, tgt, { tgtMask: generateSquareSubsequentMask(4) });
    assert.deepEqual(y.shape, [4, 2, 8]);
    assertClose(t.decode(tgt, t.encode(src), { tgtIsCausal: true }).data, y.data, 1e-6);
  });

  test("captured per-head cross-attention [B, H, T, S]: rows sum to 1, padded keys get 0, output unchanged", () => {
    const dec = new TransformerDecoder(new TransformerDecoderLayer(8, 2, { dimFeedforward: 8, dropout: 0, batchFirst: true, generator: g() }), 2);
    const tgt = randn([2, 3, 8]), mem = randn([2, 5, 8]);
    const kpm = new Tensor(Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), [2, 5], "bool");
    const plain = dec.forward(tgt, mem, { memoryKeyPaddingMask: kpm, tgtIsCausal: true });
    assert.deepEqual(dec.crossAttentionWeights(), [null, null]);
    dec.setCaptureAttention(true);
    const y = dec.forward(tgt, mem, { memoryKeyPaddingMask: kpm, tgtIsCausal: true });
    assertClose(y.data, plain.data, 1e-6);
    const ws = dec.crossAttentionWeights();
    assert.equal(ws.length, 2);
    for (const w of ws) {
      assert.deepEqual(w!.shape, [2, 2, 3, 5]);
      for (let r = 0; r < 12; r++) assert.ok(Math.abs(Array.from(w!.data.slice(r * 5, r * 5 + 5)).reduce((a, b) => a + b, 0) - 1) < 1e-5);
      for (let r = 0; r < 6; r++) assert.equal(w!.data[r * 5 + 4], 0); // batch 0, key 4 padded
    }
    assert.deepEqual(dec.selfAttentionWeights()[0]!.shape, [2, 2, 3, 3]);
    const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, { dimFeedforward: 8 }), 1).setCaptureAttention(true);
    enc.forward(randn([4, 1, 8]));
    assert.deepEqual(enc.attentionWeights()[0]!.shape, [1, 2, 4, 4]);
  });
});

describe("incremental decoding with a DecoderCache equals one causal pass", () => {
  for (const normFirst of [false, true]) {
    for (const batchFirst of [true, false]) {
      test(`${normFirst ? "pre" : "post"}-norm, batchFirst ${batchFirst}`, () => {
        const layer = new TransformerDecoderLayer(8, 2, { dimFeedforward: 12, dropout: 0, activation: "gelu", normFirst, batchFirst, generator: g() });
        const dec = new TransformerDecoder(layer, 2, { norm: new LayerNorm(8) });
        const tgt = randn(batchFirst ? [2, 5, 8] : [5, 2, 8]), mem = randn(batchFirst ? [2, 4, 8] : [4, 2, 8]);
        const tdim = batchFirst ? 1 : 0;
        const mkpm = new Tensor(Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 0]), [2, 4], "bool");
        dec.setCaptureAttention(true);
        const full = noGrad(() => dec.forward(tgt, mem, { tgtMask: generateSquareSubsequentMask(5), memoryKeyPaddingMask: mkpm }));
        const fullCross = dec.crossAttentionWeights()[1]!; // [B, H, T, S]
        const cache = dec.createCache();
        const steps: Tensor[] = [];
        for (let t = 0; t < 5; t++) {
          steps.push(noGrad(() => dec.forward(slice(tgt, tdim, t, t + 1), mem, { cache, memoryKeyPaddingMask: mkpm })));
          const w = dec.crossAttentionWeights()[1]!; // [B, H, 1, S]
          for (let bh = 0; bh < 4; bh++) assertClose(w.data.slice(bh * 4, bh * 4 + 4), fullCross.data.slice((bh * 5 + t) * 4, (bh * 5 + t) * 4 + 4), 1e-5);
        }
        assert.equal(cache.length, 5);
        assertClose(concat(steps, tdim).data, full.data, 1e-5);
        // a prefill chunk, then one token
        cache.reset();
        const a = dec.forward(slice(tgt, tdim, 0, 3), mem, { cache, memoryKeyPaddingMask: mkpm });
        const b = dec.forward(slice(tgt, tdim, 3, 5), mem, { cache, memoryKeyPaddingMask: mkpm });
        assertClose(concat([a, b], tdim).data, full.data, 1e-5);
      });
    }
  }

  test("Transformer.decode with a cache", () => {
    const t = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 2, dimFeedforward: 8, dropout: 0, batchFirst: true, generator: g() });
    const src = randn([1, 4, 8]), tgt = randn([1, 3, 8]);
    const full = t.forward(src, tgt, { tgtIsCausal: true });
    const memory = t.encode(src);
    const cache = t.decoder.createCache();
    const ys = [0, 1, 2].map((i) => t.decode(slice(tgt, 1, i, i + 1), memory, { cache }));
    assertClose(concat(ys, 1).data, full.data, 1e-5);
  });
});

describe("pre-norm stacks join each layer's last residual add with the norm after it", () => {
  /** The stack's output and its input's and parameters' gradients, layer by layer (each layer's forward, then the final norm) or as the stack runs. */
  function run(stack: TransformerEncoder | TransformerDecoder, x: Tensor, mem: Tensor, byLayer: boolean): number[][] {
    for (const p of stack.parameters()) p.grad = null;
    const xi = x.detach().requiresGrad_();
    let y: Tensor;
    if (!byLayer) y = stack instanceof TransformerEncoder ? stack.forward(xi) : stack.forward(xi, mem, { tgtIsCausal: true, tgtMask: generateSquareSubsequentMask(x.shape[1]!) });
    else {
      y = xi;
      for (const l of stack.layers.items) y = l instanceof TransformerEncoderLayer ? l.forward(y) : (l as TransformerDecoderLayer).forward(y, mem, { tgtMask: generateSquareSubsequentMask(x.shape[1]!) });
      if (stack.norm) y = stack.norm.forward(y);
    }
    backward(sum(mul(y, y)));
    return [[...y.data], [...xi.grad!.data], ...stack.parameters().map((p) => [...p.grad!.data])];
  }

  for (const kind of ["encoder", "decoder"] as const) {
    for (const withNorm of [true, false]) {
      test(`${kind}, 3 layers, ${withNorm ? "a final norm" : "no final norm"}: the bits of layer by layer, forward and backward; one norm kernel fewer per layer on a device with AddLayerNorm`, () => {
        const o = { dimFeedforward: 12, dropout: 0, normFirst: true, batchFirst: true, generator: g() };
        const stack = kind === "encoder" ? new TransformerEncoder(new TransformerEncoderLayer(8, 2, o), 3, { norm: withNorm ? new LayerNorm(8) : null })
          : new TransformerDecoder(new TransformerDecoderLayer(8, 2, o), 3, { norm: withNorm ? new LayerNorm(8) : null });
        const x = randn([2, 5, 8], { generator: g() }), mem = randn([2, 4, 8], { generator: g() });
        assert.deepEqual(run(stack, x, mem, false), run(stack, x, mem, true));
        // on the host-memory device (which has AddLayerNorm): the joined adds counted
        const dev = hostDevice();
        const calls = { addLayerNorm: 0, layerNorm: 0 };
        const be = dev as unknown as Record<string, (...a: unknown[]) => unknown>;
        for (const k of ["addLayerNorm", "layerNorm"] as const) {
          const f = be[k]!.bind(dev);
          be[k] = (...a: unknown[]) => { calls[k]++; return f(...a); };
        }
        const host = getBackend();
        registerBackend(dev);
        setBackend(dev.name);
        try {
          stack.toDevice(dev);
          noGrad(() => (stack instanceof TransformerEncoder ? stack.forward(toDevice(x, dev)) : stack.forward(toDevice(x, dev), toDevice(mem, dev))));
        } finally {
          setBackend(host.name);
        }
        // per layer: norm1 of the first layer only, then an add joined with each norm after it (the next layer's norm1, the final norm)
        const perLayer = kind === "encoder" ? 1 : 2;
        assert.deepEqual(calls, withNorm ? { layerNorm: 1, addLayerNorm: 3 * perLayer + 3 } : { layerNorm: 1, addLayerNorm: 3 * perLayer + 2 });
      });
    }
  }

  test("a layer whose forward is replaced (as interpret's capture does) runs the plain path: its forward is called", () => {
    const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, { dimFeedforward: 12, dropout: 0, normFirst: true, batchFirst: true, generator: g() }), 2, { norm: new LayerNorm(8) });
    const x = randn([1, 3, 8], { generator: g() });
    const want = noGrad(() => enc.forward(x));
    let called = 0;
    const l = enc.layers.items[1]!, orig = l.forward.bind(l);
    Object.defineProperty(l, "forward", { value: (...a: Parameters<typeof l.forward>) => { called++; return orig(...a); }, configurable: true });
    const got = noGrad(() => enc.forward(x));
    assert.equal(called, 1);
    assert.deepEqual([...got.data], [...want.data]);
  });
});

describe("gradcheck (float64, tiny)", () => {
  test("TransformerEncoderLayer, post-norm gelu, float causal mask + padding mask", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, activation: "gelu", batchFirst: true, generator: g() });
    const params = float64Params(layer);
    const x = r64([2, 3, 4]);
    const mask = generateSquareSubsequentMask(3, { dtype: "float64" });
    const kpm = new Tensor(Uint8Array.from([0, 0, 0, 0, 0, 1]), [2, 3], "bool");
    assertGrad((xx) => layer.forward(xx, { srcMask: mask, srcKeyPaddingMask: kpm }), [x, ...params]);
  });

  test("TransformerDecoderLayer, pre-norm relu, with memory", () => {
    const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, normFirst: true, generator: g() });
    const params = float64Params(layer);
    const x = r64([3, 1, 4]), mem = r64([2, 1, 4]);
    assertGrad((xx, mm) => layer.forward(xx, mm!, { tgtIsCausal: true }), [x, mem, ...params]);
  });

  test("gradients flow to a float mask", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0 });
    const params = float64Params(layer);
    const mask = r64([3, 3], 0.5);
    assertGrad((m) => layer.forward(randnFixed, { srcMask: m }), [mask, ...params.slice(0, 2)]);
  });
});

const randnFixed = randn([3, 1, 4], { dtype: "float64", generator: new Generator(4) });

describe("errors", () => {
  test("constructor options", () => {
    assertThrowsMsg(() => new TransformerEncoderLayer(10, 3), ValueError, "TransformerEncoderLayer: dModel expected a multiple of nhead (3), got 10");
    assertThrowsMsg(() => new TransformerDecoderLayer(8, 0), ValueError, "TransformerDecoderLayer: nhead expected a positive integer, got 0");
    // @ts-expect-error not an activation
    assertThrowsMsg(() => new TransformerEncoderLayer(8, 2, { activation: "tanh" }), ValueError, 'TransformerEncoderLayer: activation expected "relu", "gelu" or a function, got "tanh"');
    assertThrowsMsg(() => new TransformerEncoderLayer(8, 2, { dropout: 1 }), ValueError, "TransformerEncoderLayer: dropout expected a probability in [0, 1), got 1");
    assertThrowsMsg(() => new TransformerEncoderLayer(8, 2, { dimFeedforward: 0 }), ValueError, "TransformerEncoderLayer: dimFeedforward expected a positive integer, got 0");
    assertThrowsMsg(() => new TransformerEncoder(new TransformerEncoderLayer(8, 2, { dimFeedforward: 4 }), 0), ValueError, "TransformerEncoder: numLayers expected a positive integer, got 0");
    assertThrowsMsg(() => new Transformer({ dModel: 8, nhead: 2, numDecoderLayers: 0 }), ValueError, "Transformer: numDecoderLayers expected a positive integer, got 0");
  });

  test("input and mask shapes", () => {
    const enc = new TransformerEncoderLayer(8, 2, { dimFeedforward: 4, batchFirst: true });
    const x = randn([2, 4, 8]);
    assertThrowsMsg(() => enc.forward(randn([2, 4, 6])), ShapeError, "TransformerEncoderLayer.forward: src expected [B, L, 8] or unbatched [L, 8], got [2, 4, 6]");
    assertThrowsMsg(() => enc.forward(x, { srcMask: generateSquareSubsequentMask(3) }), ShapeError,
      "TransformerEncoderLayer.forward: srcMask expected [L, S] = [4, 4] or [B * nhead, L, S] = [4, 4, 4], got [3, 3]");
    assertThrowsMsg(() => enc.forward(x, { srcKeyPaddingMask: new Tensor(new Uint8Array(4), [4], "bool") }), ShapeError,
      "TransformerEncoderLayer.forward: srcKeyPaddingMask expected [B, S] = [2, 4], got [4]");
    const dec = new TransformerDecoderLayer(8, 2, { dimFeedforward: 4 });
    const tgt = randn([3, 2, 8]);
    assertThrowsMsg(() => dec.forward(tgt, randn([5, 3, 8])), ShapeError, "TransformerDecoderLayer.forward: memory expected [S, 2, 8], got [5, 3, 8]");
    assertThrowsMsg(() => dec.forward(tgt, randn([5, 8])), ShapeError, "TransformerDecoderLayer.forward: memory expected [S, 2, 8], got [5, 8]");
    assertThrowsMsg(() => dec.forward(tgt, randn([5, 2, 8]), { memoryMask: randn([3, 4]) }), ShapeError,
      "TransformerDecoderLayer.forward: memoryMask expected [L, S] = [3, 5] or [B * nhead, L, S] = [4, 3, 5], got [3, 4]");
    assertThrowsMsg(() => dec.forward(tgt, randn([5, 2, 8]), { memoryKeyPaddingMask: new Tensor(new Uint8Array(6), [2, 3], "bool") }), ShapeError,
      "TransformerDecoderLayer.forward: memoryKeyPaddingMask expected [B, S] = [2, 5], got [2, 3]");
    const stack = new TransformerDecoder(dec, 2);
    assertThrowsMsg(() => stack.forward(tgt, randn([5, 2, 8]), { cache: new DecoderCache(3) }), ValueError,
      "TransformerDecoder.forward: cache expected a DecoderCache of 2 layers, got 3 layers");
    const t = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 4 });
    assertThrowsMsg(() => t.forward(randn([4, 2, 8]), randn([3, 3, 8])), ShapeError, "Transformer.forward: tgt expected batch 2 on dim 1 (the batch of src), got [3, 3, 8]");
    assertThrowsMsg(() => t.forward(randn([4, 2, 6]), randn([3, 2, 6])), ShapeError, "Transformer.forward: src expected last dim 8 (dModel), got [4, 2, 6]");
  });

  test("a sum over the outputs back-propagates into every parameter", () => {
    const t = new Transformer({ dModel: 4, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 4, dropout: 0 });
    sum(t.forward(randn([3, 1, 4]), randn([2, 1, 4]))).backward();
    for (const [n, p] of t.namedParameters()) assert.ok(p.grad, `${n} has no grad`);
  });
});
