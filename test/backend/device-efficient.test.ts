/**
 * Sparse and linear attention, FAVOR+ features and the modules built on them, on a device backend
 * in Node (host-device.ts: device arrays in host memory behind the js kernels): outputs and
 * gradients of device tensors against the same calls on js; the PyTorch fixtures' `efficient`
 * family with its inputs and parameters on the device. The WGSL kernels themselves are compared
 * with the js kernels in test/browser/webgpu.test.ts.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { bigbirdAttention } from "../../src/attention/bigbird.js";
import { blockSparseAttention } from "../../src/attention/block-sparse.js";
import { longformerAttention } from "../../src/attention/global.js";
import { linearAttention } from "../../src/attention/linear.js";
import { PerformerFeatures, performerAttention } from "../../src/attention/performer.js";
import type { AttentionSpec } from "../../src/attention/select.js";
import { dilatedWindowAttention, windowAttention } from "../../src/attention/window.js";
import { backward } from "../../src/autograd/backward.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { EfficientSelfAttention } from "../../src/nn/efficient-self-attention.js";
import { add, mul } from "../../src/ops/elementwise.js";
import { favorFeaturesOp } from "../../src/ops/favor-features.js";
import { sum } from "../../src/ops/reduce.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { runCase, type FxFile } from "../../tools/parity/fixture.js";
import { efficient } from "../../tools/parity/families/efficient.js";
import { hostDevice } from "./host-device.js";

const host = getBackend();
const dev = hostDevice();
registerBackend(dev);
after(() => setBackend(host.name));

/** What one run gives back: each output's values, then each input's gradient. */
interface Run { outputs: Float32Array[]; grads: Float32Array[] }

/**
 * f over fresh inputs from `make` (float32, requiring grad), on js or on the device (inputs moved
 * there first); the loss is the sum of each output times a seeded cotangent (a host tensor).
 */
async function run(onDevice: boolean, make: () => Tensor[], f: (...xs: Tensor[]) => (Tensor | null)[]): Promise<Run> {
  setBackend(onDevice ? dev.name : "js");
  try {
    const xs = make().map((x) => (onDevice ? toDevice(x, dev) : x).requiresGrad_());
    const outs = f(...xs).filter((o): o is Tensor => o !== null);
    let loss: Tensor | null = null;
    outs.forEach((o, i) => {
      if (onDevice) assert.ok(o.onDevice, `output ${i} is a device tensor`);
      const term = sum(mul(o, randn(o.shape, { generator: new Generator(100 + i) })));
      loss = loss ? add(loss, term) : term;
    });
    backward(loss!);
    const grads: Float32Array[] = [];
    for (const [i, x] of xs.entries()) {
      assert.ok(x.grad, `input ${i} has a gradient`);
      if (onDevice) assert.ok(x.grad.onDevice, `the gradient of input ${i} is a device tensor`);
      grads.push(Float32Array.from(await x.grad.read()));
    }
    const outputs: Float32Array[] = [];
    for (const o of outs) outputs.push(Float32Array.from(await o.read()));
    return { outputs, grads };
  } finally {
    setBackend(host.name);
  }
}

