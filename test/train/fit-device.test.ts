/**
 * fit() with a model on a device, on the host-memory device backend (test/backend/host-device.ts:
 * js kernels behind device arrays, so that any host read of a device tensor that was not read back
 * throws as on webgpu): the losses, gradient norms (clipNorm), learning rates (a scheduler) and
 * evaluations equal the host run's within float32's error; a checkpoint of a device run resumes
 * to exactly the uninterrupted device run; the state dicts of the model and of the optimizer come
 * back from the device and load into it; clipping on the device; saving a device model.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { withHostData } from "../../src/backend/host-copies.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { add, mul } from "../../src/ops/elementwise.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { argmax, sum } from "../../src/ops/reduce.js";
import { AdamW } from "../../src/optim/adam.js";
import { clipGradNorm, clipGradNormAsync, clipGradNormTensor, clipGradValue } from "../../src/optim/clip.js";
import type { Optimizer, BaseOptions } from "../../src/optim/optimizer.js";
import { LRScheduler, warmupCosine } from "../../src/optim/schedule.js";
import { SGD } from "../../src/optim/sgd.js";
import { DeviceOpError, DeviceSyncError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, Tensor } from "../../src/tensor/tensor.js";
import { fit, type FitResult, type StepInfo } from "../../src/train/fit.js";
import { captureTrainState, captureTrainStateAsync, type TrainState } from "../../src/train/state.js";
import { hostDevice } from "../backend/host-device.js";
import { batchAt, E, N, Net, type Batch } from "./fit-net.js";

const STEPS = 10, CLIP = 0.1;
const U = 2 ** -24;

const probe = batchAt(999);

const host = getBackend();
const dev = hostDevice();
registerBackend(dev);
setBackend(host.name);
after(() => setBackend(host.name));

interface Run { model: Net; optimizer: Optimizer<BaseOptions>; scheduler: LRScheduler; result: FitResult; infos: StepInfo[]; checkpoints: TrainState[] }

type MakeOpt = (m: Net) => Optimizer<BaseOptions>;
const adamw: MakeOpt = (m) => new AdamW(m.parameters(), { lr: 2e-2, weightDecay: 0.05 });
const sgd: MakeOpt = (m) => new SGD(m.parameters(), { lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });

interface RunOpts {
  makeOpt?: MakeOpt; initSeed?: number; resumeFrom?: TrainState; steps?: number;
  overlap?: boolean; freeGraph?: boolean; stopWhen?: (i: StepInfo) => boolean;
  /** batches from an iterable of this many (fit throws when it runs out) instead of batchAt */
  batchCount?: number;
  /** "record k" when update k's trainStep runs, "done k" when its step callback does */
  log?: string[];
}

async function run(onDevice: boolean, o: RunOpts = {}): Promise<Run> {
  setBackend(onDevice ? dev.name : host.name);
  try {
    const model = new Net(o.initSeed ?? 1);
    if (onDevice) model.toDevice(dev);
    const optimizer = (o.makeOpt ?? adamw)(model);
    const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps: 3, totalSteps: STEPS, minLr: 0.1 }));
    const infos: StepInfo[] = [], checkpoints: TrainState[] = [];
    const result = await fit<Batch>({
      model, optimizer, scheduler, steps: o.steps ?? STEPS, seed: 3,
      // small enough that every step clips
      clipNorm: CLIP,
      batches: o.batchCount === undefined ? batchAt : Array.from({ length: o.batchCount }, (_, i) => batchAt(i)),
      trainStep: (b, s) => {
        o.log?.push(`record ${s + 1}`);
        return crossEntropy(model.forward(b.x), b.y);
      },
      evalEvery: 3,
      evaluate: () => {
        // on the host, on copies of the parameters: any op, any read
        const logits = model.forward(probe.x);
        assert.equal(logits.onDevice, false);
        const pred = argmax(logits, 1).data, y = probe.y.data;
        let ok = 0;
        for (let i = 0; i < N; i++) if (pred[i] === y[i]) ok++;
        return { probeLoss: crossEntropy(logits, probe.y).item(), accuracy: ok / N };
      },
      onStep: (i) => {
        infos.push(i);
        o.log?.push(`done ${i.step}`);
      },
      checkpointEvery: 4,
      checkpoint: (st) => { checkpoints.push(st); },
      ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
      ...(o.overlap !== undefined ? { overlap: o.overlap } : {}),
      ...(o.freeGraph !== undefined ? { freeGraph: o.freeGraph } : {}),
      ...(o.stopWhen ? { stopWhen: o.stopWhen } : {}),
    });
    return { model, optimizer, scheduler, result, infos, checkpoints };
  } finally {
    setBackend(host.name);
  }
}

