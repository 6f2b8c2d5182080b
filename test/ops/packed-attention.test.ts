/**
 * packedSelfAttention against the composition it replaces (the [B, T, 3, H, D] view permuted to q,
 * k, v [B, H, T, D], scaledDotProductAttention, the output permuted back to [B, T, E]), forward and
 * the gradient of qkv, on the active backend and in float64; a finite-difference gradcheck; the
 * typed errors. The composition runs the same kernel on dense copies of the same values, so the two
 * must agree exactly (dropout included: the same generator draws the same counters).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, backward, mul, packedSelfAttention, permute, randn, reshape,
  scaledDotProductAttention, slice, sum, tensor, type PackedAttentionOptions,
} from "../../src/index.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";

type Opts = Omit<PackedAttentionOptions, "generator"> & { seed?: number };

/** The composition: permute to [3, B, H, T, D], sdpa on the three blocks, permute back. */
function composed(x: Tensor, H: number, o: Opts): Tensor {
  const [B, T, W] = x.shape as [number, number, number];
  const E = W / 3, D = E / H;
  const qkv = permute(reshape(x, [B, T, 3, H, D]), [2, 0, 3, 1, 4]);
  const [q, k, v] = [0, 1, 2].map((i) => reshape(slice(qkv, 0, i, i + 1), [B, H, T, D])) as [Tensor, Tensor, Tensor];
  const r = scaledDotProductAttention(q, k, v, {
    attnMask: o.attnMask ?? null, isCausal: o.isCausal ?? false, dropoutP: o.dropoutP ?? 0,
    ...(o.scale !== undefined ? { scale: o.scale } : {}), ...(o.seed !== undefined ? { generator: new Generator(o.seed) } : {}),
  });
  return reshape(permute(r.output, [0, 2, 1, 3]), [B, T, E]);
}

function packed(x: Tensor, H: number, o: Opts): Tensor {
  const { seed, ...rest } = o;
  return packedSelfAttention(x, H, { ...rest, ...(seed !== undefined ? { generator: new Generator(seed) } : {}) });
}

/** Output and qkv gradient (under a fixed random cotangent) of `f`. */
function run(f: (x: Tensor) => Tensor, x0: Tensor): { out: ArrayLike<number>; grad: ArrayLike<number> } {
  const x = new Tensor(x0.data.slice(), x0.shape, x0.dtype).requiresGrad_(true);
  const out = f(x);
  const cot = randn(out.shape, { dtype: out.dtype, generator: new Generator(99) });
  backward(sum(mul(out, cot)));
  return { out: out.data as ArrayLike<number>, grad: x.grad!.data as ArrayLike<number> };
}

const bool = (shape: number[], f: (i: number) => boolean): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Uint8Array.from({ length: n }, (_, i) => (f(i) ? 1 : 0)), shape, "bool");
};

interface Case { name: string; B: number; T: number; H: number; D: number; opts: (B: number, T: number, H: number) => Opts }

const CASES: Case[] = [
  { name: "no mask, T 50, H 4, D 16", B: 3, T: 50, H: 4, D: 16, opts: () => ({}) },
  { name: "causal, odd D 5, T 37", B: 2, T: 37, H: 3, D: 5, opts: () => ({ isCausal: true }) },
  { name: "key padding mask [B, 1, 1, T] with a fully masked batch", B: 3, T: 20, H: 2, D: 8,
    opts: (B, T) => ({ attnMask: bool([B, 1, 1, T], (i) => i >= 2 * T || i % T >= T - 3 - Math.floor(i / T)) }) },
  { name: "float mask [T, T] with -Infinity rows, scale 0.3", B: 2, T: 9, H: 2, D: 4,
    opts: (_B, T) => {
      const m = randn([T, T], { generator: new Generator(8) });
      for (let j = 0; j < T; j++) m.data[4 * T + j] = -Infinity; // query 4 sees nothing
      return { attnMask: m, scale: 0.3 };
    } },
  { name: "per-head bool mask [1, H, T, T], causal, dropout 0.25", B: 2, T: 33, H: 3, D: 7,
    opts: (_B, T, H) => ({ attnMask: bool([1, H, T, T], (i) => i % 11 === 0), isCausal: true, dropoutP: 0.25, seed: 5 }) },
  { name: "dropout 0.4, T 130 (several tiles)", B: 1, T: 130, H: 2, D: 16, opts: () => ({ dropoutP: 0.4, seed: 11 }) },
];

