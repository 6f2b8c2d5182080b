/**
 * fit's `evaluateOn: "device"` on the host-memory device backend (test/backend/host-device.ts):
 * an async `evaluate` runs on the model's own device tensors with the device backend active and
 * gives exactly the metrics of the default host evaluation (on copies read back); nothing is read
 * back for it but what it reads itself; recording is off across its awaits and back on after, also
 * when it throws; and the option's typed errors. Also `noGradAsync` itself.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isGradEnabled, noGradAsync } from "../../src/autograd/graph.js";
import { getBackend } from "../../src/backend/registry.js";
import { mul } from "../../src/ops/elementwise.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { argmax } from "../../src/ops/reduce.js";
import { AdamW } from "../../src/optim/adam.js";
import { DeviceSyncError, ValueError } from "../../src/tensor/errors.js";
import { tensor } from "../../src/tensor/tensor.js";
import { fit, type FitOptions, type FitResult } from "../../src/train/fit.js";
import { deviceTestEnv, U } from "../backend/device-helpers.js";
import { batchAt, C, E, N, Net, type Batch } from "./fit-net.js";

const STEPS = 6, EVERY = 2;
const { dev, on } = deviceTestEnv();

const probe = batchAt(999);

/** The metrics from the predictions [N] and the probe loss: accuracy and every prediction (base C digits), both exact. */
function metricsOf(pred: ArrayLike<number>, loss: number): Record<string, number> {
  const y = probe.y.data;
  let ok = 0, code = 0;
  for (let i = 0; i < N; i++) {
    if (pred[i] === y[i]) ok++;
    code = code * C + Number(pred[i]);
  }
  return { accuracy: ok / N, predictions: code, probeLoss: loss };
}

/** The default evaluation: synchronous, on the host (copies of a device model's parameters). */
const hostEvaluate = (model: Net) => (): Record<string, number> => {
  const logits = model.forward(probe.x); // [N, C]
  assert.equal(logits.onDevice, false);
  return metricsOf(argmax(logits, 1).data, crossEntropy(logits, probe.y).item());
};

interface Seen { step: number; grad: boolean; gradAfterAwait: boolean; training: boolean; backend: string; paramsOnDevice: boolean; paramCopies: number; logitsOnDevice: boolean }

/** The device evaluation: async, on the model's device tensors; its own two reads, nothing else. */
const deviceEvaluate = (model: Net, seen: Seen[]) => async (step: number): Promise<Record<string, number>> => {
  const grad = isGradEnabled();
  const ps = model.parameters();
  const logits = model.forward(probe.x); // [N, C]
  assert.throws(() => logits.data, DeviceSyncError);
  const pred = await argmax(logits, 1).read();
  const loss = await crossEntropy(logits, probe.y).read();
  seen.push({
    step, grad, gradAfterAwait: isGradEnabled(), training: model.training, backend: getBackend().name,
    paramsOnDevice: ps.every((p) => p.onDevice), paramCopies: ps.filter((p) => p.host !== null).length, logitsOnDevice: logits.onDevice,
  });
  // recording stays off after the awaits: an op on a parameter records nothing
  assert.equal(mul(ps[0]!, 2).requiresGrad, false);
  return metricsOf(pred, Number(loss[0]));
};

type Opts = Partial<FitOptions<Batch>>;

async function run(device: boolean, extra: (m: Net) => Opts): Promise<{ model: Net; result: FitResult }> {
  return on(device, async () => {
    const model = new Net(1);
    if (device) model.toDevice(dev);
    const optimizer = new AdamW(model.parameters(), { lr: 3e-2 });
    const result = await fit<Batch>({
      model, optimizer, steps: STEPS, seed: 3, batches: batchAt, evalEvery: EVERY,
      trainStep: (b) => crossEntropy(model.forward(b.x), b.y),
      ...extra(model),
    });
    return { model, result };
  });
}

