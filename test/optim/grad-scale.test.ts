/**
 * Optimizer.step's gradScale and clipCoefficientTensor: an update that reads each gradient times a
 * one-element scale gives the same bits as clipping the gradients in place and stepping, on the
 * host and on a device (the host-memory device backend, whose composed update scales a copy), for
 * SGD and Adam / AdamW in every setting; `.grad` is left as it was. An optimizer whose update does
 * not read the scale gets its gradients scaled in place first. A device optimizer's moments are
 * views of one flat array per moment. Bad scales are ValueErrors naming the argument.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { Adam, AdamW } from "../../src/optim/adam.js";
import { clipCoefficientTensor, clipGradNorm, clipGradNormTensor } from "../../src/optim/clip.js";
import { Optimizer, type BaseOptions, type ParamGroup } from "../../src/optim/optimizer.js";
import { SGD } from "../../src/optim/sgd.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, tensor, Tensor } from "../../src/tensor/tensor.js";
import { hostDevice, type HostDeviceArray } from "../backend/host-device.js";

const host = getBackend();
const dev = hostDevice();
registerBackend(dev);
setBackend(host.name);
after(() => setBackend(host.name));

const SIZES = [12, 5, 30];

const SETTINGS: { name: string; make: (ps: Tensor[]) => Optimizer<BaseOptions> }[] = [
  { name: "SGD", make: (ps) => new SGD(ps, { lr: 0.1 }) },
  { name: "SGD momentum, dampening, weight decay", make: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }) },
  { name: "SGD Nesterov, maximize", make: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true, maximize: true }) },
  { name: "Adam", make: (ps) => new Adam(ps, { lr: 1e-2 }) },
  { name: "Adam L2, amsgrad, maximize", make: (ps) => new Adam(ps, { lr: 1e-2, weightDecay: 0.1, amsgrad: true, maximize: true }) },
  { name: "AdamW", make: (ps) => new AdamW(ps, { lr: 1e-2, weightDecay: 0.05, betas: [0.8, 0.99] }) },
];

/**
 * Three parameters after 3 steps of `make` (the second without a gradient at the first step),
 * each step's gradients (norm about 8) clipped to norm 1: in place first ("clip"), or through
 * gradScale ("scale"). Returns the parameters' values, the last step's gradients as left, and the
 * optimizer.
 */
async function run(onDevice: boolean, how: "clip" | "scale", make: (ps: Tensor[]) => Optimizer<BaseOptions>):
  Promise<{ values: number[]; grads: number[]; opt: Optimizer<BaseOptions>; ps: Tensor[] }> {
  const gen = new Generator(7);
  const ps = SIZES.map((n) => randn([n], { generator: gen }).requiresGrad_());
  if (onDevice) for (const p of ps) toDevice(p, dev);
  const opt = make(ps);
  const gg = new Generator(8);
  for (let s = 0; s < 3; s++) {
    ps.forEach((p, j) => {
      const g = randn([SIZES[j]!], { generator: gg });
      p.grad = s === 0 && j === 1 ? null : onDevice ? toDevice(g, dev) : g;
    });
    if (how === "clip") {
      if (onDevice) clipGradNormTensor(ps, 1);
      else clipGradNorm(ps, 1);
      opt.step();
    } else {
      const { coef } = clipCoefficientTensor(ps, 1);
      opt.step({ gradScale: coef });
    }
  }
  const read = async (t: Tensor): Promise<number[]> => [...(onDevice ? await t.read() : t.data)];
  const values = (await Promise.all(ps.map(read))).flat();
  const grads = (await Promise.all(ps.map((p) => read(p.grad!)))).flat();
  return { values, grads, opt, ps };
}

/**
 * The host run `ref`'s parameters and state dict into a fresh device optimizer of `make`: one more
 * step there (gradients 0.01) gives the host's next step's state within float32's error.
 */
async function loadedStepMatchesHost(ref: Awaited<ReturnType<typeof run>>, make: (ps: Tensor[]) => Optimizer<BaseOptions>): Promise<void> {
  const gen = new Generator(7);
  const ps = SIZES.map((n) => randn([n], { generator: gen }).requiresGrad_());
  ps.forEach((p, i) => {
    p.data.set(ref.ps[i]!.data);
    toDevice(p, dev);
  });
  const opt = make(ps);
  opt.loadStateDict(ref.opt.stateDict());
  ps.forEach((p, j) => { p.grad = toDevice(tensor(new Float32Array(SIZES[j]!).fill(0.01)), dev); });
  opt.step();
  ref.ps.forEach((p, j) => { p.grad = tensor(new Float32Array(SIZES[j]!).fill(0.01)); });
  ref.opt.step();
  const back = await opt.readState(), want = ref.opt.stateDict();
  for (const [k, t] of Object.entries(want.tensors)) {
    const a = back.tensors[k]!.data;
    t.data.forEach((v, i) => assert.ok(Math.abs(Number(a[i]) - Number(v)) <= 1e-6 * (1 + Math.abs(Number(v))), `${k}[${i}]`));
  }
}

