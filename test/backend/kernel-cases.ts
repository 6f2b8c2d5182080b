/**
 * The kernel checks that native.test.ts, wasm.test.ts and wasm-threads.test.ts share: each runs a
 * kernel of the backend under test and of a reference (the js kernels, or the single-threaded
 * wasm module) on the same random inputs and compares the outputs, within tolerances or bit for
 * bit as the target's `check` decides. The inputs come from the target's own generator, drawn in
 * the order the checks state, so each file keeps its seed and its cases.
 *
 * ```ts
 * const t: KernelTarget = { sut: native, ref: jsBackend, rand: normals(new Generator(1234)), check: closeCheck };
 * checkSparse(t, 1, 2, 2, 16, 16, windowPattern(37, 37, 3), "window w=3");
 * ```
 */
import assert from "node:assert/strict";
import {
  contiguousLayouts, type AttentionArgs, type Backend, type BinaryOp, type LinearAttentionArgs, type SparseAttentionArgs,
  type SparsePattern, type UnaryOp,
} from "../../src/backend/backend.js";
import type { Generator } from "../../src/tensor/rng.js";
import { cpuExpUlps, geluErfGradReference, geluGradInputs } from "./gelu-reference.js";

/** [atol, rtol]: |got - want| <= atol + rtol |want|. */
export type Tol = readonly [number, number];

export interface KernelTarget {
  /** The backend under test. */
  sut: Backend;
  /** The backend it is compared with. */
  ref: Backend;
  /** n normal samples times `scale`, from the file's generator. */
  rand(n: number, scale?: number): Float32Array;
  /** Asserts that `got` matches `want` (within `tol`, or exactly where the target compares bits). */
  check(got: Float32Array, want: Float32Array, tol: Tol, what: string): void;
  /** Runs `body` once per configuration of the backend (`tag` names it; `threads` where it takes thread counts); default once. */
  each?(body: (tag: string) => void, threads?: number[]): void;
}

/** rand for a KernelTarget: normal samples from `gen`. */
export function normals(gen: Generator): (n: number, scale?: number) => Float32Array {
  return (n, scale = 1) => {
    const x = new Float32Array(n);
    gen.fillNormal(x, 0, scale);
    return x;
  };
}

/** |a - e| <= atol + rtol |e| elementwise; equal values (infinities too) and NaN = NaN match; the worst element fails. */
export function close(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0) && (!(err <= worst) || at < 0)) { worst = err; at = i; }
  }
  assert.ok(at < 0, `${what}: [${at}] got ${actual[at]} vs ${expected[at]}`);
}

/** KernelTarget.check by `close`. */
export const closeCheck = (got: Float32Array, want: Float32Array, [atol, rtol]: Tol, what: string): void => close(got, want, atol, rtol, what);

/** Bit-identical (NaN payloads aside): the first differing index fails. */
export function same(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) assert.fail(`${what}: [${i}] ${a} vs ${e}`);
  }
}

/** KernelTarget.check by `same` (the tolerance is not used). */
export const sameCheck = (got: Float32Array, want: Float32Array, _tol: Tol, what: string): void => same(got, want, what);

const once = (body: (tag: string) => void): void => body("");
const each = (t: KernelTarget, body: (tag: string) => void, threads?: number[]): void => (t.each ?? once)(body, threads);
const nans = (n: number): Float32Array => new Float32Array(n).fill(NaN);
const prefix = (tag: string): string => (tag ? `${tag} ` : "");

export const UNARY_OPS: readonly UnaryOp[] = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "abs", "relu", "sigmoid",
  "geluErf", "geluTanh", "sin", "cos", "square", "reciprocal", "sign", "elu"];
// every op once (a Record, so that a new op fails to compile until it is listed)
const BINARY_OP_SET: Record<BinaryOp, true> = {
  add: true, sub: true, mul: true, div: true, pow: true, maximum: true, minimum: true, geluErfGrad: true, reluGrad: true,
};
export const BINARY_OPS: readonly BinaryOp[] = Object.keys(BINARY_OP_SET) as BinaryOp[];

/** Every unary op over x (over `pos` for log, sqrt and rsqrt), alpha 0.7. */
export function checkUnary(t: KernelTarget, x: Float32Array, pos: Float32Array, tol: (op: UnaryOp) => Tol, what: string): void {
  for (const op of UNARY_OPS) {
    const input = op === "log" || op === "sqrt" || op === "rsqrt" ? pos : x;
    const want = new Float32Array(input.length), got = new Float32Array(input.length);
    t.ref.unary(op, want, input, input.length, 0.7);
    t.sut.unary(op, got, input, input.length, 0.7);
    t.check(got, want, tol(op), `unary ${op} ${what}`);
  }
}

