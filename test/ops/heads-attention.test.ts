/**
 * headsAttention against the composition it replaces (q [B, L, H * D], k and v [B, S, H * D] split
 * into heads by permutes, scaledDotProductAttention, the output permuted back to [B, L, H * Dv]),
 * forward and the gradients of q, k and v, on the active backend and in float64; a
 * finite-difference gradcheck; the typed errors. The composition runs the same kernel on dense
 * copies of the same values, so the two must agree exactly (dropout included: the same generator
 * draws the same counters); headsAttentionKV, k and v as the column blocks of one tensor, exactly
 * headsAttention over the blocks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, backward, headsAttention, headsAttentionKV, mul, permute, randn, reshape,
  scaledDotProductAttention, slice, sum, tensor, type PackedAttentionOptions,
} from "../../src/index.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";

type Opts = Omit<PackedAttentionOptions, "generator"> & { seed?: number };

/** The composition: each of q, k, v [B, n, H * W] permuted to [B, H, n, W], sdpa, the output permuted back. */
function composed(q: Tensor, k: Tensor, v: Tensor, H: number, o: Opts): Tensor {
  const heads = (t: Tensor): Tensor => permute(reshape(t, [t.shape[0]!, t.shape[1]!, H, t.shape[2]! / H]), [0, 2, 1, 3]);
  const r = scaledDotProductAttention(heads(q), heads(k), heads(v), {
    attnMask: o.attnMask ?? null, isCausal: o.isCausal ?? false, dropoutP: o.dropoutP ?? 0,
    ...(o.scale !== undefined ? { scale: o.scale } : {}), ...(o.seed !== undefined ? { generator: new Generator(o.seed) } : {}),
  });
  const [B, , L, Dv] = r.output.shape as [number, number, number, number];
  return reshape(permute(r.output, [0, 2, 1, 3]), [B, L, H * Dv]);
}

function fused(q: Tensor, k: Tensor, v: Tensor, H: number, o: Opts): Tensor {
  const { seed, ...rest } = o;
  return headsAttention(q, k, v, H, { ...rest, ...(seed !== undefined ? { generator: new Generator(seed) } : {}) });
}

/** Output and the gradients of q, k, v (under a fixed random cotangent) of `f`. */
function run(f: (q: Tensor, k: Tensor, v: Tensor) => Tensor, xs: Tensor[]): { out: ArrayLike<number>; grads: ArrayLike<number>[] } {
  const ins = xs.map((x) => new Tensor(x.data.slice(), x.shape, x.dtype).requiresGrad_(true));
  const out = f(ins[0]!, ins[1]!, ins[2]!);
  const cot = randn(out.shape, { dtype: out.dtype, generator: new Generator(99) });
  backward(sum(mul(out, cot)));
  return { out: out.data as ArrayLike<number>, grads: ins.map((x) => x.grad!.data as ArrayLike<number>) };
}

const bool = (shape: number[], f: (i: number) => boolean): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Uint8Array.from({ length: n }, (_, i) => (f(i) ? 1 : 0)), shape, "bool");
};

interface Case { name: string; B: number; L: number; S: number; H: number; D: number; Dv: number; opts: (B: number, L: number, S: number, H: number) => Opts }

const CASES: Case[] = [
  { name: "L 11, S 32, H 4, D 16 (a cross-attention)", B: 3, L: 11, S: 32, H: 4, D: 16, Dv: 16, opts: () => ({}) },
  { name: "Dv 5 != D 7, causal, L 37 > S 20", B: 2, L: 37, S: 20, H: 3, D: 7, Dv: 5, opts: () => ({ isCausal: true }) },
  { name: "key padding mask [B, 1, 1, S] with a fully masked batch", B: 3, L: 6, S: 20, H: 2, D: 8, Dv: 8,
    opts: (B, _L, S) => ({ attnMask: bool([B, 1, 1, S], (i) => i >= 2 * S || i % S >= S - 3 - Math.floor(i / S)) }) },
  { name: "float mask [L, S] with a -Infinity row, scale 0.3", B: 2, L: 9, S: 12, H: 2, D: 4, Dv: 4,
    opts: (_B, L, S) => {
      const m = randn([L, S], { generator: new Generator(8) });
      for (let j = 0; j < S; j++) m.data[4 * S + j] = -Infinity; // query 4 sees nothing
      return { attnMask: m, scale: 0.3 };
    } },
  { name: "per-head bool mask [1, H, L, S], dropout 0.25", B: 2, L: 33, S: 40, H: 3, D: 7, Dv: 7,
    opts: (_B, L, S, H) => ({ attnMask: bool([1, H, L, S], (i) => i % 11 === 0), dropoutP: 0.25, seed: 5 }) },
  { name: "dropout 0.4, S 130 (several tiles)", B: 1, L: 70, S: 130, H: 2, D: 16, Dv: 16, opts: () => ({ dropoutP: 0.4, seed: 11 }) },
];