describe("Optimizer.step({ gradScale })", () => {
  for (const { name, make } of SETTINGS) {
    test(`${name}: the same bits as clipping in place, on the host and on a device; .grad left unscaled`, async () => {
      for (const onDevice of [false, true]) {
        const clipped = await run(onDevice, "clip", make), scaled = await run(onDevice, "scale", make);
        const where = onDevice ? "device" : "host";
        assert.deepEqual(scaled.values, clipped.values, `${where}: parameters`);
        // the clipped run's gradients were scaled (norm 1), the gradScale run's were not
        const norm = (v: number[]): number => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
        assert.ok(Math.abs(norm(clipped.grads) - 1) < 1e-5, `${where}: clipped in place to norm 1 (${norm(clipped.grads)})`);
        assert.ok(norm(scaled.grads) > 4, `${where}: gradients left as they were (norm ${norm(scaled.grads)})`);
      }
    });
  }

  test("a device Adam's moments are views of one flat array each; a parameter without a gradient at the first step gets its own later", async () => {
    const { opt } = await run(true, "scale", (ps) => new Adam(ps, { lr: 1e-2, amsgrad: true }));
    const state = opt.deviceStateTensors();
    assert.equal(state.length, 9); // 3 parameters × exp_avg, exp_avg_sq, max_exp_avg_sq
    const bases = state.map((t) => (t.device as HostDeviceArray).base);
    assert.ok(bases.every((b) => b !== undefined), "every moment is a view");
    // parameters 0 and 2 got theirs at the first step, parameter 1 at the second: two arrays per moment
    assert.equal(new Set(bases).size, 6);
    const sd = await opt.readState();
    for (const k of ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]) {
      SIZES.forEach((n, i) => assert.equal(sd.tensors[`state.${i}.${k}`]!.size, n, `state.${i}.${k}`));
    }
    assert.deepEqual([0, 1, 2].map((i) => Number(sd.tensors[`state.${i}.step`]!.data[0])), [3, 2, 3]);
  });

  test("a device SGD's momentum buffers are views of one flat array; a parameter without a gradient at the first step starts its buffer at its first gradient later (the host's values); a state dict loaded on the host moves in (not a first use)", async () => {
    const make = (ps: Tensor[]): Optimizer<BaseOptions> => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 });
    const ref = await run(false, "scale", make), got = await run(true, "scale", make);
    got.values.forEach((v, i) => assert.ok(Math.abs(v - ref.values[i]!) <= 1e-6 * (1 + Math.abs(ref.values[i]!)), `[${i}] ${v} vs ${ref.values[i]}`));
    const bases = got.opt.deviceStateTensors().map((t) => (t.device as HostDeviceArray).base);
    assert.equal(bases.length, 3);
    assert.ok(bases.every((b) => b !== undefined), "every buffer is a view");
    assert.equal(new Set(bases).size, 2, "parameters 0 and 2 share the first step's array, parameter 1 has the second's");
    // the host run's state into a fresh device optimizer: a step there gives the host's next step
    await loadedStepMatchesHost(ref, make);
  });

  test("the moments as views train as the host does, and a state dict loaded on the host moves to the device with them", async () => {
    const make = (ps: Tensor[]): Optimizer<BaseOptions> => new AdamW(ps, { lr: 1e-2, weightDecay: 0.05 });
    const ref = await run(false, "scale", make), got = await run(true, "scale", make);
    got.values.forEach((v, i) => assert.ok(Math.abs(v - ref.values[i]!) <= 1e-6 * (1 + Math.abs(ref.values[i]!)), `[${i}] ${v} vs ${ref.values[i]}`));
    // the host run's state into a fresh device optimizer: its moments are views made from it
    await loadedStepMatchesHost(ref, make);
  });

  test("an optimizer whose update does not read the scale gets its gradients scaled in place first", () => {
    class Plain extends Optimizer<BaseOptions> {
      constructor(ps: Tensor[]) {
        super("Plain", ps, { lr: 0.5 });
      }
      protected validate(): void {}
      protected requiredBuffers(): string[] {
        return [];
      }
      protected updateGroup(group: ParamGroup<BaseOptions>): void {
        for (const p of group.params) if (p.grad) p.data.forEach((v, i) => (p.data[i] = v - group.lr * Number(p.grad!.data[i])));
      }
    }
    const p = tensor(Float32Array.of(1, 2), { requiresGrad: true });
    p.grad = tensor(Float32Array.of(0.4, -0.2));
    new Plain([p]).step({ gradScale: tensor(Float32Array.of(0.5)) });
    assert.deepEqual([...p.grad.data], [0.2, -0.1].map(Math.fround));
    assert.deepEqual([...p.data], [1 - 0.5 * Math.fround(0.2), 2 + 0.5 * Math.fround(0.1)].map(Math.fround));
  });

  test("a scale that is not a one-element float tensor where the parameters are is a ValueError naming opts.gradScale", () => {
    const p = tensor(Float32Array.of(1, 2), { requiresGrad: true });
    p.grad = tensor(Float32Array.of(0.4, -0.2));
    const opt = new Adam([p]);
    const bad = (scale: unknown, message: RegExp): void =>
      assert.throws(() => opt.step({ gradScale: scale as Tensor }), (e: unknown) => e instanceof ValueError && message.test(e.message));
    bad(0.5, /Optimizer\.step: opts\.gradScale expected a one-element float tensor, got 0\.5/);
    bad(tensor(Float32Array.of(1, 2)), /opts\.gradScale expected a one-element float tensor, got a float32 tensor of shape \[2\]/);
    bad(tensor(Int32Array.of(1)), /opts\.gradScale expected a one-element float tensor, got a int32 tensor/);
    bad(toDevice(tensor(Float32Array.of(1)), dev), /Adam\.step: opts\.gradScale expected a host tensor, where the parameters are, got a tensor on/);
    const q = toDevice(tensor(Float32Array.of(1, 2)).requiresGrad_(), dev);
    q.grad = toDevice(tensor(Float32Array.of(0.4, -0.2)), dev);
    const qopt = new SGD([q], { lr: 0.1 });
    assert.throws(() => qopt.step({ gradScale: tensor(Float32Array.of(0.5)) }),
      (e: unknown) => e instanceof ValueError && /SGD\.step: opts\.gradScale expected a float32 tensor on .*, where the parameters are, got a host tensor/.test(e.message));
    assert.deepEqual([...p.data], [1, 2], "nothing was updated");
  });
});

