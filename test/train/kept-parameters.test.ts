/**
 * KeptParameters (src/train/kept-parameters.ts) on the host and on the host-memory device backend
 * (test/backend/host-device.ts): `restore` puts back exactly the values of the last `keep`; on a
 * device nothing is read back, the copies of a replaced `keep` go back to the store at once and
 * those `restore` used after it; `copyValues` and the typed errors.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { copyValues, toDevice, writeValues } from "../../src/backend/tensor-arrays.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { readAll } from "../../src/tensor/read-all.js";
import { tensor, type Tensor } from "../../src/tensor/tensor.js";
import { KeptParameters } from "../../src/train/kept-parameters.js";
import { deviceTestEnv } from "../backend/device-helpers.js";

const { dev, on } = deviceTestEnv();

const params = (): Tensor[] => [tensor([[1, 2, 3], [4, 5, 6]]), tensor([0.5, -0.25])];
/** Writes x + step into every parameter, as an update would. */
const update = (ps: Tensor[], step: number, values: number[][]): void => ps.forEach((p, i) => writeValues(p, values[i]!.map((x) => x + step)));
const BASE = [[1, 2, 3, 4, 5, 6], [0.5, -0.25]];

describe("KeptParameters", () => {
  for (const device of [false, true]) {
    test(`${device ? "on a device" : "on the host"}: restore puts back the last keep's values exactly`, async () => {
      await on(device, async () => {
        const ps = params();
        if (device) for (const p of ps) toDevice(p, dev);
        const kept = new KeptParameters();
        assert.equal(kept.holds, false);
        kept.restore(ps); // none held: a no-op
        update(ps, 1, BASE);
        kept.keep(ps); // epoch 1
        const reads = dev.reads, batched = dev.batchedReads;
        update(ps, 2, BASE);
        const afterUpdate = dev.releases; // writeValues' uploads go back too
        kept.keep(ps); // epoch 2 replaces epoch 1
        assert.equal(dev.releases - afterUpdate, device ? 2 : 0, "epoch 1's copies given back when replaced");
        update(ps, 3, BASE);
        const beforeRestore = dev.releases;
        kept.restore(ps);
        assert.equal(dev.releases - beforeRestore, device ? 2 : 0, "the copies given back after restore");
        assert.equal(kept.holds, false);
        assert.deepEqual([dev.reads - reads, dev.batchedReads - batched], [0, 0], "nothing read back");
        assert.deepEqual((await readAll(ps)).map((a) => Array.from(a)), BASE.map((v) => v.map((x) => x + 2)), "epoch 2's values");
        assert.equal(ps[0]!.onDevice, device);
      });
    });
  }

  test("release gives the device copies back without writing the parameters", async () => {
    await on(true, async () => {
      const ps = params();
      for (const p of ps) toDevice(p, dev);
      const kept = new KeptParameters();
      kept.keep(ps);
      const releases = dev.releases;
      kept.release();
      kept.release(); // nothing held: a no-op
      assert.equal(dev.releases - releases, 2);
      update(ps, 1, BASE);
      kept.restore(ps); // nothing held after release
      assert.deepEqual(Array.from((await readAll(ps))[1]!), [1.5, 0.75]);
    });
  });

  test("bad input: typed errors naming the function, the argument, expected and got", () => {
    const kept = new KeptParameters();
    assert.throws(() => kept.keep([tensor([1]), 3 as unknown as Tensor]), (e: unknown) =>
      e instanceof ValueError && e.message === "KeptParameters.keep: params[1] expected a Tensor, got number");
    kept.keep(params());
    assert.throws(() => kept.restore([tensor([1])]), (e: unknown) =>
      e instanceof ValueError && e.message === "KeptParameters.restore: params expected 2 tensors (as kept), got 1");
    assert.throws(() => copyValues(tensor([1, 2]), tensor([1, 2, 3])), (e: unknown) =>
      e instanceof ShapeError && e.message === "copyValues: src expected 2 elements (as t), got 3");
  });
});
