/**
 * scatterAdd and segmentSoftmax on the device path, in Node on the host-memory device backend
 * (host-device.ts): outputs and gradients against the host path (empty segments, one-row segments,
 * unsorted ids, trailing dims), float32 central differences of the device gradients, and the
 * typed errors. The WGSL kernels are compared with js in test/browser/webgpu.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { scatterAdd, segmentSoftmax } from "../../src/ops/scatter.js";
import { DTypeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, tensor, type Tensor } from "../../src/tensor/tensor.js";
import { deviceTestEnv, U } from "./device-helpers.js";

const { dev, on } = deviceTestEnv();

// ids with an empty segment (2), a one-row segment (4), unsorted
const ids = [3, 0, 3, 1, 0, 3, 4, 1, 0, 3];
const S = 6;

const cases: [string, number[], (x: Tensor, index: Tensor) => Tensor][] = [
  ["scatterAdd [10, 2, 3]", [10, 2, 3], (x, i) => scatterAdd(x, i, S)],
  ["scatterAdd [10]", [10], (x, i) => scatterAdd(x, i, S)],
  ["segmentSoftmax [10, 3]", [10, 3], (x, i) => segmentSoftmax(x, i, S)],
  ["segmentSoftmax [10]", [10], (x, i) => segmentSoftmax(x, i, S)],
];

describe("scatterAdd and segmentSoftmax on the device path (host-memory device backend)", () => {
  for (const [name, shape, f] of cases) {
    test(`${name}: output and gradient match the host path`, async () => {
      const run = (device: boolean): Promise<Float32Array[]> => on(device, async () => {
        const g = new Generator(4);
        const x = randn(shape, { generator: g }).requiresGrad_();
        if (device) toDevice(x, dev);
        const out = f(x, tensor(ids, { dtype: "int32" }));
        if (device) assert.ok(out.onDevice);
        backward(sum(mul(out, randn(out.shape, { generator: g }))));
        return [Float32Array.from(await out.read()), Float32Array.from(await x.grad!.read())];
      });
      const h = await run(false), d = await run(true);
      for (const [k, v] of h.entries()) {
        for (let i = 0; i < v.length; i++) {
          assert.ok(Math.abs(d[k]![i]! - v[i]!) <= 16 * U * (1 + Math.abs(v[i]!)), `${k === 0 ? "out" : "dx"}[${i}]: ${d[k]![i]} vs ${v[i]}`);
        }
      }
    });
  }

  test("the device gradients agree with float32 central differences", async () => {
    await on(true, async () => {
      for (const [name, shape, f] of cases) {
        const g = new Generator(6);
        const x = toDevice(randn(shape, { generator: g }).requiresGrad_(), dev);
        const index = tensor(ids, { dtype: "int32" });
        const c = toDevice(randn(f(x, index).shape, { generator: g }), dev);
        const cHost = Float64Array.from(await c.read());
        backward(sum(mul(f(x, index), c)));
        const grad = await x.grad!.read(), vals = Float32Array.from(await x.read());
        const loss = async (v: Float32Array): Promise<number> => {
          x.device = dev.upload(v);
          x.deviceWritten();
          const o = await f(x, index).read();
          let s = 0;
          for (let i = 0; i < o.length; i++) s += o[i]! * cHost[i]!;
          return s;
        };
        for (let i = 0; i < x.size; i++) {
          const h = 1e-2, up = Float32Array.from(vals), down = Float32Array.from(vals);
          up[i]! += h;
          down[i]! -= h;
          const fd = ((await loss(up)) - (await loss(down))) / (2 * h);
          assert.ok(Math.abs(fd - grad[i]!) <= 2e-3 + 1e-2 * Math.abs(fd), `${name}[${i}]: analytic ${grad[i]} vs central difference ${fd}`);
        }
        x.device = dev.upload(vals);
      }
    });
  });

  test("typed errors: an index out of range, a float index", async () => {
    await on(true, async () => {
      const x = toDevice(randn([3, 2]), dev);
      assert.throws(() => scatterAdd(x, tensor([0, 5, 1], { dtype: "int32" }), 3),
        (e: unknown) => e instanceof ValueError && /^scatterAdd: index expected values in \[0, 3\), got 5$/.test(e.message));
      assert.throws(() => segmentSoftmax(x, tensor([0, 1, 1]), 3), (e: unknown) => e instanceof DTypeError && /^segmentSoftmax: index expected int32/.test(e.message));
    });
  });
});
