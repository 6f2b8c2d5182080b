import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { gradcheck } from "../../src/autograd/gradcheck.js";
import { eluFeatureMap, linearAttention } from "../../src/attention/linear.js";
import { linformerAttention } from "../../src/attention/linformer.js";
import { iterativePinv, nystromAttention } from "../../src/attention/nystrom.js";
import { PerformerFeatures, performerAttention } from "../../src/attention/performer.js";
import { causalMask, scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { div, maskedFill, mul } from "../../src/ops/elementwise.js";
import { matmul } from "../../src/ops/matmul.js";
import { sum } from "../../src/ops/reduce.js";
import { indexSelect, transpose } from "../../src/ops/shape.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";

const gen = (s: number) => new Generator(s);
const r64 = (shape: number[], g: Generator, requiresGrad = true) => randn(shape, { dtype: "float64", generator: g, requiresGrad });

function maxDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

/** ‖a - b‖ / ‖b‖ */
function relErr(a: Tensor, b: Tensor): number {
  let n = 0, d = 0;
  for (let i = 0; i < a.size; i++) {
    n += (Number(a.data[i]) - Number(b.data[i])) ** 2;
    d += Number(b.data[i]) ** 2;
  }
  return Math.sqrt(n / d);
}

/** The quadratic composition of linear attention, for reference. */
function linearReference(q: Tensor, k: Tensor, v: Tensor, causal: boolean): Tensor {
  const G = q.shape[1]! / k.shape[1]!;
  const idx = Array.from({ length: q.shape[1]! }, (_, h) => Math.floor(h / G));
  const kk = G > 1 ? indexSelect(k, 1, idx) : k, vv = G > 1 ? indexSelect(v, 1, idx) : v;
  let a = matmul(eluFeatureMap(q), transpose(eluFeatureMap(kk), -2, -1));
  if (causal) a = maskedFill(a, causalMask(q.shape[2]!, k.shape[2]!), 0);
  return matmul(div(a, sum(a, -1, { keepdim: true })), vv);
}

describe("linear attention (elu + 1)", () => {
  for (const causal of [false, true]) {
    test(`${causal ? "causal" : "non-causal"}: output and grads equal the quadratic composition (GQA too)`, () => {
      for (const [H, Hkv, L, S] of [[2, 2, 9, 9], [4, 2, 8, 8], [2, 1, 5, causal ? 5 : 11]] as const) {
        const g = gen(3);
        const q = r64([2, H, L, 4], g), k = r64([2, Hkv, S, 4], g), v = r64([2, Hkv, S, 3], g);
        const cot = randn([2, H, L, 3], { dtype: "float64", generator: g });
        const run = (f: () => Tensor): Tensor[] => {
          q.grad = k.grad = v.grad = null;
          const o = f();
          backward(sum(mul(o, cot)));
          return [o, q.grad!, k.grad!, v.grad!];
        };
        const got = run(() => linearAttention(q, k, v, { causal }).output);
        const want = run(() => linearReference(q, k, v, causal));
        got.forEach((t, i) => assert.ok(maxDiff(t, want[i]!) < 1e-12, `${i}: ${maxDiff(t, want[i]!)}`));
      }
    });
    test(`${causal ? "causal" : "non-causal"} gradcheck`, () => {
      const g = gen(4);
      const r = gradcheck((q, k, v) => linearAttention(q!, k!, v!, { causal }).output, [r64([1, 2, 6, 3], g), r64([1, 2, 6, 3], g), r64([1, 2, 6, 2], g)]);
      assert.ok(r.ok, r.worst);
    });
  }
  test("weights: rows sum to 1, causal zeros above the diagonal", () => {
    const q = randn([1, 1, 5, 3]), k = randn([1, 1, 5, 3]), v = randn([1, 1, 5, 2]);
    const { weights } = linearAttention(q, k, v, { causal: true, needWeights: true });
    for (let i = 0; i < 5; i++) {
      let s = 0;
      for (let j = 0; j < 5; j++) {
        if (j > i) assert.equal(weights!.data[i * 5 + j], 0);
        s += Number(weights!.data[i * 5 + j]);
      }
      assert.ok(Math.abs(s - 1) < 1e-6);
    }
  });
  test("causal needs L = S", () => {
    assert.throws(() => linearAttention(randn([1, 1, 4, 2]), randn([1, 1, 5, 2]), randn([1, 1, 5, 2]), { causal: true }), ShapeError);
  });
});

describe("Linformer", () => {
  test("gradcheck over q, k, v, E, F; E/F wider than S use their first S columns", () => {
    const g = gen(5);
    const E = r64([3, 8], g), F = r64([3, 8], g);
    const r = gradcheck((q, k, v, e, f) => linformerAttention(q!, k!, v!, e!, f!).output,
      [r64([1, 2, 4, 3], g), r64([1, 2, 6, 3], g), r64([1, 2, 6, 2], g), E, F]);
    assert.ok(r.ok, r.worst);
    const q = r64([1, 1, 4, 3], g, false), k = r64([1, 1, 6, 3], g, false), v = r64([1, 1, 6, 3], g, false);
    const narrow = (t: Tensor) => new Tensor(Float64Array.from({ length: 18 }, (_, x) => Number(t.data[Math.floor(x / 6) * 8 + (x % 6)])), [3, 6], "float64");
    assert.ok(maxDiff(linformerAttention(q, k, v, E, F).output, linformerAttention(q, k, v, narrow(E), narrow(F)).output) < 1e-14);
    assert.throws(() => linformerAttention(q, randn([1, 1, 9, 3], { dtype: "float64" }), randn([1, 1, 9, 3], { dtype: "float64" }), E, F), ShapeError);
  });
});

describe("Nyström", () => {
  test("iterative pinv inverts a well-conditioned stochastic matrix", () => {
    const a = new Tensor(Float64Array.from([0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6]), [3, 3], "float64");
    const z = iterativePinv(a, 20);
    const p = matmul(a, z);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(Number(p.data[i * 3 + j]) - (i === j ? 1 : 0)) < 1e-8);
  });
  test("error against full attention shrinks as landmarks grow", () => {
    const errs: number[] = [];
    for (const m of [2, 8, 32, 128]) {
      let e = 0;
      for (const s of [1, 2, 3]) {
        const g = gen(s);
        const q = mul(r64([1, 2, 128, 8], g, false), 0.5), k = mul(r64([1, 2, 128, 8], g, false), 0.5), v = r64([1, 2, 128, 8], g, false);
        e += relErr(nystromAttention(q, k, v, { landmarks: m, pinvIterations: 12 }).output, scaledDotProductAttention(q, k, v).output) / 3;
      }
      errs.push(e);
    }
    console.log("nystrom errors", errs.map((e) => e.toExponential(2)).join(" "));
    for (let i = 1; i < errs.length; i++) assert.ok(errs[i]! < 0.8 * errs[i - 1]!, `errors ${errs.join(", ")}`);
    assert.ok(errs[errs.length - 1]! < 1e-2, `m = L: ${errs[errs.length - 1]}`);
  });
  test("gradcheck, L not a multiple of landmarks, GQA", () => {
    const g = gen(6);
    const r = gradcheck((q, k, v) => nystromAttention(q!, k!, v!, { landmarks: 3 }).output, [r64([1, 2, 7, 3], g), r64([1, 1, 8, 3], g), r64([1, 1, 8, 2], g)]);
    assert.ok(r.ok, r.worst);
  });
});