describe("packedSelfAttention equals permute + scaledDotProductAttention + permute", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const c of CASES) {
      test(`${dtype}: ${c.name}`, () => {
        const x = randn([c.B, c.T, 3 * c.H * c.D], { dtype, generator: new Generator(c.T) });
        const o = c.opts(c.B, c.T, c.H);
        const a = run((t) => packed(t, c.H, o), x), b = run((t) => composed(t, c.H, o), x);
        assertClose(a.out, b.out, 0, 0);
        assertClose(a.grad, b.grad, 0, 0);
        assert.ok(Array.from(a.grad).every(Number.isFinite), "finite gradients");
      });
    }
  }
  test("a fully masked row gives output 0 and no gradient", () => {
    const [B, T, H, D] = [1, 4, 2, 3];
    const x = randn([B, T, 3 * H * D], { generator: new Generator(3) });
    const r = run((t) => packedSelfAttention(t, H, { attnMask: bool([T, T], (i) => i < T) }), x); // query 0 masked
    for (let c = 0; c < H * D; c++) assert.equal(r.out[c], 0);
    for (let c = 0; c < H * D; c++) assert.equal(r.grad[c], 0, "dq of the masked query"); // q block of token 0
  });
  test("T 0 and B 0", () => {
    for (const shape of [[2, 0, 12], [0, 3, 12]]) {
      const x = randn(shape, { generator: new Generator(1) }).requiresGrad_(true);
      const out = packedSelfAttention(x, 2);
      assert.deepEqual(out.shape, [shape[0], shape[1], 4]);
      backward(sum(out));
      assert.deepEqual(x.grad!.shape, shape);
    }
  });
});

describe("gradcheck: packedSelfAttention", () => {
  test("plain, causal, masked, dropout", () => {
    assertGrad((x) => packedSelfAttention(x, 2), [r64([2, 4, 3 * 2 * 3])]);
    assertGrad((x) => packedSelfAttention(x, 3, { isCausal: true, scale: 0.7 }), [r64([1, 5, 3 * 3 * 2])]);
    const m = bool([2, 1, 1, 4], (i) => i === 3 || i === 5);
    assertGrad((x) => packedSelfAttention(x, 2, { attnMask: m }), [r64([2, 4, 3 * 2 * 3])]);
    assertGrad((x) => packedSelfAttention(x, 2, { dropoutP: 0.3, generator: new Generator(4) }), [r64([1, 5, 3 * 2 * 2])]);
  });
});

describe("packedSelfAttention input errors", () => {
  const x = randn([2, 5, 24]);
  test("shapes and dtypes", () => {
    assertThrowsMsg(() => packedSelfAttention(randn([2, 5, 20]), 4), ShapeError,
      "packedSelfAttention: qkv expected [B, T, 3 * 4 * D] (the last dim a positive multiple of 12), got [2, 5, 20]");
    assertThrowsMsg(() => packedSelfAttention(randn([10, 24]), 4), ShapeError, "qkv expected [B, T, 3 * 4 * D]", "got [10, 24]");
    assertThrowsMsg(() => packedSelfAttention(randn([2, 5, 0]), 1), ShapeError, "got [2, 5, 0]");
    assertThrowsMsg(() => packedSelfAttention(tensor(new Int32Array(24), { shape: [1, 1, 24] }), 4), DTypeError,
      "packedSelfAttention: qkv expected float32 or float64, got int32");
    assertThrowsMsg(() => packedSelfAttention(x, 4, { attnMask: bool([5, 4], () => false) }), ShapeError,
      "packedSelfAttention: attnMask expected a shape broadcastable to [2, 4, 5, 5], got [5, 4]");
    assertThrowsMsg(() => packedSelfAttention(x, 4, { attnMask: tensor(new Int32Array(25), { shape: [5, 5] }) }), DTypeError,
      "packedSelfAttention: attnMask expected bool or float, got int32");
  });
  test("options", () => {
    assertThrowsMsg(() => packedSelfAttention(x, 0), ValueError, "packedSelfAttention: heads expected a positive integer, got 0");
    assertThrowsMsg(() => packedSelfAttention(x, 2.5), ValueError, "heads expected a positive integer, got 2.5");
    assertThrowsMsg(() => packedSelfAttention(x, 4, { dropoutP: 1 }), ValueError, "packedSelfAttention: dropoutP expected a probability in [0, 1), got 1");
    assertThrowsMsg(() => packedSelfAttention(x, 4, { scale: Infinity }), ValueError, "packedSelfAttention: scale expected a finite number, got Infinity");
    assertThrowsMsg(() => packedSelfAttention(x, 4, { attnMask: randn([5, 5]).requiresGrad_(true) }), ValueError,
      "packedSelfAttention: attnMask expected a mask that needs no gradient, got a float mask with requiresGrad");
    assertThrowsMsg(() => packedSelfAttention(null as unknown as Tensor, 4), ValueError, "packedSelfAttention: qkv expected a Tensor, got null");
  });
});