/** |a - b| <= bound(i) for every i, naming the quantity. */
function close(what: string, got: readonly number[], ref: readonly number[], bound: (i: number) => number): void {
  assert.equal(got.length, ref.length, `${what}: length`);
  ref.forEach((r, i) => assert.ok(Math.abs(got[i]! - r) <= bound(i), `${what}[${i}]: device ${got[i]}, host ${r} (bound ${bound(i)})`));
}

// float32 rounding in sums of at most 2E + 2 terms over the few layers, one such error more per update
const tol = (s: number): number => 10 * (2 * E + 2) * U * (1 + s);

describe("fit with a model on a device", () => {
  for (const [name, makeOpt] of [["AdamW", adamw], ["SGD with Nesterov momentum", sgd]] as const) {
    test(`${name}: losses, gradient norms, learning rates and evaluations equal the host run's`, async (t) => {
      const ref = await run(false, { makeOpt });
      const reads = dev.reads, batched = dev.batchedReads, flushes = dev.flushes;
      const got = await run(true, { makeOpt });
      const losses = got.result.losses, refLosses = ref.result.losses;
      t.diagnostic(`max |loss diff| ${Math.max(...losses.map((l, i) => Math.abs(l - refLosses[i]!))).toExponential(2)}`);
      close("loss", losses, refLosses, (i) => tol(i) * Math.max(1, refLosses[i]!));
      assert.ok(refLosses.at(-1)! < refLosses[0]!, `the loss decreases: ${refLosses.join(", ")}`);
      close("gradNorm", got.infos.map((i) => i.gradNorm!), ref.infos.map((i) => i.gradNorm!), (i) => tol(i) * Math.max(1, ref.infos[i]!.gradNorm!));
      assert.ok(ref.infos.every((i) => i.gradNorm! > CLIP), `every step clips: ${ref.infos.map((i) => i.gradNorm).join(", ")}`);
      assert.deepEqual(got.infos.map((i) => i.lr), ref.infos.map((i) => i.lr));
      assert.deepEqual(got.result.evals.map((e) => e.step), [3, 6, 9, 10]);
      got.result.evals.forEach((e, k) => {
        const r = ref.result.evals[k]!;
        assert.equal(e.metrics.accuracy, r.metrics.accuracy, `accuracy at step ${e.step}`);
        assert.ok(Math.abs(e.metrics.probeLoss! - r.metrics.probeLoss!) <= tol(e.step) * Math.max(1, r.metrics.probeLoss!), `probe loss at step ${e.step}`);
      });
      // one batched read of the loss and the norm per step, one of the parameters per evaluation and
      // one of the model and the optimizer per checkpoint; no single reads
      assert.equal(dev.reads - reads, 0, "single reads");
      assert.equal(got.checkpoints.length, 2);
      assert.equal(dev.batchedReads - batched, STEPS + got.result.evals.length + got.checkpoints.length, "batched reads");
      // the update is submitted by the read of its loss (optimizer.step({ submit: false })), not flushed apart
      assert.equal(dev.flushes - flushes, 0, "flushes");
      // the model is still on the device, and the active backend is the host one again after fit
      assert.ok(got.model.up.weight.onDevice);
    });
  }

  test("a checkpoint of a device run resumes to exactly the uninterrupted device run", async () => {
    const full = await run(true);
    assert.deepEqual(full.checkpoints.map((c) => c.step), [4, 8]);
    const k4 = full.checkpoints[0]!;
    // the checkpoint is host tensors (the format of a host run's)
    for (const t of Object.values(k4.model)) assert.equal(t.onDevice, false);
    for (const t of Object.values(k4.optimizer.tensors)) assert.equal(t.onDevice, false);
    assert.ok("state.0.exp_avg" in k4.optimizer.tensors && "state.0.step" in k4.optimizer.tensors);
    assert.equal(k4.optimizer.tensors["state.0.step"]!.item(), 4);
    // another initialization: everything must come from the checkpoint
    const resumed = await run(true, { initSeed: 77, resumeFrom: k4 });
    assert.equal(resumed.result.startStep, 4);
    assert.deepEqual(resumed.result.losses, full.result.losses);
    assert.deepEqual(resumed.infos.map((i) => i.gradNorm), full.infos.slice(4).map((i) => i.gradNorm));
    assert.deepEqual(resumed.result.evals, full.result.evals);
    // a host run's checkpoint resumes on the device too (within float32 of the host run)
    const hostRun = await run(false);
    const cross = await run(true, { initSeed: 77, resumeFrom: hostRun.checkpoints[0]! });
    close("loss", cross.result.losses, hostRun.result.losses, (i) => tol(i) * Math.max(1, hostRun.result.losses[i]!));
  });

  test("overlap: a checkpoint resumes, with and without overlap, to exactly the uninterrupted run", async () => {
    const full = await run(true, { overlap: true, freeGraph: true });
    assert.deepEqual(full.checkpoints.map((c) => c.step), [4, 8]);
    for (const [k, overlap] of [[0, true], [1, true], [0, false]] as const) {
      const from = full.checkpoints[k]!;
      const resumed = await run(true, { initSeed: 77, resumeFrom: from, overlap, freeGraph: true });
      assert.equal(resumed.result.startStep, from.step);
      assert.deepEqual(resumed.result.losses, full.result.losses, `losses from step ${from.step}, overlap ${overlap}`);
      assert.deepEqual(resumed.infos.map((i) => i.gradNorm), full.infos.slice(from.step).map((i) => i.gradNorm));
      assert.deepEqual(resumed.result.evals, full.result.evals);
      assert.deepEqual(resumed.checkpoints.map((c) => c.step), full.checkpoints.slice(k + 1).map((c) => c.step));
    }
  });

  test("overlap: each update recorded before the last one's loss is waited for, except at evaluations, checkpoints and the end; the same run", async () => {
    for (const freeGraph of [false, true]) {
      const plain = await run(true, { freeGraph });
      const reads = dev.batchedReads, log: string[] = [];
      const got = await run(true, { overlap: true, freeGraph, log });
      // the same device work in the same order: the same bits
      assert.deepEqual(got.result.losses, plain.result.losses, `freeGraph ${freeGraph}`);
      assert.ok(got.result.losses.every(Number.isFinite));
      const seen = (r: Run) => r.infos.map((i) => [i.step, i.loss, i.lr, i.gradNorm]);
      assert.deepEqual(seen(got), seen(plain));
      assert.deepEqual(got.result.evals, plain.result.evals);
      assert.deepEqual(got.checkpoints.map((c) => c.step), [4, 8]);
      got.checkpoints.forEach((c, k) => {
        for (const [name, t] of Object.entries(c.model)) assert.deepEqual([...t.data], [...plain.checkpoints[k]!.model[name]!.data], `${name} at ${c.step}`);
      });
      assert.equal(dev.batchedReads - reads, STEPS + got.result.evals.length + got.checkpoints.length, "batched reads");
      // evaluations at 3, 6, 9, 10 and checkpoints at 4, 8 wait for their own update; 1, 2, 5, 7 for the next to be recorded
      assert.deepEqual(log, ["record 1", "record 2", "done 1", "record 3", "done 2", "done 3", "record 4", "done 4", "record 5", "record 6",
        "done 5", "done 6", "record 7", "record 8", "done 7", "done 8", "record 9", "done 9", "record 10", "done 10"]);
    }
    // a stop after update 1 lands after update 2, which was recorded already
    const stopped = await run(true, { overlap: true, stopWhen: (i) => i.step === 1 });
    assert.equal(stopped.result.finalStep, 2);
    assert.deepEqual(stopped.result.losses, (await run(true, { steps: 2 })).result.losses);
    assert.equal((await run(true, { stopWhen: (i) => i.step === 1 })).result.finalStep, 1);
    // at an evaluation (step 3), nothing was recorded after it: the stop lands there
    assert.equal((await run(true, { overlap: true, stopWhen: (i) => i.step === 3 })).result.finalStep, 3);
    // when recording update 6 throws (no batch left), update 5, which waited, is finished first
    const short: string[] = [];
    await assert.rejects(run(true, { overlap: true, batchCount: 5, log: short }), (e: unknown) => e instanceof ValueError && /at least 10 batches/.test(e.message));
    assert.deepEqual(short.slice(-2), ["record 5", "done 5"]);
    // on the host there is nothing to wait for: ignored
    const log: string[] = [];
    const onHost = await run(false, { overlap: true, log, steps: 3 });
    assert.deepEqual(log, ["record 1", "done 1", "record 2", "done 2", "record 3", "done 3"]);
    assert.deepEqual(onHost.result.losses, (await run(false, { steps: 3 })).result.losses);
  });

  test("the final state of a device run: state() needs readState(), which equals a checkpoint's capture", async () => {
    // 7 steps: the last was evaluated (the parameters were read) but not checkpointed (the moments were not)
    const r = await run(true, { steps: 7 });
    assert.throws(() => r.result.state(), (e: unknown) => e instanceof DeviceSyncError && /readState/.test(e.message));
    const st = await r.result.readState();
    assert.equal(st.step, 7);
    assert.deepEqual(st.losses, r.result.losses);
    // once read, the synchronous capture works (until the next update writes the parameters)
    const again = captureTrainState({ model: r.model, optimizer: r.optimizer, scheduler: r.scheduler }, 7);
    const viaAsync = await captureTrainStateAsync({ model: r.model, optimizer: r.optimizer, scheduler: r.scheduler }, 7);
    for (const s2 of [again, viaAsync]) {
      for (const [name, t] of Object.entries(st.model)) assert.deepEqual([...s2.model[name]!.data], [...t.data], name);
      for (const [name, t] of Object.entries(st.optimizer.tensors)) assert.deepEqual([...s2.optimizer.tensors[name]!.data], [...t.data], name);
    }
    const ref = await run(false, { steps: 7 });
    const want = ref.result.state();
    for (const [name, t] of Object.entries(want.model)) close(name, [...st.model[name]!.data], [...t.data], () => 4 * tol(7));
  });
});

