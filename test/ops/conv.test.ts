/**
 * conv2d, pooling and batch norm: against a direct-loop reference on the active backend (the suite
 * runs once per backend), float64 gradchecks, torch's output sizes and values, errors, modules.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { getBackend } from "../../src/backend/registry.js";
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d } from "../../src/nn/conv.js";
import { batchNorm } from "../../src/ops/batchnorm.js";
import { conv2d, type Conv2dOptions } from "../../src/ops/conv.js";
import { mul } from "../../src/ops/elementwise.js";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "../../src/ops/pool.js";
import { sum } from "../../src/ops/reduce.js";
import { reshape } from "../../src/ops/shape.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, arange, ones, randn, tensor, zeros } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";

const gen = new Generator(11);
const f32 = (shape: number[]): Tensor => randn(shape, { generator: gen }).requiresGrad_(true);
const nums = (t: Tensor): number[] => Array.from(t.data, Number);
const img = (H: number, W: number): Tensor => reshape(arange(H * W), [1, 1, H, W]);

interface RefConv { sH: number; sW: number; pT: number; pL: number; dH: number; dW: number; G: number; oH: number; oW: number }

/** Direct convolution in float64 with its three gradients for an incoming gradient g. */
function convReference(x: Tensor, w: Tensor, b: Tensor | null, g: number[] | null, o: RefConv) {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, kH, kW] = w.shape as [number, number, number, number];
  const xd = nums(x), wd = nums(w), Og = O / o.G;
  const y = new Array<number>(B * O * o.oH * o.oW).fill(0);
  const dx = new Array<number>(x.size).fill(0), dw = new Array<number>(w.size).fill(0), db = new Array<number>(O).fill(0);
  for (let n = 0; n < B; n++) for (let oc = 0; oc < O; oc++) for (let oh = 0; oh < o.oH; oh++) for (let ow = 0; ow < o.oW; ow++) {
    const yi = ((n * O + oc) * o.oH + oh) * o.oW + ow;
    const gi = g ? g[yi]! : 0;
    let s = b ? Number(b.data[oc]) : 0;
    db[oc]! += gi;
    for (let ci = 0; ci < Cg; ci++) for (let i = 0; i < kH; i++) for (let j = 0; j < kW; j++) {
      const ih = oh * o.sH - o.pT + i * o.dH, iw = ow * o.sW - o.pL + j * o.dW;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const c = Math.floor(oc / Og) * Cg + ci;
      const xi = ((n * C + c) * H + ih) * W + iw, wi = ((oc * Cg + ci) * kH + i) * kW + j;
      s += xd[xi]! * wd[wi]!;
      dx[xi]! += gi * wd[wi]!;
      dw[wi]! += gi * xd[xi]!;
    }
    y[yi] = s;
  }
  return { y, dx, dw, db };
}

