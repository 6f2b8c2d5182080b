import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Adam, AdamW } from "../../src/optim/adam.js";
import { SGD } from "../../src/optim/sgd.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Tensor, tensor } from "../../src/tensor/tensor.js";
import { runCase, type FxFile } from "../../tools/parity/fixture.js";
import { optim } from "../../tools/parity/families/optim.js";

const param = (v: number[]): Tensor => tensor(Float64Array.from(v), { requiresGrad: true });
const grad = (p: Tensor, v: number[]): void => {
  p.grad = tensor(Float64Array.from(v));
};
const close = (a: ArrayLike<number>, e: number[], tol = 1e-12): void => {
  assert.equal(a.length, e.length);
  for (let i = 0; i < e.length; i++) assert.ok(Math.abs(a[i]! - e[i]!) <= tol * (1 + Math.abs(e[i]!)), `[${i}] ${a[i]} vs ${e[i]}`);
};

/** Asserts a ValueError with this message. */
function throwsValue(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ValueError && e.message === message);
}

describe("SGD", () => {
  test("plain step: p -= lr * g", () => {
    const p = param([1, -2]);
    const opt = new SGD([p], { lr: 0.5 });
    grad(p, [0.2, -0.4]);
    opt.step();
    close(p.data, [0.9, -1.8]);
  });

  test("momentum, dampening and weight decay by hand", () => {
    const p = param([1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1 });
    grad(p, [1]);
    opt.step(); // g = 1 + 0.1 = 1.1, buf = 1.1, p = 1 - 0.11 = 0.89
    close(p.data, [0.89]);
    grad(p, [1]);
    opt.step(); // g = 1 + 0.089 = 1.089, buf = 0.99 + 0.5445 = 1.5345, p = 0.89 - 0.15345
    close(p.data, [0.89 - 0.15345]);
  });

  test("nesterov and maximize", () => {
    const p = param([0]);
    const opt = new SGD([p], { lr: 1, momentum: 0.5, nesterov: true });
    grad(p, [2]);
    opt.step(); // buf = 2, g = 2 + 0.5*2 = 3
    close(p.data, [-3]);
    grad(p, [2]);
    opt.step(); // buf = 1 + 2 = 3, g = 2 + 1.5 = 3.5
    close(p.data, [-6.5]);
    const q = param([0]);
    const up = new SGD([q], { lr: 1, maximize: true });
    grad(q, [2]);
    up.step();
    close(q.data, [2]);
  });

  test("parameters without a gradient are left alone; zeroGrad clears", () => {
    const a = param([1]), b = param([1]);
    const opt = new SGD([a, b], { lr: 1 });
    grad(a, [1]);
    opt.step();
    close(a.data, [0]);
    close(b.data, [1]);
    opt.zeroGrad();
    assert.equal(a.grad, null);
  });

  test("bad options", () => {
    const p = param([1]);
    throwsValue(() => new SGD([p], { lr: -1 }), "SGD: lr expected a finite number >= 0, got -1");
    throwsValue(() => new SGD([p], { lr: 0.1, momentum: -0.5 }), "SGD: momentum expected a finite number >= 0, got -0.5");
    throwsValue(() => new SGD([p], { lr: 0.1, nesterov: true }),
      "SGD: nesterov expected momentum > 0 and dampening 0 with Nesterov momentum, got momentum 0, dampening 0");
    throwsValue(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
      "SGD: nesterov expected momentum > 0 and dampening 0 with Nesterov momentum, got momentum 0.9, dampening 0.1");
    throwsValue(() => new SGD([], { lr: 0.1 }), "SGD: params expected at least one parameter, got an empty parameter list");
    throwsValue(() => new SGD([p, p], { lr: 0.1 }), "SGD: params[1] expected a parameter in no other group, got a parameter given twice");
    throwsValue(() => new SGD([{ params: [p] }, { params: [param([1])], lr: -2 }], { lr: 0.1 }), "SGD: lr (group 1) expected a finite number >= 0, got -2");
  });
});