describe("headsAttention equals permutes + scaledDotProductAttention + permute", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const c of CASES) {
      test(`${dtype}: ${c.name}`, () => {
        const g = new Generator(c.L + c.S);
        const xs = [randn([c.B, c.L, c.H * c.D], { dtype, generator: g }), randn([c.B, c.S, c.H * c.D], { dtype, generator: g }),
          randn([c.B, c.S, c.H * c.Dv], { dtype, generator: g })];
        const o = c.opts(c.B, c.L, c.S, c.H);
        const a = run((q, k, v) => fused(q, k, v, c.H, o), xs), b = run((q, k, v) => composed(q, k, v, c.H, o), xs);
        assertClose(a.out, b.out, 0, 0);
        a.grads.forEach((g, i) => assertClose(g, b.grads[i]!, 0, 0));
        assert.ok(a.grads.every((g) => Array.from(g).every(Number.isFinite)), "finite gradients");
      });
    }
  }
  test("q, k and v one tensor: its gradient sums the three (in another order than the composition's: within float32's rounding of three terms)", () => {
    const x0 = randn([2, 5, 12], { generator: new Generator(2) });
    const grad = (f: (x: Tensor) => Tensor): ArrayLike<number> => {
      const x = new Tensor(x0.data.slice(), x0.shape, x0.dtype).requiresGrad_(true);
      backward(sum(mul(f(x), randn([2, 5, 12], { generator: new Generator(99) }))));
      return x.grad!.data as ArrayLike<number>;
    };
    assertClose(grad((x) => headsAttention(x, x, x, 3)), grad((x) => composed(x, x, x, 3, {})), 1e-6, 1e-6);
  });
  test("L 0, S 0 and B 0", () => {
    for (const [B, L, S] of [[2, 0, 3], [2, 3, 0], [0, 3, 4]] as const) {
      const q = randn([B, L, 8]).requiresGrad_(true), k = randn([B, S, 8]).requiresGrad_(true), v = randn([B, S, 4]).requiresGrad_(true);
      const out = headsAttention(q, k, v, 2);
      assert.deepEqual(out.shape, [B, L, 4]);
      backward(sum(out));
      assert.deepEqual([q.grad!.shape, k.grad!.shape, v.grad!.shape], [[B, L, 8], [B, S, 8], [B, S, 4]]);
    }
  });
});

describe("headsAttentionKV (k and v as the two column blocks of one kv [B, S, 2E]) equals headsAttention over the blocks", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const c of CASES.filter((x) => x.Dv === x.D)) {
      test(`${dtype}: ${c.name}`, () => {
        const g = new Generator(c.L + 2 * c.S);
        const E = c.H * c.D;
        const xs = [randn([c.B, c.L, E], { dtype, generator: g }), randn([c.B, c.S, 2 * E], { dtype, generator: g })];
        const o = c.opts(c.B, c.L, c.S, c.H);
        const { seed, ...rest } = o;
        const gen = (): { generator?: Generator } => (seed !== undefined ? { generator: new Generator(seed) } : {});
        const a = run((q, kv) => headsAttentionKV(q, kv, c.H, { ...rest, ...gen() }), xs);
        const b = run((q, kv) => headsAttention(q, slice(kv, 2, 0, E), slice(kv, 2, E, 2 * E), c.H, { ...rest, ...gen() }), xs);
        assertClose(a.out, b.out, 0, 0);
        a.grads.forEach((gr, i) => assertClose(gr, b.grads[i]!, 0, 0));
      });
    }
  }
});

describe("gradcheck: headsAttention", () => {
  test("plain, causal, masked, dropout, Dv != D", () => {
    const qkv = (L: number, S: number, E: number, Ev: number): Tensor[] => [r64([2, L, E]), r64([2, S, E]), r64([2, S, Ev])];
    assertGrad((q, k, v) => headsAttention(q!, k!, v!, 2), qkv(3, 4, 6, 6));
    assertGrad((q, k, v) => headsAttention(q!, k!, v!, 3, { isCausal: true, scale: 0.7 }), qkv(5, 4, 6, 3));
    const m = bool([2, 1, 1, 4], (i) => i === 3 || i === 5);
    assertGrad((q, k, v) => headsAttention(q!, k!, v!, 2, { attnMask: m }), qkv(3, 4, 6, 4));
    assertGrad((q, k, v) => headsAttention(q!, k!, v!, 2, { dropoutP: 0.3, generator: new Generator(4) }), qkv(4, 5, 4, 4));
    assertGrad((q, kv) => headsAttentionKV(q!, kv!, 2, { isCausal: true }), [r64([2, 3, 6]), r64([2, 4, 12])]);
  });
});