describe(`conv2d against direct loops (${getBackend().name} backend)`, () => {
  const cases: { name: string; x: number[]; w: number[]; bias: boolean; opts: Conv2dOptions; ref: RefConv }[] = [
    { name: "3x3 pad 1", x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, opts: { padding: 1 }, ref: { sH: 1, sW: 1, pT: 1, pL: 1, dH: 1, dW: 1, G: 1, oH: 7, oW: 6 } },
    { name: "stride [2, 3], padding [0, 2], no bias", x: [3, 2, 9, 8], w: [5, 2, 3, 2], bias: false, opts: { stride: [2, 3], padding: [0, 2] },
      ref: { sH: 2, sW: 3, pT: 0, pL: 2, dH: 1, dW: 1, G: 1, oH: 4, oW: 4 } },
    { name: "dilation [2, 1], one image", x: [1, 3, 8, 8], w: [2, 3, 3, 3], bias: true, opts: { dilation: [2, 1], padding: 1 },
      ref: { sH: 1, sW: 1, pT: 1, pL: 1, dH: 2, dW: 1, G: 1, oH: 6, oW: 8 } },
    { name: "groups 2", x: [2, 4, 6, 6], w: [6, 2, 3, 3], bias: true, opts: { groups: 2, stride: 2, padding: 1 },
      ref: { sH: 2, sW: 2, pT: 1, pL: 1, dH: 1, dW: 1, G: 2, oH: 3, oW: 3 } },
    { name: "depthwise", x: [2, 3, 5, 5], w: [3, 1, 3, 3], bias: true, opts: { groups: 3, padding: 1 },
      ref: { sH: 1, sW: 1, pT: 1, pL: 1, dH: 1, dW: 1, G: 3, oH: 5, oW: 5 } },
    { name: "same, even kernel (extra padding bottom / right)", x: [2, 2, 5, 6], w: [3, 2, 2, 4], bias: true, opts: { padding: "same" },
      ref: { sH: 1, sW: 1, pT: 0, pL: 1, dH: 1, dW: 1, G: 1, oH: 5, oW: 6 } },
    { name: "more output channels than positions, groups 2", x: [3, 4, 5, 4], w: [12, 2, 3, 3], bias: true, opts: { groups: 2, stride: 2 },
      ref: { sH: 2, sW: 2, pT: 0, pL: 0, dH: 1, dW: 1, G: 2, oH: 2, oW: 1 } },
    { name: "1x1 over a large batch", x: [64, 8, 4, 4], w: [16, 8, 1, 1], bias: true, opts: {}, ref: { sH: 1, sW: 1, pT: 0, pL: 0, dH: 1, dW: 1, G: 1, oH: 4, oW: 4 } },
    { name: "64 -> 32 channels, 3x3 (a GEMM past the small-size paths)", x: [4, 64, 12, 12], w: [32, 64, 3, 3], bias: true, opts: { padding: 1 },
      ref: { sH: 1, sW: 1, pT: 1, pL: 1, dH: 1, dW: 1, G: 1, oH: 12, oW: 12 } },
    { name: "columns in chunks of images (2, then 1), groups 2", x: [3, 64, 36, 36], w: [2, 32, 5, 5], bias: true, opts: { groups: 2, padding: 2 },
      ref: { sH: 1, sW: 1, pT: 2, pL: 2, dH: 1, dW: 1, G: 2, oH: 36, oW: 36 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const x = f32(c.x), w = f32(c.w), b = c.bias ? f32([c.w[0]!]) : null;
      const y = conv2d(x, w, b, c.opts);
      const g = randn(y.shape, { generator: gen });
      const ref = convReference(x, w, b, nums(g), c.ref);
      assert.deepEqual(y.shape, [c.x[0], c.w[0], c.ref.oH, c.ref.oW]);
      assertClose(y.data, ref.y, 2e-4, 1e-4);
      backward(sum(mul(y, g)));
      assertClose(x.grad!.data, ref.dx, 2e-4, 1e-4);
      assertClose(w.grad!.data, ref.dw, 5e-4, 1e-4);
      if (b) assertClose(b.grad!.data, ref.db, 5e-4, 1e-4);
    });
  }
  test("unbatched [C, H, W] gives [O, oH, oW]", () => {
    const x = f32([2, 5, 5]), w = f32([3, 2, 3, 3]);
    const y = conv2d(x, w, null, { stride: 2 });
    assert.deepEqual(y.shape, [3, 2, 2]);
    const ref = convReference(reshape(x, [1, 2, 5, 5]), w, null, null, { sH: 2, sW: 2, pT: 0, pL: 0, dH: 1, dW: 1, G: 1, oH: 2, oW: 2 });
    assertClose(y.data, ref.y, 1e-4, 1e-4);
  });
  test("torch's values for padding 'same' with an even kernel", () => {
    const y = conv2d(img(5, 5), ones([1, 1, 2, 2]), null, { padding: "same" });
    assert.deepEqual(nums(y), [12, 16, 20, 24, 13, 32, 36, 40, 44, 23, 52, 56, 60, 64, 33, 72, 76, 80, 84, 43, 41, 43, 45, 47, 24]);
  });
  test("padding 'valid' is no padding", () => {
    assert.deepEqual(conv2d(img(5, 5), ones([1, 1, 3, 3]), null, { padding: "valid" }).shape, [1, 1, 3, 3]);
  });
});

