import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isGradEnabled } from "../../src/autograd/graph.js";
import { mseLoss } from "../../src/ops/functional.js";
import { fit, type StepInfo } from "../../src/train/fit.js";
import type { TrainState } from "../../src/train/state.js";
import { ValueError } from "../../src/tensor/errors.js";
import { tensor } from "../../src/tensor/tensor.js";
import { drawBatch, setup } from "./helpers.js";

const STEPS = 12;

async function run(opts: { initSeed?: number; resumeFrom?: TrainState; checkpoints?: TrainState[]; iterable?: boolean } = {}) {
  const s = setup(opts.initSeed ?? 0, STEPS);
  const batches = opts.iterable ? (function* () { for (;;) yield drawBatch(); })() : () => drawBatch();
  const infos: StepInfo[] = [];
  const result = await fit({
    model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, trainStep: s.trainStep,
    batches, steps: STEPS, clipNorm: 1, seed: 7,
    generators: { dropout: s.dropGen },
    evalEvery: 4,
    evaluate: () => {
      assert.equal(s.model.training, false);
      assert.equal(isGradEnabled(), false);
      return { probe: s.model.forward(tensor([[1, 2, 3, 4]])).item() };
    },
    onStep: (i) => { infos.push(i); },
    checkpointEvery: 5,
    checkpoint: (st) => { opts.checkpoints?.push(st); },
    ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
  });
  return { ...s, result, infos };
}

describe("fit", () => {
  test("the same seed gives a bit-identical loss curve; training reduces the loss", async () => {
    const a = await run(), b = await run();
    assert.equal(a.result.losses.length, STEPS);
    assert.deepEqual(a.result.losses, b.result.losses);
    assert.deepEqual(a.result.evals, b.result.evals);
    assert.deepEqual(a.result.evals.map((e) => e.step), [4, 8, 12]);
    assert.deepEqual(a.infos.map((i) => i.step), Array.from({ length: STEPS }, (_, i) => i + 1));
    assert.equal(a.infos[0]!.lr, 0); // warm-up starts at 0
    assert.ok(a.infos.every((i) => i.gradNorm !== null && i.gradNorm >= 0));
    const c = await run({ initSeed: 0 });
    assert.deepEqual([...c.model.fc1.weight.data], [...a.model.fc1.weight.data]);
  });

  test("resuming from a checkpoint at step k gives exactly the uninterrupted curve", async () => {
    const checkpoints: TrainState[] = [];
    const full = await run({ checkpoints });
    assert.deepEqual(checkpoints.map((c) => c.step), [5, 10]);
    const k5 = checkpoints[0]!;
    assert.deepEqual(k5.losses, full.result.losses.slice(0, 5));
    assert.deepEqual(Object.keys(k5.rng).sort(), ["default", "dropout"]);
    assert.equal(k5.scheduler?.step, 5);
    // a different initialization: everything must come from the checkpoint
    const resumed = await run({ initSeed: 99, resumeFrom: k5 });
    assert.equal(resumed.result.startStep, 5);
    assert.deepEqual(resumed.result.losses, full.result.losses);
    assert.deepEqual(resumed.result.evals, full.result.evals);
    assert.deepEqual([...resumed.model.fc2.weight.data], [...full.model.fc2.weight.data]);
    assert.deepEqual(resumed.infos.map((i) => i.step), [6, 7, 8, 9, 10, 11, 12]);
    // iterable batches: the first k are skipped on resume
    const cps: TrainState[] = [];
    const fullIt = await run({ iterable: true, checkpoints: cps });
    const resumedIt = await run({ iterable: true, initSeed: 3, resumeFrom: cps[1]! });
    assert.deepEqual(resumedIt.result.losses, fullIt.result.losses);
  });

  test("stopWhen ends the run after that step; the state and finalStep say where", async () => {
    const s = setup(0, STEPS);
    const r = await fit({
      model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, trainStep: s.trainStep, batches: () => drawBatch(),
      steps: STEPS, clipNorm: 1, seed: 7, generators: { dropout: s.dropGen }, stopWhen: (i) => i.step === 5,
    });
    assert.equal(r.finalStep, 5);
    assert.equal(r.losses.length, 5);
    assert.equal(r.state().step, 5);
    const full = await run();
    assert.deepEqual(r.losses, full.result.losses.slice(0, 5));
  });

  test("bad options", async () => {
    const s = setup(0, STEPS);
    const base = { model: s.model, optimizer: s.optimizer, trainStep: s.trainStep, batches: () => drawBatch(), steps: 2 };
    const rejects = (o: object, message: string) =>
      assert.rejects(fit({ ...base, ...o }), (e: unknown) => e instanceof ValueError && e.message === message);
    await rejects({ steps: -1 }, "fit: steps expected an integer >= 0, got -1");
    await rejects({ clipNorm: 0 }, "fit: clipNorm expected a number > 0, got 0");
    await rejects({ evalEvery: 2 }, "fit: evaluate expected a function (with evalEvery), got undefined");
    await rejects({ checkpointEvery: 1.5, checkpoint: () => undefined }, "fit: checkpointEvery expected an integer >= 1, got 1.5");
    await rejects({ batches: 3 }, "fit: batches expected a function step => batch or an iterable of batches, got 3");
    await rejects({ overlap: "yes" }, 'fit: overlap expected true or false, got "yes"');
    await rejects({ freeGraph: 1 }, "fit: freeGraph expected true or false, got 1");
    await rejects({ batches: [drawBatch()] }, "fit: batches expected at least 2 batches, got 1");
    await rejects({ trainStep: () => mseLoss(tensor([1, 2]), tensor([0, 0]), { reduction: "none" }) },
      "fit: trainStep expected a one-element loss tensor, got shape [2] at step 0");
    await rejects({ trainStep: () => tensor([1]) }, "fit: trainStep expected a loss that depends on the parameters (requires grad), got a constant loss at step 0");
    const state = (await fit(base)).state();
    await rejects({ scheduler: s.scheduler, resumeFrom: state }, "restoreTrainState: scheduler expected no scheduler (the state has none), got a scheduler");
    await rejects({ resumeFrom: state, generators: { dropout: s.dropGen } }, "restoreTrainState: generators expected the state's generators [default], got [default, dropout]");
  });
});
