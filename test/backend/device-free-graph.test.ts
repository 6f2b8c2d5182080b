/**
 * freeGraph (autograd/free-graph.ts) on device tensors, in Node on the host-memory device backend
 * (host-device.ts fills a released array with NaN, so a use after a release shows): a step's
 * intermediates go back to the store once each, views counted on the array they were taken from;
 * training with the graph freed gives the same losses bit for bit; a freed intermediate throws
 * FreedTensorError; the loss, the leaves, parameters used through views and anything shared with a
 * tensor off the graph (detached, a view taken with recording off) are kept.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { freeGraph } from "../../src/autograd/free-graph.js";
import { releaseGrads } from "../../src/autograd/release-grads.js";
import { noGrad } from "../../src/autograd/graph.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { add, mul, tanh, where } from "../../src/ops/elementwise.js";
import { layerNorm } from "../../src/ops/norm.js";
import { matmul } from "../../src/ops/matmul.js";
import { mean, sum } from "../../src/ops/reduce.js";
import { reshape, slice } from "../../src/ops/shape.js";
import { AdamW } from "../../src/optim/adam.js";
import { FreedTensorError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, Tensor } from "../../src/tensor/tensor.js";
import { deviceTestEnv } from "./device-helpers.js";

const { dev, on, releasesDuring } = deviceTestEnv();

/** A device leaf of seeded normals. */
const leaf = (shape: number[], seed: number, grad = true): Tensor =>
  toDevice(randn(shape, { generator: new Generator(seed), requiresGrad: grad }), dev);

const values = async (t: Tensor): Promise<number[]> => Array.from(await t.read());

