/**
 * Training on the webgpu backend in headless Chromium on SwiftShader (webgpu-harness.ts opens
 * webgpu-train-page.ts): a small transformer block trained for a few AdamW steps on js and, from
 * the same seeded initialization, on webgpu; the loss curves must agree within float32's error
 * bound for these sizes (also with attention dropout, the fused kernels drawing one mask on both);
 * likewise a small CNN (convolutions, batch norm, pooling) under SGD. Also:
 * `t.data` on a device tensor throws DeviceSyncError naming the call and `await t.read()`, and the
 * read copy is cached; the fused optimizer kernels give the composed update's numbers; readAll
 * reads many tensors with one submission; freeGraph gives the device intermediates back; FAVOR+,
 * linear and window attention as whole ops give js's outputs and gradients. Skipped
 * without a Chromium binary, and run in
 * one backend's pass only (as webgpu.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { availableBackends } from "../../src/backend/registry.js";
import { findChromium } from "../../tools/playground/site.js";
import { checkPageShaders } from "../backend/naga.js";
import { openWebgpuPage, type WebgpuPage } from "./webgpu-harness.js";
import type { TrainApi } from "./webgpu-train-page.js";

const chromium = findChromium();
const pass = availableBackends().includes("wasm") ? "wasm" : availableBackends()[0];
const mine = !process.env.QKV_BACKEND || process.env.QKV_BACKEND === pass || process.env.QKV_WEBGPU_TRAIN === "1";
const skip = !chromium ? "no Chromium binary found (install Debian's chromium package or set QKV_CHROMIUM)"
  : !mine ? `the WebGPU browser tests run in the ${pass} backend's pass only` : false;

type Api = { qkvTrain?: TrainApi };
const STEPS = 4;

describe("training on webgpu in Chromium on SwiftShader", { skip }, () => {
  let opened: WebgpuPage;
  before(async () => {
    opened = await openWebgpuPage(chromium!, new URL("./webgpu-train-page.ts", import.meta.url));
  });
  after(async () => {
    await opened?.close();
  });

  test("t.data on a device tensor throws DeviceSyncError until await t.read()", async () => {
    const r = await opened.page.evaluate(() => (globalThis as Api).qkvTrain!.sync());
    assert.equal(r.threw, "DeviceSyncError");
    assert.equal(r.op, "data");
    assert.match(r.message, /await t\.read\(\)/);
    assert.deepEqual(r.read, [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(r.afterRead, [0, 0, 0, 0, 0, 0]);
    assert.ok(r.hostRead, "read() of a host tensor resolves to its data");
    assert.ok(r.secondReleaseIgnored, "a stale second release does not give away the buffer's new owner");
    assert.deepEqual(opened.errors, []);
  });

  test("embedding and indexSelect by argmax's indices on webgpu: js's bits, nothing read back; an index out of range reported by the next read", async () => {
    const r = await opened.page.evaluate(() => (globalThis as Api).qkvTrain!.deviceIndices());
    assert.deepEqual(r.differ, []);
    assert.equal(r.submissions, 0);
    assert.equal(r.outOfRange, "ValueError: embedding: indices expected values in [0, 5), got an index outside it (found on the device)");
    assert.equal(r.afterwards, "none");
    assert.deepEqual(opened.errors, []);
  });

  test(`a transformer block trains ${STEPS} AdamW steps on webgpu with js's losses`, async (t) => {
    const r = await opened.page.evaluate((n) => (globalThis as Api).qkvTrain!.train(n), STEPS);
    assert.equal(r.backend, "webgpu");
    const { L, E, C } = r.sizes;
    // float32 rounding: each value of the forward pass is a chain of about 12 layers of sums of
    // at most K terms (K = the longest inner dimension: 4E in the MLP), each contributing at most
    // (K + 2) u relative error (the losses are O(1)); the loss of step s also carries s AdamW
    // updates, whose normalized steps move the weights by lr times a relative error of the same
    // order, so the bound grows by one such term per step
    const u = 2 ** -24, K = Math.max(4 * E, L, C), layers = 12;
    const tol = (s: number): number => layers * (K + 2) * u * (1 + s);
    for (let s = 0; s < STEPS; s++) {
      const d = Math.abs(r.webgpu[s]! - r.js[s]!);
      t.diagnostic(`step ${s}: js ${r.js[s]}, webgpu ${r.webgpu[s]}, |diff| ${d.toExponential(2)} (${(d / tol(s)).toFixed(3)} of the bound)`);
      assert.ok(Number.isFinite(r.webgpu[s]!), `step ${s}: webgpu loss ${r.webgpu[s]}`);
      assert.ok(d <= tol(s), `step ${s}: |${r.webgpu[s]} - ${r.js[s]}| = ${d} > ${tol(s)}`);
    }
    assert.ok(r.js[STEPS - 1]! < r.js[0]!, `the loss decreases on js: ${r.js.join(", ")}`);
    t.diagnostic(`${r.submissions} submissions for ${STEPS} steps; device pool bytes after each step: ${r.poolBytes.join(", ")}`);
    t.diagnostic(`freeGraph gave back ${r.freedBytes.join(", ")} bytes; new buffers of each forward pass: ${r.forwardBytes.join(", ")} bytes`);
    // freeGraph gives each step's device intermediates back (the same graph every step), so each
    // later forward pass takes them from the pool: it makes new buffers only for the uploads of host
    // inputs (a few KB, returned by the FinalizationRegistry whenever the collector runs). The
    // previous step's gradients go back at zeroGrad({ release: true }) (the page's loop), while the
    // dispatches recorded with them may still be queued: the losses above show nothing read them
    // after their reuse
    const freed = r.freedBytes[0]!;
    assert.ok(freed > 0, `freeGraph gave back ${freed} bytes`);
    assert.deepEqual(r.freedBytes, new Array<number>(STEPS).fill(freed));
    assert.ok(r.forwardBytes[0]! >= freed, `the first forward pass made ${r.forwardBytes[0]} bytes`);
    for (let s = 1; s < STEPS; s++) assert.ok(r.forwardBytes[s]! <= freed / 8, `step ${s}: the forward pass made ${r.forwardBytes[s]} new bytes`);
    assert.deepEqual(opened.errors, []);
  });

  test("readAll reads a trained model's state with one submission, the values of one read() per tensor", async (t) => {
    const r = await opened.page.evaluate(() => (globalThis as Api).qkvTrain!.readBatched());
    t.diagnostic(`${r.count} device tensors: submissions ${r.submissions.batched} batched, ${r.submissions.single} one by one, ${r.submissions.split} split into 256-byte staging buffers`);
    assert.ok(r.count >= 9, `${r.count} tensors`);
    assert.equal(r.submissions.batched, 1);
    assert.equal(r.submissions.single, r.count);
    assert.equal(r.submissions.split, 1);
    assert.equal(r.maxDiff, 0);
    assert.equal(r.splitMaxDiff, 0);
    assert.deepEqual(r.types, r.singleTypes);
    assert.deepEqual(r.types.slice(-2), ["Uint8Array", "Int32Array"], "a bool and int32 indices on the device");
    assert.ok(r.cached, "each copy cached as read() caches it");
    assert.deepEqual(opened.errors, []);
  });

  test(`with attention dropout 0.25 the block trains ${STEPS} steps on webgpu with js's losses (the fused kernels' one mask)`, async (t) => {
    const r = await opened.page.evaluate((n) => (globalThis as Api).qkvTrain!.train(n, 0.25), STEPS);
    const noDrop = await opened.page.evaluate((n) => (globalThis as Api).qkvTrain!.train(n), 1);
    // the bound of the test above; a mask that differed from js's would move the loss by far more
    const u = 2 ** -24, K = Math.max(4 * r.sizes.E, r.sizes.L, r.sizes.C), layers = 12;
    const tol = (s: number): number => layers * (K + 2) * u * (1 + s);
    assert.notEqual(r.js[0], noDrop.js[0], "dropout changes the first loss");
    for (let s = 0; s < STEPS; s++) {
      const d = Math.abs(r.webgpu[s]! - r.js[s]!);
      t.diagnostic(`step ${s}: js ${r.js[s]}, webgpu ${r.webgpu[s]}, |diff| ${d.toExponential(2)} (${(d / tol(s)).toFixed(3)} of the bound)`);
      assert.ok(Number.isFinite(r.webgpu[s]!) && d <= tol(s), `step ${s}: |${r.webgpu[s]} - ${r.js[s]}| = ${d} > ${tol(s)}`);
    }
    assert.deepEqual(opened.errors, []);
  });

  test("the fused optimizer kernels give the composed update's numbers: SGD's and Adam's parameters several to a dispatch", async (t) => {
    const rs = await opened.page.evaluate(() => (globalThis as Api).qkvTrain!.optimizers());
    assert.equal(rs.length, 6);
    for (const r of rs) {
      t.diagnostic(`${r.name}: fused vs composed ${r.maxUlps} ulp, vs host ${r.maxRelToHost.toExponential(2)}, dispatches ${r.dispatches.join(" vs ")}`);
      // the same float32 operations in the same order; a compiler may still contract a * b + c into one fma
      assert.ok(r.maxUlps <= 2, `${r.name}: fused and composed differ by ${r.maxUlps} ulp`);
      // the host update computes in float64 and rounds once: 3 steps of a few float32 roundings each
      assert.ok(r.maxRelToHost <= 3e-6, `${r.name}: ${r.maxRelToHost} from the host update`);
      assert.equal(r.dispatches[0], r.fusedWant, `${r.name}: ${r.fusedWant} dispatches a step`);
      // the gradients read scaled by the update: the same bits as clipping them in place first
      t.diagnostic(`${r.name}: gradScale vs clipped in place ${r.scaledUlps} ulp, ${r.scaledDispatches} dispatches`);
      assert.equal(r.scaledUlps, 0, `${r.name}: the gradScale update differs from clipping in place by ${r.scaledUlps} ulp`);
      assert.equal(r.scaledDispatches, r.scaledWant, `${r.name}: ${r.scaledWant} dispatches a step with gradScale`);
      assert.ok(r.dispatches[1] > 3, `${r.name}: the composed update takes ${r.dispatches[1]} dispatches`);
    }
    assert.deepEqual(opened.errors, []);
  });

  test("fit() trains the CNN on webgpu as on js: losses, clipped gradient norms, learning rates, evaluations, checkpoints", async (t) => {
    const steps = 6;
    const r = await opened.page.evaluate((n) => (globalThis as Api).qkvTrain!.fitCnn(n), steps);
    // the CNN's bound (below), per step; the norms are sums of squares of about 400 gradients
    const u = 2 ** -24, K = 4 * 11 * 9, layers = 8;
    const tol = (s: number): number => layers * (K + 2) * u * (1 + s);
    assert.equal(r.webgpu.losses.length, steps);
    for (let s = 0; s < steps; s++) {
      const d = Math.abs(r.webgpu.losses[s]! - r.js.losses[s]!), dn = Math.abs(r.webgpu.gradNorms[s]! - r.js.gradNorms[s]!);
      t.diagnostic(`step ${s}: loss |diff| ${d.toExponential(2)}, grad norm ${r.js.gradNorms[s]} vs ${r.webgpu.gradNorms[s]}`);
      assert.ok(d <= tol(s) * Math.max(1, Math.abs(r.js.losses[s]!)), `step ${s}: loss ${r.webgpu.losses[s]} vs ${r.js.losses[s]}`);
      assert.ok(r.js.gradNorms[s]! > 0.05, `step ${s}: the norm ${r.js.gradNorms[s]} is clipped`);
      assert.ok(dn <= tol(s) * r.js.gradNorms[s]!, `step ${s}: grad norm ${r.webgpu.gradNorms[s]} vs ${r.js.gradNorms[s]}`);
    }
    assert.deepEqual(r.webgpu.lrs, r.js.lrs);
    assert.equal(r.webgpu.evals.length, 3);
    r.js.evals.forEach((e, i) => assert.ok(Math.abs(r.webgpu.evals[i]! - e) <= tol(steps) * Math.max(1, Math.abs(e)), `eval ${i}: ${r.webgpu.evals[i]} vs ${e}`));
    assert.deepEqual(r.webgpu.checkpointSteps, [3, 6]);
    assert.deepEqual(opened.errors, []);
  });

  // splitK: the weight gradients in 3 ranges of K, whose sums are shorter than the longest one below
  for (const splitK of [undefined, 3]) {
    const how = splitK ? `, the convolutions' weight gradients split into ${splitK} ranges of K` : "";
    test(`a small CNN (conv, batch norm, pooling) trains ${STEPS} SGD steps on webgpu with js's losses and running statistics${how}`, async (t) => {
      const r = await opened.page.evaluate(([n, s]) => (globalThis as Api).qkvTrain!.trainCnn(n, s), [STEPS, splitK] as const);
      // as above, with K the longest sum: the batch statistics over B H W = 4 * 11 * 9 values per
      // channel (float32 on the device, float64 on js), through about 8 layers
      const u = 2 ** -24, K = 4 * 11 * 9, layers = 8;
      const tol = (s: number): number => layers * (K + 2) * u * (1 + s);
      for (let s = 0; s < STEPS; s++) {
        const d = Math.abs(r.webgpu[s]! - r.js[s]!);
        t.diagnostic(`step ${s}: js ${r.js[s]}, webgpu ${r.webgpu[s]}, |diff| ${d.toExponential(2)} (${(d / tol(s)).toFixed(3)} of the bound)`);
        assert.ok(Number.isFinite(r.webgpu[s]!) && d <= tol(s), `step ${s}: |${r.webgpu[s]} - ${r.js[s]}| = ${d} > ${tol(s)}`);
      }
      assert.ok(r.js[STEPS - 1]! < r.js[0]!, `the loss decreases on js: ${r.js.join(", ")}`);
      for (const [what, got, want] of [["running statistics", r.running.webgpu, r.running.js], ["eval logits", r.evalLogits.webgpu, r.evalLogits.js]] as const) {
        assert.equal(got.length, want.length, what);
        want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= tol(STEPS) * (1 + Math.abs(w)), `${what}[${i}]: ${got[i]} vs ${w}`));
      }
      assert.deepEqual(opened.errors, []);
    });
  }

  test("efficient attention as whole ops on webgpu: FAVOR+, elu + 1 linear attention (causal and not) and the sliding window give js's outputs and gradients", async (t) => {
    const r = await opened.page.evaluate(() => (globalThis as Api).qkvTrain!.efficient());
    assert.deepEqual(r.map((c) => c.name), ["performer", "performer causal", "linear", "linear causal", "window"]);
    for (const c of r) {
      // float32 sums in another order over at most 16 keys, 16 features or 8 dims a term: 1e-5 of the largest value
      for (const [what, err] of Object.entries(c.errors)) assert.ok(err <= 1e-5, `${c.name}, ${what}: ${err}`);
      assert.equal(c.submissions, 0, `${c.name}: nothing read back before the final read`);
      t.diagnostic(`${c.name}: largest relative difference ${Math.max(...Object.values(c.errors)).toExponential(2)}`);
    }
    assert.deepEqual(opened.errors, []);
  });

  test("every shader the page made is valid WGSL to naga too (wgpu's and Firefox's compiler)", (t) => checkPageShaders(t, opened, 40));
});