describe(`pooling and batch norm in float32 against float64 (${getBackend().name} backend)`, () => {
  test("maxPool2d, avgPool2d, adaptiveAvgPool2d, batchNorm", () => {
    const x64 = r64([2, 3, 9, 7]);
    const x32 = new Tensor(Float32Array.from(x64.data as Float64Array), x64.shape, "float32");
    const fs: ((x: Tensor) => Tensor)[] = [
      (x) => maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }),
      (x) => avgPool2d(x, [3, 2], { stride: [2, 1], padding: [1, 1], countIncludePad: false }),
      (x) => adaptiveAvgPool2d(x, [4, 3]),
      (x) => batchNorm(x, null, null, null, null, { training: true }),
    ];
    for (const f of fs) assertClose(f(x32).data, f(x64).data, 1e-5, 1e-5);
  });
});

describe("gradcheck: convolution, pooling, batch norm", () => {
  test("conv2d: stride, padding, dilation, groups, same, bias", () => {
    assertGrad((x, w, b) => conv2d(x, w, b, { padding: 1 }), [r64([2, 2, 5, 4]), r64([3, 2, 3, 3]), r64([3])]);
    assertGrad((x, w) => conv2d(x, w, null, { stride: [2, 1], padding: [1, 0] }), [r64([1, 2, 6, 5]), r64([2, 2, 3, 2])]);
    assertGrad((x, w, b) => conv2d(x, w, b, { dilation: 2, padding: 2 }), [r64([2, 1, 6, 6]), r64([2, 1, 3, 3]), r64([2])]);
    assertGrad((x, w, b) => conv2d(x, w, b, { groups: 2, stride: 2 }), [r64([2, 4, 5, 5]), r64([4, 2, 2, 2]), r64([4])]);
    assertGrad((x, w) => conv2d(x, w, null, { groups: 3, padding: "same" }), [r64([2, 3, 4, 4]), r64([3, 1, 2, 3])]);
    assertGrad((x, w, b) => conv2d(x, w, b), [r64([3, 4, 4]), r64([2, 3, 1, 1]), r64([2])]);
    // more output channels per group than output positions (the weight gradient's other path)
    assertGrad((x, w, b) => conv2d(x, w, b, { groups: 2, stride: 2 }), [r64([2, 4, 4, 3]), r64([6, 2, 3, 2]), r64([6])]);
    assertGrad((x, w) => conv2d(x, w, null, { padding: [1, 0] }), [r64([3, 2, 2, 2]), r64([5, 2, 3, 2])]);
  });
  test("maxPool2d (no ties), with padding, dilation and ceilMode", () => {
    assertGrad((x) => maxPool2d(x, 2), [r64([2, 2, 5, 5])]);
    assertGrad((x) => maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }), [r64([1, 2, 6, 6])]);
    assertGrad((x) => maxPool2d(x, 2, { stride: 1, dilation: 2 }), [r64([1, 1, 5, 5])]);
  });
  test("avgPool2d: countIncludePad, ceilMode, divisorOverride", () => {
    assertGrad((x) => avgPool2d(x, 2), [r64([2, 2, 5, 5])]);
    assertGrad((x) => avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }), [r64([1, 2, 6, 5])]);
    assertGrad((x) => avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }), [r64([1, 1, 4, 4])]);
    assertGrad((x) => avgPool2d(x, 2, { ceilMode: true, divisorOverride: 3 }), [r64([1, 1, 5, 5])]);
  });
  test("adaptiveAvgPool2d with overlapping windows", () => {
    assertGrad((x) => adaptiveAvgPool2d(x, [3, 2]), [r64([2, 2, 7, 5])]);
    assertGrad((x) => adaptiveAvgPool2d(x, 1), [r64([2, 3, 4, 4])]);
  });
  test("batchNorm in training (batch statistics) and eval (running statistics)", () => {
    const rm = r64([3]).detach(), rv = tensor([0.5, 1, 2], { dtype: "float64" });
    assertGrad((x, w, b) => batchNorm(x, null, null, w, b, { training: true }), [r64([4, 3, 2, 3]), r64([3]), r64([3])]);
    assertGrad((x) => batchNorm(x, null, null, null, null, { training: true, eps: 0 }), [r64([3, 2, 5])]);
    assertGrad((x, w, b) => batchNorm(x, rm, rv, w, b), [r64([2, 3, 2, 2]), r64([3]), r64([3])]);
  });
});