/** Every binary op over a and b laid out by `shape`, `sa`, `sb` (pow over |a|). */
export function checkBinary(t: KernelTarget, a: Float32Array, b: Float32Array, shape: number[], sa: number[], sb: number[],
  tol: (op: BinaryOp) => Tol, what: string): void {
  const n = shape.reduce((p, s) => p * s, 1);
  for (const op of BINARY_OPS) {
    const pa = op === "pow" ? a.map(Math.abs) : a;
    const want = new Float32Array(n), got = new Float32Array(n);
    t.ref.binary(op, want, pa, b, shape, sa, sb);
    t.sut.binary(op, got, pa, b, shape, sa, sb);
    t.check(got, want, tol(op), `binary ${op} ${what}`);
  }
}

/** Every got[i] equals want[i] (NaN = NaN, infinities alike) or lies within bound[i] of it; the worst element fails. */
export function within(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 1, at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    const r = Math.abs(g - w) / bound[i]!;
    if (!(r <= worst)) { worst = r; at = i; }
  }
  assert.ok(at < 0, `${what}: [${at}] got ${got[at]}, want ${want[at]} (bound ${bound[at]}, ${worst.toPrecision(3)} of it)`);
}

/**
 * binary geluErfGrad (out = a · gelu'(b), a the incoming gradient, b the input) against the float64
 * reference within float32's error bound, per configuration, outputs starting as NaN: every argument
 * of geluGradInputs (across [-10, 10], the cancelling zero of gelu', the underflow, huge, infinite,
 * NaN) with random gradients and special ones (0 · NaN, NaN · 1, ∞ · 0.5, 0 · ∞, ∞ · gelu'(-∞) = ∞ · 0,
 * a product past float32's range); then broadcast: a scalar gradient, a scalar x, [5, 1, 7] with
 * [1, 3, 7], a transposed x, rank 0.
 */
export function checkGeluErfGrad(t: KernelTarget, threads?: number[]): void {
  const xs = geluGradInputs();
  const specials: [number, number][] = [[0, NaN], [NaN, 1], [Infinity, 0], [-Infinity, 2], [0, Infinity], [Infinity, -Infinity],
    [1e-30, 1], [3e38, 1.5], [-2, -0]];
  const n = xs.length + specials.length;
  const x = new Float32Array(n), g = t.rand(n, 2);
  x.set(xs);
  specials.forEach(([gv, xv], i) => { g[xs.length + i] = gv; x[xs.length + i] = xv; });
  const cases: [string, number[], number[], number[], Float32Array, Float32Array][] = [
    ["every argument", [n], [1], [1], g, x],
    ["a scalar gradient [7, 33]", [7, 33], [0, 0], [33, 1], t.rand(1, 2), t.rand(231, 4)],
    ["a scalar x [130]", [130], [1], [0], t.rand(130, 2), Float32Array.of(-0.75)],
    ["[5, 1, 7] with [1, 3, 7]", [5, 3, 7], [7, 0, 1], [0, 7, 1], t.rand(35, 2), t.rand(21, 4)],
    ["a transposed x [33, 7]", [33, 7], [7, 1], [1, 33], t.rand(231, 2), t.rand(231, 4)],
    ["rank 0", [], [], [], Float32Array.of(1.5), Float32Array.of(-2.5)],
  ];
  for (const [name, shape, sa, sb, a, b] of cases) {
    const { want, bound } = geluErfGradReference(a, b, shape, sa, sb, cpuExpUlps);
    each(t, (tag) => {
      const got = nans(want.length);
      t.sut.binary("geluErfGrad", got, a, b, shape, sa, sb);
      within(got, want, bound, `${prefix(tag)}geluErfGrad ${name}`);
    }, threads);
  }
}

/**
 * binary reluGrad (out = a where b > 0, else +0) bit for bit, signs of zeros included, per
 * configuration: b across negatives, -0, +0, the smallest subnormal, positives, ±Infinity and NaN
 * (NaN is not > 0: +0), a with -0, negatives, infinities and NaN where b > 0 (kept) and where not
 * (+0); random operands past a vector's width, odd lengths for the tails; a scalar b, and a
 * transposed b.
 */
