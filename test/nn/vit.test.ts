/**
 * Vision Transformer and its hybrid: the patch embedding against a loop over the patches, the
 * attention and block against torch-named MultiheadAttention / a pre-norm TransformerEncoderLayer
 * with the same weights, timm's parameter names, state sizes, 2-D sine-cosine positions, shapes,
 * a gradient check of the whole model in float64, attention capture, a tiny overfit, bad configs.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/graph.js";
import { captureAttention } from "../../src/interpret/capture.js";
import { ConvStem } from "../../src/nn/hybrid.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { TransformerEncoderLayer } from "../../src/nn/transformer.js";
import {
  PatchEmbedding, ViTAttention, ViTBlock, VisionTransformer, resolveViTConfig, sincos2dPositionalEncoding, vitStateSize, type ViTConfig,
} from "../../src/nn/vit.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { argmax, sum } from "../../src/ops/reduce.js";
import { AdamW } from "../../src/optim/adam.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg } from "../helpers.js";
import { float64Params } from "./float64-module.js";

const tiny: ViTConfig = { imageSize: 8, patchSize: 4, inChannels: 2, numClasses: 3, dim: 8, depth: 2, heads: 2 };

describe("PatchEmbedding", () => {
  test("equals the projection of each flattened patch, row by row", () => {
    manualSeed(1);
    const pe = new PatchEmbedding(2, 5, 3);
    const x = randn([2, 2, 6, 9]);
    const y = noGrad(() => pe.forward(x)); // [2, 6, 5]
    assert.deepEqual(y.shape, [2, 6, 5]);
    const w = pe.proj.weight.data, b = pe.proj.bias!.data;
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let o = 0; o < 5; o++) {
      let s = b[o]!;
      for (let c = 0; c < 2; c++) for (let u = 0; u < 3; u++) for (let v = 0; v < 3; v++) {
        s += w[((o * 2 + c) * 3 + u) * 3 + v]! * x.data[((n * 2 + c) * 6 + i * 3 + u) * 9 + j * 3 + v]!;
      }
      want.push(s);
    }
    assertClose(y.data, want, 1e-5);
    assert.deepEqual(Object.keys(pe.stateDict()), ["proj.weight", "proj.bias"]);
  });
  test("an image whose sides are not multiples of the patch is a ShapeError", () => {
    const pe = new PatchEmbedding(1, 4, 4);
    assertThrowsMsg(() => pe.forward(randn([1, 1, 10, 8])), ShapeError, "PatchEmbedding.forward: x expected [B, 1, H, W] with H and W positive multiples of the patch size 4, got [1, 1, 10, 8]");
    assertThrowsMsg(() => pe.forward(randn([1, 3, 8, 8])), ShapeError, "got [1, 3, 8, 8]");
  });
});

describe("ViTAttention and ViTBlock", () => {
  test("attention equals MultiheadAttention with qkv as in_proj and proj as out_proj", () => {
    manualSeed(2);
    const a = new ViTAttention(12, 3);
    const mha = new MultiheadAttention(12, 3, { batchFirst: true });
    mha.loadStateDict({
      in_proj_weight: a.qkv.weight, in_proj_bias: a.qkv.bias!, "out_proj.weight": a.proj.weight, "out_proj.bias": a.proj.bias!,
    });
    const x = randn([2, 7, 12]);
    const got = noGrad(() => a.forward(x, { needWeights: true }));
    const want = noGrad(() => mha.forward(x, x, x, { needWeights: true, averageAttnWeights: false }));
    assertClose(got.output.data, want.output.data, 1e-5);
    assertClose(got.weights!.data, want.weights!.data, 1e-6);
    // the fused path (no weights) gives the same output
    assertClose(noGrad(() => a.forward(x)).output.data, want.output.data, 1e-5);
  });
  test("a block equals a pre-norm GELU TransformerEncoderLayer with the same weights", () => {
    manualSeed(3);
    const blk = new ViTBlock(8, 2, 20);
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 20, dropout: 0, activation: "gelu", layerNormEps: 1e-6, batchFirst: true, normFirst: true });
    const s = blk.stateDict();
    layer.loadStateDict({
      "self_attn.in_proj_weight": s["attn.qkv.weight"]!, "self_attn.in_proj_bias": s["attn.qkv.bias"]!,
      "self_attn.out_proj.weight": s["attn.proj.weight"]!, "self_attn.out_proj.bias": s["attn.proj.bias"]!,
      "linear1.weight": s["mlp.fc1.weight"]!, "linear1.bias": s["mlp.fc1.bias"]!, "linear2.weight": s["mlp.fc2.weight"]!, "linear2.bias": s["mlp.fc2.bias"]!,
      "norm1.weight": s["norm1.weight"]!, "norm1.bias": s["norm1.bias"]!, "norm2.weight": s["norm2.weight"]!, "norm2.bias": s["norm2.bias"]!,
    });
    // non-trivial norms
    for (const t of [layer.norm1.weight!, layer.norm2.bias!]) t.data.forEach((_, i, d) => { d[i] = 0.5 + 0.1 * i; });
    blk.norm1.weight!.data.set(layer.norm1.weight!.data);
    blk.norm2.bias!.data.set(layer.norm2.bias!.data);
    const x = randn([3, 5, 8]);
    assertClose(noGrad(() => blk.forward(x)).data, noGrad(() => layer.forward(x)).data, 1e-5);
  });
});

describe("VisionTransformer", () => {
  test("timm's parameter names, in PyTorch's order (own parameters, then children); the state size without building the model", () => {
    manualSeed(4);
    const m = new VisionTransformer({ ...tiny, depth: 1 });
    assert.deepEqual(Object.keys(m.stateDict()), [
      "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
      "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
      "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
      "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias",
      "norm.weight", "norm.bias", "head.weight", "head.bias",
    ]);
    const sd = m.stateDict();
    assert.deepEqual(sd.pos_embed!.shape, [1, 5, 8]);
    assert.deepEqual(sd["blocks.0.attn.qkv.weight"]!.shape, [24, 8]);
    assert.deepEqual(sd["blocks.0.mlp.fc1.weight"]!.shape, [32, 8]);
    // mean pooling and fixed positions: neither cls_token nor pos_embed
    const keys = Object.keys(new VisionTransformer({ ...tiny, pooling: "mean", positions: "sincos2d" }).stateDict());
    assert.ok(!keys.includes("cls_token") && !keys.includes("pos_embed"), keys.join(", "));
    const configs: ViTConfig[] = [tiny, { ...tiny, pooling: "mean", positions: "sincos2d", mlpRatio: 2.5 }, { ...tiny, stem: [4, 6], dim: 12 }, { ...tiny, stem: [3] , patchSize: 2 }];
    for (const c of configs) {
      const n = Object.values(new VisionTransformer(c).stateDict()).reduce((a, t) => a + t.size, 0);
      assert.equal(vitStateSize(c), n, JSON.stringify(c));
    }
  });
  test("Linear weights are Xavier-uniform (they scale with the width), biases zero", () => {
    manualSeed(11);
    const m = new VisionTransformer({ ...tiny, dim: 64, heads: 4, depth: 2 });
    for (const [name, fi, fo] of [["blocks.0.attn.qkv", 64, 192], ["blocks.1.mlp.fc1", 64, 256], ["head", 64, 3]] as const) {
      const w = Array.from(m.stateDict()[`${name}.weight`]!.data, Number), bound = Math.sqrt(6 / (fi + fo));
      const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
      assert.ok(w.every((v) => Math.abs(v) <= bound), name);
      assert.ok(Math.abs(std - bound / Math.sqrt(3)) < 0.1 * bound, `${name}: std ${std}, bound ${bound}`);
      assert.ok(m.stateDict()[`${name}.bias`]!.data.every((v) => v === 0), name);
    }
  });
  test("hybrid: a CNN stem (conv, BN, ReLU, max-pool per stage) feeds the encoder", () => {
    manualSeed(5);
    const m = new VisionTransformer({ ...tiny, stem: [4, 6] });
    const keys = Object.keys(m.stateDict());
    for (const k of ["patch_embed.backbone.0.conv.weight", "patch_embed.backbone.0.bn.running_mean", "patch_embed.backbone.1.bn.weight", "patch_embed.proj.weight"]) {
      assert.ok(keys.includes(k), k);
    }
    assert.ok(!keys.includes("patch_embed.backbone.0.conv.bias"));
    assert.deepEqual(new ConvStem(2, [4, 6], 8).forward(randn([3, 2, 8, 12])).shape, [3, 6, 8]);
    const x = randn([3, 2, 8, 8]);
    assert.deepEqual(m.forward(x).shape, [3, 3]);
    // training mode updates the batch-norm buffers; eval mode uses them
    assert.notDeepEqual(Array.from(m.stateDict()["patch_embed.backbone.0.bn.running_mean"]!.data), [0, 0, 0, 0]);
    m.eval();
    const a = noGrad(() => m.forward(x)).data, b = noGrad(() => m.forward(x)).data;
    assert.deepEqual(a, b);
  });
  test("shapes for every pooling and position kind; non-square images", () => {
    manualSeed(6);
    for (const pooling of ["cls", "mean"] as const) for (const positions of ["learned", "sincos2d"] as const) {
      const m = new VisionTransformer({ ...tiny, imageSize: [8, 12], pooling, positions });
      const x = randn([2, 2, 8, 12]);
      assert.deepEqual(m.forward(x).shape, [2, 3]);
      assert.deepEqual(m.features(x).shape, [2, pooling === "cls" ? 7 : 6, 8]);
    }
  });
  test("2-D sine-cosine positions: column in the first half, row in the second", () => {
    const pe = sincos2dPositionalEncoding(3, 4, 8); // q = 2: omega = 1, 1/100
    assert.deepEqual(pe.shape, [12, 8]);
    const at = (i: number, j: number): number[] => Array.from(pe.data.subarray((i * 4 + j) * 8, (i * 4 + j + 1) * 8));
    assertClose(at(1, 2), [Math.sin(2), Math.sin(0.02), Math.cos(2), Math.cos(0.02), Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01)], 1e-6);
    assertClose(at(0, 0), [0, 0, 1, 1, 0, 0, 1, 1], 0);
    // the class token gets no position
    const m = new VisionTransformer({ ...tiny, positions: "sincos2d" });
    assertClose(m.posEmbed.data.subarray(0, 8), new Array<number>(8).fill(0), 0);
    assertClose(m.posEmbed.data.subarray(8), sincos2dPositionalEncoding(2, 2, 8).data, 0);
  });
  test("gradient check of the whole model in float64 (class token and learned positions; mean pooling and fixed positions)", () => {
    for (const c of [{ pooling: "cls", positions: "learned" }, { pooling: "mean", positions: "sincos2d" }] as const) {
      manualSeed(7);
      const m = new VisionTransformer({ imageSize: 4, patchSize: 2, inChannels: 1, numClasses: 3, dim: 4, depth: 1, heads: 2, mlpRatio: 2, ...c });
      const params = float64Params(m);
      const x = new Tensor(Float64Array.from(randn([2, 1, 4, 4]).data), [2, 1, 4, 4], "float64").requiresGrad_(true);
      assertGrad((xx) => m.forward(xx), [x, ...params]);
    }
  });
  test("every parameter gets a gradient", () => {
    manualSeed(8);
    const m = new VisionTransformer({ ...tiny, stem: [4, 6] });
    backward(sum(m.forward(randn([2, 2, 8, 8]))));
    for (const [name, p] of m.namedParameters()) assert.ok(p.grad && p.grad.data.some((v) => v !== 0), name);
  });
  test("captureAttention records every block's attention per head; the output is unchanged", () => {
    manualSeed(9);
    const m = new VisionTransformer(tiny);
    m.eval();
    const x = randn([2, 2, 8, 8]);
    const plain = noGrad(() => m.forward(x));
    const { output, records } = noGrad(() => captureAttention(m, () => m.forward(x)));
    assert.deepEqual(records.map((r) => `${r.name} ${r.kind} ${r.module} [${r.weights.shape.join(", ")}]`),
      ["blocks.0.attn self ViTAttention [2, 2, 5, 5]", "blocks.1.attn self ViTAttention [2, 2, 5, 5]"]);
    assertClose(output.data, plain.data, 1e-5);
    const w = Array.from(records[0]!.weights.data, Number);
    for (let r = 0; r < 2 * 2 * 5; r++) assertClose([w.slice(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0)], [1], 1e-5);
  });
  test("overfits a handful of images", () => {
    manualSeed(10);
    const m = new VisionTransformer({ ...tiny, depth: 1 });
    const x = randn([12, 2, 8, 8]);
    const y = new Tensor(Int32Array.from({ length: 12 }, (_, i) => i % 3), [12], "int32");
    const opt = new AdamW(m.parameters(), { lr: 1e-2, weightDecay: 0 });
    let first = 0, last = 0;
    for (let s = 0; s < 60; s++) {
      opt.zeroGrad();
      const loss = crossEntropy(m.forward(x), y);
      if (s === 0) first = loss.item();
      last = loss.item();
      backward(loss);
      opt.step();
    }
    assert.ok(last < first / 10, `loss ${first} -> ${last}`);
    m.eval();
    assert.deepEqual(Array.from(noGrad(() => argmax(m.forward(x), 1)).data), Array.from(y.data));
  });
  test("bad configs and inputs are typed errors naming the field", () => {
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, patchSize: 3 }), ValueError, "VisionTransformer: config.patchSize expected a divisor of the image's height and width [8, 8], got 3");
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, dim: 9 }), ValueError, "config.dim expected a multiple of heads (2), got 9");
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, dim: 6, heads: 3, positions: "sincos2d" }), ValueError, 'config.dim expected a multiple of 4 with positions "sincos2d", got 6');
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, pooling: "max" as "cls" }), ValueError, 'config.pooling expected "cls" or "mean", got "max"');
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, stem: [4, 4, 4] }), ValueError, "config.patchSize expected 8 (the stem's 3 stages halve the image each), got 4");
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, imageSize: 0 }), ValueError, "config.imageSize expected a side or [height, width]");
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, depth: 0 }), ValueError, "config.depth expected an integer >= 1, got 0");
    assertThrowsMsg(() => new VisionTransformer({ ...tiny, mlpRatio: 0.1 }), ValueError, "config.mlpRatio");
    assertThrowsMsg(() => resolveViTConfig({ ...tiny, layers: 2 }), ValueError, "config expected only the keys", "unknown layers");
    assertThrowsMsg(() => resolveViTConfig({ ...tiny, layerNormEps: -1 }), ValueError, "config.layerNormEps expected a number in [0, 1], got -1");
    assert.equal(resolveViTConfig(tiny).layerNormEps, 1e-6);
    const eps = new VisionTransformer({ ...tiny, layerNormEps: 1e-12 });
    assert.deepEqual([eps.norm.opts.eps, eps.blocks.at(0).norm1.opts.eps, eps.blocks.at(0).norm2.opts.eps], [1e-12, 1e-12, 1e-12]);
    const m = new VisionTransformer(tiny);
    assertThrowsMsg(() => m.forward(randn([2, 1, 8, 8])), ShapeError, "VisionTransformer.forward: x expected [B, 2, 8, 8], got [2, 1, 8, 8]");
    assertThrowsMsg(() => m.forward(randn([2, 2, 8])), ShapeError, "got [2, 2, 8]");
  });
});
