import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { gradcheck } from "../../src/autograd/gradcheck.js";
import { bigbirdAttention, bigbirdLayout } from "../../src/attention/bigbird.js";
import { blockSparseAttention } from "../../src/attention/block-sparse.js";
import { longformerAttention } from "../../src/attention/global.js";
import { scaledDotProductAttention, type AttentionResult } from "../../src/attention/sdpa.js";
import { sparseAttention, buildPattern } from "../../src/attention/sparse.js";
import { dilatedWindowAttention, windowAttention, windowPattern } from "../../src/attention/window.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";

type Fn = (q: Tensor, k: Tensor, v: Tensor) => AttentionResult;
/** allowed(i, j): the definition of the pattern, written independently of the builders. */
type Allowed = (i: number, j: number) => boolean;

function maskOf(L: number, S: number, allowed: Allowed): Tensor {
  const m = new Uint8Array(L * S);
  for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) m[i * S + j] = allowed(i, j) ? 0 : 1;
  return new Tensor(m, [L, S], "bool");
}

function maxDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

/** Output and grads of fn equal those of sdpa with the mask of `allowed` (float64). */
function checkExact(fn: Fn, allowed: Allowed, L: number, S = L, H = 2, Hkv = H, seed = 1): void {
  const g = new Generator(seed);
  const mk = (shape: number[]) => randn(shape, { dtype: "float64", generator: g, requiresGrad: true });
  const q = mk([2, H, L, 4]), k = mk([2, Hkv, S, 4]), v = mk([2, Hkv, S, 3]);
  const cot = randn([2, H, L, 3], { dtype: "float64", generator: g });
  const run = (f: Fn): Tensor[] => {
    q.grad = k.grad = v.grad = null;
    const out = f(q, k, v).output;
    backward(sum(mul(out, cot)));
    return [out, q.grad!, k.grad!, v.grad!];
  };
  const got = run(fn);
  const want = run((a, b, c) => scaledDotProductAttention(a, b, c, { attnMask: maskOf(L, S, allowed) }));
  ["output", "dq", "dk", "dv"].forEach((n, i) => assert.ok(maxDiff(got[i]!, want[i]!) < 1e-12, `${n}: ${maxDiff(got[i]!, want[i]!)}`));
}

function checkGrad(fn: Fn, L: number, S = L, H = 2, Hkv = H): void {
  const g = new Generator(7);
  const mk = (shape: number[]) => randn(shape, { dtype: "float64", generator: g, requiresGrad: true });
  const r = gradcheck((q, k, v) => fn(q!, k!, v!).output, [mk([1, H, L, 3]), mk([1, Hkv, S, 3]), mk([1, Hkv, S, 2])]);
  assert.ok(r.ok, r.worst);
}

describe("sliding window", () => {
  for (const w of [0, 1, 3, 20]) {
    test(`symmetric w=${w} equals the masked sdpa`, () =>
      checkExact((q, k, v) => windowAttention(q, k, v, { window: w }), (i, j) => Math.abs(i - j) <= w, 11));
    test(`causal w=${w} equals the masked sdpa`, () =>
      checkExact((q, k, v) => windowAttention(q, k, v, { window: w, causal: true }), (i, j) => j <= i && j >= i - w, 11));
  }
  test("L != S and grouped-query heads", () => {
    checkExact((q, k, v) => windowAttention(q, k, v, { window: 2 }), (i, j) => Math.abs(i - j) <= 2, 7, 10, 4, 2);
    checkExact((q, k, v) => windowAttention(q, k, v, { window: 2, causal: true }), (i, j) => j <= i && j >= i - 2, 10, 6, 4, 1);
  });
  test("gradcheck", () => {
    checkGrad((q, k, v) => windowAttention(q, k, v, { window: 2 }), 7);
    checkGrad((q, k, v) => windowAttention(q, k, v, { window: 1, causal: true }), 6, 6, 4, 2);
  });
  test("weights are exact zeros outside the window, rows sum to 1", () => {
    const q = randn([1, 1, 6, 4]), k = randn([1, 1, 6, 4]), v = randn([1, 1, 6, 4]);
    const { weights } = windowAttention(q, k, v, { window: 1, needWeights: true });
    for (let i = 0; i < 6; i++) {
      let s = 0;
      for (let j = 0; j < 6; j++) {
        const x = Number(weights!.data[i * 6 + j]);
        if (Math.abs(i - j) > 1) assert.equal(x, 0);
        s += x;
      }
      assert.ok(Math.abs(s - 1) < 1e-6);
    }
  });
  test("pattern stores one range per row, nnz = O(N w)", () => {
    const p = windowPattern(1000, 1000, 5);
    assert.equal(p.spans.length, 3 * 1000);
    assert.equal(p.maxRow, 11);
    assert.equal(p.nnz, 1000 * 11 - 2 * (5 * 6) / 2);
  });
});

describe("dilated window", () => {
  for (const [w, d] of [[1, 2], [2, 3], [3, 1]] as const) {
    test(`w=${w} dilation=${d}`, () =>
      checkExact((q, k, v) => dilatedWindowAttention(q, k, v, { window: w, dilation: d }),
        (i, j) => Math.abs(i - j) <= w * d && (i - j) % d === 0, 13));
  }
  test("causal and gradcheck", () => {
    checkExact((q, k, v) => dilatedWindowAttention(q, k, v, { window: 2, dilation: 2, causal: true }),
      (i, j) => j <= i && i - j <= 4 && (i - j) % 2 === 0, 12);
    checkGrad((q, k, v) => dilatedWindowAttention(q, k, v, { window: 1, dilation: 2 }), 7);
  });
});