export function checkReluGrad(t: KernelTarget, threads?: number[]): void {
  const bs = [-3, -0, 0, 1e-45, 2, Infinity, -Infinity, NaN, 5e-39, -1e-45];
  const as = [-2, -0, Infinity, -Infinity, NaN, 7.5];
  const a: number[] = [], b: number[] = [];
  for (const bv of bs) for (const av of as) { a.push(av); b.push(bv); }
  const cases: [string, number[], number[], number[], Float32Array, Float32Array][] = [
    ["special values", [a.length], [1], [1], Float32Array.from(a), Float32Array.from(b)],
    ["random [1037]", [1037], [1], [1], t.rand(1037, 2), t.rand(1037, 2)],
    ["a scalar b [33]", [33], [1], [0], t.rand(33, 2), Float32Array.of(0.5)],
    ["a transposed b [7, 9]", [7, 9], [9, 1], [1, 7], t.rand(63, 2), t.rand(63, 2)],
  ];
  for (const [name, shape, sa, sb, x, y] of cases) {
    const want = new Float32Array(numelOf(shape));
    forEachIndex(shape, (i, ia, ib) => { want[i] = y[ib]! > 0 ? x[ia]! : 0; }, sa, sb);
    each(t, (tag) => {
      const got = nans(want.length);
      t.sut.binary("reluGrad", got, x, y, shape, sa, sb);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Object.is(got[i], want[i]), `${prefix(tag)}reluGrad ${name} [${i}]: got ${got[i]}, want ${want[i]}`);
      }
    }, threads);
  }
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Calls f(i, ia, ib) for every flat output index i of `shape` with its operands' element offsets under strides sa, sb. */
function forEachIndex(shape: readonly number[], f: (i: number, ia: number, ib: number) => void, sa: readonly number[], sb: readonly number[]): void {
  const n = numelOf(shape);
  for (let i = 0; i < n; i++) {
    let rest = i, ia = 0, ib = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rest % shape[d]!;
      rest = Math.floor(rest / shape[d]!);
      ia += c * sa[d]!;
      ib += c * sb[d]!;
    }
    f(i, ia, ib);
  }
}