describe("freeGraph on device tensors (host-memory device backend)", () => {
  test("intermediates go back once each (a view by its base, when the base is freed too); the loss and leaves stay", async () => {
    await on(true, async () => {
      const w = leaf([12, 12], 1), x = leaf([6, 12], 2, false);
      const h = tanh(matmul(x, w)); // [6, 12]
      const top = slice(h, 0, 0, 3); // a view of h's array
      const loss = sum(mul(add(top, 1), slice(h, 0, 3, 6)));
      backward(loss);
      const keep = { w: await values(w), x: await values(x), g: await values(w.grad!), loss: await values(loss) };
      const hArr = h.device!;
      assert.equal(top.device!.base, hArr, "the slice is a view of h's array");
      const freed = (await releasesDuring(() => freeGraph(loss))).arrays;
      assert.ok(freed.length >= 3, `${freed.length} arrays released`);
      assert.equal(new Set(freed).size, freed.length, "each array at most once");
      assert.ok(freed.every((a) => a.base === undefined), "a view is never released itself");
      assert.ok(freed.includes(hArr), "h's array (with its two views) went back");
      for (const t of [h, top]) {
        assert.throws(() => t.device, FreedTensorError);
        assert.throws(() => t.data, FreedTensorError);
        await assert.rejects(() => t.read(), FreedTensorError);
      }
      assert.throws(() => sum(h), FreedTensorError);
      // released arrays are NaN on this backend: the kept tensors are not
      for (const t of [w, x, w.grad!]) t.deviceWritten();
      loss.deviceWritten();
      assert.deepEqual({ w: await values(w), x: await values(x), g: await values(w.grad!), loss: await values(loss) }, keep);
      // backward through the freed graph again is the typed error, not NaN
      assert.throws(() => backward(loss), FreedTensorError);
    });
  });

  test("what ops saved for their backward alone goes back too: a layer norm's statistics, attention's lse and mask; a sum over a leading dim leaves no alias", async () => {
    await on(true, async () => {
      const x = leaf([2, 5, 8], 3), w = leaf([8], 4), b = leaf([8], 5);
      const mha = new MultiheadAttention(8, 2, { batchFirst: true, generator: new Generator(6) });
      mha.toDevice(dev);
      const pad = new Tensor(Uint8Array.of(0, 0, 0, 1, 1, 0, 0, 0, 0, 1), [2, 5], "bool"); // key padding: a mask upload
      const leaves = [x, w, b, ...mha.parameters()];
      /** Arrays left behind by a pass: the last pass's gradients given back (as zeroGrad({ release: true })), then forward, backward and freeGraph. */
      const pass = (): number => {
        const before = dev.made - dev.releases;
        releaseGrads(leaves);
        const h = layerNorm(x, [8], w, b); // [2, 5, 8]
        const a = mha.forward(h, h, h, { keyPaddingMask: pad, needWeights: false }).output;
        const loss = sum(sum(mul(a, 0.5), 0)); // over dim 0: moved last by a copy, not an alias of the product
        backward(loss);
        freeGraph(loss);
        dev.flush();
        return dev.made - dev.releases - before;
      };
      pass();
      const left = [pass(), pass()];
      assert.deepEqual(left, [1, 1], `arrays left by a pass: ${left.join(", ")} (the gradients replace the last pass's, so the loss alone should stay)`);
    });
  });

  test("uploads of host operands (a scalar, a host mask, a host matrix) go back at the next flush or read, after every kernel that reads them", async () => {
    const cond = new Tensor(Uint8Array.from({ length: 24 }, (_, i) => i % 3), [4, 6], "bool");
    const w = randn([6, 6], { generator: new Generator(8) }); // stays on the host
    const xs = () => randn([4, 6], { generator: new Generator(7), requiresGrad: true });
    const want = await on(false, async () => {
      const x = xs();
      const l = sum(where(cond, matmul(x, w), mul(x, 0.5)));
      backward(l);
      return [...l.data, ...x.grad!.data];
    });
    await on(true, async () => {
      const x = toDevice(xs(), dev);
      const made = dev.made, released = dev.releases;
      const loss = sum(where(cond, matmul(x, w), mul(x, 0.5))); // uploads: w, the scalar, cond
      backward(loss); // w again for dx
      const waiting = dev.made - dev.releases - (made - released);
      const got = [...await values(loss), ...await values(x.grad!)]; // a read gives the uploads back
      // a released array reads NaN on this backend; the host's own kernels (native, wasm) round the product their way
      const off = got.map((g, i) => Math.abs(g - want[i]!) / (1 + Math.abs(want[i]!)));
      assert.ok(got.length === want.length && off.every((d) => d <= 1e-5), `the host's values: no upload was given back before its last kernel (${got.join(", ")})`);
      const left = dev.made - dev.releases - (made - released);
      assert.ok(waiting - left >= 4, `${waiting - left} uploads given back at the read (w twice, the scalar, cond)`);
    });
  });

  test("arrays shared off the graph are kept: detached, reshaped or sliced with recording off, a view the loss does not use", async () => {
    await on(true, async () => {
      const w = leaf([16, 16], 3), x = leaf([8, 16], 4, false);
      const a = tanh(matmul(x, w)), b = mul(matmul(x, w), 2), c = tanh(mul(matmul(x, w), 3)), d = mul(matmul(x, w), 5);
      const kept = a.detach();
      const quiet = noGrad(() => reshape(b, [16, 8]));
      const side = reshape(c, [4, 32]); // recorded, but not on the loss's path
      const part = noGrad(() => slice(d, 0, 2, 5)); // a view of d taken with recording off
      const copies = [await values(kept), await values(quiet), await values(side), await values(part)];
      const loss = sum(mul(mul(a, b), mul(c, d)));
      backward(loss);
      const freed = (await releasesDuring(() => freeGraph(loss))).arrays;
      for (const t of [a, b, c, d]) assert.ok(!freed.includes(t.device!), "an array shared off the graph is not released");
      for (const t of [kept, quiet, side, part]) t.deviceWritten();
      assert.deepEqual([await values(kept), await values(quiet), await values(side), await values(part)], copies);
      assert.deepEqual(await values(a), copies[0]);
    });
  });

  test("parameters used through views (a reshape, slices of a packed weight) are never released", async () => {
    await on(true, async () => {
      const w = leaf([8, 16], 5);
      const before = await values(w);
      const wr = reshape(w, [16, 8]), top = slice(w, 0, 0, 4), rest = slice(w, 0, 4, 8);
      const x = leaf([3, 16], 6, false);
      const loss = add(sum(tanh(matmul(x, wr))), sum(mul(top, rest)));
      backward(loss);
      const freed = (await releasesDuring(() => freeGraph(loss))).arrays;
      assert.ok(!freed.includes(w.device!));
      w.deviceWritten();
      assert.deepEqual(await values(w), before);
      assert.deepEqual(await values(wr), before);
    });
  });

  test("training with the graph freed after every update gives the same losses, bit for bit, and releases each step's intermediates", async () => {
    const trainLosses = (free: boolean): Promise<{ losses: number[]; releases: number }> => on(true, async () => {
      const mha = new MultiheadAttention(8, 2, { batchFirst: true, generator: new Generator(7) }); // packed in-projection: slices
      mha.toDevice(dev);
      const opt = new AdamW(mha.parameters(), { lr: 1e-2 });
      const x = toDevice(randn([2, 5, 8], { generator: new Generator(8) }), dev);
      const losses: number[] = [];
      const releases = dev.releases;
      for (let s = 0; s < 4; s++) {
        opt.zeroGrad();
        const loss = mean(mul(mha.forward(x, x, x, { needWeights: false }).output, x));
        backward(loss);
        opt.step();
        losses.push((await loss.read())[0]!);
        if (free) freeGraph(loss);
      }
      return { losses, releases: dev.releases - releases };
    });
    const kept = await trainLosses(false), freed = await trainLosses(true);
    assert.ok(freed.losses.every(Number.isFinite), `losses ${freed.losses.join(", ")}`);
    assert.deepEqual(freed.losses, kept.losses);
    assert.ok(freed.releases >= kept.releases + 4 * 3, `${freed.releases} releases with freeGraph, ${kept.releases} without`);
  });
});