/** got within rtol |want| + atol max |want| of want, elementwise (NaN matching NaN). */
function close(label: string, got: Float32Array, want: Float32Array, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${label}: length`);
  let m = 0;
  for (const w of want) if (Number.isFinite(w)) m = Math.max(m, Math.abs(w));
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    assert.ok(Math.abs(g - w) <= rtol * Math.abs(w) + atol * m, `${label}[${i}]: device ${g}, js ${w}`);
  }
}

/** The device run of f against the js run: outputs and every input's gradient. */
async function matchesJs(make: () => Tensor[], f: (...xs: Tensor[]) => (Tensor | null)[], rtol = 1e-6, atol = 1e-6): Promise<void> {
  const want = await run(false, make, f), got = await run(true, make, f);
  assert.equal(got.outputs.length, want.outputs.length);
  want.outputs.forEach((w, i) => close(`output ${i}`, got.outputs[i]!, w, rtol, atol));
  want.grads.forEach((w, i) => close(`grad ${i}`, got.grads[i]!, w, rtol, atol));
}

/** q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] from a seed. */
const qkv = (seed: number, B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number) => (): Tensor[] => {
  const generator = new Generator(seed);
  return [randn([B, H, L, D], { generator }), randn([B, Hkv, S, D], { generator }), randn([B, Hkv, S, Dv], { generator })];
};

describe("sparse attention on a device backend (host memory) against js", () => {
  const cases: [string, () => Tensor[], (q: Tensor, k: Tensor, v: Tensor) => (Tensor | null)[]][] = [
    ["window 2", qkv(1, 2, 2, 2, 9, 9, 4, 3), (q, k, v) => [windowAttention(q, k, v, { window: 2 }).output]],
    ["causal window 3, GQA 4/2", qkv(2, 1, 4, 2, 11, 11, 5, 6), (q, k, v) => [windowAttention(q, k, v, { window: 3, causal: true }).output]],
    ["dilated window 2, dilation 3", qkv(3, 1, 2, 1, 13, 13, 4, 4), (q, k, v) => [dilatedWindowAttention(q, k, v, { window: 2, dilation: 3 }).output]],
    ["longformer window 1, 2 global tokens, causal", qkv(4, 2, 2, 2, 10, 10, 3, 3),
      (q, k, v) => [longformerAttention(q, k, v, { window: 1, numGlobal: 2, causal: true }).output]],
    ["bigbird blocks of 3", qkv(5, 1, 2, 2, 12, 12, 4, 4),
      (q, k, v) => [bigbirdAttention(q, k, v, { window: 1, numGlobal: 1, numRandom: 1, blockSize: 3, seed: 7 }).output]],
    ["block layout with an empty block row (rows with no key), L 6, S 9", qkv(6, 1, 2, 1, 6, 9, 4, 5), (q, k, v) => {
      const layout = new Tensor(Uint8Array.of(1, 0, 1, 0, 0, 0), [2, 3], "bool");
      return [blockSparseAttention(q, k, v, { layout, blockSize: 3 }).output];
    }],
    ["window 1 with its weights (the pattern's additive mask)", qkv(7, 1, 2, 2, 7, 7, 4, 4), (q, k, v) => {
      const r = windowAttention(q, k, v, { window: 1, needWeights: true });
      return [r.output, r.weights];
    }],
  ];
  for (const [name, make, f] of cases) {
    test(`${name}: output and dq, dk, dv`, () => matchesJs(make, (q, k, v) => f(q!, k!, v!)));
  }

  test("a row with no allowed key gives 0 and zero gradients on the device", async () => {
    const make = qkv(8, 1, 1, 1, 6, 9, 2, 2);
    const layout = new Tensor(Uint8Array.of(1, 0, 0, 0, 0, 0), [2, 3], "bool");
    const got = await run(true, make, (q, k, v) => [blockSparseAttention(q!, k!, v!, { layout, blockSize: 3 }).output]);
    assert.deepEqual(Array.from(got.outputs[0]!.slice(6)), [0, 0, 0, 0, 0, 0]); // rows 3..5
    assert.deepEqual(Array.from(got.grads[0]!.slice(6)), [0, 0, 0, 0, 0, 0]);
    assert.ok(got.outputs[0]!.slice(0, 6).some((x) => x !== 0));
  });
});

describe("linear attention and FAVOR+ on a device backend (host memory) against js", () => {
  for (const causal of [false, true]) {
    const c = causal ? "causal" : "non-causal";
    test(`linearAttention (elu + 1), ${c}, GQA 4/2: output and gradients`, () =>
      matchesJs(qkv(11, 2, 4, 2, 7, 7, 3, 5), (q, k, v) => [linearAttention(q!, k!, v!, { causal }).output]));
    test(`linearAttention, ${c}, with its weights`, () =>
      matchesJs(qkv(12, 1, 2, 2, 6, 6, 3, 4), (q, k, v) => {
        const r = linearAttention(q!, k!, v!, { causal, needWeights: true });
        return [r.output, r.weights];
      }));
    test(`performerAttention, ${c}, 16 features: output and gradients`, () => {
      const features = new PerformerFeatures(4, 16, 3);
      return matchesJs(qkv(13, 2, 2, 1, 8, 8, 4, 3), (q, k, v) => [performerAttention(q!, k!, v!, { features, causal }).output], 1e-5, 1e-5);
    });
  }
  for (const perRow of [true, false]) {
    test(`favorFeaturesOp stabilized per ${perRow ? "row" : "matrix"}, 7 features: phi and its gradient`, () => {
      const omega = new PerformerFeatures(5, 7, 1).omegaAs("float32");
      return matchesJs(() => [randn([2, 3, 6, 5], { generator: new Generator(14) })],
        (x) => [favorFeaturesOp(x!, omega, 0.4, perRow)], 1e-5, 1e-6);
    });
  }
  test("favorFeaturesOp's stabilizer is one max reduction on the device: spans of 64 and 1800, phi and its gradient as js's", async () => {
    const kernels = dev as unknown as Record<string, (...a: unknown[]) => void>;
    const extreme = kernels.extreme!, binary = kernels.binary!;
    const calls: string[] = [];
    kernels.extreme = (...a: unknown[]): void => {
      calls.push(`extreme ${a[3]}x${a[4]}x${a[5]} ${a[6]}`); // outer x n x inner, op
      extreme(...a);
    };
    kernels.binary = (...a: unknown[]): void => {
      if (a[0] === "maximum") calls.push("maximum");
      binary(...a);
    };
    try {
      for (const [perRow, m, shape, want] of [[true, 64, [1, 2, 30, 4], "extreme 60x64x1 max"], [false, 9, [2, 2, 200, 8], "extreme 4x1800x1 max"]] as const) {
        const omega = new PerformerFeatures(shape[3], m, 5).omegaAs("float32");
        calls.length = 0;
        await matchesJs(() => [randn([...shape], { generator: new Generator(16) })], (x) => [favorFeaturesOp(x!, omega, 0.3, perRow)], 1e-5, 1e-6);
        assert.deepEqual(calls, [want], `per ${perRow ? "row" : "matrix"}: the device run's max reductions`);
      }
    } finally {
      kernels.extreme = extreme;
      kernels.binary = binary;
    }
  });
  test("favorFeaturesOp with one feature (a span of 1)", () => {
    const omega = new PerformerFeatures(3, 1, 2).omegaAs("float32");
    return matchesJs(() => [randn([4, 3], { generator: new Generator(15) })], (x) => [favorFeaturesOp(x!, omega, 0.5, true)], 1e-5, 1e-6);
  });
});