describe("output sizes and values as torch computes them", () => {
  test("ceilMode drops a last window that would start in the right padding", () => {
    assert.deepEqual(maxPool2d(img(5, 5), 2, { padding: 1, ceilMode: true }).shape, [1, 1, 3, 3]);
    assert.deepEqual(maxPool2d(zeros([1, 1, 6, 6]), 3, { stride: 2, padding: 1, ceilMode: true }).shape, [1, 1, 4, 4]);
    assert.deepEqual(maxPool2d(zeros([1, 1, 6, 6]), 3, { stride: 2, padding: 1 }).shape, [1, 1, 3, 3]);
  });
  test("avgPool2d divisors with ceilMode, padding and an override", () => {
    const x = img(5, 5);
    assertClose(avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }).data, [4 / 3, 3, 8 / 3, 7, 12, 9, 8, 13, 28 / 3]);
    assertClose(avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }).data, [3, 4.5, 6, 10.5, 12, 13.5, 18, 19.5, 21]);
    assertClose(avgPool2d(x, 2, { ceilMode: true, divisorOverride: 3 }).data, [4, 20 / 3, 13 / 3, 52 / 3, 20, 11, 41 / 3, 15, 8]);
  });
  test("adaptive windows and dilated max", () => {
    assertClose(adaptiveAvgPool2d(img(5, 5), [3, 2]).data, [3.5, 5.5, 11, 13, 18.5, 20.5]);
    assert.deepEqual(adaptiveAvgPool2d(img(5, 4), [null, 2]).shape, [1, 1, 5, 2]);
    assert.deepEqual(nums(maxPool2d(img(5, 5), 2, { stride: 1, dilation: 2 })), [12, 13, 14, 17, 18, 19, 22, 23, 24]);
  });
  test("the gradient of a max goes to the window's max only", () => {
    const x = tensor([[[[1, 5], [3, 2]]]]).requiresGrad_(true);
    backward(sum(maxPool2d(x, 2)));
    assert.deepEqual(nums(x.grad!), [0, 1, 0, 0]);
  });
});