describe("Adam / AdamW", () => {
  test("Adam by hand (two steps, L2 weight decay)", () => {
    const [lr, b1, b2, eps, wd] = [0.01, 0.9, 0.999, 1e-8, 0.1];
    const p = param([1, -1]);
    const opt = new Adam([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
    let w = [1, -1];
    const m = [0, 0], v = [0, 0];
    const gs = [[0.5, 0.25], [-0.3, 0.1]];
    gs.forEach((gv, k) => {
      const t = k + 1;
      grad(p, gv);
      opt.step();
      w = w.map((wi, i) => {
        const g = gv[i]! + wd * wi;
        m[i] = b1 * m[i]! + (1 - b1) * g;
        v[i] = b2 * v[i]! + (1 - b2) * g * g;
        return wi - lr * (m[i]! / (1 - b1 ** t)) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + eps);
      });
      close(p.data, w);
    });
  });

  test("first Adam step moves each entry by about lr against its gradient sign", () => {
    const p = param([0, 0, 0]);
    const opt = new Adam([p], { lr: 0.1 });
    grad(p, [3, -0.001, 0]);
    opt.step();
    close(p.data, [-0.1, 0.1, 0], 1e-6);
  });

  test("AdamW decays the weights before the update; amsgrad keeps the max second moment", () => {
    const p = param([2]);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
    grad(p, [0]);
    opt.step(); // zero gradient: only the decay 2 * (1 - 0.05)
    close(p.data, [1.9]);
    const q = param([0]);
    const ams = new Adam([q], { lr: 1, betas: [0, 0.5], eps: 0, amsgrad: true });
    grad(q, [2]);
    ams.step(); // v = 2, vhat = 2 / 0.5 = 4, update 2 / 2 = 1
    close(q.data, [-1]);
    grad(q, [0.5]);
    ams.step(); // v = 1 + 0.125 = 1.125 < vmax 2 -> denom sqrt(2 / 0.75)
    close(q.data, [-1 - 0.5 / Math.sqrt(2 / 0.75)]);
  });

  test("defaults match torch", () => {
    const p = param([1]);
    const a = new Adam([p]).paramGroups[0]!, w = new AdamW([param([1])]).paramGroups[0]!;
    assert.deepEqual([a.lr, a.betas, a.eps, a.weightDecay, a.amsgrad], [1e-3, [0.9, 0.999], 1e-8, 0, false]);
    assert.equal(w.weightDecay, 1e-2);
  });

  test("bad options", () => {
    const p = param([1]);
    throwsValue(() => new Adam([p], { lr: -0.1 }), "Adam: lr expected a finite number >= 0, got -0.1");
    throwsValue(() => new Adam([p], { betas: [1, 0.999] }), "Adam: betas[0] expected a number in [0, 1), got 1");
    throwsValue(() => new AdamW([p], { betas: [0.9, -0.1] }), "AdamW: betas[1] expected a number in [0, 1), got -0.1");
    throwsValue(() => new AdamW([p], { eps: -1e-8 }), "AdamW: eps expected a finite number >= 0, got -1e-8");
    throwsValue(() => new Adam([p], { weightDecay: -1 }), "Adam: weightDecay expected a finite number >= 0, got -1");
  });
});

describe("param groups and state dict", () => {
  test("groups override the defaults; state round-trips and continues identically", () => {
    const mk = (): [Tensor, Tensor, Adam] => {
      const a = param([1, 2]), b = param([3]);
      return [a, b, new Adam([{ params: [a] }, { params: [b], lr: 0.5, amsgrad: true }], { lr: 0.1 })];
    };
    const [a, b, opt] = mk();
    assert.equal(opt.paramGroups[1]!.lr, 0.5);
    assert.equal(opt.paramGroups[1]!.betas[0], 0.9);
    const feed = (s: number): void => {
      grad(a, [Math.sin(s), Math.cos(s)]);
      grad(b, [s - 1.5]);
    };
    for (let s = 0; s < 3; s++) { feed(s); opt.step(); }
    const sd = opt.stateDict();
    assert.deepEqual(Object.keys(sd.tensors).sort(), [
      "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step",
      "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq", "state.1.step",
    ]);
    assert.equal(sd.tensors["state.1.step"]!.item(), 3);
    assert.equal(sd.tensors["state.0.exp_avg"]!.dtype, "float64");
    assert.deepEqual(sd.paramGroups[1]!.params, [1]);
    assert.equal(sd.paramGroups[1]!.lr, 0.5);

    const [a2, b2, opt2] = mk();
    a2.data.set(a.data);
    b2.data.set(b.data);
    opt2.loadStateDict(sd);
    for (let s = 3; s < 6; s++) {
      feed(s); opt.step();
      grad(a2, [Math.sin(s), Math.cos(s)]); grad(b2, [s - 1.5]); opt2.step();
    }
    assert.deepEqual([...a2.data, ...b2.data], [...a.data, ...b.data]);
  });

  test("loadStateDict rejects mismatches and changes nothing", () => {
    const p = param([1, 2]);
    const opt = new Adam([p]);
    grad(p, [1, 1]);
    opt.step();
    const sd = opt.stateDict();
    const bad: typeof sd = { ...sd, tensors: { ...sd.tensors, "state.0.exp_avg": tensor(Float64Array.of(1, 2, 3)), "state.5.step": tensor(Float64Array.of(1)) } };
    delete bad.tensors["state.0.exp_avg_sq"];
    assert.throws(() => opt.loadStateDict(bad), /missing keys: state\.0\.exp_avg_sq; unexpected keys: state\.5\.step; state\.0\.exp_avg expected \[2\], got \[3\]/);
    assert.throws(() => opt.loadStateDict({ ...sd, paramGroups: [] }), ValueError);
    assert.deepEqual([...opt.stateDict().tensors["state.0.exp_avg"]!.data], [...sd.tensors["state.0.exp_avg"]!.data]);
  });
});

for (const set of ["pytorch", "generated"]) {
  test(`optim fixtures (${set}) pass`, async () => {
    const url = new URL(`../fixtures/${set}/optim.json`, import.meta.url);
    if (!existsSync(url)) return;
    const fx = JSON.parse(readFileSync(url, "utf8")) as FxFile;
    assert.ok(fx.cases.length > 0);
    for (const c of fx.cases) {
      const r = await runCase(c, optim);
      assert.ok(r.ok, `${c.name}: ${r.problems.join("; ")}`);
    }
  });
}