describe("Performer (FAVOR+)", () => {
  test("error against full attention shrinks as features grow", () => {
    const errs: number[] = [];
    for (const m of [8, 64, 512]) {
      let e = 0;
      for (const s of [1, 2, 3, 4]) {
        const g = gen(s);
        const q = mul(r64([1, 2, 64, 8], g, false), 0.7), k = mul(r64([1, 2, 64, 8], g, false), 0.7), v = r64([1, 2, 64, 8], g, false);
        e += relErr(performerAttention(q, k, v, { features: new PerformerFeatures(8, m, 10 + s) }).output, scaledDotProductAttention(q, k, v).output) / 4;
      }
      errs.push(e);
    }
    console.log("performer errors", errs.map((e) => e.toExponential(2)).join(" "));
    for (let i = 1; i < errs.length; i++) assert.ok(errs[i]! < 0.75 * errs[i - 1]!, `errors ${errs.join(", ")}`);
  });
  test("causal approximates causal attention", () => {
    const g = gen(9);
    const q = mul(r64([1, 1, 32, 8], g, false), 0.5), k = mul(r64([1, 1, 32, 8], g, false), 0.5), v = r64([1, 1, 32, 8], g, false);
    const a = performerAttention(q, k, v, { features: new PerformerFeatures(8, 1024, 1), causal: true }).output;
    assert.ok(relErr(a, scaledDotProductAttention(q, k, v, { isCausal: true }).output) < 0.1);
  });
  test("seeded features are orthogonal within a block; redraw resamples", () => {
    const f = new PerformerFeatures(4, 8, 3), f2 = new PerformerFeatures(4, 8, 3);
    assert.deepEqual([...f.omega.data], [...f2.omega.data]);
    const w = f.omega.data;
    for (let a = 0; a < 4; a++) for (let b = a + 1; b < 4; b++) {
      let d = 0;
      for (let c = 0; c < 4; c++) d += Number(w[a * 4 + c]) * Number(w[b * 4 + c]);
      assert.ok(Math.abs(d) < 1e-9);
    }
    const before = [...f.omega.data];
    f.redraw();
    assert.notDeepEqual([...f.omega.data], before);
  });
  test("gradcheck (causal and not)", () => {
    for (const causal of [false, true]) {
      const g = gen(11);
      const f = new PerformerFeatures(3, 6, 2);
      const r = gradcheck((q, k, v) => performerAttention(q!, k!, v!, { features: f, causal }).output, [r64([1, 2, 5, 3], g), r64([1, 2, 5, 3], g), r64([1, 2, 5, 2], g)]);
      assert.ok(r.ok, r.worst);
    }
  });
  test("errors", () => {
    const q = randn([1, 1, 4, 4]);
    assert.throws(() => performerAttention(q, q, q, { features: new PerformerFeatures(3, 4, 0) }), ShapeError);
    assert.throws(() => new PerformerFeatures(4, 0, 0), ValueError);
  });
});