describe("headsAttention input errors", () => {
  const q = randn([2, 5, 24]), k = randn([2, 7, 24]), v = randn([2, 7, 8]);
  test("shapes and dtypes", () => {
    assertThrowsMsg(() => headsAttention(randn([2, 5, 20]), k, v, 8), ShapeError,
      "headsAttention: q expected [B, L, 8 * D] (the last dim a positive multiple of 8), got [2, 5, 20]");
    assertThrowsMsg(() => headsAttention(randn([10, 24]), k, v, 4), ShapeError, "q expected [B, L, 4 * D]", "got [10, 24]");
    assertThrowsMsg(() => headsAttention(q, randn([3, 7, 24]), v, 4), ShapeError, "headsAttention: k expected [2, S, 24], got [3, 7, 24]");
    assertThrowsMsg(() => headsAttention(q, randn([2, 7, 12]), v, 4), ShapeError, "k expected [2, S, 24], got [2, 7, 12]");
    assertThrowsMsg(() => headsAttention(q, k, randn([2, 6, 8]), 4), ShapeError, "headsAttention: v expected [2, 7, 4 * Dv], got [2, 6, 8]");
    assertThrowsMsg(() => headsAttention(q, k, randn([2, 7, 6]), 4), ShapeError, "v expected [2, 7, 4 * Dv], got [2, 7, 6]");
    assertThrowsMsg(() => headsAttention(tensor(new Int32Array(24), { shape: [1, 1, 24] }), k, v, 4), DTypeError,
      "headsAttention: q expected float32 or float64, got int32");
    assertThrowsMsg(() => headsAttention(q, randn([2, 7, 24], { dtype: "float64" }), v, 4), DTypeError, "headsAttention: k expected float32, got float64");
    assertThrowsMsg(() => headsAttention(q, k, v, 4, { attnMask: bool([5, 4], () => false) }), ShapeError,
      "headsAttention: attnMask expected a shape broadcastable to [2, 4, 5, 7], got [5, 4]");
    assertThrowsMsg(() => headsAttention(q, k, v, 4, { attnMask: tensor(new Int32Array(35), { shape: [5, 7] }) }), DTypeError,
      "headsAttention: attnMask expected bool or float, got int32");
  });
  test("options", () => {
    assertThrowsMsg(() => headsAttention(q, k, v, 0), ValueError, "headsAttention: heads expected a positive integer, got 0");
    assertThrowsMsg(() => headsAttention(q, k, v, 4, { dropoutP: 1 }), ValueError, "headsAttention: dropoutP expected a probability in [0, 1), got 1");
    assertThrowsMsg(() => headsAttention(q, k, v, 4, { scale: NaN }), ValueError, "headsAttention: scale expected a finite number, got NaN");
    assertThrowsMsg(() => headsAttention(q, k, v, 4, { attnMask: randn([5, 7]).requiresGrad_(true) }), ValueError,
      "headsAttention: attnMask expected a mask that needs no gradient, got a float mask with requiresGrad");
    assertThrowsMsg(() => headsAttention(q, null as unknown as Tensor, v, 4), ValueError, "headsAttention: k expected a Tensor, got null");
  });
  test("headsAttentionKV", () => {
    assertThrowsMsg(() => headsAttentionKV(q, randn([2, 7, 24]), 4), ShapeError, "headsAttentionKV: kv expected [2, S, 48], got [2, 7, 24]");
    assertThrowsMsg(() => headsAttentionKV(q, randn([2, 7, 48], { dtype: "float64" }), 4), DTypeError, "headsAttentionKV: kv expected float32, got float64");
    assertThrowsMsg(() => headsAttentionKV(randn([2, 5, 20]), randn([2, 7, 40]), 8), ShapeError, "headsAttentionKV: q expected [B, L, 8 * D]");
    assertThrowsMsg(() => headsAttentionKV(q, randn([2, 7, 48]), 0), ValueError, "headsAttentionKV: heads expected a positive integer, got 0");
    assertThrowsMsg(() => headsAttentionKV(q, randn([2, 7, 48]), 4, { attnMask: bool([5, 4], () => false) }), ShapeError,
      "headsAttentionKV: attnMask expected a shape broadcastable to [2, 4, 5, 7], got [5, 4]");
  });
});