describe("clipCoefficientTensor", () => {
  test("the norm clipGradNorm returns and the coefficient it scales by, gradients untouched; on a device, clipGradNormTensor's norm", async () => {
    for (const maxNorm of [0.5, 1e6]) {
      const gen = () => new Generator(3);
      const make = (g: Generator): Tensor[] => SIZES.map((n) => {
        const p = randn([n], { generator: g }).requiresGrad_();
        p.grad = randn([n], { generator: g });
        return p;
      });
      const a = make(gen()), b = make(gen());
      const before = b.map((p) => [...p.grad!.data]);
      const total = clipGradNorm(a, maxNorm);
      const { norm, coef } = clipCoefficientTensor(b, maxNorm);
      assert.equal(norm.data[0], total);
      assert.equal(coef.data[0], Math.min(1, maxNorm / (total + 1e-6)));
      assert.deepEqual(b.map((p) => [...p.grad!.data]), before);
      // on the device
      const c = make(gen()), d = make(gen());
      for (const p of [...c, ...d]) {
        toDevice(p, dev);
        p.grad = toDevice(p.grad!, dev);
      }
      const devTotal = (await clipGradNormTensor(c, maxNorm).read())[0]!;
      const got = clipCoefficientTensor(d, maxNorm);
      assert.equal((await got.norm.read())[0], devTotal);
      assert.equal((await got.coef.read())[0], Math.fround(Math.min(1, Math.fround(maxNorm / Math.fround(devTotal + 1e-6)))));
      for (const [i, p] of d.entries()) assert.deepEqual([...await p.grad!.read()], before[i]!.map(Math.fround));
    }
  });

  test("bad arguments are ValueErrors", () => {
    assert.throws(() => clipCoefficientTensor([], -1), (e: unknown) => e instanceof ValueError && /clipCoefficientTensor: maxNorm/.test(e.message));
    assert.throws(() => clipCoefficientTensor([], 1, 0), (e: unknown) => e instanceof ValueError && /clipCoefficientTensor: normType/.test(e.message));
  });
});