describe("fit: evaluateOn \"device\"", () => {
  test("gives exactly the host evaluation's metrics, with no parameter read back; recording off inside, restored after", async (t) => {
    const ref = await run(true, (m) => ({ evaluate: hostEvaluate(m) }));
    const reads = dev.reads, batched = dev.batchedReads, flushes = dev.flushes;
    const seen: Seen[] = [];
    const got = await run(true, (m) => ({ evaluateOn: "device", evaluate: deviceEvaluate(m, seen) }));
    assert.equal(isGradEnabled(), true, "recording is back on after fit");

    // the evaluation does not touch training: the same losses, bit for bit
    assert.deepEqual(got.result.losses, ref.result.losses);
    assert.ok(ref.result.losses.at(-1)! < ref.result.losses[0]!, `the loss decreases: ${ref.result.losses.join(", ")}`);
    assert.deepEqual(got.result.evals.map((e) => e.step), [2, 4, 6]);
    got.result.evals.forEach((e, k) => {
      const r = ref.result.evals[k]!.metrics;
      assert.equal(e.metrics.accuracy, r.accuracy, `accuracy at step ${e.step}`);
      assert.equal(e.metrics.predictions, r.predictions, `predictions at step ${e.step}`);
      // the probe loss through the device ops (sums by products with ones) against the host loop's
      assert.ok(Math.abs(e.metrics.probeLoss! - r.probeLoss!) <= 10 * (2 * E + 2) * U * r.probeLoss!, `probe loss at step ${e.step}: ${e.metrics.probeLoss} vs ${r.probeLoss}`);
    });
    t.diagnostic(`accuracies ${ref.result.evals.map((e) => e.metrics.accuracy).join(", ")}; largest probe loss difference ${
      Math.max(...got.result.evals.map((e, k) => Math.abs(e.metrics.probeLoss! - ref.result.evals[k]!.metrics.probeLoss!))).toExponential(2)}`);

    // inside: eval mode, recording off (also after its awaits), the device backend active, the
    // parameters on the device with no host copy (none was read back)
    assert.deepEqual(seen, [2, 4, 6].map((step) => ({
      step, grad: false, gradAfterAwait: false, training: false, backend: dev.name, paramsOnDevice: true, paramCopies: 0, logitsOnDevice: true,
    })));
    assert.equal(got.model.training, true);
    // reads: one batched read of the loss per step and the evaluations' own two single reads; the
    // host evaluation would add a batched read of the parameters per evaluation
    assert.equal(dev.batchedReads - batched, STEPS, "batched reads");
    assert.equal(dev.reads - reads, 2 * seen.length, "single reads");
    // no flush of its own: each update goes with the read of its loss (optimizer.step({ submit: false })), the evaluations' with their reads
    assert.equal(dev.flushes - flushes, 0, "no flush for the updates or the evaluations");
  });

  test("on a host model: the host evaluation's metrics, bit for bit; the async evaluate awaited with recording off", async () => {
    const ref = await run(false, (m) => ({ evaluate: hostEvaluate(m) }));
    const grads: boolean[] = [];
    const got = await run(false, (m) => ({
      evaluateOn: "device",
      evaluate: async () => {
        await Promise.resolve();
        grads.push(isGradEnabled());
        return hostEvaluate(m)();
      },
    }));
    assert.deepEqual(got.result.evals, ref.result.evals);
    assert.deepEqual(got.result.losses, ref.result.losses);
    assert.deepEqual(grads, [false, false, false]);
    assert.equal(isGradEnabled(), true);
  });

  test("an evaluate that throws: fit rejects with its error; recording and train mode are restored", async () => {
    for (const [what, evaluate] of [
      ["after an await", async () => { await Promise.resolve(); throw new Error("boom"); }],
      ["at once", () => { throw new Error("boom"); }],
    ] as const) {
      let model: Net | undefined;
      await assert.rejects(run(true, (m) => { model = m; return { evaluateOn: "device", evaluate }; }), /^Error: boom$/, what);
      assert.equal(isGradEnabled(), true, `recording back on (${what})`);
      assert.equal(model!.training, true, `train mode again (${what})`);
    }
  });

  test("bad values name fit, the argument, what was expected and what came", async () => {
    const rejects = (o: Opts, message: string) =>
      assert.rejects(run(false, (m) => ({ evaluate: hostEvaluate(m), ...o })), (e: unknown) => e instanceof ValueError && e.message === message);
    await rejects({ evaluateOn: "gpu" as "device" }, 'fit: evaluateOn expected "host" or "device", got "gpu"');
    await rejects({ evaluateOn: 1 as unknown as "device" }, 'fit: evaluateOn expected "host" or "device", got 1');
    await rejects({ evaluateOn: null as unknown as "device" }, 'fit: evaluateOn expected "host" or "device", got null');
    // an async evaluate needs evaluateOn "device" (the host path would run its awaits with recording on)
    for (const evaluateOn of [undefined, "host"] as const) {
      await rejects({ ...(evaluateOn ? { evaluateOn } : {}), evaluate: async () => ({ x: 1 }) },
        'fit: evaluate expected metrics, not a Promise (an async evaluate needs evaluateOn "device"), got a Promise at step 2');
      assert.equal(isGradEnabled(), true);
    }
  });
});

describe("noGradAsync", () => {
  test("records nothing across awaits; restores the flag when fn resolves or rejects", async () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = await noGradAsync(async () => {
      await Promise.resolve();
      return mul(x, 2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);
    await assert.rejects(noGradAsync(async () => { await Promise.resolve(); throw new Error("no"); }), /no/);
    assert.equal(isGradEnabled(), true);
    // a synchronous fn and a synchronous throw
    assert.equal(await noGradAsync(() => isGradEnabled()), false);
    await assert.rejects(noGradAsync(() => { throw new Error("sync"); }), /sync/);
    assert.equal(isGradEnabled(), true);
  });
});