describe("errors", () => {
  test("an empty output names the computed size", () => {
    assertThrowsMsg(() => conv2d(zeros([1, 1, 2, 3]), zeros([1, 1, 3, 3])), ValueError, "conv2d", "computed output size [0, 1]");
    assertThrowsMsg(() => conv2d(zeros([1, 1, 4, 4]), zeros([1, 1, 3, 3]), null, { dilation: 2 }), ValueError, "computed output size [0, 0]");
    assertThrowsMsg(() => maxPool2d(zeros([1, 1, 1, 1]), 2), ValueError, "maxPool2d", "computed output size [0, 0]");
    assertThrowsMsg(() => avgPool2d(zeros([1, 2, 3]), [4, 1]), ValueError, "avgPool2d", "computed output size [0, 3]");
  });
  test("conv2d arguments", () => {
    const x = zeros([2, 4, 5, 5]);
    assertThrowsMsg(() => conv2d(zeros([4, 5]), zeros([1, 4, 3, 3])), ShapeError, "conv2d: x expected [B, C, H, W] or [C, H, W], got [4, 5]");
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3])), ShapeError, "conv2d: weight expected [O, C / groups, kH, kW]");
    assertThrowsMsg(() => conv2d(x, zeros([2, 3, 3, 3])), ShapeError, "conv2d: weight", "got [2, 3, 3, 3]");
    assertThrowsMsg(() => conv2d(x, zeros([2, 2, 3, 3]), null, { groups: 3 }), ValueError, "conv2d: groups expected a divisor of the 4 input channels, got 3");
    assertThrowsMsg(() => conv2d(x, zeros([3, 2, 3, 3]), null, { groups: 2 }), ValueError, "conv2d: groups expected a divisor of the 3 output channels");
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3, 3]), zeros([3])), ShapeError, "conv2d: bias expected [2], got [3]");
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3, 3]), null, { stride: 0 }), ValueError, "conv2d: stride expected a positive integer");
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3, 3]), null, { padding: [1, -1] }), ValueError, "conv2d: padding expected a non-negative integer", "got [1, -1]");
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3, 3]), null, { dilation: 1.5 }), ValueError, "conv2d: dilation");
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3, 3]), null, { padding: "same", stride: 2 }), ValueError, 'conv2d: padding expected "same" with stride 1 only');
    assertThrowsMsg(() => conv2d(x, zeros([2, 4, 3, 3], { dtype: "float64" })), DTypeError, "conv2d: weight expected float32");
    assertThrowsMsg(() => conv2d(zeros([1, 1, 3, 3], { dtype: "int32" }), zeros([1, 1, 1, 1])), DTypeError, "conv2d: x expected float32 or float64");
  });
  test("pooling arguments", () => {
    const x = zeros([1, 2, 6, 6]);
    assertThrowsMsg(() => maxPool2d(x, 3, { padding: 2 }), ValueError, "maxPool2d: padding expected at most half the kernel size [3, 3], got [2, 2]");
    assertThrowsMsg(() => maxPool2d(x, 0), ValueError, "maxPool2d: kernelSize expected a positive integer");
    assertThrowsMsg(() => avgPool2d(x, 2, { stride: [1, 0] }), ValueError, "avgPool2d: stride");
    assertThrowsMsg(() => avgPool2d(x, 2, { divisorOverride: 0 }), ValueError, "avgPool2d: divisorOverride expected a positive integer, got 0");
    assertThrowsMsg(() => adaptiveAvgPool2d(x, [2, 0]), ValueError, "adaptiveAvgPool2d: outputSize", "got [2, 0]");
    assertThrowsMsg(() => adaptiveAvgPool2d(zeros([6, 6]), 2), ShapeError, "adaptiveAvgPool2d: x expected [B, C, H, W] or [C, H, W], got [6, 6]");
  });
  test("batchNorm arguments", () => {
    const x = zeros([2, 3, 4]);
    assertThrowsMsg(() => batchNorm(zeros([3]), null, null, null, null, { training: true }), ShapeError, "batchNorm: x expected [B, C, ...], got [3]");
    assertThrowsMsg(() => batchNorm(x, zeros([2]), ones([3])), ShapeError, "batchNorm: runningMean expected [3]", "got [2]");
    assertThrowsMsg(() => batchNorm(x, zeros([3]), null), ValueError, "batchNorm: runningVar");
    assertThrowsMsg(() => batchNorm(x, null, null), ValueError, "batchNorm: runningMean expected the running buffers when not training");
    assertThrowsMsg(() => batchNorm(zeros([1, 3]), null, null, null, null, { training: true }), ValueError, "more than 1 value per channel");
    assertThrowsMsg(() => batchNorm(x, null, null, null, null, { training: true, eps: -1 }), ValueError, "batchNorm: eps");
  });
});

