/**
 * Convolution, pooling and batch norm on the device path, in Node on the host-memory device backend
 * (host-device.ts: js kernels behind device arrays): each op's output and gradients against the
 * host path on js (awkward sizes, groups, stride / padding / dilation, ceilMode, torch's divisor
 * rules, batch norm in training and eval), float32 finite differences of the device path's
 * gradients, a small CNN (conv, batch norm, max / average / adaptive pooling) and vision
 * transformers (the patch embedding's convolution; a convolutional stem) trained for a few SGD
 * steps on both, and the typed errors. The WGSL kernels themselves are compared with js in
 * test/browser/webgpu.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import type { Module } from "../../src/nn/module.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { batchNorm } from "../../src/ops/batchnorm.js";
import { conv2d, type Conv2dOptions } from "../../src/ops/conv.js";
import { mul } from "../../src/ops/elementwise.js";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "../../src/ops/pool.js";
import { sum } from "../../src/ops/reduce.js";
import { reshape } from "../../src/ops/shape.js";
import { SGD } from "../../src/optim/sgd.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { ones, randint, randn, zeros, type Tensor } from "../../src/tensor/tensor.js";
import { deviceTestEnv, near, U } from "./device-helpers.js";
import { SmallCnn, trainSteps } from "./device-models.js";

const { dev, on } = deviceTestEnv();

/**
 * An op of fresh seeded inputs on the host and on the device: the outputs, and the gradients of
 * sum(out * c) (c seeded) for every input, read back.
 */
async function both(shapes: number[][], f: (...xs: Tensor[]) => Tensor, seed = 1): Promise<{ host: ArrayLike<number>[]; dev: ArrayLike<number>[] }> {
  const run = (device: boolean): Promise<ArrayLike<number>[]> => on(device, async () => {
    const g = new Generator(seed);
    const xs = shapes.map((s) => randn(s, { generator: g }).requiresGrad_());
    if (device) for (const x of xs) toDevice(x, dev);
    const out = f(...xs);
    if (device) assert.ok(out.onDevice, "the output stays on the device");
    const c = randn(out.shape, { generator: g });
    backward(sum(mul(out, c)));
    return [await out.read(), ...(await Promise.all(xs.map((x) => x.grad!.read())))];
  });
  return { host: await run(false), dev: await run(true) };
}