describe("EfficientSelfAttention moved to a device backend (host memory) against js", () => {
  const specs: [string, AttentionSpec][] = [
    ["window", { kind: "window", window: 2, causal: true }],
    ["longformer", { kind: "longformer", window: 1, numGlobal: 1 }],
    ["linear", { kind: "linear", causal: true }],
    ["performer", { kind: "performer", features: 12, seed: 4 }],
  ];
  for (const [name, spec] of specs) {
    test(`${name}: output and the gradients of x and every parameter`, async () => {
      const once = async (onDevice: boolean): Promise<Float32Array[]> => {
        setBackend(onDevice ? dev.name : "js");
        try {
          const m = new EfficientSelfAttention(8, 2, spec, { generator: new Generator(5) });
          const x = randn([2, 7, 8], { generator: new Generator(6) });
          if (onDevice) {
            m.toDevice(dev);
            toDevice(x, dev);
          }
          x.requiresGrad_();
          const out = m.forward(x).output; // [2, 7, 8]
          if (onDevice) assert.ok(out.onDevice);
          backward(sum(mul(out, randn(out.shape, { generator: new Generator(9) }))));
          const res = [Float32Array.from(await out.read()), Float32Array.from(await x.grad!.read())];
          for (const p of m.parameters()) {
            if (onDevice) assert.ok(p.grad?.onDevice, "a device parameter's gradient is on the device");
            res.push(Float32Array.from(await p.grad!.read()));
          }
          return res;
        } finally {
          setBackend(host.name);
        }
      };
      const want = await once(false), got = await once(true);
      assert.ok(want.length >= 10);
      want.forEach((w, i) => close(`${name} ${i}`, got[i]!, w, 1e-5, 1e-5));
    });
  }
});

describe("the PyTorch fixtures' efficient family on a device backend (host memory)", () => {
  test("every case: outputs and gradients from device tensors within the fixture's tolerance", async () => {
    const fx = JSON.parse(readFileSync(new URL("../fixtures/pytorch/efficient.json", import.meta.url), "utf8")) as FxFile;
    assert.equal(fx.family, "efficient");
    assert.ok(fx.cases.length >= 7);
    setBackend(dev.name);
    try {
      const failed: string[] = [];
      for (const c of fx.cases) {
        const r = await runCase(c, efficient, dev);
        if (!r.ok) failed.push(`${c.name}: ${r.problems.join("; ")}`);
      }
      assert.deepEqual(failed, []);
    } finally {
      setBackend(host.name);
    }
  });
});