describe("modules", () => {
  test("Conv2d: PyTorch names, shapes and default init bounds", () => {
    const m = new Conv2d(6, 8, [3, 2], { groups: 2, generator: new Generator(1) });
    assert.deepEqual(m.namedParameters().map(([n, p]) => [n, p.shape]), [["weight", [8, 3, 3, 2]], ["bias", [8]]]);
    const bound = 1 / Math.sqrt(3 * 3 * 2);
    for (const p of m.parameters()) {
      const d = nums(p);
      assert.ok(d.every((v) => Math.abs(v) <= bound), "within 1/sqrt(fan_in)");
      assert.ok(Math.max(...d.map(Math.abs)) > 0.7 * bound, "spread over the range");
    }
    assert.deepEqual(new Conv2d(2, 4, 3, { bias: false }).namedParameters().map(([n]) => n), ["weight"]);
    assert.deepEqual(m.forward(zeros([2, 6, 5, 5])).shape, [2, 8, 3, 4]);
    assertThrowsMsg(() => new Conv2d(3, 4, 3, { groups: 2 }), ValueError, "Conv2d: groups expected a divisor of inChannels 3");
    assertThrowsMsg(() => new Conv2d(3, 4, 3, { padding: "same", stride: 2 }), ValueError, "Conv2d: padding");
    assertThrowsMsg(() => new Conv2d(3, 0, 3), ValueError, "Conv2d: outChannels");
  });
  test("Conv2d.forward is conv2d with its options", () => {
    const m = new Conv2d(2, 3, 3, { stride: 2, padding: 1 });
    const x = randn([2, 2, 6, 6], { generator: gen });
    assert.deepEqual(nums(m.forward(x)), nums(conv2d(x, m.weight, m.bias, { stride: 2, padding: 1 })));
  });
  test("pooling modules", () => {
    const x = randn([2, 3, 7, 7], { generator: gen });
    assert.deepEqual(nums(new MaxPool2d(3, { stride: 2 }).forward(x)), nums(maxPool2d(x, 3, { stride: 2 })));
    assert.deepEqual(nums(new AvgPool2d(2, { ceilMode: true }).forward(x)), nums(avgPool2d(x, 2, { ceilMode: true })));
    assert.deepEqual(new AdaptiveAvgPool2d(1).forward(x).shape, [2, 3, 1, 1]);
    assertThrowsMsg(() => new MaxPool2d(0), ValueError, "MaxPool2d: kernelSize");
    assert.equal(new MaxPool2d(2).parameters().length, 0);
  });
  test("BatchNorm2d: buffers, train updates, eval uses the running statistics", () => {
    const bn = new BatchNorm2d(3);
    assert.deepEqual(Object.keys(bn.stateDict()), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    const x = randn([4, 3, 2, 2], { generator: gen });
    const y = bn.forward(x);
    const n = 16, xd = nums(x);
    for (let c = 0; c < 3; c++) {
      const v: number[] = [];
      for (let b = 0; b < 4; b++) for (let i = 0; i < 4; i++) v.push(xd[(b * 3 + c) * 4 + i]!);
      const m = v.reduce((a, t) => a + t, 0) / n;
      const varB = v.reduce((a, t) => a + (t - m) ** 2, 0) / n;
      assertClose([Number(bn.runningMean!.data[c])], [0.1 * m], 1e-6);
      assertClose([Number(bn.runningVar!.data[c])], [0.9 + (0.1 * varB * n) / (n - 1)], 1e-6);
      assertClose([Number(y.data[c * 4])], [(v[0]! - m) / Math.sqrt(varB + 1e-5)], 1e-5);
    }
    assert.equal(Number(bn.numBatchesTracked!.data[0]), 1);
    bn.eval();
    const rm = nums(bn.runningMean!), rv = nums(bn.runningVar!);
    const z = bn.forward(x);
    assertClose([Number(z.data[5])], [(xd[5]! - rm[1]!) / Math.sqrt(rv[1]! + 1e-5)], 1e-5);
    assert.deepEqual(nums(bn.runningMean!), rm, "eval leaves the buffers alone");
    assert.equal(Number(bn.numBatchesTracked!.data[0]), 1);
    assertThrowsMsg(() => bn.forward(zeros([2, 4, 2, 2])), ShapeError, "BatchNorm2d: x expected [B, 3, H, W], got [2, 4, 2, 2]");
  });
  test("BatchNorm2d: momentum null is a cumulative average; no running stats means batch statistics in eval", () => {
    const bn = new BatchNorm2d(1, { momentum: null, affine: false });
    assert.equal(bn.parameters().length, 0);
    bn.forward(tensor([[[[0, 2]]], [[[0, 2]]]])); // mean 1
    bn.forward(tensor([[[[4, 6]]], [[[4, 6]]]])); // mean 5
    assertClose(nums(bn.runningMean!), [3], 1e-6);
    const free = new BatchNorm2d(2, { trackRunningStats: false }).eval();
    assert.deepEqual(Object.keys(free.stateDict()), ["weight", "bias"]);
    const y = free.forward(tensor([[[[1, 3]], [[0, 0]]], [[[1, 3]], [[0, 0]]]]));
    assertClose(nums(y).slice(0, 2), [-1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)], 1e-6);
  });
  test("BatchNorm2d loads a PyTorch state dict (int num_batches_tracked)", () => {
    const bn = new BatchNorm2d(2);
    bn.loadStateDict({
      weight: tensor([1, 2]), bias: tensor([0, 1]), running_mean: tensor([0.5, -1]), running_var: tensor([4, 1]),
      num_batches_tracked: tensor(7, { dtype: "int32" }),
    });
    assert.equal(Number(bn.numBatchesTracked!.data[0]), 7);
    bn.eval();
    assertClose(nums(bn.forward(tensor([[[[2.5]], [[0]]]]))), [2 / Math.sqrt(4 + 1e-5), 2 / Math.sqrt(1 + 1e-5) + 1], 1e-6);
  });
});
