import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SGD } from "../../src/optim/sgd.js";
import { constant, LRScheduler, warmupCosine, warmupInverseSqrt } from "../../src/optim/schedule.js";
import { ValueError } from "../../src/tensor/errors.js";
import { tensor } from "../../src/tensor/tensor.js";

const near = (a: number, e: number): void => assert.ok(Math.abs(a - e) < 1e-12, `${a} vs ${e}`);

describe("schedules", () => {
  test("constant", () => {
    assert.equal(constant()(0), 1);
    assert.equal(constant()(1e6), 1);
  });

  test("warmupCosine values", () => {
    const f = warmupCosine({ warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    near(f(0), 0);
    near(f(5), 0.5);
    near(f(10), 1);
    near(f(60), 0.1 + 0.9 * 0.5); // halfway through the decay
    near(f(35), 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)));
    near(f(110), 0.1);
    near(f(500), 0.1);
    near(warmupCosine({ warmupSteps: 0, totalSteps: 4 })(2), 0.5);
  });

  test("warmupInverseSqrt values", () => {
    const f = warmupInverseSqrt({ warmupSteps: 4 });
    near(f(0), 0);
    near(f(2), 0.5);
    near(f(4), 1);
    near(f(16), 0.5);
    near(f(100), 0.2);
  });

  test("bad options", () => {
    assert.throws(() => warmupCosine({ warmupSteps: 10, totalSteps: 10 }),
      (e: unknown) => e instanceof ValueError && e.message === "warmupCosine: totalSteps expected an integer > warmupSteps (10), got 10");
    assert.throws(() => warmupCosine({ warmupSteps: -1, totalSteps: 10 }),
      (e: unknown) => e instanceof ValueError && e.message === "warmupCosine: warmupSteps expected an integer >= 0, got -1");
    assert.throws(() => warmupCosine({ warmupSteps: 1, totalSteps: 10, minLr: 2 }),
      (e: unknown) => e instanceof ValueError && e.message === "warmupCosine: minLr expected a fraction of the base lr in [0, 1], got 2");
    assert.throws(() => warmupInverseSqrt({ warmupSteps: 0 }),
      (e: unknown) => e instanceof ValueError && e.message === "warmupInverseSqrt: warmupSteps expected an integer >= 1, got 0");
  });
});

describe("LRScheduler", () => {
  test("scales each group's base lr; state round-trips", () => {
    const a = tensor([1], { requiresGrad: true }), b = tensor([1], { requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.2 }], { lr: 1 });
    const sched = new LRScheduler(opt, warmupInverseSqrt({ warmupSteps: 4 }));
    assert.deepEqual(sched.lastLr, [0, 0]);
    sched.step();
    sched.step();
    assert.deepEqual(sched.lastLr, [0.5, 0.1]);
    const saved = sched.stateDict();
    assert.deepEqual(saved, { step: 2, baseLrs: [1, 0.2] });
    const opt2 = new SGD([{ params: [a] }, { params: [b], lr: 0.2 }], { lr: 1 });
    const s2 = new LRScheduler(opt2, warmupInverseSqrt({ warmupSteps: 4 }));
    s2.loadStateDict(saved);
    assert.deepEqual(s2.lastLr, [0.5, 0.1]);
    for (let i = 0; i < 14; i++) sched.step();
    assert.deepEqual(sched.lastLr, [0.5, 0.1]); // step 16
  });
});
