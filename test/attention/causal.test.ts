/** Causal forms of the sparse kinds (against the masked sdpa) and cached decoding rows (against the causal pass). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { gradcheck } from "../../src/autograd/gradcheck.js";
import { bigbirdLayout } from "../../src/attention/bigbird.js";
import { cachedAttention, causalForm } from "../../src/attention/causal.js";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { efficientAttention, type AttentionSpec } from "../../src/attention/select.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { slice } from "../../src/ops/shape.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertThrowsMsg } from "../helpers.js";

type Allowed = (i: number, j: number) => boolean;

function maxDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

function maskOf(L: number, S: number, allowed: Allowed): Tensor {
  const m = new Uint8Array(L * S);
  for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) m[i * S + j] = allowed(i, j) ? 0 : 1;
  return new Tensor(m, [L, S], "bool");
}

/** The spec's output and gradients equal sdpa's with the mask of `allowed` (float64, 1e-12). */
function checkExact(spec: AttentionSpec, allowed: Allowed, N: number, H = 2, Hkv = H): void {
  const g = new Generator(3);
  const mk = (shape: number[]) => randn(shape, { dtype: "float64", generator: g, requiresGrad: true });
  const q = mk([2, H, N, 4]), k = mk([2, Hkv, N, 4]), v = mk([2, Hkv, N, 3]);
  const cot = randn([2, H, N, 3], { dtype: "float64", generator: g });
  const run = (f: () => Tensor): Tensor[] => {
    q.grad = k.grad = v.grad = null;
    const out = f();
    backward(sum(mul(out, cot)));
    return [out, q.grad!, k.grad!, v.grad!];
  };
  const got = run(() => efficientAttention(q, k, v, spec).output);
  const want = run(() => scaledDotProductAttention(q, k, v, { attnMask: maskOf(N, N, allowed) }).output);
  ["output", "dq", "dk", "dv"].forEach((n, i) => assert.ok(maxDiff(got[i]!, want[i]!) < 1e-12, `${spec.kind} ${n}: ${maxDiff(got[i]!, want[i]!)}`));
}

const bb = { kind: "bigbird", window: 1, numGlobal: 1, numRandom: 2, blockSize: 3, seed: 4 } as const;

describe("causal forms of the sparse kinds equal the masked sdpa", () => {
  test("longformer: |i - j| <= w or i < g or j < g, and j <= i", () => {
    for (const [w, gl] of [[2, 1], [0, 3], [5, 2]] as const) {
      checkExact({ kind: "longformer", window: w, numGlobal: gl, causal: true }, (i, j) => j <= i && (Math.abs(i - j) <= w || i < gl || j < gl), 13);
    }
  });
  test("bigbird: layout lower-triangular, random blocks among the earlier ones, rows independent of N", () => {
    const lay = bigbirdLayout(30, 30, { ...bb, causal: true }); // 10 x 10 blocks
    const longer = bigbirdLayout(45, 45, { ...bb, causal: true }); // 15 x 15
    for (let r = 0; r < 10; r++) {
      let extra = 0;
      for (let c = 0; c < 10; c++) {
        const on = lay.data[r * 10 + c] === 1;
        assert.equal(on, longer.data[r * 15 + c] === 1, `row ${r} differs with a longer sequence`);
        if (c > r) assert.ok(!on, `block (${r}, ${c}) above the diagonal`);
        else if (r < 1 || c < 1 || r - c <= 1) assert.ok(on);
        else if (on) extra++;
      }
      assert.equal(extra, Math.min(2, Math.max(0, r - 2)), `row ${r}`); // candidates: 1 <= c < r - 1
    }
    const L = 14, nK = Math.ceil(L / 3), cl = bigbirdLayout(L, L, { ...bb, causal: true });
    checkExact({ ...bb, causal: true }, (i, j) => j <= i && cl.data[Math.floor(i / 3) * nK + Math.floor(j / 3)] === 1, L, 4, 2);
  });
  test("block: a lower-triangular layout, within the diagonal blocks j <= i; other layouts refused", () => {
    const layout = tensor([[true, false, false], [false, true, false], [true, true, true]], { dtype: "bool" });
    checkExact({ kind: "block", layout, blockSize: 4, causal: true }, (i, j) => j <= i && layout.data[Math.floor(i / 4) * 3 + Math.floor(j / 4)] === 1, 11);
    const upper = tensor([[true, true], [false, true]], { dtype: "bool" });
    const q = randn([1, 1, 8, 4]);
    assertThrowsMsg(() => efficientAttention(q, q, q, { kind: "block", layout: upper, blockSize: 4, causal: true }), ValueError,
      "blockSparseAttention: layout expected a lower-triangular block layout for causal attention (no block c > r), got block (0, 1) set");
  });
  test("gradcheck of the causal longformer and bigbird", () => {
    const g = new Generator(8);
    const mk = (shape: number[]) => randn(shape, { dtype: "float64", generator: g, requiresGrad: true });
    for (const spec of [{ kind: "longformer", window: 1, numGlobal: 2, causal: true }, { ...bb, numRandom: 1, causal: true }] as AttentionSpec[]) {
      const r = gradcheck((q, k, v) => efficientAttention(q!, k!, v!, spec).output, [mk([1, 2, 9, 3]), mk([1, 2, 9, 3]), mk([1, 2, 9, 2])]);
      assert.ok(r.ok, `${spec.kind}: ${r.worst}`);
    }
  });
});