/** matmul [batch, M, N, K] with both transposes, either operand shared (batch stride 0), accumulate or not. */
export function checkMatmul(t: KernelTarget, batch: number, M: number, N: number, K: number, tol: Tol): void {
  for (const transA of [false, true]) for (const transB of [false, true]) for (const share of ["none", "a", "b"]) {
    for (const accumulate of [false, true]) {
      const strideA = share === "a" ? 0 : M * K, strideB = share === "b" ? 0 : K * N;
      const a = t.rand(Math.max(strideA * batch, M * K)), b = t.rand(Math.max(strideB * batch, K * N));
      const init = t.rand(batch * M * N);
      const want = init.slice(), got = init.slice();
      t.ref.matmul(want, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
      t.sut.matmul(got, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
      t.check(got, want, tol, `matmul tA=${transA} tB=${transB} share=${share} acc=${accumulate}`);
    }
  }
}

/**
 * Softmax (or log-softmax) of x [rows, cols], then its backward from dy over the reference's
 * output (through `backwardY` where given).
 */
export function checkSoftmax(t: KernelTarget, x: Float32Array, dy: Float32Array, rows: number, cols: number, log: boolean,
  tol: { forward: Tol; backward: Tol }, backwardY: (y: Float32Array) => Float32Array = (y) => y): void {
  const want = new Float32Array(rows * cols), got = new Float32Array(rows * cols);
  t.ref.softmax(want, x, rows, cols, log);
  t.sut.softmax(got, x, rows, cols, log);
  t.check(got, want, tol.forward, `softmax log=${log} ${rows}x${cols}`);
  const y = backwardY(want);
  const dwant = new Float32Array(rows * cols), dgot = new Float32Array(rows * cols);
  t.ref.softmaxBackward(dwant, y, dy, rows, cols, log);
  t.sut.softmaxBackward(dgot, y, dy, rows, cols, log);
  t.check(dgot, dwant, tol.backward, `softmaxBackward log=${log} ${rows}x${cols}`);
}

export interface LayerNormTol { out: Tol; mean: Tol; rstd: Tol; dx: Tol; dweight: Tol; dbias: Tol }

/**
 * layerNorm of x [rows, cols] (eps 1e-5), then its backward from dy over the reference's mean and
 * rstd; dweight and dbias are asked for (and compared) when `paramGrads`.
 */
export function checkLayerNorm(t: KernelTarget, x: Float32Array, dy: Float32Array, weight: Float32Array | null,
  bias: Float32Array | null, rows: number, cols: number, paramGrads: boolean, tol: LayerNormTol): void {
  const tag = `${rows}x${cols} w=${weight !== null} b=${bias !== null}`;
  const out = [new Float32Array(rows * cols), new Float32Array(rows * cols)] as const;
  const mean = [new Float32Array(rows), new Float32Array(rows)] as const;
  const rstd = [new Float32Array(rows), new Float32Array(rows)] as const;
  t.ref.layerNorm(out[0], mean[0], rstd[0], x, weight, bias, rows, cols, 1e-5);
  t.sut.layerNorm(out[1], mean[1], rstd[1], x, weight, bias, rows, cols, 1e-5);
  t.check(out[1], out[0], tol.out, `layerNorm out ${tag}`);
  t.check(mean[1], mean[0], tol.mean, `layerNorm mean ${tag}`);
  t.check(rstd[1], rstd[0], tol.rstd, `layerNorm rstd ${tag}`);
  const grads = (): [Float32Array, Float32Array | null, Float32Array | null] =>
    [new Float32Array(rows * cols), paramGrads ? new Float32Array(cols) : null, paramGrads ? new Float32Array(cols) : null];
  const [dx0, dw0, db0] = grads(), [dx1, dw1, db1] = grads();
  t.ref.layerNormBackward(dx0, dw0, db0, dy, x, mean[0], rstd[0], weight, rows, cols);
  t.sut.layerNormBackward(dx1, dw1, db1, dy, x, mean[0], rstd[0], weight, rows, cols);
  t.check(dx1, dx0, tol.dx, `layerNormBackward dx ${tag}`);
  if (dw0 && dw1 && db0 && db1) {
    t.check(dw1, dw0, tol.dweight, `layerNormBackward dweight ${tag}`);
    t.check(db1, db0, tol.dbias, `layerNormBackward dbias ${tag}`);
  }
}

export interface AttentionTol { out: Tol; lse: Tol; grad: Tol }

/**
 * A forward of two outputs then its backward of three (over the reference's forward outputs): the
 * reference once, then the backend under test per configuration, its outputs starting as NaN so
 * that every element must be written. `names` and `sizes` are of out, lse (or den), then the grads.
 */
function checkForwardBackward(t: KernelTarget, what: string, names: readonly string[], sizes: readonly number[], tol: AttentionTol,
  forward: (b: Backend, out: Float32Array, lse: Float32Array) => void,
  backward: (b: Backend, g0: Float32Array, g1: Float32Array, g2: Float32Array, out: Float32Array, lse: Float32Array) => void,
  threads?: number[]): void {
  const [out, lse, g0, g1, g2] = sizes.map((n) => new Float32Array(n)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  forward(t.ref, out, lse);
  backward(t.ref, g0, g1, g2, out, lse);
  const tols = [tol.out, tol.lse, tol.grad, tol.grad, tol.grad];
  each(t, (tag) => {
    const got = sizes.map(nans) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    forward(t.sut, got[0], got[1]);
    backward(t.sut, got[2], got[3], got[4], out, lse);
    [out, lse, g0, g1, g2].forEach((want, i) => t.check(got[i]!, want, tols[i]!, `${prefix(tag)}${names[i]} ${what}`));
  }, threads);
}

/**
 * Fused attention forward (out, lse) and backward (dq, dk, dv over the reference's out and lse),
 * per configuration; the outputs start as NaN, so every element must be written.
 */
export function checkAttention(t: KernelTarget, args: AttentionArgs, q: Float32Array, k: Float32Array, v: Float32Array,
  dout: Float32Array, tol: AttentionTol, what: string, threads?: number[]): void {
  const { B, H, Hkv, L, S, D, Dv } = args;
  checkForwardBackward(t, what, ["attention out", "attention lse", "attention dq", "attention dk", "attention dv"],
    [B * H * L * Dv, B * H * L, B * H * L * D, B * Hkv * S * D, B * Hkv * S * Dv], tol,
    (b, out, lse) => b.attentionForward(out, lse, q, k, v, args),
    (b, dq, dk, dv, out, lse) => b.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args), threads);
}

/** A mask of the fused attention, its strides, and its name. */
interface MaskCase { name: string; mask: Float32Array | null; maskStrideB: number; maskStrideH: number; maskStrideL: number }

type Shape = { B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number };

/** The masks of attentionSweep: none; [L, S] broadcast over B and H, every third entry -Infinity; [B, H, L, S], `full.mark`ed. */
function masks(t: KernelTarget, { B, H, L, S }: Shape, full: { name: string; mark(mask: Float32Array): void }): (() => MaskCase)[] {
  return [
    () => ({ name: "none", mask: null, maskStrideB: 0, maskStrideH: 0, maskStrideL: 0 }),
    () => {
      const mask = t.rand(L * S);
      for (let i = 0; i < mask.length; i += 3) mask[i] = -Infinity;
      return { name: "[L, S]", mask, maskStrideB: 0, maskStrideH: 0, maskStrideL: S };
    },
    () => {
      const mask = t.rand(B * H * L * S);
      full.mark(mask);
      return { name: full.name, mask, maskStrideB: H * L * S, maskStrideH: L * S, maskStrideL: S };
    },
  ];
}

/**
 * Fused attention over [B, H / Hkv, L, S, D, Dv]: q, k, v, dout drawn first, then for every mask
 * (see `masks`, drawn anew for each case) x causal x dropout 0 and 0.3, `checkAttention`.
 */
export function attentionSweep(t: KernelTarget, sh: Shape, full: { name: string; mark(mask: Float32Array): void },
  seeds: { seedK1: number; seedStart: number }, tol: AttentionTol): void {
  const { B, H, Hkv, L, S, D, Dv } = sh;
  const q = t.rand(B * H * L * D), k = t.rand(B * Hkv * S * D), v = t.rand(B * Hkv * S * Dv), dout = t.rand(B * H * L * Dv);
  for (const drawMask of masks(t, sh, full)) for (const causal of [false, true]) for (const dropoutP of [0, 0.3]) {
    const { name, ...mask } = drawMask();
    const a: AttentionArgs = { B, H, Hkv, L, S, D, Dv, scale: 1 / Math.sqrt(D), causal, ...contiguousLayouts(sh), ...mask, dropoutP,
      seedK0: 0x9e3779b9, ...seeds };
    checkAttention(t, a, q, k, v, dout, tol, `mask ${name} causal ${causal} p ${dropoutP}`);
  }
}

/** Sparse attention's tolerances, the same on every backend checked against js. */
const SPARSE_TOL: AttentionTol = { out: [2e-5, 1e-4], lse: [2e-5, 1e-5], grad: [1e-4, 1e-3] };

/**
 * Sparse attention forward (out, lse) and backward (dq, dk, dv over the reference's out and lse)
 * over `pattern`, per configuration; the outputs start as NaN, so every element must be written.
 */
export function checkSparse(t: KernelTarget, B: number, H: number, Hkv: number, D: number, Dv: number, pattern: SparsePattern,
  what: string, threads?: number[]): void {
  const { L, S } = pattern;
  const args: SparseAttentionArgs = { B, H, Hkv, D, Dv, scale: 1 / Math.sqrt(D), pattern };
  const q = t.rand(B * H * L * D), k = t.rand(B * Hkv * S * D), v = t.rand(B * Hkv * S * Dv), dout = t.rand(B * H * L * Dv);
  checkForwardBackward(t, `${what} B=${B} H=${H} Hkv=${Hkv} L=${L} S=${S} D=${D} Dv=${Dv}`,
    ["sparse out", "sparse lse", "sparse dq", "sparse dk", "sparse dv"], [B * H * L * Dv, B * H * L, q.length, k.length, v.length], SPARSE_TOL,
    (b, out, lse) => b.sparseAttentionForward(out, lse, q, k, v, args),
    (b, dq, dk, dv, out, lse) => b.sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args), threads);
}

/**
 * Linear attention forward (out, den) and backward (dfq, dfk, dv over the reference's out and den)
 * on positive features, per configuration; the outputs start as NaN.
 */
export function checkLinear(t: KernelTarget, a: LinearAttentionArgs, threads?: number[]): void {
  const { B, H, Hkv, L, S, M, Dv } = a;
  const pos = (n: number): Float32Array => t.rand(n).map((x) => Math.exp(0.5 * x));
  const fq = pos(B * H * L * M), fk = pos(B * Hkv * S * M), v = t.rand(B * Hkv * S * Dv), dout = t.rand(B * H * L * Dv);
  checkForwardBackward(t, JSON.stringify(a), ["linear out", "linear den", "linear dfq", "linear dfk", "linear dv"],
    [B * H * L * Dv, B * H * L, fq.length, fk.length, v.length], { out: [1e-5, 1e-4], lse: [1e-5, 1e-5], grad: [1e-5, 1e-3] },
    (b, out, den) => b.linearAttentionForward(out, den, fq, fk, v, a),
    (b, dfq, dfk, dv, out, den) => b.linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, a), threads);
}