describe("state dicts of a model and its optimizer on a device", () => {
  /** Two AdamW steps of a Net on `be` (the device or the host). */
  async function trained(onDevice: boolean): Promise<{ model: Net; opt: AdamW }> {
    setBackend(onDevice ? dev.name : host.name);
    try {
      const model = new Net(5);
      if (onDevice) model.toDevice(dev);
      const opt = new AdamW(model.parameters(), { lr: 1e-2, amsgrad: true });
      for (let s = 0; s < 2; s++) {
        opt.zeroGrad();
        const b = batchAt(s);
        backward(crossEntropy(model.forward(b.x), b.y));
        opt.step();
      }
      return { model, opt };
    } finally {
      setBackend(host.name);
    }
  }

  test("step() submits the device work it recorded; step({ submit: false }) leaves it to the next read; a submit that is not a boolean is a ValueError", async () => {
    setBackend(dev.name);
    try {
      const model = new Net(5);
      model.toDevice(dev);
      const opt = new AdamW(model.parameters(), { lr: 1e-2 });
      const b = batchAt(0);
      for (const submit of [undefined, true, false]) {
        opt.zeroGrad();
        backward(crossEntropy(model.forward(b.x), b.y));
        const flushes = dev.flushes;
        opt.step(submit === undefined ? undefined : { submit });
        assert.equal(dev.flushes - flushes, submit === false ? 0 : 1, `flushes with submit ${submit}`);
      }
      assert.throws(() => opt.step({ submit: "no" as unknown as boolean }), (e: unknown) => e instanceof ValueError && /Optimizer\.step: opts\.submit expected true or false, got "no"/.test((e as Error).message));
    } finally {
      setBackend(host.name);
    }
  });

  test("read back, they equal the host run's; loaded into a device model and optimizer, training goes on as it would", async () => {
    const ref = await trained(false), got = await trained(true);
    assert.throws(() => got.opt.stateDict(), (e: unknown) => e instanceof DeviceSyncError && /readState/.test(e.message));
    assert.throws(() => got.model.stateDict()["up.weight"]!.clone(), DeviceSyncError);
    const sd = await got.model.readState(), osd = await got.opt.readState();
    const rsd = ref.model.stateDict(), rosd = ref.opt.stateDict();
    assert.deepEqual(Object.keys(sd), Object.keys(rsd));
    assert.deepEqual(Object.keys(osd.tensors).sort(), Object.keys(rosd.tensors).sort());
    for (const [k, t] of Object.entries(rsd)) close(k, [...sd[k]!.data], [...t.data], () => 4 * tol(2));
    for (const [k, t] of Object.entries(rosd.tensors)) {
      assert.equal(osd.tensors[k]!.dtype, "float64", k);
      close(k, [...osd.tensors[k]!.data], [...t.data], (i) => 4 * tol(2) * Math.max(1e-3, Math.abs(t.data[i] as number)));
    }
    assert.deepEqual(osd.paramGroups, rosd.paramGroups);

    // into a fresh model and optimizer on the device: one more step gives the same parameters as
    // one more step of the original device run (the state round trip is exact: float32 in float64)
    const copies = { model: Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, t.clone()])), opt: { tensors: { ...osd.tensors }, paramGroups: osd.paramGroups } };
    setBackend(dev.name);
    let fresh: Net, fopt: AdamW;
    try {
      fresh = new Net(99).toDevice(dev);
      fresh.loadStateDict(copies.model);
      fopt = new AdamW(fresh.parameters(), { lr: 1e-2, amsgrad: true });
      fopt.loadStateDict(copies.opt);
      for (const [m, o] of [[got.model, got.opt], [fresh, fopt]] as const) {
        o.zeroGrad();
        const b = batchAt(2);
        backward(crossEntropy(m.forward(b.x), b.y));
        o.step();
      }
    } finally {
      setBackend(host.name);
    }
    const a = await got.model.readState(), b = await fresh.readState();
    for (const k of Object.keys(a)) assert.deepEqual([...b[k]!.data], [...a[k]!.data], k);
    const oa = await got.opt.readState(), ob = await fopt.readState();
    for (const k of Object.keys(oa.tensors)) assert.deepEqual([...ob.tensors[k]!.data], [...oa.tensors[k]!.data], k);
  });

  test("state loaded while the parameters are on the host moves to the device with them", async () => {
    const ref = await trained(false);
    const osd = ref.opt.stateDict();
    const model = new Net(5);
    model.loadStateDict(ref.model.stateDict());
    const opt = new AdamW(model.parameters(), { lr: 1e-2, amsgrad: true });
    opt.loadStateDict(osd);
    model.toDevice(dev);
    // before any device update the state is the loaded one
    assert.deepEqual(opt.stateDict().tensors["state.1.exp_avg"]!.data, osd.tensors["state.1.exp_avg"]!.data);
    setBackend(dev.name);
    try {
      opt.zeroGrad();
      backward(crossEntropy(model.forward(batchAt(2).x), batchAt(2).y));
      opt.step();
    } finally {
      setBackend(host.name);
    }
    ref.opt.zeroGrad();
    backward(crossEntropy(ref.model.forward(batchAt(2).x), batchAt(2).y));
    ref.opt.step();
    const got = await opt.readState(), want = ref.opt.stateDict();
    assert.equal(got.tensors["state.0.step"]!.item(), 3);
    for (const [k, t] of Object.entries(want.tensors)) close(k, [...got.tensors[k]!.data], [...t.data], (i) => 8 * tol(3) * Math.max(1e-3, Math.abs(t.data[i] as number)));
  });

  test("saveSafetensors reads a device model back; withHostData runs host code on copies", async () => {
    const got = await trained(true);
    const dir = mkdtempSync(join(tmpdir(), "qkv-dev-save-"));
    try {
      const path = join(dir, "m.safetensors");
      const w = got.model.up.weight;
      assert.equal(w.host, null);
      await saveSafetensors(path, got.model.stateDict());
      const { tensors } = await loadSafetensors(path);
      assert.deepEqual([...tensors.get("up.weight")!.data], [...await w.read()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    setBackend(dev.name);
    try {
      const tensors = Object.values(got.model.stateDict());
      const out = await withHostData(tensors, () => {
        assert.equal(getBackend().kind, "host");
        assert.ok(tensors.every((t) => !t.onDevice));
        return got.model.forward(probe.x);
      });
      assert.equal(out.onDevice, false);
      assert.equal(getBackend(), dev, "the device backend is active again");
      assert.ok(tensors.every((t) => t.onDevice), "the parameters are on the device again");
    } finally {
      setBackend(host.name);
    }
  });
});

describe("gradient clipping on a device", () => {
  /** Gradients of a few parameters, on the host or on the device (same values). */
  function grads(onDevice: boolean, scale = 1): Tensor[] {
    const g = new Generator(42);
    const ps = [randn([5, 7], { generator: g }), randn([13], { generator: g }), randn([2, 3, 4], { generator: g })].map((p) => p.requiresGrad_());
    setBackend(onDevice ? dev.name : host.name);
    try {
      if (onDevice) ps.forEach((p) => toDevice(p, dev));
      backward(ps.map((p, i) => sum(mul(mul(p, p), scale * (i + 1)))).reduce((a, b) => add(a, b)));
    } finally {
      setBackend(host.name);
    }
    return ps;
  }

  test("clipGradNormTensor and clipGradNormAsync equal clipGradNorm, for norms 1, 2 and 3; clipGradValue", async () => {
    for (const normType of [1, 2, 3]) {
      for (const maxNorm of [0.5, 1e6]) {
        const ref = grads(false), refTotal = clipGradNorm(ref, maxNorm, normType);
        for (const variant of ["tensor", "async"] as const) {
          const ps = grads(true);
          const total = variant === "tensor" ? (await clipGradNormTensor(ps, maxNorm, normType).read())[0]! : await clipGradNormAsync(ps, maxNorm, normType);
          const what = `${variant}, norm ${normType}, maxNorm ${maxNorm}`;
          assert.ok(Math.abs(total - refTotal) <= 64 * U * refTotal, `${what}: ${total} vs ${refTotal}`);
          for (let k = 0; k < ps.length; k++) {
            const r = ref[k]!.grad!.data;
            close(`${what}: grad ${k}`, [...await ps[k]!.grad!.read()], [...r], (i) => 64 * U * Math.max(1e-3, Math.abs(r[i] as number)));
          }
        }
      }
    }
    const ref = grads(false), ps = grads(true);
    clipGradValue(ref, 1.5);
    clipGradValue(ps, 1.5);
    for (let k = 0; k < ps.length; k++) assert.deepEqual([...await ps[k]!.grad!.read()], [...ref[k]!.grad!.data]);
    assert.ok([...ref[2]!.grad!.data].some((v) => v === 1.5 || v === -1.5), "some entries were clamped");
  });

  test("what a device cannot do names itself", async () => {
    const ps = grads(true);
    assert.throws(() => clipGradNorm(ps, 1), (e: unknown) => e instanceof DeviceOpError && e.op === "clipGradNorm" && /clipGradNormAsync/.test(e.message));
    assert.throws(() => clipGradNormTensor(ps, 1, Infinity), (e: unknown) => e instanceof DeviceOpError && /max reduction/.test(e.message));
    const inf = grads(true, Infinity);
    await assert.rejects(clipGradNormAsync(inf, 1, 2, { errorIfNonfinite: true }), ValueError);
    const mixed = [...grads(true).slice(0, 1), ...grads(false).slice(1)];
    assert.throws(() => clipGradNormTensor(mixed, 1), ValueError);
  });
});