describe("conv2d, pooling and batch norm on the device path (host-memory device backend)", () => {
  const convCases: [string, number[], number[], boolean, Conv2dOptions][] = [
    ["3x3 pad 1, bias", [2, 3, 7, 6], [4, 3, 3, 3], true, { padding: 1 }],
    ["stride [2, 3], padding [0, 2], dilation [2, 1]", [3, 2, 9, 8], [5, 2, 3, 2], false, { stride: [2, 3], padding: [0, 2], dilation: [2, 1] }],
    ["groups 3, 1x1 kernel", [2, 6, 5, 4], [9, 2, 1, 1], true, { groups: 3 }],
    ["depthwise, same padding", [2, 4, 6, 5], [4, 1, 2, 3], true, { groups: 4, padding: "same" }],
    ["patch embedding: kernel = stride", [3, 3, 8, 12], [7, 3, 4, 4], true, { stride: 4 }],
    ["unbatched", [2, 5, 5], [3, 2, 3, 3], true, { padding: 1, stride: 2 }],
  ];
  for (const [name, xs, ws, hasBias, opts] of convCases) {
    test(`conv2d ${name}: output and gradients match the host path`, async () => {
      const shapes = hasBias ? [xs, ws, [ws[0]!]] : [xs, ws];
      const r = await both(shapes, (x, w, b) => conv2d(x!, w!, b ?? null, opts));
      const K = ws[1]! * ws[2]! * ws[3]!;
      // sums of K products (output, dx) or B oH oW of them (dweight, dbias) in another order
      const labels = ["out", "dx", "dweight", "dbias"];
      r.host.forEach((h, i) => near(r.dev[i]!, h, 8 * K * U, 8 * 64 * K * U, `${labels[i]}`));
    });
  }

  const poolCases: [string, number[], (x: Tensor) => Tensor][] = [
    ["maxPool2d 3, stride 2, padding 1, ceilMode", [2, 3, 9, 8], (x) => maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true })],
    ["maxPool2d [2, 3], dilation [2, 1], overlapping", [1, 2, 10, 11], (x) => maxPool2d(x, [2, 3], { stride: 1, dilation: [2, 1] })],
    ["avgPool2d 3, stride 2, padding 1, ceilMode (countIncludePad)", [2, 3, 8, 7], (x) => avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true })],
    ["avgPool2d without countIncludePad", [2, 2, 7, 9], (x) => avgPool2d(x, [3, 2], { stride: [2, 1], padding: [1, 1], countIncludePad: false, ceilMode: true })],
    ["avgPool2d with divisorOverride", [1, 3, 6, 6], (x) => avgPool2d(x, 4, { stride: 3, padding: 2, divisorOverride: 5 })],
    ["adaptiveAvgPool2d to [3, 4] from [7, 10]", [2, 3, 7, 10], (x) => adaptiveAvgPool2d(x, [3, 4])],
    ["adaptiveAvgPool2d upsampling [5, null] from [3, 4]", [2, 2, 3, 4], (x) => adaptiveAvgPool2d(x, [5, null])],
    ["adaptiveAvgPool2d 1 (global), unbatched", [4, 5, 6], (x) => adaptiveAvgPool2d(x, 1)],
  ];
  for (const [name, shape, f] of poolCases) {
    test(`${name}: output and gradient match the host path`, async () => {
      const r = await both([shape], f, 3);
      near(r.dev[0]!, r.host[0]!, 16 * U, 16 * U, "out");
      near(r.dev[1]!, r.host[1]!, 16 * U, 16 * U, "dx");
    });
  }

  test("maxPool2d with ties and -Infinity: the first max of each window gets the gradient, as on the host", async () => {
    const run = (device: boolean): Promise<ArrayLike<number>[]> => on(device, async () => {
      const x = reshape(ones([16]), [1, 1, 4, 4]).requiresGrad_();
      (x.data as Float32Array).set([1, 1, 2, 2, 1, 1, 2, 2, -Infinity, -Infinity, 0, 3, -Infinity, -Infinity, 3, 0]);
      if (device) toDevice(x, dev);
      const out = maxPool2d(x, 2, { stride: 1 });
      backward(sum(out));
      return [await out.read(), await x.grad!.read()];
    });
    const [h, d] = [await run(false), await run(true)];
    assert.deepEqual(Array.from(d[0]!), Array.from(h[0]!));
    assert.deepEqual(Array.from(d[1]!), Array.from(h[1]!));
    assert.deepEqual(Array.from(h[1]!), [1, 0, 2, 0, 1, 0, 1, 0, 1, 0, 0, 2, 0, 0, 1, 0]);
  });

  for (const training of [true, false]) {
    for (const affine of [true, false]) {
      test(`batchNorm ${training ? "training" : "eval"}${affine ? " with weight and bias" : ""}: output, gradients and running buffers match the host path`, async () => {
        const run = (device: boolean): Promise<ArrayLike<number>[]> => on(device, async () => {
          const g = new Generator(5);
          const x = randn([3, 4, 5, 2], { generator: g }).requiresGrad_();
          (x.data as Float32Array).forEach((v, i, a) => { a[i] = 3 + 2 * v; }); // mean 3, deviation 2
          const w = affine ? randn([4], { generator: g }).requiresGrad_() : null, b = affine ? randn([4], { generator: g }).requiresGrad_() : null;
          const rm = randn([4], { generator: g }), rv = ones([4]);
          for (const t of [x, w, b, rm, rv]) if (device && t) toDevice(t, dev);
          const out = batchNorm(x, rm, rv, w, b, { training, momentum: 0.3, eps: 1e-3 });
          backward(sum(mul(out, randn(out.shape, { generator: g }))));
          const r = [await out.read(), await x.grad!.read(), await rm.read(), await rv.read()];
          if (w && b) r.push(await w.grad!.read(), await b.grad!.read());
          return r;
        });
        const h = await run(false), d = await run(true);
        // float32 statistics on the device against float64 ones on the host, over 30 values per channel
        const labels = ["out", "dx", "runningMean", "runningVar", "dweight", "dbias"];
        h.forEach((v, i) => near(d[i]!, v, 64 * 30 * U, 64 * 30 * U, labels[i]!));
      });
    }
  }

  test("batchNorm training on a device with host running buffers is a ValueError (they are updated in place)", async () => {
    await on(true, async () => {
      const x = toDevice(randn([2, 3, 4]), dev);
      assert.throws(() => batchNorm(x, zeros([3]), ones([3]), null, null, { training: true }),
        (e: unknown) => e instanceof ValueError && /^batchNorm: runningMean expected a buffer on the webgpu device \(updated there in place when training\), got a host tensor$/.test(e.message));
    });
  });

  test("the device path's gradients agree with float32 central differences", async () => {
    // loss(x) = sum(f(x) * c), summed in float64 from the read outputs; h = 1e-2
    const checks: [string, number[][], (...xs: Tensor[]) => Tensor][] = [
      ["conv2d groups 2, stride 2, dilation 2", [[2, 4, 7, 6], [4, 2, 2, 3], [4]], (x, w, b) => conv2d(x!, w!, b!, { groups: 2, stride: 2, dilation: 2, padding: 1 })],
      ["maxPool2d", [[2, 2, 6, 5]], (x) => maxPool2d(x!, 3, { stride: 2, padding: 1, ceilMode: true })],
      ["avgPool2d", [[2, 2, 6, 5]], (x) => avgPool2d(x!, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false })],
      ["adaptiveAvgPool2d", [[2, 2, 5, 7]], (x) => adaptiveAvgPool2d(x!, [2, 3])],
      ["batchNorm training", [[3, 2, 4, 3], [2], [2]], (x, w, b) => batchNorm(x!, null, null, w, b, { training: true })],
    ];
    await on(true, async () => {
      for (const [name, shapes, f] of checks) {
        const g = new Generator(9);
        const xs = shapes.map((s) => toDevice(randn(s, { generator: g }).requiresGrad_(), dev));
        const shape = f(...xs).shape;
        const c = toDevice(randn(shape, { generator: g }), dev);
        const cHost = Float64Array.from(await c.read());
        backward(sum(mul(f(...xs), c)));
        const loss = async (): Promise<number> => {
          const o = await f(...xs).read();
          let s = 0;
          for (let i = 0; i < o.length; i++) s += o[i]! * cHost[i]!;
          return s;
        };
        for (const [n, x] of xs.entries()) {
          const grad = await x.grad!.read();
          const vals = Float32Array.from(await x.read());
          const picks = new Int32Array(6);
          new Generator(20 + n).fillInt(picks, 0, x.size);
          for (const i of picks) {
            const at = (v: number): Float32Array => { const a = Float32Array.from(vals); a[i] = v; return a; };
            const h = 1e-2;
            x.device = dev.upload(at(vals[i]! + h));
            x.deviceWritten();
            const up = await loss();
            x.device = dev.upload(at(vals[i]! - h));
            x.deviceWritten();
            const down = await loss();
            x.device = dev.upload(vals);
            x.deviceWritten();
            const fd = (up - down) / (2 * h);
            assert.ok(Math.abs(fd - grad[i]!) <= 5e-3 + 2e-2 * Math.abs(fd), `${name}: input ${n}[${i}] analytic ${grad[i]} vs central difference ${fd}`);
          }
        }
      }
    });
  });
});