describe("longformer (window + global tokens)", () => {
  for (const [w, gl] of [[1, 1], [2, 3], [0, 2], [4, 0]] as const) {
    test(`w=${w} g=${gl}`, () =>
      checkExact((q, k, v) => longformerAttention(q, k, v, { window: w, numGlobal: gl }),
        (i, j) => Math.abs(i - j) <= w || i < gl || j < gl, 12, 12, 4, 2));
  }
  test("gradcheck", () => checkGrad((q, k, v) => longformerAttention(q, k, v, { window: 1, numGlobal: 2 }), 8));
});

describe("block-sparse", () => {
  test("user layout equals the expanded mask, partial last blocks", () => {
    const lay = [[1, 0, 1], [0, 1, 0], [1, 1, 0]];
    const layout = new Tensor(Uint8Array.from(lay.flat()), [3, 3], "bool");
    checkExact((q, k, v) => blockSparseAttention(q, k, v, { layout, blockSize: 4 }), (i, j) => lay[Math.floor(i / 4)]![Math.floor(j / 4)] === 1, 11, 10);
    checkGrad((q, k, v) => blockSparseAttention(q, k, v, { layout, blockSize: 4 }), 11, 10);
  });
  test("an empty block row gives output 0 and zero grads", () => {
    const layout = new Tensor(Uint8Array.from([1, 1, 0, 0]), [2, 2], "bool");
    const q = randn([1, 1, 4, 2], { requiresGrad: true }), k = randn([1, 1, 4, 2]), v = randn([1, 1, 4, 2]);
    const { output } = blockSparseAttention(q, k, v, { layout, blockSize: 2 });
    for (let x = 4; x < 8; x++) assert.equal(output.data[x], 0);
    backward(sum(output));
    for (let x = 4; x < 8; x++) assert.equal(q.grad!.data[x], 0);
  });
  test("errors", () => {
    const q = randn([1, 1, 8, 2]);
    assert.throws(() => blockSparseAttention(q, q, q, { layout: new Tensor(new Uint8Array(4), [2, 2], "bool"), blockSize: 2 }), ShapeError);
    assert.throws(() => blockSparseAttention(q, q, q, { layout: randn([4, 4]), blockSize: 2 }), DTypeError);
    assert.throws(() => blockSparseAttention(q, q, q, { layout: new Tensor(new Uint8Array(4), [2, 2], "bool"), blockSize: 0 }), ValueError);
  });
});

describe("bigbird", () => {
  const o = { window: 1, numGlobal: 1, numRandom: 2, blockSize: 3, seed: 5 };
  test("layout: window, global rows/columns, numRandom extra blocks per row, seeded", () => {
    const lay = bigbirdLayout(30, 30, o); // 10 x 10 blocks
    const a = bigbirdLayout(30, 30, o);
    assert.deepEqual([...lay.data], [...a.data]);
    assert.notDeepEqual([...lay.data], [...bigbirdLayout(30, 30, { ...o, seed: 6 }).data]);
    for (let r = 0; r < 10; r++) {
      let extra = 0;
      for (let c = 0; c < 10; c++) {
        const on = lay.data[r * 10 + c] === 1;
        const base = r < 1 || c < 1 || Math.abs(r - c) <= 1;
        if (base) assert.ok(on);
        else if (on) extra++;
      }
      assert.equal(extra, r < 1 ? 0 : 2, `row ${r}`);
    }
  });
  test("equals the masked sdpa with its layout; gradcheck", () => {
    const lay = bigbirdLayout(14, 14, o);
    const nK = lay.shape[1]!;
    checkExact((q, k, v) => bigbirdAttention(q, k, v, o), (i, j) => lay.data[Math.floor(i / 3) * nK + Math.floor(j / 3)] === 1, 14, 14, 4, 2);
    checkGrad((q, k, v) => bigbirdAttention(q, k, v, { ...o, numRandom: 1 }), 9);
  });
});

describe("sparse attention: validation, float32", () => {
  test("pattern size must match", () => {
    const q = randn([1, 1, 6, 4]);
    assert.throws(() => sparseAttention(q, q, q, windowPattern(5, 5, 1)), ShapeError);
    assert.throws(() => windowAttention(q, q, q, { window: -1 }), ValueError);
    assert.throws(() => windowAttention(q, randn([1, 1, 6, 3]), q, { window: 1 }), ShapeError);
  });
  test("float32 kernel matches float64 within 1e-5", () => {
    const q = randn([1, 2, 40, 16]), k = randn([1, 2, 40, 16]), v = randn([1, 2, 40, 16]);
    const d = (t: Tensor) => new Tensor(Float64Array.from(t.data), t.shape, "float64");
    const a = windowAttention(q, k, v, { window: 5 }).output, b = windowAttention(d(q), d(k), d(v), { window: 5 }).output;
    assert.ok(maxDiff(a, b) < 1e-5);
  });
  test("buildPattern shares rows", () => {
    const p = buildPattern(4, 4, (i, add) => add(0, i + 1), (i) => i - (i % 2));
    assert.equal(p.nnz, 1 + 1 + 3 + 3);
  });
});
