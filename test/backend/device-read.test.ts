/**
 * Batched reads of device tensors (tensor/read-all.ts, `DeviceStore.readMany`), in Node on the
 * host-memory device backend (host-device.ts counts single and batched reads): `readAll` gives
 * each tensor what `await t.read()` gives (float32 values, a bool as a Uint8Array, int32 indices
 * as an Int32Array) and caches it the same way, with one batched read; and every place that reads
 * a device model's state back does one batched read instead of one read per tensor:
 * `Module.readState`, `Optimizer.readState`, `captureTrainStateAsync`, `withHostData`,
 * `saveSafetensors`, and `fit`'s read of the loss and the clipped norm at each step.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { withHostData } from "../../src/backend/host-copies.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { gt, tanh } from "../../src/ops/elementwise.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { argmax } from "../../src/ops/reduce.js";
import { AdamW } from "../../src/optim/adam.js";
import { DeviceSyncError, ValueError } from "../../src/tensor/errors.js";
import { readAll } from "../../src/tensor/read-all.js";
import { Generator } from "../../src/tensor/rng.js";
import { randint, randn, tensor, type Tensor } from "../../src/tensor/tensor.js";
import { fit } from "../../src/train/fit.js";
import { captureTrainStateAsync } from "../../src/train/state.js";
import { deviceTestEnv } from "./device-helpers.js";

const { dev, on } = deviceTestEnv();
const dir = mkdtempSync(join(tmpdir(), "qkv-device-read-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** x [B, 5] -> logits [B, 3] through three linear layers: 6 parameters. */
class Mlp extends Module {
  readonly a: Linear; readonly b: Linear; readonly c: Linear;
  constructor(seed: number) {
    super();
    const generator = new Generator(seed);
    this.a = this.registerModule("a", new Linear(5, 7, { generator }));
    this.b = this.registerModule("b", new Linear(7, 6, { generator }));
    this.c = this.registerModule("c", new Linear(6, 3, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.c.forward(tanh(this.b.forward(tanh(this.a.forward(x)))));
  }
}

/** The model on the device after `steps` AdamW steps, its optimizer, and the host values of every parameter the same steps give on the host. */
async function trained(steps: number): Promise<{ model: Mlp; opt: AdamW }> {
  const model = new Mlp(1);
  model.toDevice(dev);
  const opt = new AdamW(model.parameters(), { lr: 1e-2 });
  const g = new Generator(2);
  const x = randn([4, 5], { generator: g }), y = randint(0, 3, [4], { generator: g });
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    backward(crossEntropy(model.forward(x), y));
    opt.step();
  }
  return { model, opt };
}

/** Counts dev's single and batched reads during f. */
async function counted<R>(f: () => Promise<R>): Promise<{ result: R; reads: number; batched: number }> {
  const reads = dev.reads, batched = dev.batchedReads;
  const result = await f();
  return { result, reads: dev.reads - reads, batched: dev.batchedReads - batched };
}

describe("batched reads of device tensors", () => {
  test("readAll gives and caches what read() gives, float32, bool and int32, with one batched read", async () => {
    await on(true, async () => {
      const g = new Generator(3);
      const x = toDevice(randn([4, 6], { generator: g }), dev);
      const y = toDevice(randn([5], { generator: g }), dev);
      const mask = gt(x, 0); // bool on the device
      const idx = argmax(x, 1); // int32 indices on the device
      const h = tensor([1, 2, 3]);
      const list = [x, mask, y, idx, h, x]; // x twice: read once
      for (const t of [x, mask, y, idx]) assert.throws(() => t.data, DeviceSyncError);
      const { result: got, reads, batched } = await counted(() => readAll(list));
      assert.equal(batched, 1, "one batched read");
      assert.equal(reads, 0, "no single reads");
      assert.ok(got[1] instanceof Uint8Array, "a bool reads back as a Uint8Array");
      assert.ok(got[3] instanceof Int32Array, "indices read back as an Int32Array");
      assert.ok(got[0] instanceof Float32Array);
      assert.equal(got[4], h.data, "a host tensor's own data");
      assert.equal(got[5], got[0], "a tensor listed twice gets one copy");
      // each is cached as read() caches it: data works and is the copy returned
      list.forEach((t, i) => assert.equal(t.data, got[i]));
      // read() again (single reads) gives the same values
      for (const [i, t] of [x, mask, y, idx].entries()) {
        t.deviceWritten();
        const want = await t.read();
        assert.equal(want.constructor, got[[0, 1, 2, 3][i]!]!.constructor);
        assert.deepEqual(Array.from(want), Array.from(got[[0, 1, 2, 3][i]!]!));
      }
      // all copies current: nothing to read
      const again = await counted(() => readAll(list));
      assert.equal(again.batched + again.reads, 0);
      // a write drops the copy: DeviceSyncError until read again
      y.deviceWritten();
      assert.throws(() => y.data, DeviceSyncError);
      const one = await counted(() => readAll([x, y]));
      assert.equal(one.batched, 1);
      assert.deepEqual(Array.from(one.result[1]!), Array.from(got[2]!));
    });
  });

  test("readAll's bad input: a ValueError naming the argument, nothing read", async () => {
    const cases: [unknown, RegExp][] = [
      [null, /readAll: tensors expected an iterable of Tensors, got null/],
      [3, /readAll: tensors expected an iterable of Tensors, got number/],
      [[tensor([1]), "x"], /readAll: tensors\[1\] expected a Tensor, got string/],
    ];
    for (const [bad, msg] of cases) {
      await assert.rejects(readAll(bad as never), (e: unknown) => e instanceof ValueError && msg.test((e as Error).message));
    }
  });

  test("Module.readState of a 6-parameter model: one batched read instead of 6; the values are the single reads'", async () => {
    await on(true, async () => {
      const { model } = await trained(2);
      const names = Object.keys(model.stateDict());
      assert.equal(names.length, 6);
      const { result: sd, reads, batched } = await counted(() => model.readState());
      assert.deepEqual({ reads, batched }, { reads: 0, batched: 1 });
      const got = names.map((n) => Array.from(sd[n]!.data));
      // the same tensors read one at a time
      for (const t of Object.values(sd)) t.deviceWritten();
      const single = await counted(async () => Promise.all(Object.values(sd).map(async (t) => Array.from(await t.read()))));
      assert.equal(single.reads, 6, "read() is one read per tensor");
      assert.deepEqual(got, single.result);
      assert.ok(got.every((v) => v.every(Number.isFinite)));
    });
  });

  test("Optimizer.readState and captureTrainStateAsync: one batched read each", async () => {
    await on(true, async () => {
      const { model, opt } = await trained(2);
      const o = await counted(() => opt.readState());
      assert.deepEqual({ reads: o.reads, batched: o.batched }, { reads: 0, batched: 1 });
      assert.equal(Object.keys(o.result.tensors).length, 6 * 3, "step, exp_avg and exp_avg_sq of each parameter");
      opt.step(); // writes the moments and parameters: their copies are stale again
      const c = await counted(() => captureTrainStateAsync({ model, optimizer: opt }, 3));
      assert.deepEqual({ reads: c.reads, batched: c.batched }, { reads: 0, batched: 1 }, "model and optimizer together");
      assert.equal(Object.keys(c.result.model).length, 6);
    });
  });

  test("withHostData and saveSafetensors read a device model back with one batched read", async () => {
    await on(true, async () => {
      const { model } = await trained(1);
      const w = await counted(() => withHostData(model.parameters(), () => model.parameters().map((p) => Array.from(p.data))));
      assert.deepEqual({ reads: w.reads, batched: w.batched }, { reads: 0, batched: 1 });
      const before = w.result;
      for (const p of model.parameters()) p.deviceWritten();
      const path = join(dir, "model.safetensors");
      const s = await counted(() => saveSafetensors(path, model.stateDict()));
      assert.deepEqual({ reads: s.reads, batched: s.batched }, { reads: 0, batched: 1 });
      const { tensors } = await loadSafetensors(path);
      assert.deepEqual(Object.keys(model.stateDict()).map((n) => Array.from(tensors.get(n)!.data)), before);
    });
  });

  test("fit reads the loss and the clipped norm of a step with one batched read", async () => {
    await on(true, async () => {
      const model = new Mlp(4);
      model.toDevice(dev);
      const optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
      const g = new Generator(5);
      const x = randn([4, 5], { generator: g }), y = randint(0, 3, [4], { generator: g });
      const steps = 3;
      const norms: (number | null)[] = [];
      const r = await counted(() => fit({
        model, optimizer, steps, clipNorm: 0.01, batches: () => ({ x, y }),
        trainStep: (b) => crossEntropy(model.forward(b.x), b.y), onStep: (info) => { norms.push(info.gradNorm); },
      }));
      assert.deepEqual({ reads: r.reads, batched: r.batched }, { reads: 0, batched: steps });
      assert.ok(r.result.losses.every(Number.isFinite));
      assert.ok(norms.every((n) => n !== null && n > 0.01), `clipped norms ${norms.join(", ")}`);
    });
  });
});