/** Trains `make()` for `steps` SGD steps on a seeded batch: the losses, and the model's parameters and buffers read back. */
async function train(device: boolean, make: (g: Generator) => Module & { forward(x: Tensor): Tensor }, x: number[], classes: number,
  steps: number): Promise<{ losses: number[]; state: ArrayLike<number>[]; evalOut: ArrayLike<number> }> {
  return on(device, async () => {
    const model = make(new Generator(1));
    if (device) model.toDevice(dev);
    // SGD keeps the parameters comparable (AdamW's normalized step turns a gradient of rounding noise into a full step)
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const g = new Generator(2);
    const input = randn(x, { generator: g }), y = randint(0, classes, [x[0]!], { generator: g });
    const losses = await trainSteps(model, opt, input, y, steps);
    const state = await Promise.all(Object.values(model.stateDict()).filter((t) => t.dtype === "float32").map((t) => t.read()));
    model.eval();
    const evalOut = await model.forward(input).read();
    return { losses, state, evalOut };
  });
}

describe("training with convolutions on the device path", () => {
  const models: [string, (g: Generator) => Module & { forward(x: Tensor): Tensor }, number[], number][] = [
    ["a small CNN: conv, batch norm, max pool, grouped dilated conv, average and adaptive pooling", (g) => new SmallCnn(g), [4, 3, 11, 9], 4],
    ["a ViT (patch embedding conv, class token)", (g) => new VisionTransformer({ imageSize: [8, 12], patchSize: 4, numClasses: 3, dim: 8, depth: 1, heads: 2, mlpRatio: 2 }, { generator: g }), [3, 3, 8, 12], 3],
    ["a ViT with a convolutional stem (conv, batch norm, max pool), mean pooling", (g) => new VisionTransformer({ imageSize: 8, patchSize: 4, numClasses: 3, dim: 8, depth: 1, heads: 2, stem: [4, 8], pooling: "mean" }, { generator: g }), [3, 3, 8, 8], 3],
  ];
  for (const [name, make, x, classes] of models) {
    test(`${name}: losses, parameters, running statistics and eval outputs match js`, async (t) => {
      const steps = 4;
      const h = await train(false, make, x, classes, steps), d = await train(true, make, x, classes, steps);
      for (let s = 0; s < steps; s++) {
        const diff = Math.abs(d.losses[s]! - h.losses[s]!);
        t.diagnostic(`step ${s}: js ${h.losses[s]}, device ${d.losses[s]}, |diff| ${diff.toExponential(2)}`);
        // float32 statistics and sums in another order, through a few layers
        assert.ok(diff <= 1e-4 * (1 + s), `step ${s}: ${d.losses[s]} vs ${h.losses[s]}`);
      }
      assert.ok(h.losses[steps - 1]! < h.losses[0]!, `js's loss decreases: ${h.losses.join(", ")}`);
      assert.equal(d.state.length, h.state.length);
      h.state.forEach((v, i) => near(d.state[i]!, v, 1e-3, 1e-3, `state ${i}`));
      near(d.evalOut, h.evalOut, 1e-3, 1e-3, "eval logits");
    });
  }
});
