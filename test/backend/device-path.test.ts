/**
 * The device path of tensors, ops, autograd and optimizers in Node, on a device backend whose
 * memory is host memory (host-device.ts: js kernels behind device arrays): a small transformer
 * block of nn modules moved with Module.toDevice trains as it does on js; device tensors throw
 * DeviceSyncError until read; backward gives its device temporaries back; the optimizer submits
 * once per step; useWebGPU falls back with one notice. The same path on a real GPU is
 * test/browser/webgpu-train.test.ts.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { backward } from "../../src/autograd/backward.js";
import { freeGraph } from "../../src/autograd/free-graph.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { arrayOf, toDevice } from "../../src/backend/tensor-arrays.js";
import { useWebGPU } from "../../src/backend/webgpu/use.js";
import { Embedding, LayerNorm, Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { abs, add, cos, elu, erfOp, gelu, log, mul, reciprocal, rsqrt, sign, sin, sqrt, square } from "../../src/ops/elementwise.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { mean, sum, variance } from "../../src/ops/reduce.js";
import { concat, permute, reshape, slice, stack } from "../../src/ops/shape.js";
import { AdamW } from "../../src/optim/adam.js";
import type { Optimizer } from "../../src/optim/optimizer.js";
import { SGD } from "../../src/optim/sgd.js";
import { DeviceSyncError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, rand, randint, randn } from "../../src/tensor/tensor.js";
import { hostDevice } from "./host-device.js";

const B = 3, L = 6, E = 8, H = 2, C = 4, V = 9;

class Block extends Module {
  readonly emb: Embedding; readonly ln: LayerNorm; readonly q: Linear; readonly k: Linear; readonly v: Linear;
  readonly o: Linear; readonly up: Linear; readonly down: Linear; readonly cls: Linear;
  constructor(seed: number) {
    super();
    const generator = new Generator(seed);
    this.emb = this.registerModule("emb", new Embedding(V, E, { paddingIdx: 0, generator }));
    this.ln = this.registerModule("ln", new LayerNorm(E));
    this.q = this.registerModule("q", new Linear(E, E, { generator }));
    this.k = this.registerModule("k", new Linear(E, E, { generator }));
    this.v = this.registerModule("v", new Linear(E, E, { generator }));
    this.o = this.registerModule("o", new Linear(E, E, { generator }));
    this.up = this.registerModule("up", new Linear(E, 2 * E, { generator }));
    this.down = this.registerModule("down", new Linear(2 * E, E, { generator }));
    this.cls = this.registerModule("cls", new Linear(E, C, { generator }));
  }
  forward(tokens: Tensor, y: Tensor): Tensor {
    const heads = (t: Tensor): Tensor => permute(reshape(t, [B, L, H, E / H]), [0, 2, 1, 3]); // [B, H, L, E / H]
    const x = this.emb.forward(tokens); // [B, L, E]
    const h = this.ln.forward(x);
    const a = scaledDotProductAttention(heads(this.q.forward(h)), heads(this.k.forward(h)), heads(this.v.forward(h)), { isCausal: true }).output;
    const r = add(x, this.o.forward(reshape(permute(a, [0, 2, 1, 3]), [B, L, E])));
    const r2 = add(r, this.down.forward(gelu(this.up.forward(r))));
    return crossEntropy(this.cls.forward(mean(r2, 1)), y, { labelSmoothing: 0.1 });
  }
}

const host = getBackend();
const dev = hostDevice();
after(() => setBackend(host.name));

async function train(onDevice: boolean, makeOpt: (m: Block) => Optimizer<never>, steps: number): Promise<{ losses: number[]; model: Block }> {
  registerBackend(dev); // named webgpu: registered after the useWebGPU test, which needs none
  setBackend(onDevice ? dev.name : host.name);
  const model = new Block(1);
  if (onDevice) model.toDevice(dev);
  const opt = makeOpt(model);
  const g = new Generator(2);
  const tokens = randint(0, V, [B, L], { generator: g }), y = randint(0, C, [B], { generator: g });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const loss = model.forward(tokens, y);
    backward(loss);
    opt.step();
    losses.push((await loss.read())[0]!);
    freeGraph(loss);
  }
  setBackend(host.name);
  return { losses, model };
}

// float32 rounding over about 10 layers of sums of at most 2E terms, one such term more per update
const U = 2 ** -24, tol = (s: number): number => 10 * (2 * E + 2) * U * (1 + s);

describe("device path on a host-memory device backend", () => {
  test("useWebGPU without a GPU object keeps the host backend and gives one notice", async () => {
    const warn = console.warn;
    const notes: string[] = [];
    console.warn = (m: string) => notes.push(m);
    try {
      assert.equal(await useWebGPU({ gpu: null }), host);
      assert.equal(await useWebGPU({ gpu: null }), host);
    } finally {
      console.warn = warn;
    }
    assert.equal(getBackend(), host);
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /WebGPU is not available .*keeping the \w+ backend/);
  });

  const optimizers: [string, (m: Block) => Optimizer<never>][] = [
    ["AdamW", (m) => new AdamW(m.parameters(), { lr: 1e-2 }) as unknown as Optimizer<never>],
    ["SGD with Nesterov momentum and weight decay", (m) => new SGD(m.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }) as unknown as Optimizer<never>],
  ];
  for (const [name, make] of optimizers) {
    test(`${name}: the device losses and parameters are js's within float32's bound`, async (t) => {
      const steps = 4;
      const ref = await train(false, make, steps);
      const flushes = dev.flushes, releases = dev.releases;
      const got = await train(true, make, steps);
      for (let s = 0; s < steps; s++) {
        const d = Math.abs(got.losses[s]! - ref.losses[s]!);
        t.diagnostic(`step ${s}: js ${ref.losses[s]}, device ${got.losses[s]}, |diff| ${d.toExponential(2)}`);
        assert.ok(d <= tol(s), `step ${s}: ${got.losses[s]} vs ${ref.losses[s]}`);
      }
      assert.ok(ref.losses[steps - 1]! < ref.losses[0]!, `js's loss decreases: ${ref.losses.join(", ")}`);
      assert.equal(dev.flushes - flushes, steps, "one submission per optimizer step");
      assert.ok(dev.releases > releases, "backward gives device temporaries back");
      const p = got.model.up.weight;
      assert.ok(p.onDevice, "up.weight is on the device");
      assert.throws(() => p.data, DeviceSyncError);
      const pd = await p.read();
      const rd = ref.model.up.weight.data;
      let worst = 0;
      for (let i = 0; i < pd.length; i++) worst = Math.max(worst, Math.abs(pd[i]! - rd[i]!));
      assert.ok(worst <= tol(steps), `up.weight differs by ${worst}`);
    });
  }

  test("slices of a device tensor (views and strided copies) and their block gradients match js", async () => {
    const run = async (onDevice: boolean): Promise<[number[], number[]]> => {
      registerBackend(dev);
      setBackend(onDevice ? dev.name : host.name);
      const x = randn([4, 6, 3], { generator: new Generator(7) }).requiresGrad_();
      if (onDevice) toDevice(x, dev);
      // a contiguous view (dim 0), strided copies along dims 1 and 2 and with a step along dim 0, overlapping
      const parts = [slice(x, 0, 1, 3), slice(x, 1, 1, 6, 2), slice(x, 2, 0, 2), slice(x, 0, 0, 4, 3)];
      let loss: Tensor | null = null;
      parts.forEach((p, i) => {
        const term = sum(mul(p, randn(p.shape, { generator: new Generator(9 + i) }))); // weights on the host, uploaded
        loss = loss ? add(loss, term) : term;
      });
      backward(loss!);
      const out = [Array.from(await loss!.read()), Array.from(await x.grad!.read())] as [number[], number[]];
      setBackend(host.name);
      return out;
    };
    const [refLoss, refGrad] = await run(false);
    const [gotLoss, gotGrad] = await run(true);
    assert.ok(Math.abs(gotLoss[0]! - refLoss[0]!) <= 1e-5 * (1 + Math.abs(refLoss[0]!)), `${gotLoss} vs ${refLoss}`);
    // each gradient element is a sum of at most 4 products of one weight: exact up to the order of the adds
    for (let i = 0; i < refGrad.length; i++) assert.ok(Math.abs(gotGrad[i]! - refGrad[i]!) <= 4 * U * (1 + Math.abs(refGrad[i]!)), `grad ${i}`);
  });

  test("concat and stack of device tensors (and a host one) and their gradients match js", async () => {
    const run = async (onDevice: boolean): Promise<number[][]> => {
      registerBackend(dev);
      setBackend(onDevice ? dev.name : host.name);
      const a = randn([2, 3, 4], { generator: new Generator(11) }).requiresGrad_();
      const b = randn([2, 1, 4], { generator: new Generator(12) }).requiresGrad_();
      const c = randn([2, 3, 4], { generator: new Generator(13) }); // stays on the host
      if (onDevice) [a, b].forEach((t) => toDevice(t, dev));
      const y0 = concat([a, b, c], 1), y1 = concat([a, c], 0), y2 = stack([a, c], 2);
      const loss = add(add(sum(mul(y0, y0)), sum(mul(y1, randn(y1.shape, { generator: new Generator(14) })))), sum(mul(y2, y2)));
      backward(loss);
      const out = [Array.from(await loss.read()), Array.from(await a.grad!.read()), Array.from(await b.grad!.read()), Array.from(await y2.read())];
      setBackend(host.name);
      return out;
    };
    const ref = await run(false), got = await run(true);
    ref.forEach((r, k) => r.forEach((v, i) => assert.ok(Math.abs(got[k]![i]! - v) <= 64 * U * (1 + Math.abs(v)), `output ${k}[${i}]: ${got[k]![i]} vs ${v}`)));
  });

  test("gradients of broadcasts over any dims (variance, a [B, 1, E] operand) match js", async () => {
    const run = async (onDevice: boolean): Promise<number[][]> => {
      registerBackend(dev);
      setBackend(onDevice ? dev.name : host.name);
      const x = randn([3, 4, 5], { generator: new Generator(21) }).requiresGrad_();
      const s = randn([3, 1, 5], { generator: new Generator(22) }).requiresGrad_();
      if (onDevice) [x, s].forEach((t) => toDevice(t, dev));
      const loss = add(sum(variance(x, -1)), sum(mul(mul(x, s), x)));
      backward(loss);
      const out = [Array.from(await loss.read()), Array.from(await x.grad!.read()), Array.from(await s.grad!.read())];
      setBackend(host.name);
      return out;
    };
    const ref = await run(false), got = await run(true);
    ref.forEach((r, k) => r.forEach((v, i) => assert.ok(Math.abs(got[k]![i]! - v) <= 64 * U * (1 + Math.abs(v)), `output ${k}[${i}]: ${got[k]![i]} vs ${v}`)));
  });

  test("unary derivatives computed with kernels on the device match js's loop", async () => {
    const ops = {
      log, sqrt, rsqrt, erfOp, abs, sin, cos, square, reciprocal, sign,
      elu: (t: Tensor) => elu(t, 0.7), geluTanh: (t: Tensor) => gelu(t, "tanh"),
    } as const;
    for (const [name, f] of Object.entries(ops)) {
      const run = async (onDevice: boolean): Promise<number[]> => {
        registerBackend(dev);
        setBackend(onDevice ? dev.name : host.name);
        const x = rand([37], { generator: new Generator(31) });
        const xd = x.data as Float32Array;
        const signed = name === "elu" || name === "geluTanh" || name === "abs" || name === "sign" || name === "sin";
        for (let i = 0; i < xd.length; i++) xd[i] = signed ? 4 * xd[i]! - 2 : 0.25 + 2 * xd[i]!; // log, sqrt, rsqrt: positive
        x.requiresGrad_();
        if (onDevice) toDevice(x, dev);
        backward(sum(mul(f(x), randn([37], { generator: new Generator(32) }))));
        const gx = Array.from(await x.grad!.read());
        setBackend(host.name);
        return gx;
      };
      const ref = await run(false), got = await run(true);
      ref.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= 16 * U * (1 + Math.abs(v)), `${name}'[${i}]: ${got[i]} vs ${v}`));
    }
  });

  test("MultiheadAttention (packed in-projection, sliced) trains on the device as on js", async () => {
    const run = async (onDevice: boolean): Promise<number[]> => {
      registerBackend(dev);
      setBackend(onDevice ? dev.name : host.name);
      const mha = new MultiheadAttention(E, H, { batchFirst: true, generator: new Generator(3) });
      if (onDevice) mha.toDevice(dev);
      const opt = new AdamW(mha.parameters(), { lr: 1e-2 });
      const x = randn([B, L, E], { generator: new Generator(4) });
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        opt.zeroGrad();
        const { output } = mha.forward(x, x, x, { needWeights: false });
        const loss = mean(mul(output, output));
        backward(loss);
        opt.step();
        losses.push((await loss.read())[0]!);
      }
      setBackend(host.name);
      return losses;
    };
    const ref = await run(false), got = await run(true);
    for (let s = 0; s < ref.length; s++) assert.ok(Math.abs(got[s]! - ref[s]!) <= tol(s) * Math.max(1, Math.abs(ref[s]!)), `step ${s}: ${got[s]} vs ${ref[s]}`);
  });

  test("a host backend's kernels get a device tensor's data only once it is read: DeviceSyncError before", async () => {
    const t = toDevice(randn([4, 3], { generator: new Generator(8) }), dev);
    assert.throws(() => arrayOf(t, host), DeviceSyncError);
    await t.read();
    assert.equal((arrayOf(t, host) as Float32Array).length, 12);
  });
});