describe("causalForm", () => {
  test("sets causal; refuses linformer, nystrom and a block layout above the diagonal", () => {
    assert.deepEqual(causalForm({ kind: "window", window: 3 }, "f", "attention"), { kind: "window", window: 3, causal: true });
    assertThrowsMsg(() => causalForm({ kind: "linformer", k: 4 }, "TransformerDecoderLayer", "attention"), ValueError,
      'TransformerDecoderLayer: attention expected an attention kind with a causal form (full | window | dilated | longformer | bigbird | block | linear | performer), got "linformer"');
    assertThrowsMsg(() => causalForm({ kind: "nystrom", landmarks: 4 }, "f", "attention"), ValueError, 'got "nystrom"');
    const upper = tensor([[true, true], [false, true]], { dtype: "bool" });
    assertThrowsMsg(() => causalForm({ kind: "block", layout: upper, blockSize: 2 }, "f", "attention"), ValueError,
      "f: attention.layout expected a lower-triangular block layout for causal attention (no block c > r), got block (0, 1) set");
  });
});

describe("cachedAttention: new rows after `past` positions equal those rows of the causal pass", () => {
  const specs: AttentionSpec[] = [
    { kind: "window", window: 3 },
    { kind: "dilated", window: 2, dilation: 3 },
    { kind: "longformer", window: 2, numGlobal: 3 },
    { ...bb },
  ];
  for (const spec of specs) {
    test(spec.kind, () => {
      const N = 17, g = new Generator(11);
      const mk = (shape: number[]) => randn(shape, { dtype: "float64", generator: g });
      const q = mk([2, 4, N, 4]), k = mk([2, 2, N, 4]), v = mk([2, 2, N, 3]);
      const full = efficientAttention(q, k, v, causalForm(spec, "test", "spec")).output; // [2, 4, N, 3]
      for (const [past, T] of [[0, 1], [0, 5], [5, 1], [6, 4], [16, 1]] as const) {
        const S = past + T;
        const got = cachedAttention(slice(q, 2, past, S), slice(k, 2, 0, S), slice(v, 2, 0, S), spec, past).output;
        const want = slice(full, 2, past, S);
        assert.ok(maxDiff(got, want) < 1e-12, `past ${past}, T ${T}: ${maxDiff(got, want)}`);
      }
    });
  }
  test("errors", () => {
    const q = randn([1, 1, 2, 4]), k = randn([1, 1, 5, 4]);
    assertThrowsMsg(() => cachedAttention(q, k, k, { kind: "window", window: 1 }, 2), ShapeError, "cachedAttention: k expected S = past + L = 4 keys, got [1, 1, 5, 4]");
    assertThrowsMsg(() => cachedAttention(q, k, k, { kind: "linear" }, 3), ValueError,
      'cachedAttention: spec.kind expected a kind with cached decoding (window | dilated | longformer | bigbird), got "linear"');
  });
});
