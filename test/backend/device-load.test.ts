/**
 * Loading a state dict into a module on a device (host-memory device backend, host-device.ts):
 * host values are uploaded into the device parameters, device values are copied on the device,
 * and the module computes what the host module computes. Rotary embeddings on a device tensor
 * (composed of device ops) equal the host kernel, gradients included.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { copyTensor, toDevice } from "../../src/backend/tensor-arrays.js";
import { Linear } from "../../src/nn/layers.js";
import { applyRotary } from "../../src/nn/rope.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, type Tensor } from "../../src/tensor/tensor.js";
import { hostDevice } from "./host-device.js";

const host = getBackend();
after(() => setBackend(host.name));

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.read(), Number);
}

describe("loadStateDict into a device module", () => {
  test("host and device sources load into device parameters; the forward matches the host module", async () => {
    const dev = hostDevice();
    const src = new Linear(5, 3, { generator: new Generator(1) });
    const x = randn([4, 5], { generator: new Generator(2) });
    const want = await values(src.forward(x));
    registerBackend(dev, true);
    try {
      const m = new Linear(5, 3, { generator: new Generator(9) }).toDevice(dev);
      m.loadStateDict(src.stateDict()); // host -> device
      assert.ok(m.weight.onDevice);
      assert.deepEqual(await values(m.weight), await values(src.weight));
      const y = m.forward(toDevice(x.clone(), dev));
      assert.ok(y.onDevice);
      // the host-device backend runs the js kernels: the same products, summed in another order
      (await values(y)).forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)), `[${i}] ${v} vs ${want[i]}`));
      const m2 = new Linear(5, 3, { generator: new Generator(7) }).toDevice(dev);
      m2.loadStateDict(m.stateDict()); // device -> device
      assert.deepEqual(await values(m2.bias!), await values(src.bias!));
      // the copy is a copy: changing the source afterwards leaves m2 as it was
      m.loadStateDict(new Linear(5, 3, { generator: new Generator(3) }).stateDict());
      assert.deepEqual(await values(m2.weight), await values(src.weight));
      assert.notDeepEqual(await values(m.weight), await values(src.weight));
    } finally {
      setBackend(host.name);
    }
  });
});

describe("applyRotary on a device tensor", () => {
  for (const layout of ["half", "interleaved"] as const) {
    test(`${layout}: output and gradient equal the host kernel's`, async () => {
      const dev = hostDevice();
      const x = randn([2, 3, 5, 8], { generator: new Generator(4) }), w = randn([2, 3, 5, 8], { generator: new Generator(5) });
      const opts = { rotaryDim: 6, layout };
      const xh = x.clone().requiresGrad_(true);
      const yh = applyRotary(xh, [3, 0, 7, 1, 2], opts);
      backward(sum(mul(yh, w)));
      registerBackend(dev, true);
      try {
        const xd = toDevice(copyTensor(x), dev).requiresGrad_(true);
        const yd = applyRotary(xd, [3, 0, 7, 1, 2], opts);
        assert.ok(yd.onDevice);
        backward(sum(mul(yd, w)));
        const got = await values(yd), g = await values(xd.grad!);
        const near = (a: number[], b: number[]): void => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-6 * (1 + Math.abs(b[i]!)), `[${i}] ${v} vs ${b[i]}`));
        near(got, Array.from(yh.data, Number));
        near(g, Array.from(xh.grad!.data, Number));
      } finally {
        setBackend(host.name);
      }
    });
  }
});
