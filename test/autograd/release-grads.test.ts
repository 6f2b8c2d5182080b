/**
 * releaseGrads / `zeroGrad({ release: true })` (autograd/release-grads.ts): the gradients backward
 * made give their memory back (host: to the buffer pool, which hands the same buffer out again;
 * device: to the store, once each), reading one afterwards throws FreedTensorError; gradients that
 * may be shared (set by hand, viewed, views, small host buffers) are only dropped; fit with
 * freeGraph releases every step's gradients and trains to the same losses bit for bit.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { releaseGrads } from "../../src/autograd/release-grads.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { add, tanh } from "../../src/ops/elementwise.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { matmul } from "../../src/ops/matmul.js";
import { sum } from "../../src/ops/reduce.js";
import { reshape } from "../../src/ops/shape.js";
import { SGD } from "../../src/optim/sgd.js";
import { AdamW } from "../../src/optim/adam.js";
import type { DeviceArray } from "../../src/tensor/device.js";
import { FreedTensorError, ValueError } from "../../src/tensor/errors.js";
import { takeFloat32 } from "../../src/tensor/pool.js";
import { Generator } from "../../src/tensor/rng.js";
import { ones, randn, type Tensor } from "../../src/tensor/tensor.js";
import { fit } from "../../src/train/fit.js";
import { deviceTestEnv } from "../backend/device-helpers.js";
import { batchAt, Net, type Batch } from "../train/fit-net.js";

const { dev, on, releasesDuring } = deviceTestEnv();

/** A leaf of seeded normals (64 x 64 = 4096 elements: the pool takes its buffer). */
const leaf = (shape: number[], seed: number): Tensor => randn(shape, { generator: new Generator(seed), requiresGrad: true });
/** sum(tanh(x @ w)) for a fixed x [8, rows of w]. */
const lossOf = (w: Tensor): Tensor => sum(tanh(matmul(randn([8, w.shape[0]!], { generator: new Generator(99) }), w)));

describe("releaseGrads on the host", () => {
  test("a gradient backward made goes back to the pool (the next take gets its buffer) and throws when read", () => {
    const w = leaf([64, 64], 1);
    backward(lossOf(w));
    const g = w.grad!;
    const buffer = (g.data as Float32Array).buffer;
    assert.equal(releaseGrads([w]), buffer.byteLength);
    assert.equal(w.grad, null);
    assert.throws(() => g.data, (e: unknown) => e instanceof FreedTensorError && /zeroGrad\(\{ release: true \}\)/.test(e.message));
    assert.equal(takeFloat32(64 * 64)!.buffer, buffer, "the pool hands the gradient's buffer out again");
  });

  test("a gradient summed over two passes is backward's too; the optimizer's zeroGrad({ release }) gives it back", () => {
    const w = leaf([64, 64], 2);
    const opt = new SGD([w], { lr: 0.1 });
    backward(lossOf(w));
    backward(lossOf(w));
    const g = w.grad!;
    opt.zeroGrad({ release: true });
    assert.equal(w.grad, null);
    assert.throws(() => g.data, FreedTensorError);
  });

  test("gradients that may be shared are only dropped: set by hand, viewed, small", () => {
    const a = leaf([64, 64], 3), b = leaf([64, 64], 4), c = leaf([4, 4], 5);
    backward(lossOf(b));
    backward(lossOf(c));
    const mine = ones([64, 64]);
    a.grad = mine;
    const seen = reshape(b.grad!, [4096]); // a view of b's gradient
    const bg = b.grad!, cg = c.grad!;
    const copies = [Array.from(mine.data), Array.from(bg.data), Array.from(cg.data)];
    assert.equal(releaseGrads([a, b, c]), 0);
    assert.deepEqual([a.grad, b.grad, c.grad], [null, null, null]);
    assert.deepEqual([Array.from(mine.data), Array.from(bg.data), Array.from(cg.data)], copies);
    assert.deepEqual(Array.from(seen.data), copies[1]);
  });

  test("zeroGrad's options are checked", () => {
    const opt = new SGD([leaf([2], 6)], { lr: 0.1 });
    assert.throws(() => opt.zeroGrad({ release: 1 as unknown as boolean }), (e: unknown) => e instanceof ValueError && /opts\.release/.test(e.message) && /a boolean/.test(e.message));
    assert.throws(() => opt.zeroGrad(null as unknown as { release?: boolean }), (e: unknown) => e instanceof ValueError && /Optimizer\.zeroGrad/.test(e.message));
  });
});

describe("releaseGrads on a device (host-memory device backend)", () => {
  test("each gradient backward made goes back to the store once and throws when used; a viewed one is kept", async () => {
    await on(true, async () => {
      const w = toDevice(leaf([16, 16], 7), dev), v = toDevice(leaf([16, 16], 8), dev);
      backward(add(lossOf(w), lossOf(v)));
      const wg = w.grad!, vg = v.grad!;
      const wArr = wg.device!;
      const seen = reshape(vg, [256]); // a second tensor over v's gradient array
      const keep = Array.from(await vg.read());
      const { arrays, result } = await releasesDuring(async () => releaseGrads([w, v]));
      assert.deepEqual(arrays, [wArr]);
      assert.equal(result, 256 * 4);
      assert.throws(() => wg.device, FreedTensorError);
      await assert.rejects(() => wg.read(), FreedTensorError);
      vg.deviceWritten();
      assert.deepEqual(Array.from(await seen.read()), keep);
    });
  });

  test("fit with freeGraph gives every step's parameter gradients back once, with the losses of a run without it", async () => {
    const train = (free: boolean): Promise<{ losses: number[]; grads: DeviceArray[][]; arrays: DeviceArray[] }> => on(true, async () => {
      const model = new Net(4).toDevice(dev);
      const grads: DeviceArray[][] = [];
      const { arrays, result } = await releasesDuring(() => fit<Batch>({
        model, optimizer: new AdamW(model.parameters(), { lr: 0.01 }), steps: 5, seed: 3, freeGraph: free,
        batches: (s) => { const b = batchAt(s); return { x: toDevice(b.x, dev), y: b.y }; },
        trainStep: (b) => crossEntropy(model.forward(b.x), b.y),
        onStep: () => { grads.push(model.parameters().map((p) => p.grad!.device!)); },
      }));
      assert.ok(model.parameters().every((p) => p.grad === null), "no gradient left after fit");
      return { losses: result.losses, grads, arrays };
    });
    const plain = await train(false), freed = await train(true);
    assert.deepEqual(freed.losses, plain.losses);
    assert.equal(freed.grads.length, 5);
    const all = freed.grads.flat();
    assert.equal(new Set(all).size, all.length, "a new gradient array every step");
    const count = new Map<DeviceArray, number>();
    for (const a of freed.arrays) count.set(a, (count.get(a) ?? 0) + 1);
    for (const [s, step] of freed.grads.entries()) step.forEach((a, i) => assert.equal(count.get(a), 1, `step ${s + 1}, parameter ${i}: released once`));
    for (const a of plain.grads.flat()) assert.ok(!plain.arrays.includes(a), "without freeGraph no gradient is released");
  });
});
