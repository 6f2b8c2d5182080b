/**
 * The image view's data and page: the pooled row of a map (class token or mean of the queries),
 * rollout and attention × gradient rollout from records against hand-computed numbers, the shapes
 * from a captured ViT, mean-pooling ViT and CNN-stem hybrid, the page's embedded data decoded
 * back, and bad input.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { captureAttention, type AttentionRecord } from "../../src/interpret/capture.js";
import { noGrad } from "../../src/autograd/graph.js";
import { VisionTransformer, type ViTConfig } from "../../src/nn/vit.js";
import { sum } from "../../src/ops/reduce.js";
import { ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { imagePageDataFromCapture, pooledRow } from "../../src/viz/image-from-capture.js";
import { imagePageHtml, type ImagePageData, type ViewImage } from "../../src/viz/image-view.js";

const t = (v: number[], shape: number[]): Tensor => new Tensor(Float64Array.from(v), shape, "float64");

function close(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

/** A record of weights [1, 2, 3, 3] (heads given row-major [3, 3] each). */
const rec = (name: string, h0: number[], h1: number[], grad?: number[]): AttentionRecord => ({
  name, kind: "self", module: "ViTAttention", call: 0, weights: t([...h0, ...h1], [1, 2, 3, 3]),
  ...(grad ? { grad: t(grad, [1, 2, 3, 3]) } : {}),
});

// a 1 x 2 patch grid behind a class token: T = 3
const L0h0 = [0.5, 0.5, 0, 0, 1, 0, 0, 0, 1], L0h1 = [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]; // mean W1 row 0: [0.5, 0.25, 0.25]
const shift = [0, 1, 0, 0, 0, 1, 1, 0, 0]; // both heads of layer 1
const image: ViewImage = { height: 2, width: 4, channels: 1, pixels: [0, 10, 20, 30, 40, 50, 60, 255] };

interface Payload { image: { h: number; w: number; c: number; px: string }; grid: number[]; overlays: { name: string; note: string; v: string; max: number }[]; layers: { name: string; heads: { v: string; max: number }[] }[]; gradLayers: unknown[] | null }
const payloadOf = (html: string): Payload => JSON.parse(/id="qkv-data">(.*?)<\/script>/s.exec(html)![1]!) as Payload;
const unit16 = (b64: string): number[] => {
  const s = Buffer.from(b64, "base64");
  return Array.from({ length: s.length / 2 }, (_, i) => s.readUInt16LE(2 * i) / 65535);
};

describe("image view data from captured attention", () => {
  test("pooledRow: the class token's row over the patches, or the mean of the rows", () => {
    const m = [0.2, 0.3, 0.5, 0.1, 0.6, 0.3, 0, 0, 1];
    close(pooledRow(m, 3, true), [0.3, 0.5], 0, "class token");
    close(pooledRow(m, 3, false), [0.1, 0.3, 0.6], 1e-15, "mean of rows");
    assert.throws(() => pooledRow([1, 2], 3, true), (e: unknown) => e instanceof ValueError && e.arg === "m" && /9 values/.test(e.message));
  });

  test("per-head maps and rollout against hand-computed numbers (A = 0.5 W + 0.5 I)", () => {
    const d = imagePageDataFromCapture([rec("blocks.0.attn", L0h0, L0h1), rec("blocks.1.attn", shift, shift)], { title: "t", image, grid: [1, 2], classToken: true });
    assert.deepEqual(d.layers.map((l) => l.name), ["blocks.0.attn", "blocks.1.attn"]);
    close(d.layers[0]!.heads[0]!, [0.5, 0], 0, "layer 0 head 0");
    close(d.layers[0]!.heads[1]!, [0, 0.5], 0, "layer 0 head 1");
    close(d.layers[1]!.heads[1]!, [1, 0], 0, "layer 1 head 1");
    // A1 row 0 = [0.75, 0.125, 0.125], A1 rows 1, 2 = identity; A2 row 0 = [0.5, 0.5, 0]
    // R row 0 = 0.5 A1[0] + 0.5 A1[1] = [0.375, 0.5625, 0.0625]
    assert.equal(d.overlays.length, 1);
    assert.equal(d.overlays[0]!.name, "attention rollout");
    close(d.overlays[0]!.values, [0.5625, 0.0625], 1e-12, "rollout");
    assert.match(d.overlays[0]!.note!, /rownorm\(W \+ I\) \(0\.5·W \+ 0\.5·I/);
    assert.equal(d.gradLayers, undefined);
  });

  test("with gradients: (A ⊙ ∇A)⁺ per head and R = (I + Ā_2)(I + Ā_1)", () => {
    const ones = Array(18).fill(1) as number[], minus = Array(18).fill(-1) as number[];
    // layer 0: gradient 1 -> Ā1 = W1; layer 1: gradient 1 -> Ā2 = shift
    // (I + shift) row 0 = [1, 1, 0]; (I + W1) rows 0, 1 = [1.5, 0.25, 0.25], [0, 2, 0] -> R row 0 = [1.5, 2.25, 0.25]
    const d = imagePageDataFromCapture([rec("blocks.0.attn", L0h0, L0h1, ones), rec("blocks.1.attn", shift, shift, ones)], { title: "t", image, grid: [1, 2], classToken: true, gradientOf: "y" });
    assert.equal(d.overlays[1]!.name, "attention × gradient rollout");
    close(d.overlays[1]!.values, [2.25, 0.25], 1e-12, "gradient rollout");
    close(d.gradLayers![0]!.heads[0]!, [0.5, 0], 0, "gradient head map");
    // a negative gradient on layer 1 leaves only layer 0: R = I + W1
    const e = imagePageDataFromCapture([rec("blocks.0.attn", L0h0, L0h1, ones), rec("blocks.1.attn", shift, shift, minus)], { title: "t", image, grid: [1, 2], classToken: true });
    close(e.overlays[1]!.values, [0.25, 0.25], 1e-12, "negative gradient dropped");
    close(e.gradLayers![1]!.heads[0]!, [0, 0], 0, "positive part");
  });

  test("shapes from a captured ViT, a mean-pooling ViT and a CNN-stem hybrid", () => {
    manualSeed(3);
    const pixels = Array.from({ length: 64 }, (_, i) => (i * 4) % 256);
    const img: ViewImage = { height: 8, width: 8, channels: 1, pixels };
    const cases: { cfg: Partial<ViTConfig>; grid: [number, number]; T: number; classToken: boolean }[] = [
      { cfg: { pooling: "cls" }, grid: [2, 2], T: 5, classToken: true },
      { cfg: { pooling: "mean" }, grid: [2, 2], T: 4, classToken: false },
      { cfg: { stem: [4], patchSize: 2 }, grid: [4, 4], T: 17, classToken: true }, // the hybrid: a 4 x 4 feature map
    ];
    for (const { cfg, grid, T, classToken } of cases) {
      const vit = new VisionTransformer({ imageSize: 8, patchSize: 4, inChannels: 1, numClasses: 3, dim: 8, depth: 2, heads: 2, ...cfg }).eval();
      const x = randn([1, 1, 8, 8]);
      const { records } = captureAttention(vit, () => vit.forward(x), { gradient: (y) => sum(y) });
      assert.deepEqual(records.map((r) => r.weights.shape), [[1, 2, T, T], [1, 2, T, T]]);
      const d = imagePageDataFromCapture(records, { title: "vit", image: img, grid, classToken });
      const cells = grid[0] * grid[1];
      assert.equal(d.layers.length, 2);
      assert.deepEqual(d.layers.map((l) => l.heads.map((h) => h.length)), [[cells, cells], [cells, cells]]);
      assert.deepEqual(d.gradLayers!.map((l) => l.heads.length), [2, 2]);
      assert.deepEqual(d.overlays.map((o) => o.values.length), [cells, cells]);
      assert.ok(d.overlays.every((o) => Array.from(o.values).every((v) => Number.isFinite(v) && v >= 0)));
      const html = imagePageHtml(d);
      assert.equal(payloadOf(html).layers.length, 2);
    }
    // without the gradient option: no attention × gradient
    const vit = new VisionTransformer({ imageSize: 8, patchSize: 4, inChannels: 1, numClasses: 3, dim: 8, depth: 1, heads: 2 }).eval();
    const { records } = noGrad(() => captureAttention(vit, () => vit.forward(randn([1, 1, 8, 8]))));
    const d = imagePageDataFromCapture(records, { title: "vit", image: img, grid: [2, 2], classToken: true });
    assert.equal(d.overlays.length, 1);
    assert.equal(d.gradLayers, undefined);
    // the wrong grid names the records and the shape it expected
    assert.throws(() => imagePageDataFromCapture(records, { title: "vit", image: img, grid: [4, 4], classToken: true }),
      (e: unknown) => e instanceof ValueError && e.op === "imagePageDataFromCapture" && e.arg === "records" && /\[B, H, 17, 17\]/.test(e.message) && /\[1, 2, 5, 5\] in blocks\.0\.attn/.test(e.message));
    assert.throws(() => imagePageDataFromCapture([], { title: "vit", image: img, grid: [2, 2], classToken: true }), (e: unknown) => e instanceof ValueError && e.arg === "records");
  });
});

describe("imagePageHtml", () => {
  const data = (): ImagePageData => ({
    title: "digit <7>", subtitle: "a & b", image, grid: [1, 2],
    overlays: [{ name: "attention rollout", values: [0.5625, 0.0625], note: "R = A_2 · A_1" }],
    layers: [{ name: "blocks.0.attn", heads: [[0.5, 0], [0, 0.25]] }],
    gradLayers: [{ name: "blocks.0.attn", heads: [[2, 1], [0, 0]] }],
  });

  test("the page holds the image and every map (scaled to its largest value) and no external resource", () => {
    const html = imagePageHtml(data());
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<title>digit &lt;7&gt;<\/title>/);
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/);
    const p = payloadOf(html);
    assert.deepEqual([p.image.h, p.image.w, p.image.c], [2, 4, 1]);
    assert.deepEqual(Array.from(Buffer.from(p.image.px, "base64")), [0, 10, 20, 30, 40, 50, 60, 255]);
    assert.deepEqual(p.grid, [1, 2]);
    assert.equal(p.overlays[0]!.max, 0.5625);
    close(unit16(p.overlays[0]!.v).map((v) => v * p.overlays[0]!.max), [0.5625, 0.0625], 1e-5, "overlay");
    assert.equal(p.layers[0]!.heads[1]!.max, 0.25);
    close(unit16(p.layers[0]!.heads[1]!.v), [0, 1], 0, "head 1 scaled");
    assert.equal(p.gradLayers!.length, 1);
    assert.match(html, /id="kind"/, "a switch between attention and attention × gradient");
    const noGradPage = imagePageHtml({ ...data(), gradLayers: undefined });
    assert.doesNotMatch(noGradPage, /id="kind"/);
    assert.equal(payloadOf(noGradPage).gradLayers, null);
  });

  test("bad input names the argument", () => {
    const bad = (patch: Partial<ImagePageData>, arg: string, msg: RegExp): void => {
      assert.throws(() => imagePageHtml({ ...data(), ...patch }), (e: unknown) => e instanceof ValueError && e.op === "imagePageHtml" && e.arg === arg && msg.test(e.message), arg);
    };
    bad({ layers: [{ name: "l", heads: [[0.5, 0], [1, 2, 3]] }] }, "layers[0].heads[1]", /grid\[0\] x grid\[1\] = 1 x 2 = 2 values \(one per patch\), got 3 values/);
    bad({ overlays: [{ name: "r", values: [-1, 0] }] }, "overlays[0].values", /non-negative/);
    bad({ grid: [3, 2] }, "grid", /at most the image's \[2, 4\]/);
    bad({ image: { ...image, pixels: [1, 2] } }, "image.pixels", /2 x 4 x 1 = 8 values, got 2 values/);
    bad({ image: { ...image, channels: 2 as 1 } }, "image.channels", /1 or 3/);
    bad({ gradLayers: [] }, "gradLayers", /1 layers \(as many as layers\)/);
    bad({ gradLayers: [{ name: "g", heads: [[1, 1]] }] }, "gradLayers[0].heads", /2 maps/);
    bad({ overlays: [], layers: [], gradLayers: undefined }, "layers", /at least one layer or overlay/);
  });
});
