/**
 * The page of test/browser/webgpu.test.ts (bundled by esbuild, opened as a file:// page in
 * headless Chromium on SwiftShader): runs every WebGPU kernel on seeded random inputs and compares
 * it with the js reference kernel. `window.qkvWebgpu.run(family)` resolves to one result per case;
 * a case passes when every element is within its tolerance and the guard elements around each
 * device array (arrays sit at odd offsets inside larger buffers) are untouched.
 */
import { contiguousLayouts, type AttentionArgs, type BinaryOp, type UnaryOp } from "../../src/backend/backend.js";
import { attentionBackward, attentionForward } from "../../src/backend/js/attention.js";
import { stridedCopy } from "../../src/backend/js/copy.js";
import { binary, unary } from "../../src/backend/js/elementwise.js";
import { layerNorm, layerNormBackward } from "../../src/backend/js/layernorm.js";
import { matmul } from "../../src/backend/js/matmul.js";
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "../../src/backend/js/conv.js";
import { poolNormMethods as host } from "../../src/backend/js/pool-norm-methods.js";
import { segmentBroadcast, segmentSoftmax, segmentSoftmaxBackward, segmentSum } from "../../src/backend/js/segment.js";
import type { AdaptivePool2dArgs, AvgPool2dArgs, Backend, Conv2dArgs, Pool2dArgs } from "../../src/backend/backend.js";
import { softmax, softmaxBackward } from "../../src/backend/js/softmax.js";
import { dropout as jsDropout } from "../../src/backend/js/dropout.js";
import { indexSelect as jsIndexSelect, indexSelectBackward as jsIndexSelectBackward } from "../../src/backend/js/gather.js";
import { indexGrouping } from "../../src/backend/index-grouping.js";
import { extreme as jsExtreme, extremeBackward as jsExtremeBackward, logsumexp as jsLogsumexp } from "../../src/backend/js/reduce-dim.js";
import { topKRows as jsTopKRows } from "../../src/backend/js/topk.js";
import { ValueError } from "../../src/tensor/errors.js";
import { where as jsWhere } from "../../src/backend/js/select.js";
import { compare as jsCompare } from "../../src/backend/js/compare.js";
import { broadcastStrides, numel, stridesOf } from "../../src/tensor/shape.js";
import {
  compileShader, requestGpuDevice, WebGPUBackend, WebGPUKernels, type GpuArray, type GpuAttentionArgs,
} from "../../src/backend/webgpu/index.js";
import { f32Bits, type KernelContext } from "../../src/backend/webgpu/context.js";
import { computeMain, header } from "../../src/backend/webgpu/wgsl.js";
import { gridOf } from "../../src/backend/webgpu/kernels.js";
import { BufferPool } from "../../src/backend/webgpu/pool.js";
import { matmul as gpuMatmul, type GemmVariant } from "../../src/backend/webgpu/matmul.js";
import { conv2dBackwardWeight as gpuConv2dBackwardWeight, forceConvSplitK, splitK } from "../../src/backend/webgpu/conv.js";
import { efficientFamilies } from "./webgpu-efficient-cases.js";
import { attentionDropoutFamilies } from "./webgpu-attention-dropout-cases.js";
import { stridedAttentionBackward } from "../../src/backend/webgpu/attention-strided.js";
import { gemmFamilies } from "./webgpu-gemm-cases.js";
import { clipFamilies } from "./webgpu-clip-cases.js";
import { nllFamilies } from "./webgpu-nll-cases.js";
import { deviceIndexFamilies, gatherBackwardByIndex } from "./webgpu-index-cases.js";
import { matmulOperands, randn, rng, startPage } from "./webgpu-page-setup.js";
import { geluErfGradReference, wgslExpUlps } from "../backend/gelu-reference.js";

/** One checked case: `worst` is the largest |got - want| / tolerance (at most 1 to pass). */
export interface CaseResult { name: string; ok: boolean; worst: number; detail: string }

/** An error a call threw, for the errors family. */
export interface ThrownResult { name: string; error: string; message: string }

export interface PageApi {
  info: { vendor: string; architecture: string; subgroups: boolean; shaderF16: boolean };
  /** The families `run` takes. */
  families: string[];
  run(family: string): Promise<CaseResult[]>;
  errors(): Promise<ThrownResult[]>;
}

const U = 2 ** -24;
const GUARD = -7777.5;

function uniform(r: () => number, n: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toPrecision(8) : String(v));

let k: WebGPUKernels;

/** A device array of `host` at element offset `pad` inside a buffer whose other elements are GUARD. */
export interface Placed { arr: GpuArray; whole: GpuArray; pad: number; n: number }

function place(host: Float32Array, pad: number): Placed {
  const n = host.length;
  const full = new Float32Array(n + 2 * pad + 3).fill(GUARD);
  full.set(host, pad);
  const whole = k.upload(full);
  return { arr: { buffer: whole.buffer, offset: pad, length: n }, whole, pad, n };
}

/** An output array: filled with a value no kernel produces, so unwritten elements show. */
const output = (n: number, pad: number): Placed => place(new Float32Array(n).fill(1.2345e30), pad);

/** The array's elements, and whether every guard element is untouched. */
async function fetchPlaced(p: Placed): Promise<{ data: Float32Array; guards: boolean }> {
  const all = await k.read(p.whole);
  let guards = true;
  for (let i = 0; i < all.length; i++) if ((i < p.pad || i >= p.pad + p.n) && all[i] !== GUARD) guards = false;
  return { data: all.slice(p.pad, p.pad + p.n), guards };
}

/** A case that holds when a call recorded `want` buffer copies. */
function copiesCase(name: string, copies: number, want: number): CaseResult {
  return { name, ok: copies === want, worst: 0, detail: `${copies} copies recorded` };
}

export class Results {
  readonly list: CaseResult[] = [];

  /** got against want: equal (infinities, NaN included) or |got - want| <= tol(i). */
  compare(name: string, got: Float32Array, want: ArrayLike<number>, tol: (i: number) => number, guards = true): void {
    let worst = 0, detail = "";
    let ok = got.length === want.length && guards;
    if (got.length !== want.length) detail = `length ${got.length}, want ${want.length}`;
    if (!guards) detail = "an element outside the array was written";
    for (let i = 0; i < Math.min(got.length, want.length); i++) {
      const g = got[i]!, w = want[i]!;
      if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
      const t = tol(i);
      const r = Number.isFinite(w) && Number.isFinite(g) ? Math.abs(g - w) / t : Infinity;
      if (r > worst) {
        worst = r;
        if (r > 1 || !detail) detail = `[${i}] got ${fmt(g)}, want ${fmt(w)}, tolerance ${t.toExponential(2)}`;
      }
      if (!(r <= 1)) ok = false;
    }
    this.list.push({ name, ok, worst, detail: detail || "exact" });
  }

  /** rtol * |want| + atol * max |want|. */
  close(name: string, got: Float32Array, want: ArrayLike<number>, rtol: number, atol: number, guards = true): void {
    let m = 0;
    for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) m = Math.max(m, Math.abs(want[i]!));
    const floor = atol * m + 1e-30;
    this.compare(name, got, want, (i) => rtol * Math.abs(want[i]!) + floor, guards);
  }
}

// ---------------------------------------------------------------------------------------------
// matmul: tolerance (K + 2) u (|A| |B|)_ij + 2 u (|want| + |out0|): fp32's summation bound, the
// final roundings of both sides and the accumulated addend

async function matmulCases(): Promise<CaseResult[]> {
  const res = new Results();
  const cases: [number, number, number, number, boolean, boolean, boolean, boolean, boolean][] = [
    // batch, M, N, K, transA, transB, shareA, shareB, accumulate
    [1, 1, 1, 1, false, false, false, false, false],
    [1, 7, 33, 65, false, true, false, false, false],
    [2, 65, 7, 33, true, false, false, false, false],
    [3, 33, 65, 7, true, true, false, false, false],
    [2, 130, 70, 66, false, false, false, true, false],
    [2, 64, 64, 16, false, false, false, false, true],
    [3, 5, 130, 1, true, false, true, false, true],
    [4, 1, 129, 64, false, true, false, true, false],
    [1, 17, 3, 0, false, false, false, false, false],
    [2, 9, 11, 200, true, true, true, false, true],
  ];
  let seed = 1;
  for (const [batch, M, N, K, tA, tB, shA, shB, acc] of cases) {
    const { a, b, out0, want, sA, sB } = matmulOperands(rng(seed++), batch, M, N, K, tA, tB, shA, shB, acc);
    const bound = new Float32Array(batch * M * N);
    matmul(bound, a.map(Math.abs), b.map(Math.abs), batch, M, N, K, tA, tB, sA, sB, false);
    const pad = seed % 2 ? 37 : 0;
    const pa = place(a, pad), pb = place(b, 2 * pad + 5), po = acc ? place(out0, pad + 1) : output(batch * M * N, pad + 1);
    k.matmul(po.arr, pa.arr, pb.arr, batch, M, N, K, tA, tB, sA, sB, acc);
    const got = await fetchPlaced(po);
    const name = `batch ${batch}, ${M}x${N}x${K}, ${tA ? "T" : "N"}${tB ? "T" : "N"}${shA ? ", a shared" : ""}${shB ? ", b shared" : ""}${acc ? ", accumulate" : ""}`;
    res.compare(name, got.data, want, (i) => (K + 2) * U * bound[i]! + 2 * U * (Math.abs(want[i]!) + Math.abs(out0[i]!)) + 1e-30, got.guards);
  }
  res.list.push(...await linearGradsCases());
  return res.list;
}

/**
 * A linear layer's weight and bias gradients in one call (matmulSums): dw = g^T x with the bits of
 * the TN product, db with the bits of ones [1, R] @ g; in one dispatch under the 64 tile (sizes
 * over several row and column tiles: only the first column tile sums), and as a product and a
 * kernel of sums under the 128 tile.
 */
async function linearGradsCases(): Promise<CaseResult[]> {
  const res = new Results();
  const shapes: [number, number, number, GemmVariant | "auto"][] = [
    [1, 1, 1, "auto"], [7, 5, 3, "auto"], [33, 70, 130, "auto"], [200, 64, 64, "auto"], [17, 130, 1, "auto"], [300, 9, 140, "128"],
  ];
  let seed = 700;
  for (const [R, O, I, variant] of shapes) {
    const g = randn(rng(seed++), R * O, 1), x = randn(rng(seed++), R * I, 1);
    const pg = place(g, 3), px = place(x, 6), ones = place(new Float32Array(R).fill(1), 1);
    // the two products it replaces, under the automatic choice (ones @ g: the 64 tile)
    const dw0 = output(O * I, 2), db0 = output(O, 4);
    k.matmul(dw0.arr, pg.arr, px.arr, 1, O, I, R, true, false, 0, 0, false);
    k.matmul(db0.arr, ones.arr, pg.arr, 1, 1, O, R, false, false, 0, 0, false);
    const saved = k.gemm.variant;
    k.gemm.variant = variant;
    const dispatches = k.recorder.dispatches;
    const dw = output(O * I, 5), db = output(O, 1);
    try {
      k.matmulSums(dw.arr, db.arr, pg.arr, px.arr, O, I, R, true, false);
    } finally {
      k.gemm.variant = saved;
    }
    const n = k.recorder.dispatches - dispatches;
    const [w0, b0, w1, b1] = [await fetchPlaced(dw0), await fetchPlaced(db0), await fetchPlaced(dw), await fetchPlaced(db)];
    const name = `linear gradients, R ${R}, O ${O}, I ${I}${variant === "auto" ? "" : `, the ${variant} tile`}`;
    const EXACT = (): number => 1e-37;
    if (variant === "auto") res.compare(`${name}: dw, the TN product's bits`, w1.data, w0.data, EXACT, w1.guards);
    else {
      const want = new Float32Array(O * I), bound = new Float32Array(O * I);
      matmul(want, g, x, 1, O, I, R, true, false, 0, 0, false);
      matmul(bound, g.map(Math.abs), x.map(Math.abs), 1, O, I, R, true, false, 0, 0, false);
      res.compare(`${name}: dw against js`, w1.data, want, (i) => (R + 2) * U * bound[i]! + 1e-30, w1.guards);
    }
    res.compare(`${name}: db, the bits of ones @ g`, b1.data, b0.data, EXACT, b1.guards);
    const want = variant === "auto" ? 1 : 2;
    res.list.push({ name: `${name}: ${want} dispatch${want > 1 ? "es" : ""}`, ok: n === want, worst: n === want ? 0 : 1e30, detail: `${n} dispatches` });
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// unary: every op, inputs across its domain plus small and large values

const UNARY_OPS: UnaryOp[] = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "abs", "relu", "sigmoid", "geluErf",
  "geluTanh", "sin", "cos", "square", "reciprocal", "sign", "elu"];

/** Tolerances from WGSL's accuracy: exp 3 + 2|x| ulp, log 2^-21 absolute near 1, erf-based ~2e-7 absolute. */
const UNARY_TOL: Record<UnaryOp, [number, number]> = {
  neg: [0, 0], abs: [0, 0], relu: [0, 0], sign: [0, 0], square: [U, 0],
  exp: [30 * U, 0], log: [4 * U, 5e-7], sqrt: [2 * U, 0], rsqrt: [4 * U, 0], reciprocal: [4 * U, 0],
  tanh: [16 * U, 1e-7], erf: [16 * U, 3e-7], sigmoid: [32 * U, 1e-7], geluErf: [16 * U, 3e-7], geluTanh: [32 * U, 1e-7],
  sin: [8 * U, 1e-7], cos: [8 * U, 1e-7], elu: [32 * U, 1e-7],
};

function unaryInput(op: UnaryOp, r: () => number, n: number): Float32Array {
  if (op === "log" || op === "sqrt" || op === "rsqrt") return uniform(r, n, 1e-3, 20);
  const x = uniform(r, n, -6, 6);
  if (op === "reciprocal") return x.map((v) => (Math.abs(v) < 0.05 ? 0.5 : v));
  const special = [0, 1e-8, -1e-8, 1e-4, -1e-4, 0.2, -0.2, 0.49, -0.51, 0.7, -0.8, 3, -3, 9, -9, 12, -12, 20, -20, 40, -40];
  for (let i = 0; i < special.length && i < n; i++) x[i] = special[i]!;
  return x;
}

async function unaryCases(): Promise<CaseResult[]> {
  const res = new Results();
  for (const [idx, op] of UNARY_OPS.entries()) {
    for (const n of [1, 1037]) {
      const r = rng(100 + idx * 7 + n);
      const x = unaryInput(op, r, n);
      const want = new Float32Array(n);
      unary(op, want, x, n, 0.7);
      const px = place(x, 37), po = output(n, 3);
      k.unary(op, po.arr, px.arr, n, 0.7);
      const got = await fetchPlaced(po);
      const [rtol, atol] = UNARY_TOL[op];
      res.compare(`${op}, n ${n}`, got.data, want, (i) => rtol * Math.abs(want[i]!) + atol + 1e-37, got.guards);
    }
  }
  // in place: out and x the same array, read from the output binding (no copy recorded)
  const x = uniform(rng(5), 300, -3, 3), want = new Float32Array(300);
  unary("tanh", want, x, 300, 0);
  const p = place(x, 11);
  const copies = k.recorder.copies;
  k.unary("tanh", p.arr, p.arr, 300, 0);
  res.list.push(copiesCase("tanh in place: no copy", k.recorder.copies - copies, 0));
  const got = await fetchPlaced(p);
  res.compare("tanh in place", got.data, want, (i) => 16 * U * Math.abs(want[i]!) + 1e-7, got.guards);
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// binary: every op, same shapes, broadcasting, a scalar, permuted strides, rank 9; geluErfGrad
// against the float64 reference within float32's bound with WGSL's exp (3 + 2|x| ulp)

// every op once (a Record, so that a new op fails to compile until it is listed)
const BINARY_OP_SET: Record<BinaryOp, true> = {
  add: true, sub: true, mul: true, div: true, pow: true, maximum: true, minimum: true, geluErfGrad: true, reluGrad: true,
};
const BINARY_OPS = Object.keys(BINARY_OP_SET) as BinaryOp[];

/** gelu' arguments where its terms cancel, underflow, vanish or are not finite. */
const GELU_SPECIAL = [0, -0, -0.7517915, -0.75, 1e-30, 5, -5, 10, -10, 13.5, -13.5, 20, -20, 1e20, -1e20, Infinity, -Infinity, NaN];

const contiguous = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]!; }
  return s;
};

/** Strides of an operand of `shape` broadcast to the out rank (0 where it has size 1). */
const bcast = (shape: readonly number[]): number[] => contiguous(shape).map((s, d) => (shape[d] === 1 ? 0 : s));

async function binaryCases(): Promise<CaseResult[]> {
  const res = new Results();
  // [name, outShape, aShape, aStrides, bShape, bStrides]
  const shapes: [string, number[], number, number[], number, number[]][] = [
    ["same [7, 33]", [7, 33], 231, contiguous([7, 33]), 231, contiguous([7, 33])],
    ["[5, 1, 7] with [1, 3, 7]", [5, 3, 7], 35, bcast([5, 1, 7]), 21, bcast([1, 3, 7])],
    ["[130] with a scalar", [130], 130, [1], 1, [0]],
    ["a scalar with [2, 65]", [2, 65], 1, [0, 0], 130, contiguous([2, 65])],
    ["a transposed [33, 7] with [7, 1]", [7, 33], 231, [1, 7], 7, [1, 0]],
    // b holds [3, 3, 3] read permuted at out dims 2, 5 and 8 (strides 1, 9, 3), broadcast elsewhere
    ["rank 9 broadcast", [2, 1, 3, 2, 1, 3, 2, 2, 3], 432, contiguous([2, 1, 3, 2, 1, 3, 2, 2, 3]), 27, [0, 0, 1, 0, 0, 9, 0, 0, 3]],
  ];
  for (const [oi, op] of BINARY_OPS.entries()) {
    for (const [si, [name, outShape, na, aSt, nb, bSt]] of shapes.entries()) {
      const r = rng(1000 + oi * 31 + si);
      const n = outShape.reduce((x, y) => x * y, 1);
      let a = randn(r, na, 2), b = randn(r, nb, 2);
      if (op === "div") b = b.map((v) => (Math.abs(v) < 0.1 ? 0.5 : v));
      if (op === "pow") {
        a = uniform(r, na, 0.05, 4);
        b = uniform(r, nb, -3, 3);
        if (si === 0) {
          // negative bases with integer exponents, zero bases, exponent 0 and 2
          for (let i = 0; i < 12; i++) { a[i] = -1.5 - i * 0.25; b[i] = (i % 5) - 1; }
          a[12] = 0; b[12] = 2.5; a[13] = 0; b[13] = -1; a[14] = 3; b[14] = 0; a[15] = -2.5; b[15] = 0.5;
        }
      }
      if ((op === "maximum" || op === "minimum") && si === 0) { a[3] = NaN; b[4] = NaN; a[5] = b[5]!; }
      if (op === "geluErfGrad") {
        b = b.map((v) => v * 3);
        if (si === 0) GELU_SPECIAL.forEach((v, i) => { b[i] = v; });
      }
      const want = new Float32Array(n);
      binary(op, want, a, b, outShape, aSt, bSt);
      const pa = place(a, 1), pb = place(b, 70), po = output(n, 2);
      k.binary(op, po.arr, pa.arr, pb.arr, outShape, aSt, bSt);
      const got = await fetchPlaced(po);
      if (op === "geluErfGrad") {
        const { want: want64, bound } = geluErfGradReference(a, b, outShape, aSt, bSt, wgslExpUlps);
        res.compare(`${op}, ${name}`, got.data, want64, (i) => bound[i]!, got.guards);
        continue;
      }
      const rtol = op === "pow" ? 64 * U : op === "div" ? 4 * U : 0;
      res.compare(`${op}, ${name}`, got.data, want, (i) => rtol * Math.abs(want[i]!) + 1e-37, got.guards);
    }
  }
  // reluGrad's special values, signs of zeros included: a where b > 0, else +0 (NaN b: +0); no
  // subnormal b (a device may flush it to zero)
  const rb = [-3, -0, 0, 2, Infinity, -Infinity, NaN, 1e-30], ra = [-2, -0, Infinity, -Infinity, NaN, 7.5];
  const sa = Float32Array.from(rb.flatMap(() => ra)), sb = Float32Array.from(rb.flatMap((v) => ra.map(() => v)));
  const ps = [place(sa, 3), place(sb, 4)] as const, pso = output(sa.length, 1);
  k.binary("reluGrad", pso.arr, ps[0].arr, ps[1].arr, [sa.length], [1], [1]);
  const gs = await fetchPlaced(pso);
  const bad = [...gs.data.keys()].filter((i) => !Object.is(gs.data[i], sb[i]! > 0 ? sa[i]! : 0));
  res.list.push({ name: "reluGrad, special values, bit for bit", ok: bad.length === 0 && gs.guards, worst: bad.length ? 1e30 : 0,
    detail: bad.length ? `[${bad[0]}] got ${gs.data[bad[0]!]}, a ${sa[bad[0]!]}, b ${sb[bad[0]!]}` : "exact" });
  // in place: a += b with out = a
  const a = randn(rng(9), 200), b = randn(rng(10), 200), want = new Float32Array(200);
  binary("add", want, a, b, [200], [1], [1]);
  const pa = place(a, 0), pb = place(b, 0);
  k.binary("add", pa.arr, pa.arr, pb.arr, [200], [1], [1]);
  const got = await fetchPlaced(pa);
  res.compare("add in place", got.data, want, () => 1e-37, got.guards);
  // out is a, b or both, element for element: read from the output binding, no copy recorded;
  // out is a read transposed: a copy of a (the old values), as before
  // [name, op, shape, which operands are out ("a", "b", "ab"), the other's strides, copies expected]
  const inPlace: [string, BinaryOp, number[], "a" | "b" | "ab" | "aT", number[], number][] = [
    ["g *= s, [7, 33] by a scalar", "mul", [7, 33], "a", [0, 0], 0],
    ["out = a - out, a broadcast over rows", "sub", [7, 33], "b", [0, 1], 0],
    ["out = out / out", "div", [5, 9], "ab", [], 0],
    ["out = pow(out, b), [1, 40, 1]", "pow", [1, 40, 1], "a", [0, 1, 0], 0],
    ["out = out^T - b (out read transposed: a copy)", "sub", [9, 9], "aT", [9, 1], 1],
  ];
  for (const [i, [name, op, shape, which, otherStrides, wantCopies]] of inPlace.entries()) {
    const n = shape.reduce((x, y) => x * y, 1), r = rng(40 + i);
    const own = op === "pow" ? uniform(r, n, 0.5, 2) : op === "div" ? uniform(r, n, 0.5, 2) : randn(r, n);
    const otherN = otherStrides.reduce((m, st, d) => m + st * (shape[d]! - 1), 0) + 1;
    const other = op === "pow" ? uniform(r, otherN, -2, 2) : randn(r, otherN);
    const st = which === "aT" ? [1, shape[1]!] : contiguous(shape);
    const [aHost, aSt, bHost, bSt] = which === "b" ? [other, otherStrides, own, st] : which === "ab" ? [own, st, own, st] : [own, st, other, otherStrides];
    const wantIp = new Float32Array(n);
    binary(op, wantIp, aHost, bHost, shape, aSt, bSt);
    const po = place(own, 5), pother = place(other, 3);
    const before = k.recorder.copies;
    const A = which === "b" ? pother.arr : po.arr, B = which === "a" || which === "aT" ? pother.arr : po.arr;
    k.binary(op, po.arr, A, B, shape, aSt, bSt);
    const copied = k.recorder.copies - before;
    res.list.push(copiesCase(`${name}: ${wantCopies} copies`, copied, wantCopies));
    const gotIp = await fetchPlaced(po);
    res.compare(name, gotIp.data, wantIp, (j) => (op === "pow" ? 64 : 4) * U * Math.abs(wantIp[j]!) + 1e-37, gotIp.guards);
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// stridedCopy: exact

async function copyCases(): Promise<CaseResult[]> {
  const res = new Results();
  const perm = (shape: number[], order: number[]): [number[], number[]] => {
    const st = contiguous(shape);
    return [order.map((d) => shape[d]!), order.map((d) => st[d]!)];
  };
  const cases: [string, number, number[], number[]][] = [
    ["rank 0", 1, [], []],
    ["a plain copy [7, 33]", 231, [7, 33], contiguous([7, 33])],
    ["[2, 3, 4] to [4, 2, 3]", 24, ...perm([2, 3, 4], [2, 0, 1])],
    ["transpose [65, 33]", 65 * 33, ...perm([65, 33], [1, 0])],
    ["expand [1, 7] to [5, 7]", 7, [5, 7], [0, 1]],
    ["expand [3, 1] to [3, 130]", 3, [3, 130], [1, 0]],
    ["rank 8 permutation", 2 * 3 * 2 * 2 * 3 * 2 * 2 * 2, ...perm([2, 3, 2, 2, 3, 2, 2, 2], [7, 1, 0, 5, 3, 2, 6, 4])],
    ["expand and permute", 12, [4, 5, 3], [1, 0, 4]],
  ];
  for (const [ci, [name, nx, shape, strides]] of cases.entries()) {
    const x = randn(rng(2000 + ci), nx);
    const n = shape.reduce((a, b) => a * b, 1);
    const want = new Float32Array(n);
    stridedCopy(want, x, shape, strides);
    const px = place(x, 13 * ci), po = output(n, 64);
    k.stridedCopy(po.arr, px.arr, shape, strides);
    const got = await fetchPlaced(po);
    res.compare(name, got.data, want, () => 1e-37, got.guards);
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// softmax and its backward

async function softmaxCases(): Promise<CaseResult[]> {
  const res = new Results();
  const shapes: [number, number][] = [[1, 1], [7, 33], [65, 130], [3, 1000], [130, 7]];
  for (const [si, [rows, cols]] of shapes.entries()) {
    for (const log of [false, true]) {
      const r = rng(3000 + si * 2 + (log ? 1 : 0));
      const x = randn(r, rows * cols, 3);
      // -Infinity entries, and rows of only -Infinity
      if (cols > 1) for (let i = 0; i < x.length; i += 5) x[i] = -Infinity;
      if (rows > 2) x.fill(-Infinity, cols, 2 * cols);
      if (rows === 1 && cols === 1 && log) x[0] = -Infinity;
      const y = new Float32Array(rows * cols);
      softmax(y, x, rows, cols, log);
      const px = place(x, 5), po = output(rows * cols, 77);
      k.softmax(po.arr, px.arr, rows, cols, log);
      const got = await fetchPlaced(po);
      const name = `${log ? "log-softmax" : "softmax"} ${rows}x${cols}`;
      // exp is 3 + 2|x| ulp; the row sum adds (cols / 64 + 6) u
      res.close(name, got.data, y, log ? 16 * U : 64 * U, log ? 16 * U : 4 * U, got.guards);
      // backward from the js forward's output
      const dy = randn(r, rows * cols);
      const want = new Float32Array(rows * cols);
      softmaxBackward(want, y, dy, rows, cols, log);
      const pyy = place(y, 0), pdy = place(dy, 9), pdx = output(rows * cols, 1);
      k.softmaxBackward(pdx.arr, pyy.arr, pdy.arr, rows, cols, log);
      const gdx = await fetchPlaced(pdx);
      res.close(`${name} backward`, gdx.data, want, 64 * U, 16 * U, gdx.guards);
    }
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// past 65535 workgroups: the dispatch is laid out over x and y (kernels.ts gridOf), and every
// element, the last ones too, is computed once and in its place

/** x[i], distinct per index (a multiplicative hash), so a misplaced element shows. */
function hashed(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (Math.imul(i, 0x9e3779b1) >>> 0) / 2 ** 29 - 4;
  return x;
}

async function largeCases(): Promise<CaseResult[]> {
  const res = new Results();
  const maxDim = k.gpu.limits.maxComputeWorkgroupsPerDimension;
  const grid = (groups: number): string => gridOf(groups, maxDim).slice(0, 2).join(" x ");
  // unary: 256 threads a workgroup, so n = 65535 * 256 + 1000 needs 65539 workgroups
  const n = maxDim * 256 + 1000;
  const x = hashed(n);
  const px = place(x, 3), po = output(n, 5);
  k.unary("neg", po.arr, px.arr, n, 0);
  const got = await fetchPlaced(po);
  res.compare(`neg over ${n} elements, ${grid(Math.ceil(n / 256))} workgroups`, got.data, x.map((v) => -v), () => 1e-37, got.guards);
  for (const p of [px, po]) k.release(p.whole);
  // softmax: a workgroup per row, 66000 rows of 256
  const rows = maxDim + 465, cols = 256;
  const xs = hashed(rows * cols);
  const want = new Float32Array(rows * cols);
  softmax(want, xs, rows, cols, false);
  const ps = place(xs, 7), pso = output(rows * cols, 1);
  k.softmax(pso.arr, ps.arr, rows, cols, false);
  const gs = await fetchPlaced(pso);
  res.close(`softmax ${rows}x${cols}, ${grid(rows)} workgroups`, gs.data, want, 64 * U, 4 * U, gs.guards);
  for (const p of [ps, pso]) k.release(p.whole);
  // matmul past 65535 tiles (N or M past 4194240) is split into dispatches of at most that many
  // tiles per dimension; as SwiftShader takes minutes over such a matmul, the split is checked
  // with the limit at 2 tiles: 3 x 4 tiles x batch 3 is 8 dispatches
  let dispatches = 0;
  const limited: KernelContext = {
    pipeline: (key, source) => k.pipeline(key, source),
    dispatch: (...args) => { dispatches++; k.dispatch(...args); },
    scratch: (n) => k.scratch(n), release: (arr) => k.release(arr), indexCheck: (c, n) => k.indexCheck(c, n),
    workgroupFloats: k.workgroupFloats, maxWorkgroupsPerDimension: 2, maxStorageBuffers: k.maxStorageBuffers, maxBindingBytes: k.maxBindingBytes,
  };
  const [B, M, N, K] = [3, 130, 200, 33];
  const a = hashed(B * M * K), b = hashed(B * K * N).map((v) => v / 3);
  const wantM = new Float32Array(B * M * N), bound = new Float32Array(B * M * N);
  matmul(wantM, a, b, B, M, N, K, false, true, M * K, K * N, false);
  matmul(bound, a.map(Math.abs), b.map(Math.abs), B, M, N, K, false, true, M * K, K * N, false);
  const pa = place(a, 1), pb = place(b, 2), pm = output(B * M * N, 3);
  gpuMatmul(limited, pm.arr, pa.arr, pb.arr, B, M, N, K, false, true, M * K, K * N, false);
  const gm = await fetchPlaced(pm);
  res.compare(`matmul ${B}x${M}x${N}x${K} in ${dispatches} dispatches of at most 2 x 2 x 2 workgroups`, gm.data, wantM,
    (i) => (K + 2) * U * bound[i]! + 2 * U * Math.abs(wantM[i]!) + 1e-30, gm.guards && dispatches === 8);
  for (const p of [pa, pb, pm]) k.release(p.whole);
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// layerNorm and its backward

async function layerNormCases(): Promise<CaseResult[]> {
  const res = new Results();
  const cases: [number, number, boolean, boolean][] = [[1, 1, true, true], [7, 33, true, true], [65, 130, false, false],
    [3, 1000, true, false], [130, 7, false, true], [2, 64, true, true], [300, 200, true, true], [0, 9, true, true]];
  for (const [ci, [rows, cols, hasW, hasB]] of cases.entries()) {
    const r = rng(4000 + ci);
    const x = randn(r, rows * cols, 2, ci === 2 ? 100 : 0.5); // one case far from 0: the variance is taken about the mean
    const w = hasW ? randn(r, cols, 1, 1) : null, b = hasB ? randn(r, cols) : null;
    const out = new Float32Array(rows * cols), mean = new Float32Array(rows), rstd = new Float32Array(rows);
    layerNorm(out, mean, rstd, x, w, b, rows, cols, 1e-5);
    const px = place(x, 3), pw = w ? place(w, 40) : null, pb = b ? place(b, 41) : null;
    const po = output(rows * cols, 6);
    // mean and rstd as two views of one buffer (two writable bindings of one buffer)
    const stats = output(2 * rows + 7, 0);
    const pm: Placed = { ...stats, arr: { buffer: stats.arr.buffer, offset: 0, length: rows }, n: 2 * rows + 7 };
    const ps: GpuArray = { buffer: stats.arr.buffer, offset: rows + 7, length: rows };
    k.layerNorm(po.arr, pm.arr, ps, px.arr, pw?.arr ?? null, pb?.arr ?? null, rows, cols, 1e-5);
    const name = `${rows}x${cols}${hasW ? ", weight" : ""}${hasB ? ", bias" : ""}`;
    const got = await fetchPlaced(po);
    res.close(`forward ${name}`, got.data, out, 16 * U, 16 * U, got.guards);
    const st = await fetchPlaced(stats);
    res.close(`mean ${name}`, st.data.slice(0, rows), mean, 16 * U, 16 * U, st.guards);
    res.close(`rstd ${name}`, st.data.slice(rows + 7), rstd, 16 * U, 0, st.guards);
    // backward, with the saved statistics of the js forward
    const dy = randn(r, rows * cols);
    const dx = new Float32Array(rows * cols), dw = hasW ? new Float32Array(cols) : null, db = hasB ? new Float32Array(cols) : null;
    layerNormBackward(dx, dw, db, dy, x, mean, rstd, w, rows, cols);
    const pdy = place(dy, 2), pmean = place(mean, 3), prstd = place(rstd, 4), pdx = output(rows * cols, 5);
    const pdw = dw ? output(cols, 6) : null, pdb = db ? output(cols, 7) : null;
    k.layerNormBackward(pdx.arr, pdw?.arr ?? null, pdb?.arr ?? null, pdy.arr, px.arr, pmean.arr, prstd.arr, pw?.arr ?? null, rows, cols);
    const gdx = await fetchPlaced(pdx);
    res.close(`dx ${name}`, gdx.data, dx, 16 * U, 16 * U, gdx.guards);
    // dweight and dbias sum over the rows
    if (pdw && dw) { const g = await fetchPlaced(pdw); res.close(`dweight ${name}`, g.data, dw, 16 * U, 2 * rows * U, g.guards); }
    if (pdb && db) { const g = await fetchPlaced(pdb); res.close(`dbias ${name}`, g.data, db, 16 * U, 2 * rows * U, g.guards); }
    // the residual and the norm in one dispatch: the sum, the output and the statistics of the
    // device's own add and layer norm, to the bit
    if (rows === 0) continue;
    const rr = randn(r, rows * cols, 1), pr = place(rr, 9);
    const sum0 = output(rows * cols, 1), out0 = output(rows * cols, 2), m0 = output(rows, 3), s0 = output(rows, 4);
    k.binary("add", sum0.arr, px.arr, pr.arr, [rows * cols], [1], [1]);
    k.layerNorm(out0.arr, m0.arr, s0.arr, sum0.arr, pw?.arr ?? null, pb?.arr ?? null, rows, cols, 1e-5);
    const sum1 = output(rows * cols, 5), out1 = output(rows * cols, 6), m1 = output(rows, 7), s1 = output(rows, 8);
    const dispatches = k.recorder.dispatches;
    k.addLayerNorm(out1.arr, m1.arr, s1.arr, sum1.arr, px.arr, pr.arr, pw?.arr ?? null, pb?.arr ?? null, rows, cols, 1e-5);
    const one = k.recorder.dispatches - dispatches === 1;
    const EXACT = (): number => 1e-37;
    for (const [what, a, b] of [["sum", sum1, sum0], ["output", out1, out0], ["mean", m1, m0], ["rstd", s1, s0]] as const) {
      const [ga, gb] = [await fetchPlaced(a), await fetchPlaced(b)];
      res.compare(`addLayerNorm ${name}: the ${what}, the bits of add and layerNorm`, ga.data, gb.data, EXACT, ga.guards);
    }
    res.list.push({ name: `addLayerNorm ${name}: one dispatch`, ok: one, worst: one ? 0 : 1e30, detail: `${k.recorder.dispatches - dispatches} dispatches` });
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// attention forward and backward

interface AttCase {
  name: string; B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number; causal: boolean;
  /** mask [mB, mH, L, S] (1 broadcasts), with -Infinity where `masked` says */
  mask?: { mB: number; mH: number; masked: (b: number, h: number, i: number, j: number) => boolean; rowOnly?: boolean };
}

const ATT_CASES: AttCase[] = [
  { name: "1 x 1, D 1", B: 1, H: 1, Hkv: 1, L: 1, S: 1, D: 1, Dv: 1, causal: false },
  { name: "L 7, S 33, D 16", B: 2, H: 2, Hkv: 2, L: 7, S: 33, D: 16, Dv: 16, causal: false },
  { name: "GQA 4/2, causal, L 33, S 65, D 8, Dv 24", B: 1, H: 4, Hkv: 2, L: 33, S: 65, D: 8, Dv: 24, causal: true },
  { name: "GQA 2/1, mask [B, 1, L, S] with -Infinity and fully masked rows, L 130, S 70, D 32, Dv 16",
    B: 2, H: 2, Hkv: 1, L: 130, S: 70, D: 32, Dv: 16, causal: false,
    mask: { mB: 2, mH: 1, masked: (b, _h, i, j) => (i % 17 === 3 && b === 1) || (i * 7 + j * 3 + b) % 5 === 0 } },
  { name: "causal with L > S and a per-head mask, L 65, S 33, D 16, Dv 8", B: 1, H: 3, Hkv: 3, L: 65, S: 33, D: 16, Dv: 8, causal: true,
    mask: { mB: 1, mH: 3, masked: (_b, h, i, j) => (h === 1 && j === 0) || (i + h) % 11 === 0 && j < 20 } },
  { name: "key padding mask [B, 1, 1, S], L 65, S 130, D 64", B: 2, H: 2, Hkv: 1, L: 65, S: 130, D: 64, Dv: 64, causal: false,
    mask: { mB: 2, mH: 1, masked: (b, _h, _i, j) => j >= 130 - 40 * b, rowOnly: true } },
  { name: "every key masked in batch 1, L 7, S 9, D 4, Dv 5", B: 2, H: 2, Hkv: 2, L: 7, S: 9, D: 4, Dv: 5, causal: false,
    mask: { mB: 2, mH: 1, masked: (b) => b === 1 } },
  { name: "GQA 8/2 decode row, L 1, S 130, D 32", B: 2, H: 8, Hkv: 2, L: 1, S: 130, D: 32, Dv: 32, causal: false },
  { name: "no keys (S 0)", B: 1, H: 2, Hkv: 1, L: 5, S: 0, D: 4, Dv: 3, causal: false },
  { name: "no query rows (L 0): zero key gradients", B: 2, H: 2, Hkv: 1, L: 0, S: 6, D: 4, Dv: 3, causal: false },
];

/** The args and host tensors of a case; the mask holds finite negative values besides -Infinity. */
function attInputs(c: AttCase, seed: number) {
  const r = rng(seed);
  const { B, H, Hkv, L, S, D, Dv } = c;
  const q = randn(r, B * H * L * D), kk = randn(r, B * Hkv * S * D), v = randn(r, B * Hkv * S * Dv), dout = randn(r, B * H * L * Dv);
  let mask: Float32Array | null = null, msB = 0, msH = 0, msL = 0;
  if (c.mask) {
    const { mB, mH, masked, rowOnly } = c.mask;
    const mL = rowOnly ? 1 : L;
    mask = new Float32Array(mB * mH * mL * S);
    msL = rowOnly ? 0 : S;
    msH = mH === 1 ? 0 : mL * S;
    msB = mB === 1 ? 0 : mH * mL * S;
    for (let b = 0; b < mB; b++) for (let h = 0; h < mH; h++) for (let i = 0; i < mL; i++) for (let j = 0; j < S; j++) {
      mask[((b * mH + h) * mL + i) * S + j] = masked(b, h, i, j) ? -Infinity : -2 * r();
    }
  }
  const args: AttentionArgs = { B, H, Hkv, L, S, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal, ...contiguousLayouts(c), mask,
    maskStrideB: msB, maskStrideH: msH, maskStrideL: msL, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
  return { q, k: kk, v, dout, mask, args };
}

async function attentionCases(backward: boolean): Promise<CaseResult[]> {
  const res = new Results();
  for (const [ci, c] of ATT_CASES.entries()) {
    const { q, k: kk, v, dout, mask, args } = attInputs(c, 5000 + ci);
    const { B, H, L, Dv } = c;
    const out = new Float32Array(B * H * L * Dv), lse = new Float32Array(B * H * L);
    attentionForward(out, lse, q, kk, v, args);
    const pq = place(q, 3), pk = place(kk, 70), pv = place(v, 1), pm = mask ? place(mask, 2) : null;
    const gargs: GpuAttentionArgs = { ...args, mask: pm?.arr ?? null };
    if (!backward) {
      const po = output(out.length, 4), pl = output(lse.length, 5);
      k.attentionForward(po.arr, pl.arr, pq.arr, pk.arr, pv.arr, gargs);
      const go = await fetchPlaced(po), gl = await fetchPlaced(pl);
      // softmax weights within ~(S + 3 |s|) u of each other, out a convex combination of v
      res.close(`out: ${c.name}`, go.data, out, 64 * U, 16 * U, go.guards);
      res.close(`lse: ${c.name}`, gl.data, lse, 16 * U, 4 * U, gl.guards);
      continue;
    }
    const dq = new Float32Array(q.length), dk = new Float32Array(kk.length), dv = new Float32Array(v.length);
    attentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, args);
    const pdo = place(dout, 6), pout = place(out, 7), plse = place(lse, 8);
    const pdq = output(dq.length, 9), pdk = output(dk.length, 10), pdv = output(dv.length, 11);
    k.attentionBackward(pdq.arr, pdk.arr, pdv.arr, pdo.arr, pq.arr, pk.arr, pv.arr, pout.arr, plse.arr, gargs);
    // gradients are sums over rows and keys of products: ~1e-6 relative to their largest element
    for (const [name, p, want] of [["dq", pdq, dq], ["dk", pdk, dk], ["dv", pdv, dv]] as const) {
      const g = await fetchPlaced(p);
      res.close(`${name}: ${c.name}`, g.data, want, 1e-5, 1e-6, g.guards);
    }
  }
  await packedAttentionCases(res, backward);
  return res.list;
}

/**
 * Strided operands: q, k, v read where a fused projection [B, T, H D + Hkv D + Hkv Dv + 1] put them
 * (the last column a gap), out written as [B, T, H, Dv], and dq, dk, dv as three interleaved views
 * of one such buffer whose gap column must stay unwritten; against the js kernels on the dense copies.
 */
async function packedAttentionCases(res: Results, backward: boolean): Promise<void> {
  const cases = [
    { name: "packed GQA 4/2, causal, T 33, D 8", B: 2, H: 4, Hkv: 2, T: 33, D: 8, Dv: 8, causal: true },
    { name: "packed T 70, D 16, Dv 12", B: 1, H: 2, Hkv: 2, T: 70, D: 16, Dv: 12, causal: false },
  ];
  for (const [ci, c] of cases.entries()) {
    const r = rng(6000 + ci);
    const { B, H, Hkv, T, D, Dv } = c;
    const W = H * D + Hkv * D + Hkv * Dv + 1;
    // element (b, h, t, d) of a block at column offset `col`, `n` wide
    const gatherCols = (x: Float32Array, col: number, heads: number, n: number): Float32Array => {
      const o = new Float32Array(B * heads * T * n);
      for (let b = 0; b < B; b++) for (let h = 0; h < heads; h++) for (let t = 0; t < T; t++) for (let d = 0; d < n; d++) {
        o[((b * heads + h) * T + t) * n + d] = x[(b * T + t) * W + col + h * n + d]!;
      }
      return o;
    };
    const toBTHD = (x: Float32Array): Float32Array => {
      const o = new Float32Array(x.length);
      for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < Dv; d++) {
        o[((b * T + t) * H + h) * Dv + d] = x[((b * H + h) * T + t) * Dv + d]!;
      }
      return o;
    };
    const qkv = randn(r, B * T * W);
    const q = gatherCols(qkv, 0, H, D), kk = gatherCols(qkv, H * D, Hkv, D), v = gatherCols(qkv, H * D + Hkv * D, Hkv, Dv);
    const base: AttentionArgs = { B, H, Hkv, L: T, S: T, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal,
      ...contiguousLayouts({ H, Hkv, L: T, S: T, D, Dv }), mask: null, maskStrideB: 0, maskStrideH: 0, maskStrideL: 0,
      dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
    const rowsOf = (n: number): [number, number, number] => [T * W, n, W];
    const gargs: GpuAttentionArgs = { ...base, qStrides: rowsOf(D), kStrides: rowsOf(D), vStrides: rowsOf(Dv),
      oStrides: [T * H * Dv, Dv, H * Dv], mask: null };
    const out = new Float32Array(B * H * T * Dv), lse = new Float32Array(B * H * T);
    attentionForward(out, lse, q, kk, v, base);
    const pin = place(qkv, 5);
    const at = (p: Placed, col: number): GpuArray => ({ buffer: p.arr.buffer, offset: p.arr.offset + col, length: p.n - col });
    if (!backward) {
      const po = output(out.length, 4), pl = output(lse.length, 3);
      k.attentionForward(po.arr, pl.arr, at(pin, 0), at(pin, H * D), at(pin, H * D + Hkv * D), gargs);
      const go = await fetchPlaced(po), gl = await fetchPlaced(pl);
      res.close(`out: ${c.name}`, go.data, toBTHD(out), 64 * U, 16 * U, go.guards);
      res.close(`lse: ${c.name}`, gl.data, lse, 16 * U, 4 * U, gl.guards);
      continue;
    }
    const dout = randn(r, out.length);
    const dq = new Float32Array(q.length), dk = new Float32Array(kk.length), dv = new Float32Array(v.length);
    attentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, base);
    const pdo = place(toBTHD(dout), 6), pout = place(toBTHD(out), 7), plse = place(lse, 8);
    // dk and dv through one binding of the whole buffer; then, where a binding may not hold the
    // buffer, dv computed densely and scattered into place (the stand-in): its dispatches counted
    for (const whole of [true, false]) {
      let dispatches = 0;
      const ctx: KernelContext = {
        pipeline: (key, source) => k.pipeline(key, source),
        dispatch: (...args) => { dispatches++; k.dispatch(...args); },
        scratch: (n) => k.scratch(n), release: (arr) => k.release(arr), indexCheck: (ch, n) => k.indexCheck(ch, n),
        workgroupFloats: k.workgroupFloats, maxWorkgroupsPerDimension: k.maxWorkgroupsPerDimension, maxStorageBuffers: k.maxStorageBuffers,
        maxBindingBytes: whole ? k.maxBindingBytes : 16,
      };
      const pg = output(qkv.length, 9);
      stridedAttentionBackward(ctx, at(pg, 0), at(pg, H * D), at(pg, H * D + Hkv * D), pdo.arr, at(pin, 0), at(pin, H * D),
        at(pin, H * D + Hkv * D), pout.arr, plse.arr, gargs);
      const g = await fetchPlaced(pg);
      let gap = true;
      for (let row = 0; row < B * T; row++) if (g.data[row * W + W - 1] !== Math.fround(1.2345e30)) gap = false;
      const how = whole ? "dk and dv through one binding" : "dv scattered";
      for (const [name, col, heads, n, want] of [["dq", 0, H, D, dq], ["dk", H * D, Hkv, D, dk], ["dv", H * D + Hkv * D, Hkv, Dv, dv]] as const) {
        res.close(`${name}: ${c.name}, ${how}`, gatherCols(g.data, col, heads, n), want, 1e-5, 1e-6, g.guards && gap);
      }
      // row statistics, the kv pass and the q pass; the stand-in adds the scatter
      res.close(`${c.name}, ${how}: ${dispatches} dispatches`, Float32Array.of(dispatches), Float32Array.of(whole ? 3 : 4), 0, 0, true);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// where, reductions along a dim (max / min with indices, their backward, logsumexp), gathers
// (indexSelect and its backward) and dropout: each against its js kernel, exact except logsumexp
// (js sums in float64)

async function selectCases(): Promise<CaseResult[]> {
  const res = new Results();
  // [out shape, cond shape, a shape, b shape, transpose cond's last two dims]
  const cases: [number[], number[], number[], number[], boolean][] = [
    [[1], [1], [1], [1], false],
    [[3, 2, 4], [3, 1, 4], [2, 1], [4], false],
    [[7, 37], [37], [7, 1], [7, 37], false],
    [[2, 3, 1, 5, 4], [2, 3, 1, 4, 5], [3, 1, 1, 1], [1], true],
    [[1037], [1037], [1], [1037], false],
  ];
  let seed = 200;
  for (const [shape, cs, as, bs, tr] of cases) {
    const r = rng(seed++);
    const n = numel(shape);
    const c = Float32Array.from({ length: numel(cs) }, () => (r() < 0.5 ? 0 : 1));
    const a = randn(r, numel(as)), b = randn(r, numel(bs));
    let cStrides = broadcastStrides(cs, shape);
    if (tr) { // cond stored transposed: read it at swapped strides
      const st = stridesOf(cs);
      cStrides = [...cStrides.slice(0, -2), st[st.length - 1]!, st[st.length - 2]!];
    }
    const aStrides = broadcastStrides(as, shape), bStrides = broadcastStrides(bs, shape);
    const want = new Float32Array(n);
    jsWhere(want, c, a, b, shape, cStrides, aStrides, bStrides);
    const pc = place(c, 3), pa = place(a, 5), pb = place(b, 8), po = output(n, 1);
    k.where(po.arr, pc.arr, pa.arr, pb.arr, shape, cStrides, aStrides, bStrides);
    const got = await fetchPlaced(po);
    res.compare(`where [${shape.join(", ")}] from cond [${cs.join(", ")}]${tr ? " (transposed)" : ""}, a [${as.join(", ")}], b [${bs.join(", ")}]`,
      got.data, want, () => 1e-37, got.guards);
  }
  // in place: out is a's array
  const r = rng(250);
  const c = Float32Array.from({ length: 300 }, () => (r() < 0.3 ? 1 : 0)), a = randn(r, 300), b = randn(r, 1);
  const want = new Float32Array(300);
  jsWhere(want, c, a, b, [300], [1], [1], [0]);
  const pc = place(c, 2), pa = place(a, 9), pb = place(b, 4);
  k.where(pa.arr, pc.arr, pa.arr, pb.arr, [300], [1], [1], [0]);
  const got = await fetchPlaced(pa);
  res.compare("where in place (out = a)", got.data, want, () => 1e-37, got.guards);
  // past 65535 workgroups: 256 threads a workgroup
  const n = k.gpu.limits.maxComputeWorkgroupsPerDimension * 256 + 1000;
  const x = hashed(n), cond = x.map((v) => (v > 0 ? 1 : 0)), zero = Float32Array.of(0);
  const pl = place(cond, 1), px = place(x, 3), pz = place(zero, 0), pout = output(n, 5);
  k.where(pout.arr, pl.arr, px.arr, pz.arr, [n], [1], [1], [0]);
  const gl = await fetchPlaced(pout);
  res.compare(`where over ${n} elements`, gl.data, x.map((v) => (v > 0 ? v : 0)), () => 1e-37, gl.guards);
  for (const p of [pl, px, pz, pout]) k.release(p.whole);
  // comparisons: every op, broadcasting, ties, NaN, infinities, signed zeros
  const specials = [0, -0, 1, -1, 0.5, NaN, Infinity, -Infinity];
  for (const [shape, as, bs] of [[[8, 8], [8, 1], [8]], [[3, 2, 37], [3, 1, 37], [2, 1]], [[1037], [1037], [1]]] as [number[], number[], number[]][]) {
    const r = rng(seed++);
    const a = Float32Array.from({ length: numel(as) }, (_, i) => (shape[0] === 8 ? specials[i % 8]! : Math.round(randn(r, 1)[0]! * 2) / 2));
    const b = Float32Array.from({ length: numel(bs) }, (_, i) => (shape[0] === 8 ? specials[i]! : Math.round(randn(r, 1)[0]! * 2) / 2));
    const aStrides = broadcastStrides(as, shape), bStrides = broadcastStrides(bs, shape);
    for (const op of ["eq", "ne", "lt", "le", "gt", "ge"] as const) {
      const want = new Float32Array(numel(shape));
      jsCompare(op, want, a, b, shape, aStrides, bStrides);
      const pa = place(a, 2), pb = place(b, 7), po = output(want.length, 3);
      k.compare(op, po.arr, pa.arr, pb.arr, shape, aStrides, bStrides);
      const got = await fetchPlaced(po);
      res.compare(`compare ${op} [${shape.join(", ")}] from a [${as.join(", ")}], b [${bs.join(", ")}]`, got.data, want, () => 1e-37, got.guards);
      for (const p of [pa, pb, po]) k.release(p.whole);
    }
  }
  return res.list;
}

/** outer, n, inner of the reduction cases. */
const REDUCE_SIZES: [number, number, number][] = [[1, 1, 1], [3, 5, 4], [2, 1037, 1], [7, 3, 33], [1, 17, 300], [5, 2, 1],
  // few long rows (a workgroup per output for max / min and logsumexp): the odd rows without NaN
  [1, 5000, 1], [3, 4099, 2], [2, 3000, 1]];

/** Whether the device's logsumexp takes a workgroup per output (reduce-dim.ts: rows of at least 1024, at most 1024 outputs). */
const lseRows = (outer: number, n: number, inner: number): boolean => n >= 1024 && outer * inner <= 1024;

/**
 * The fp32 bound of the workgroup logsumexp against the js kernel (float64), per output of
 * finite max m: each term e = exp(x - m) is off by (3 + 2 |x - m|) ulp (WGSL's exp; an ulp at most
 * 2 u e) plus |x - m| u e (the rounded argument); their sum by (ceil(n / WG) + log2 WG) u of the sum
 * (a thread's walk of every WG-th term, then the workgroup's tree, WG = 256); log by 2^-21
 * absolute in [0.5, 2] and 3 ulp outside it (WGSL); the final + m by an ulp of the result.
 */
function lseRowBound(y: Float32Array, outer: number, n: number, inner: number, want: Float32Array): (i: number) => number {
  const adds = Math.ceil(n / 256) + 8;
  return (i) => {
    const o = Math.floor(i / inner), j = i % inner;
    let m = -Infinity;
    for (let k = 0; k < n; k++) m = Math.max(m, y[(o * n + k) * inner + j]!);
    let sum = 0, err = 0;
    for (let k = 0; k < n; k++) {
      const x = y[(o * n + k) * inner + j]!;
      if (x === -Infinity) continue; // skipped on both
      const d = Math.abs(x - m), e = Math.exp(-d);
      sum += e;
      err += (2 * (3 + 2 * d) + d) * e;
    }
    return U * (adds + err / sum) + 2 ** -21 + 6 * U * Math.abs(Math.log(sum)) + 2 * U * Math.abs(want[i]!);
  };
}

async function reduceDimCases(): Promise<CaseResult[]> {
  const res = new Results();
  let seed = 300;
  for (const [outer, n, inner] of REDUCE_SIZES) {
    const r = rng(seed++);
    // values on a grid of halves (ties), with a NaN and -Infinity here and there
    const x = randn(r, outer * n * inner).map((v) => Math.round(v * 2) / 2);
    for (let i = 0; i < x.length; i++) {
      const u = r();
      if (u < 0.02) x[i] = NaN;
      else if (u < 0.06) x[i] = -Infinity;
    }
    if (inner === 1 && outer === 5) x.fill(-Infinity, 0, n); // a row of only -Infinity
    if (n >= 2000) { // odd rows without NaN, their maximum and minimum repeated (ties across the walk)
      for (let o = 1; o < outer; o += 2) {
        for (let q = 0; q < n * inner; q++) if (Number.isNaN(x[o * n * inner + q]!)) x[o * n * inner + q] = 0.5;
        for (let jj = 0; jj < inner; jj++) {
          x[(o * n + 7) * inner + jj] = 9; x[(o * n + n - 300) * inner + jj] = 9;
          x[(o * n + 300) * inner + jj] = -9; x[(o * n + n - 1) * inner + jj] = -9;
        }
      }
    }
    const name = `[${outer}, ${n}, ${inner}]`;
    const px = place(x, 7);
    for (const op of ["max", "min"] as const) {
      const wv = new Float32Array(outer * inner), wi = new Float32Array(outer * inner);
      jsExtreme(wv, wi, x, outer, n, inner, op);
      const pv = output(outer * inner, 2), pi = output(outer * inner, 5);
      k.extreme(pv.arr, pi.arr, px.arr, outer, n, inner, op);
      const gv = await fetchPlaced(pv), gi = await fetchPlaced(pi);
      res.compare(`${op} values ${name}`, gv.data, wv, () => 1e-37, gv.guards);
      res.compare(`${op} indices ${name}`, gi.data, wi, () => 1e-37, gi.guards);
      const g = randn(r, outer * inner);
      const wdx = new Float32Array(outer * n * inner);
      jsExtremeBackward(wdx, g, wi, outer, n, inner);
      const pg = place(g, 4), pdx = output(outer * n * inner, 6);
      k.extremeBackward(pdx.arr, pg.arr, pi.arr, outer, n, inner);
      const gdx = await fetchPlaced(pdx);
      res.compare(`${op} backward ${name}`, gdx.data, wdx, () => 1e-37, gdx.guards);
    }
    // logsumexp of finite values with -Infinity entries (NaN left out): f32 sums of n terms against float64
    const y = randn(r, outer * n * inner, 3).map((v, i) => (x[i] === -Infinity ? -Infinity : v));
    const want = new Float32Array(outer * inner);
    jsLogsumexp(want, y, outer, n, inner);
    const py = place(y, 3), pl = output(outer * inner, 1);
    k.logsumexp(pl.arr, py.arr, outer, n, inner);
    const gl = await fetchPlaced(pl);
    res.compare(`logsumexp ${name}`, gl.data, want,
      lseRows(outer, n, inner) ? lseRowBound(y, outer, n, inner, want) : (i) => (n + 4) * U * (1 + Math.abs(want[i]!)), gl.guards);
  }
  await logsumexpRowCases(res);
  await topKCases(res);
  return res.list;
}

/**
 * topK against the js kernel, bit for bit (values and indices): rows of values on a grid of halves
 * (ties across threads' walks) with NaN, -Infinity and +Infinity here and there; k from 1 to 32,
 * rows shorter than the workgroup, and rows of a vocabulary's length; k past TOPK_MAX refused.
 */
async function topKCases(res: Results): Promise<void> {
  for (const [rows, n, kk] of [[1, 1, 1], [3, 7, 7], [5, 40, 5], [2, 300, 32], [4, 5000, 8], [1, 257, 2]] as const) {
    const r = rng(450 + n);
    const x = randn(r, rows * n).map((v) => Math.round(v * 2) / 2);
    for (let i = 0; i < x.length; i++) {
      const u = r();
      if (u < 0.02) x[i] = NaN;
      else if (u < 0.05) x[i] = -Infinity;
      else if (u < 0.06) x[i] = Infinity;
    }
    const wv = new Float32Array(rows * kk), wi = new Float32Array(rows * kk);
    jsTopKRows(wv, wi, x, rows, n, kk);
    const px = place(x, 3), pv = output(rows * kk, 2), pi = output(rows * kk, 4);
    k.topK(pv.arr, pi.arr, px.arr, rows, n, kk);
    const gv = await fetchPlaced(pv), gi = await fetchPlaced(pi);
    res.compare(`topK values [${rows}, ${n}], k ${kk}`, gv.data, wv, () => 1e-37, gv.guards);
    res.compare(`topK indices [${rows}, ${n}], k ${kk}`, gi.data, wi, () => 1e-37, gi.guards);
  }
  let refused = false;
  try {
    const px = place(new Float32Array(40), 1), pv = output(33, 1), pi = output(33, 1);
    k.topK(pv.arr, pi.arr, px.arr, 1, 40, 33);
  } catch (e) {
    refused = e instanceof ValueError && /topK: k expected an integer in \[1, 32\]/.test(e.message);
  }
  res.list.push({ name: "topK refuses k past 32", ok: refused, worst: 0, detail: refused ? "ValueError" : "not refused" });
}

/**
 * logsumexp over long rows (a workgroup per output) with the js kernel's special values: rows with
 * -Infinity entries, only -Infinity (-Infinity), a +Infinity (+Infinity), a NaN (NaN), both (NaN),
 * +Infinity and -Infinity (+Infinity), values near 100 (exp overflows unless shifted), one finite
 * value among -Infinity (that value), the max last and first; rows of 3000 and 5000, inner 1 and 3.
 */
async function logsumexpRowCases(res: Results): Promise<void> {
  for (const [outer, n, inner] of [[10, 3000, 1], [2, 5000, 3]] as const) {
    const r = rng(390 + n);
    const y = randn(r, outer * n * inner, 3).map((v) => (r() < 0.05 ? -Infinity : v));
    const set = (o: number, k: number, v: number): void => { for (let j = 0; j < inner; j++) y[(o * n + k) * inner + j] = v; };
    const fill = (o: number, v: number): void => { for (let k = 0; k < n; k++) set(o, k, v); };
    if (outer === 10) {
      fill(1, -Infinity);
      set(2, n - 1, Infinity);
      set(3, 1500, NaN);
      set(4, 10, Infinity); set(4, 2000, NaN);
      set(5, 7, Infinity); set(5, 8, -Infinity);
      for (let k = 0; k < n; k++) y[6 * n + k] = y[6 * n + k]! + 100;
      fill(7, -Infinity); set(7, 1234, 0.75);
      set(8, n - 1, 20);
      set(9, 0, 20);
    } else {
      set(1, n - 1, 30); set(1, 0, -Infinity);
    }
    const want = new Float32Array(outer * inner);
    jsLogsumexp(want, y, outer, n, inner);
    const py = place(y, 5), pl = output(outer * inner, 3);
    k.logsumexp(pl.arr, py.arr, outer, n, inner);
    const gl = await fetchPlaced(pl);
    res.compare(`logsumexp long rows [${outer}, ${n}, ${inner}]: -Infinity rows and entries, +Infinity, NaN, values near 100`,
      gl.data, want, lseRowBound(y, outer, n, inner, want), gl.guards);
  }
}

async function gatherCases(): Promise<CaseResult[]> {
  const res = new Results();
  // outer, n, inner, m, how the indices are drawn, a skipped (padding) row
  type Draw = (r: () => number, n: number, k: number) => number;
  const uniform: Draw = (r, n) => Math.floor(r() * n);
  const cases: [number, number, number, number, Draw, string, number?][] = [
    [1, 5, 4, 7, uniform, ""], [3, 10, 1, 1037, uniform, ""], [2, 1, 33, 5, uniform, ""], [1, 9, 300, 64, uniform, ""],
    [4, 7, 3, 1, uniform, ""],
    [1, 3, 5, 2000, uniform, ", each row picked about 667 times"],
    [2, 6, 7, 500, () => 4, ", every index the same row (row 4)"],
    [3, 4, 64, 8, (_r, _n, k) => k >> 1, ", pairs in order (GQA's kv heads)"],
    [1, 1000, 3, 10, uniform, ", most rows never picked"],
    [1, 100_000, 1, 300, uniform, ", a 100,000-row table, most rows empty"],
    [1, 40, 6, 400, (r, n) => (r() < 0.3 ? 0 : Math.floor(r() * n)), ", padding row 0 skipped (30% of the indices)", 0],
    [2, 12, 5, 90, (r, n, k) => (k % 3 === 0 ? 11 : Math.floor(r() * n)), ", padding row 11 (the last) skipped", 11],
    [1, 50, 4, 0, uniform, ", no indices"],
    // past 65535 workgroups of 256 threads: 70,000 x 240 > 65535 * 256 dx elements
    [1, 70_000, 240, 3000, (r, n) => Math.floor(r() * r() * n), ", past 65535 workgroups, rows picked unevenly"],
  ];
  let seed = 400;
  for (const [outer, n, inner, m, draw, what, skip] of cases) {
    const r = rng(seed++);
    const index = Float32Array.from({ length: m }, (_, i) => draw(r, n, i));
    const name = `[${outer}, ${n}, ${inner}] at ${m} indices${what}`;
    if (n * inner <= 1e5) { // the forward (the largest table is for the backward's grouping)
      const x = randn(r, outer * n * inner);
      const want = new Float32Array(outer * m * inner);
      jsIndexSelect(want, x, index, outer, n, inner, m);
      const px = place(x, 3), pidx = place(index, 6), po = output(outer * m * inner, 2);
      k.indexSelect(po.arr, px.arr, pidx.arr, outer, n, inner, m);
      const got = await fetchPlaced(po);
      res.compare(`indexSelect ${name}`, got.data, want, () => 1e-37, got.guards);
    }
    // backward, some indices -1 (add nowhere) besides the skipped row; the same order of float32 sums: the same bits
    const bIndex = index.map((v) => (r() < 0.1 ? -1 : v));
    const g = randn(r, outer * m * inner);
    const wdx = gatherBackwardByIndex(bIndex, g, outer, n, inner, skip);
    const { order, offsets } = indexGrouping("indexSelect", bIndex, n, skip);
    const jdx = new Float32Array(outer * n * inner);
    jsIndexSelectBackward(jdx, g, order, offsets, outer, n, inner, m);
    res.compare(`js indexSelectBackward over the grouping ${name}`, jdx, wdx, () => 1e-37);
    const pg = place(g, 5), po = place(order, 1), pf = place(offsets, 7), pdx = output(outer * n * inner, 4);
    k.indexSelectBackward(pdx.arr, pg.arr, po.arr, pf.arr, outer, n, inner, m);
    const gdx = await fetchPlaced(pdx);
    res.compare(`indexSelectBackward ${name}`, gdx.data, wdx, () => 1e-37, gdx.guards);
  }
  return res.list;
}

async function dropoutCases(): Promise<CaseResult[]> {
  const res = new Results();
  const r = rng(500);
  const u32 = (): number => Math.floor(r() * 4294967296) >>> 0;
  // values at every scale, signed zeros, infinities, NaN, and products that overflow to Infinity
  const special = [0, -0, 1, -1, Infinity, -Infinity, NaN, 3.3e38, -3.3e38, 1.17549435e-38, 1e-30, 2 ** 24 + 1, 0.1, 1 / 3];
  const cases: [number, number, number][] = [ // n, p, start
    [1, 0.5, 0], [1037, 0.1, 0], [1037, 0.5, 12345], [4099, 0.9, 2 ** 32 - 100], [1037, 1 / 3, 2 ** 33 + 5],
    [2000, 0.37, 7], [1037, 1e-9, 99], [1037, 0.999999, 2 ** 40 + 3],
  ];
  for (const [n, p, start] of cases) {
    const x = randn(r, n).map((v, i) => (i < special.length ? special[i]! : v * 10 ** Math.floor(r() * 20 - 10)));
    const k0 = u32(), k1 = u32();
    const want = new Float32Array(n);
    jsDropout(want, x, n, p, k0, k1, start);
    const px = place(x, 3), po = output(n, 2);
    k.dropout(po.arr, px.arr, n, p, k0, k1, start);
    const got = await fetchPlaced(po);
    res.compare(`dropout n ${n}, p ${p}, start ${start}`, got.data, want, () => 1e-37, got.guards);
    let bits = true;
    const gb = new Uint32Array(got.data.buffer), wb = new Uint32Array(want.buffer);
    for (let i = 0; i < n; i++) if (gb[i] !== wb[i] && !(Number.isNaN(got.data[i]!) && Number.isNaN(want[i]!))) bits = false;
    res.list.push({ name: `dropout n ${n}, p ${p}, start ${start}: the same bits`, ok: bits && got.guards, worst: 0, detail: bits ? "exact" : "bits differ" });
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// pool and recorder: round trips, reuse, many dispatches in one submission

async function poolCases(): Promise<CaseResult[]> {
  const res = new Results();
  const x = randn(rng(7), 1000);
  const a = k.upload(x);
  res.compare("upload then read", await k.read(a), x, () => 1e-37);
  const buf = a.buffer;
  k.release(a);
  const b = k.alloc(700);
  res.list.push({ name: "a released buffer serves the next request of its size class", ok: b.buffer === buf, worst: 0, detail: `size ${buf.size}` });
  // whatever the order they came back in, the free buffers of a class serve in the order they were made
  // (so a training step that takes and gives back the same arrays as the step before gets the same buffers)
  const [p1, p2, p3] = [k.alloc(300), k.alloc(300), k.alloc(300)];
  for (const p of [p3, p1, p2]) k.release(p);
  const [q1, q2, q3] = [k.alloc(300), k.alloc(300), k.alloc(300)];
  res.list.push({ name: "free buffers serve in the order they were made", ok: q1.buffer === p1.buffer && q2.buffer === p2.buffer && q3.buffer === p3.buffer,
    worst: 0, detail: "released 3, 1, 2" });
  for (const q of [q1, q2, q3]) k.release(q);
  // 600 dependent dispatches (more than one submission's worth) recorded before one read
  const y = k.upload(Float32Array.of(0, 1, 2)), one = k.upload(Float32Array.of(1, 1, 1));
  const submissions = k.recorder.submissions;
  for (let i = 0; i < 600; i++) k.binary("add", y, y, one, [3], [1], [1]); // each a dispatch reading y from its output binding
  res.compare("600 dispatches in order", await k.read(y), [600, 601, 602], () => 1e-37);
  // 1200 commands: submitted when 256 are recorded or the parameter arena (128 slots of two) is full, and at the read
  const n = k.recorder.submissions - submissions;
  res.list.push({ name: "work is submitted in batches, not per dispatch", ok: n >= 5 && n <= 11, worst: 0, detail: `${n} submissions` });
  // one bind group for a kernel over the same arrays, its parameters at each dispatch's own arena slot
  const ex = k.upload(Float32Array.of(-1, 0.5)), eo = k.alloc(2), acc = k.upload(Float32Array.of(0, 0));
  const cache = k.recorder.bindGroups;
  k.unary("elu", eo, ex, 2, 1);
  k.binary("add", acc, acc, eo, [2], [1], [1]);
  const made = cache.made, reused = cache.reused;
  k.unary("elu", eo, ex, 2, 2);
  k.binary("add", acc, acc, eo, [2], [1], [1]);
  res.compare("a kept bind group, each dispatch's own parameters", await k.read(acc), [3 * Math.expm1(-1), 1], () => 1e-6);
  res.list.push({ name: "the second dispatch over the same arrays reuses its bind group", ok: cache.made === made && cache.reused > reused, worst: 0,
    detail: `made ${cache.made - made}, reused ${cache.reused - reused}` });
  // a pipeline with the "auto" layout (none derived): a bind group made per dispatch, binding the
  // arena at each dispatch's own slots, nothing kept
  const autoCode = `${header(["out"], ["x"], ["n: u32", "f: f32"])}
${computeMain(64)} {
  let i = groupIndex(wid, nwg) * 64u + t;
  if (i < p.n) { b_out[p.o_out + i] = b_x[p.o_x + i] * p.f; }
}`;
  const device = k.gpu.device;
  const auto = device.createComputePipeline({ layout: "auto", compute: { module: device.createShaderModule({ code: autoCode }), entryPoint: "main" } });
  const ax = k.upload(Float32Array.of(1, 2, 3)), ao1 = k.alloc(3), ao2 = k.alloc(3);
  const madeAuto = cache.made;
  k.dispatch("auto", auto, [ao1], [ax], [3, f32Bits(2)], 1);
  k.dispatch("auto", auto, [ao2], [ax], [3, f32Bits(-0.5)], 1);
  const [g1, g2] = await k.readMany([ao1, ao2]);
  res.compare("a pipeline with the auto layout, two dispatches with their own parameters", Float32Array.from([...g1!, ...g2!]), [2, 4, 6, -0.5, -1, -1.5], () => 1e-37);
  res.list.push({ name: "the auto layout's bind groups are not kept", ok: cache.made === madeAuto, worst: 0, detail: `made ${cache.made - madeAuto}` });
  // write after recorded work lands after it
  const z = k.upload(Float32Array.of(5, 5));
  k.unary("neg", z, z, 2, 0);
  k.write(z, Float32Array.of(7, 8));
  res.compare("a write lands after the work recorded before it", await k.read(z), [7, 8], () => 1e-37);
  // writes go through the recorder's upload area (1 MiB a submission): 100 of 10,000 floats (4 MB)
  // fill it four times, so it is submitted when full, each landing after the work recorded before it
  const before = k.recorder.submissions, ups: GpuArray[] = [];
  for (let i = 0; i < 100; i++) {
    const u = k.alloc(10_000);
    k.write(u, new Float32Array(10_000).fill(i));
    k.unary("neg", u, u, 10_000, 0);
    ups.push(u);
  }
  const back = await k.readMany(ups);
  const okAll = back.every((v, i) => v.every((e) => e === -i));
  const subs = k.recorder.submissions - before;
  res.list.push({ name: "100 writes of 40,000 bytes through the upload area, each before its kernel", ok: okAll && subs >= 4, worst: 0,
    detail: `${okAll ? "all" : "not all"} as written and negated, ${subs} submissions` });
  for (const u of ups) k.release(u);
  // one larger than the area: a staging buffer of its own
  const big = randn(rng(8), 300_000), pbig = k.alloc(300_000);
  k.write(pbig, big);
  res.compare("a write of 1.2 MB, past the upload area", await k.read(pbig), big, () => 1e-37);
  k.release(pbig);
  // an upload into a buffer that no command of the open submission uses is written by the queue at
  // once; into one given back in the open submission (its old contents still to be read by a
  // kernel recorded before), through the upload area, after that kernel. A pool of its own, so
  // that the buffers handed out are known.
  const pool = new BufferPool(k.gpu, k.recorder, () => undefined), copies = k.recorder.copies;
  const u1 = pool.upload(Float32Array.of(1, 2, 3)), v1 = k.alloc(3);
  const newDirect = pool.directWrites === 1 && k.recorder.copies === copies;
  k.unary("neg", v1, u1, 3, 0);
  pool.release(u1);
  const u2 = pool.upload(Float32Array.of(7, 8, 9));
  const viaArea = u2.buffer === u1.buffer && pool.directWrites === 1 && k.recorder.copies === copies + 1;
  const [r1, r2] = await k.readMany([v1, u2]);
  res.compare("an upload into a buffer given back in the open submission lands after the kernel before it", Float32Array.from([...r1!, ...r2!]),
    [-1, -2, -3, 7, 8, 9], () => 1e-37);
  // given back after the submission that used it went: written at once
  pool.release(u2);
  const u3 = pool.upload(Float32Array.of(4, 5, 6));
  const afterFlush = u3.buffer === u1.buffer && pool.directWrites === 2;
  k.unary("neg", v1, u3, 3, 0);
  const [r3, r4] = await k.readMany([v1, u3]);
  res.compare("an upload into a buffer given back after its last submission, read by a kernel", Float32Array.from([...r3!, ...r4!]),
    [-4, -5, -6, 4, 5, 6], () => 1e-37);
  // given back in a submission that then went (a flush): written at once, after that submission's kernel
  k.unary("neg", v1, u3, 3, 0);
  pool.release(u3);
  k.flush();
  const u4 = pool.upload(Float32Array.of(-7, 0.5, 2));
  const afterItsFlush = u4.buffer === u1.buffer && pool.directWrites === 3;
  const [r5, r6] = await k.readMany([v1, u4]);
  res.compare("an upload into a buffer given back in a submission since flushed, after that submission's kernel",
    Float32Array.from([...r5!, ...r6!]), [-4, -5, -6, -7, 0.5, 2], () => 1e-37);
  // a large one straight to a new buffer
  const big2 = randn(rng(9), 300_000), pbig2 = pool.upload(big2);
  const bigDirect = pool.directWrites === 4;
  res.compare("an upload of 1.2 MB into a new buffer, written at once", await k.read(pbig2), big2, () => 1e-37);
  res.list.push({ name: "uploads written at once: into new buffers and buffers given back before the open submission, not others",
    ok: newDirect && viaArea && afterFlush && afterItsFlush && bigDirect, worst: 0,
    detail: `new ${newDirect}, given back in the open submission ${viaArea}, after ${afterFlush}, after its flush ${afterItsFlush}, large ${bigDirect}` });
  // reads keep their staging buffers by size class: the next read of a class reuses one; reads in
  // flight together each take their own
  const rs1 = pool.upload(Float32Array.of(1, 2, 3)), rs2 = pool.upload(Float32Array.of(4, 5)), rsBig = pool.upload(big2.subarray(0, 5000));
  const made0 = pool.readStagingMade;
  const a1 = await pool.read(rs1), a2 = await pool.read(rs2), a3 = await pool.read(rsBig), a4 = await pool.read(rs1);
  const [m1, m2] = await pool.readMany([rs1, rs2]);
  const madeSeq = pool.readStagingMade - made0;
  const [c1, c2] = await Promise.all([pool.read(rs1), pool.read(rs2)]);
  const madeBoth = pool.readStagingMade - made0 - madeSeq;
  res.compare("reads through kept staging buffers: small, smaller, larger, small again, batched, two at once",
    Float32Array.from([...a1, ...a2, ...a3.subarray(0, 3), ...a4, ...m1!, ...m2!, ...c1, ...c2]),
    [1, 2, 3, 4, 5, big2[0]!, big2[1]!, big2[2]!, 1, 2, 3, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5], () => 1e-37);
  res.list.push({ name: "read staging buffers kept: one per size class for reads in turn, another for a read in flight beside one",
    ok: madeSeq === 2 && madeBoth === 1 && a3.length === 5000 && a3.every((v, i) => v === big2[i]), worst: 0,
    detail: `made ${madeSeq} for 5 reads in turn (2 classes), ${madeBoth} more for 2 at once` });
  for (const r of [rs1, rs2, rsBig]) pool.release(r);
  k.release(v1);
  for (const a of [u4, pbig2]) pool.release(a);
  pool.trim();
  await k.finish();
  res.list.push(...await collectedCases());
  return res.list;
}

/**
 * The backend's arrays and the collector: the arrays made since a flush wait two flushes before
 * the registry watches them (those given back first never reach it); one dropped without being
 * given back still returns to the pool once collected.
 */
async function collectedCases(): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  const be = new WebGPUBackend(k);
  const n = 12_345; // a size class of its own here
  let dropped: GpuArray | null = be.alloc(n);
  const buf = dropped.buffer, given = be.alloc(n);
  be.release(given);
  const before = be.unwatched;
  be.flush();
  const afterOne = be.unwatched;
  be.flush();
  const afterTwo = be.unwatched;
  out.push({ name: "arrays wait two flushes before the registry watches them", ok: before === 2 && afterOne === 2 && afterTwo === 0, worst: 0,
    detail: `${before}, ${afterOne} after a flush, ${afterTwo} after two` });
  dropped = null;
  const gc = (globalThis as { gc?: () => void }).gc;
  let back = false;
  for (let i = 0; i < 50 && gc && !back; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
    const a = be.alloc(n);
    back = a.buffer === buf;
    be.release(a);
  }
  out.push({ name: "an array dropped without being given back returns to the pool once collected", ok: back, worst: 0,
    detail: gc ? (back ? "its buffer served again" : "not back after 50 collections") : "gc() is not exposed (--js-flags=--expose-gc)" });
  void dropped;
  return out;
}

// ---------------------------------------------------------------------------------------------
// convolution, pooling and batch norm

/** Conv2dArgs for padding pT / pL on both sides. */
function convArgs(B: number, C: number, H: number, W: number, O: number, kH: number, kW: number, sH: number, sW: number,
  pT: number, pL: number, dH: number, dW: number, G: number): Conv2dArgs {
  const oH = Math.floor((H + 2 * pT - dH * (kH - 1) - 1) / sH) + 1, oW = Math.floor((W + 2 * pL - dW * (kW - 1) - 1) / sW) + 1;
  return { B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop: pT, padLeft: pL, dH, dW, G };
}

async function convCases(): Promise<CaseResult[]> {
  const res = new Results();
  const cases: [string, Conv2dArgs, boolean][] = [
    ["1x1x1x1, 1x1 kernel", convArgs(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1), true],
    ["3x3 pad 1", convArgs(2, 3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), true],
    ["stride [2, 3], padding [0, 2], dilation [2, 1]", convArgs(3, 2, 9, 8, 5, 3, 2, 2, 3, 0, 2, 2, 1, 1), false],
    ["groups 3", convArgs(2, 6, 5, 7, 9, 3, 1, 1, 2, 1, 0, 1, 1, 3), true],
    ["depthwise 5x5, stride 2, padding 2", convArgs(3, 4, 11, 10, 8, 5, 5, 2, 2, 2, 2, 1, 1, 4), true],
    ["patch embedding 4x4 stride 4, 70 output channels", convArgs(2, 3, 12, 16, 70, 4, 4, 4, 4, 0, 0, 1, 1, 1), true],
    ["dilation 3, kernel past the padding", convArgs(1, 2, 13, 5, 3, 2, 2, 1, 1, 3, 1, 3, 2, 1), false],
    // 9 images of 16 x 3 x 3 columns over 64 x 64 positions: more than one chunk of 4M column elements
    ["9 images in two chunks", convArgs(9, 16, 64, 64, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2), true],
  ];
  let seed = 6000;
  for (const [name, a, hasBias] of cases) {
    const r = rng(seed++);
    const L = a.oH * a.oW, Kg = (a.C / a.G) * a.kH * a.kW, Og = a.O / a.G;
    const x = randn(r, a.B * a.C * a.H * a.W), w = randn(r, a.O * Kg), bias = hasBias ? randn(r, a.O) : null;
    const dy = randn(r, a.B * a.O * L);
    const abs = (v: Float32Array): Float32Array => v.map(Math.abs);
    // the js kernels, and the same on absolute values: fp32's summation bound (n + 2) u sum |terms|, both sides
    const want = new Float32Array(a.B * a.O * L), bound = new Float32Array(want.length);
    conv2dForward(want, x, w, bias, a);
    conv2dForward(bound, abs(x), abs(w), bias ? abs(bias) : null, a);
    const dx = new Float32Array(x.length), dxBound = new Float32Array(x.length);
    conv2dBackwardInput(dx, dy, w, a);
    conv2dBackwardInput(dxBound, abs(dy), abs(w), a);
    const dw = new Float32Array(w.length), dwBound = new Float32Array(w.length);
    conv2dBackwardWeight(dw, dy, x, a);
    conv2dBackwardWeight(dwBound, abs(dy), abs(x), a);
    const px = place(x, 3), pw = place(w, 5), pb = bias ? place(bias, 7) : null, pdy = place(dy, 9);
    const po = output(want.length, 2), pdx = output(dx.length, 4), pdw = output(dw.length, 6);
    k.conv2dForward(po.arr, px.arr, pw.arr, pb?.arr ?? null, a);
    k.conv2dBackwardInput(pdx.arr, pdy.arr, pw.arr, a);
    k.conv2dBackwardWeight(pdw.arr, pdy.arr, px.arr, a);
    const tol = (n: number, b: Float32Array) => (i: number): number => 2 * (n + 2) * U * b[i]! + 1e-30;
    const go = await fetchPlaced(po), gdx = await fetchPlaced(pdx), gdw = await fetchPlaced(pdw);
    res.compare(`forward ${name}`, go.data, want, tol(Kg + 1, bound), go.guards);
    res.compare(`dx ${name}`, gdx.data, dx, tol(Og * a.kH * a.kW, dxBound), gdx.guards);
    res.compare(`dweight ${name}`, gdw.data, dw, tol(a.B * L, dwBound), gdw.guards);
  }
  await convSplitCases(res);
  return res.list;
}

/**
 * The weight gradient split over K (forceConvSplitK) against the js kernel, within fp32's bound
 * d u sum |dy x| (first order, d the roundings a product passes through). Split: each product dy x
 * is rounded once, then passes through at most kc additions in its range's GEMM, one per later
 * chunk of images (the partial sums accumulate), S - 1 in the sum of the partials and one into an
 * accumulated gradient: d = kc + chunks + S + 1. js: each image's L products summed (in float64,
 * rounded to float32: at most L + 1), then the images of a chunk (at most B) and the chunks (one
 * each): d = L + B + chunks + 2. With accumulate, u |dw0| for the last addition's rounding of dw0
 * and u |dw0| for rounding want's dw0 + dw. The two-chunk case's inputs have mean 1, so that its
 * sums are large against the bound (a dropped range or chunk of images fails it).
 */
async function convSplitCases(res: Results): Promise<void> {
  const cases: [string, Conv2dArgs, number, boolean, number][] = [
    // name, args, S forced, accumulate, the inputs' mean
    ["groups 3, stride [2, 1], padding [1, 2], dilation [2, 1], 5 ranges of 23 over n L = 112",
      convArgs(2, 6, 9, 11, 6, 3, 2, 2, 1, 1, 2, 2, 1, 3), 5, false, 0],
    ["one range (S = 1)", convArgs(2, 3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1), 1, false, 0],
    ["64 forced over n L = 63: 63 ranges of 1", convArgs(1, 2, 9, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1), 64, false, 0],
    ["6 ranges of 2 over n L = 10: the last all padding", convArgs(1, 2, 2, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2), 6, false, 0],
    ["depthwise 5x5, stride 2, padding 2, 7 ranges of 13 over 90, accumulate", convArgs(3, 4, 11, 10, 8, 5, 5, 2, 2, 2, 2, 1, 1, 4), 7, true, 0],
    ["groups 2, 5 ranges of 29 over 144, accumulate", convArgs(2, 6, 8, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2), 5, true, 0],
    // 3 images of 18 columns over 300 x 300 positions: chunks of 2 images and 1, ranges of 25715 and 12858
    ["7 ranges over two chunks of images", convArgs(3, 2, 300, 300, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2), 7, false, 1],
  ];
  let seed = 6100;
  for (const [name, a, S, acc, mean] of cases) {
    const r = rng(seed++);
    const L = a.oH * a.oW, Kg = (a.C / a.G) * a.kH * a.kW;
    const x = randn(r, a.B * a.C * a.H * a.W, 1, mean), dy = randn(r, a.B * a.O * L, 1, mean);
    const abs = (v: Float32Array): Float32Array => v.map(Math.abs);
    const dw = new Float32Array(a.O * Kg), dwBound = new Float32Array(dw.length);
    conv2dBackwardWeight(dw, dy, x, a);
    conv2dBackwardWeight(dwBound, abs(dy), abs(x), a);
    const dw0 = acc ? randn(r, dw.length) : new Float32Array(dw.length);
    const want = dw.map((v, i) => v + dw0[i]!);
    // as conv.ts chunks the images: at most 4M column elements a chunk
    const nb = Math.max(1, Math.min(a.B, Math.floor((1 << 22) / (Math.max(a.C * a.kH * a.kW, a.O) * L))));
    const chunks = Math.ceil(a.B / nb), ranges = Math.min(S, nb * L), kc = Math.ceil(nb * L / ranges);
    const px = place(x, 3), pdy = place(dy, 9), pdw = acc ? place(dw0, 6) : output(dw.length, 6);
    forceConvSplitK(S);
    try {
      gpuConv2dBackwardWeight(k, pdw.arr, pdy.arr, px.arr, a, acc);
    } finally {
      forceConvSplitK(null);
    }
    const got = await fetchPlaced(pdw);
    const d = kc + chunks + ranges + 1 + (L + a.B + chunks + 2);
    res.compare(`dweight split over K: ${name}`, got.data, want, (i) => d * U * dwBound[i]! + 2 * U * Math.abs(dw0[i]!) + 1e-30, got.guards);
  }
  // the rule: S x tiles reaches 512 workgroups, ranges of at least 256, at most 64
  const rule: [string, [number, number, number, number], number][] = [
    ["64 x 576 over 6272 positions: 9 tiles, 24 ranges of 256+", [1, 64, 576, 6272], 24],
    ["256 x 2304 over 100000: 144 tiles, 3 ranges", [1, 256, 2304, 100000], 3],
    ["8 x 9 over a million: 64 ranges at most", [1, 8, 9, 1 << 20], 64],
    ["K = 511: no split", [1, 8, 9, 511], 1],
    ["257 tiles: no split", [257, 8, 9, 1 << 20], 1],
    ["depthwise, 128 groups of 1 x 9 over 1024: 4 ranges", [128, 1, 9, 1024], 4],
  ];
  for (const [name, args, want] of rule) {
    const got = splitK(...args);
    res.list.push({ name: `splitK: ${name}`, ok: got === want, worst: 0, detail: `${got}` });
  }
}

/** Pool2dArgs with torch's output size (ceilMode: the last window must start inside the input or the left padding). */
function poolArgs(P: number, H: number, W: number, kH: number, kW: number, sH: number, sW: number, padH: number, padW: number,
  dH: number, dW: number, ceil: boolean): Pool2dArgs {
  const size = (n: number, k: number, s: number, p: number, d: number): number => {
    const span = n + 2 * p - d * (k - 1) - 1;
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
  };
  return { P, H, W, oH: size(H, kH, sH, padH, dH), oW: size(W, kW, sW, padW, dW), kH, kW, sH, sW, padH, padW, dH, dW };
}

type AvgPoolKernels<A> = Pick<Backend<A>, "avgPool2d" | "avgPool2dBackward" | "adaptiveAvgPool2d" | "adaptiveAvgPool2dBackward">;

/**
 * An average pooling x [P, H, W] -> out [P, oH, oW] and its backward dy -> dx, as `run` calls them on
 * `be`: by the js kernels and on the device (seeded x, then dy), compared as sums of at most `taps` terms.
 */
async function averagePoolCase(res: Results, kind: string, name: string, r: () => number, a: AdaptivePool2dArgs, taps: number,
  run: <A>(be: AvgPoolKernels<A>, out: A, dx: A, x: A, dy: A) => void): Promise<void> {
  const x = randn(r, a.P * a.H * a.W), n = a.P * a.oH * a.oW;
  const want = new Float32Array(n), dy = randn(r, n), dx = new Float32Array(x.length);
  run(host, want, dx, x, dy);
  const px = place(x, 3), po = output(n, 5), pdy = place(dy, 2), pdx = output(x.length, 1);
  run(k, po.arr, pdx.arr, px.arr, pdy.arr);
  const go = await fetchPlaced(po), gdx = await fetchPlaced(pdx);
  res.close(`${kind} ${name}`, go.data, want, 4 * U, 2 * taps * U, go.guards);
  res.close(`${kind} backward ${name}`, gdx.data, dx, 4 * U, 2 * taps * U, gdx.guards);
}

async function poolingCases(): Promise<CaseResult[]> {
  const res = new Results();
  const maxCases: [string, Pool2dArgs][] = [
    ["1x1", poolArgs(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false)],
    ["3x3 stride 2 pad 1 ceilMode", poolArgs(6, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1, true)],
    ["[2, 3] stride 1 dilation [2, 1]", poolArgs(2, 10, 11, 2, 3, 1, 1, 0, 0, 2, 1, false)],
    ["[3, 2] stride [1, 3] pad [1, 1] dilation [1, 2]", poolArgs(5, 7, 13, 3, 2, 1, 3, 1, 1, 1, 2, true)],
    ["2x2 over 300 planes of 17 x 9", poolArgs(300, 17, 9, 2, 2, 2, 2, 0, 0, 1, 1, true)],
  ];
  let seed = 7000;
  for (const [name, a] of maxCases) {
    const r = rng(seed++);
    const x = randn(r, a.P * a.H * a.W);
    // ties (rounded values), -Infinity and NaN
    for (let i = 0; i < x.length; i++) {
      x[i] = Math.round(x[i]! * 2) / 2;
      if (i % 37 === 5) x[i] = -Infinity;
    }
    if (x.length > 50) x[41] = NaN;
    const n = a.P * a.oH * a.oW;
    const want = new Float32Array(n), argmax = new Float32Array(n);
    host.maxPool2d(want, argmax, x, a);
    const dy = randn(r, n), dx = new Float32Array(x.length);
    host.maxPool2dBackward(dx, dy, argmax, a);
    const px = place(x, 3), po = output(n, 5), pa = output(n, 8);
    k.maxPool2d(po.arr, pa.arr, px.arr, a);
    const pdy = place(dy, 2), pdx = output(x.length, 1);
    k.maxPool2dBackward(pdx.arr, pdy.arr, pa.arr, a);
    const go = await fetchPlaced(po), ga = await fetchPlaced(pa), gdx = await fetchPlaced(pdx);
    res.compare(`max ${name}`, go.data, want, () => 1e-37, go.guards);
    res.compare(`max argmax ${name}`, ga.data, argmax, () => 1e-37, ga.guards);
    // a sum of the few windows' gradients, in the js kernel's order
    res.compare(`max backward ${name}`, gdx.data, dx, (i) => 4 * U * Math.abs(dx[i]!) + 1e-30, gdx.guards);
  }
  const avgCases: [string, AvgPool2dArgs][] = [
    ["3x3 stride 2 pad 1 ceilMode", { ...poolArgs(6, 8, 7, 3, 3, 2, 2, 1, 1, 1, 1, true), countIncludePad: true, divisor: 0 }],
    ["3x3 stride 2 pad 1 ceilMode, no countIncludePad", { ...poolArgs(6, 8, 7, 3, 3, 2, 2, 1, 1, 1, 1, true), countIncludePad: false, divisor: 0 }],
    ["[3, 2] stride [2, 1] pad [1, 1]", { ...poolArgs(3, 7, 9, 3, 2, 2, 1, 1, 1, 1, 1, false), countIncludePad: false, divisor: 0 }],
    ["4x4 stride 3 pad 2, divisor 5", { ...poolArgs(2, 6, 6, 4, 4, 3, 3, 2, 2, 1, 1, true), countIncludePad: true, divisor: 5 }],
    ["1x1 stride 2", { ...poolArgs(4, 5, 5, 1, 1, 2, 2, 0, 0, 1, 1, false), countIncludePad: true, divisor: 0 }],
  ];
  for (const [name, a] of avgCases) {
    // sums of at most kH kW terms of at most max |x| (forward) or max |dy| (backward, each over its divisor >= 1)
    await averagePoolCase(res, "avg", name, rng(seed++), a, a.kH * a.kW + 2, (be, out, dx, x, dy) => {
      be.avgPool2d(out, x, a);
      be.avgPool2dBackward(dx, dy, a);
    });
  }
  const adaptiveCases: [number, number, number, number, number][] = [[2, 7, 10, 3, 4], [3, 3, 4, 5, 4], [4, 6, 5, 1, 1], [1, 13, 1, 13, 1], [2, 5, 9, 2, 7]];
  for (const [P, H, W, oH, oW] of adaptiveCases) {
    const a = { P, H, W, oH, oW };
    const taps = (Math.ceil(H / oH) + 1) * (Math.ceil(W / oW) + 1) + 2;
    await averagePoolCase(res, "adaptive", `[${P}, ${H}, ${W}] -> [${oH}, ${oW}]`, rng(seed++), a, taps, (be, out, dx, x, dy) => {
      be.adaptiveAvgPool2d(out, x, a);
      be.adaptiveAvgPool2dBackward(dx, dy, a);
    });
  }
  return res.list;
}

async function batchNormCases(): Promise<CaseResult[]> {
  const res = new Results();
  const cases: [number, number, number, boolean, boolean, number][] = [
    // B, C, S, weight, bias, shift
    [2, 1, 1, true, true, 0], [3, 4, 10, true, true, 0], [5, 3, 77, false, false, 50], [1, 7, 300, true, false, -3],
    [16, 2, 1025, false, true, 0], [2, 300, 3, true, true, 1],
  ];
  let seed = 8000;
  for (const [B, C, S, hasW, hasB, shift] of cases) {
    const r = rng(seed++);
    const n = B * S, N = B * C * S, eps = 1e-3;
    const x = randn(r, N, 2, shift), w = hasW ? randn(r, C) : null, b = hasB ? randn(r, C) : null, dy = randn(r, N);
    const name = `B ${B}, C ${C}, S ${S}${hasW ? ", weight" : ""}${hasB ? ", bias" : ""}${shift ? `, mean ${shift}` : ""}`;
    // statistics: float64 sums on the host; fp32 tree sums of n terms on the device
    const mean = new Float64Array(C), variance = new Float64Array(C);
    host.batchNormStats(mean, variance, x, B, C, S);
    const pm = output(C, 3), pv = output(C, 4), px = place(x, 5);
    k.batchNormStats(pm.arr, pv.arr, px.arr, B, C, S);
    const gm = await fetchPlaced(pm), gv = await fetchPlaced(pv);
    const sumTol = (16 + n / 128) * U;
    const absMean = new Float64Array(C);
    for (let i = 0; i < N; i++) absMean[Math.floor(i / S) % C]! += Math.abs(x[i]!) / n;
    res.compare(`mean ${name}`, gm.data, mean, (c) => sumTol * absMean[c]! + 1e-30, gm.guards);
    res.compare(`variance ${name}`, gv.data, variance, (c) => 2 * sumTol * variance[c]! + 1e-30, gv.guards);
    // running update
    const rm = randn(r, C), rv = randn(r, C).map(Math.abs), m32 = Float32Array.from(mean), v32 = Float32Array.from(variance);
    const wantRm = Float32Array.from(rm), wantRv = Float32Array.from(rv);
    host.batchNormUpdate(wantRm, wantRv, m32, v32, C, 0.3, n / (n - 1));
    const prm = place(rm, 2), prv = place(rv, 6), pm32 = place(m32, 1), pv32 = place(v32, 9);
    k.batchNormUpdate(prm.arr, prv.arr, pm32.arr, pv32.arr, C, 0.3, n / (n - 1));
    const grm = await fetchPlaced(prm), grv = await fetchPlaced(prv);
    res.close(`running mean ${name}`, grm.data, wantRm, 8 * U, 8 * U, grm.guards);
    res.close(`running var ${name}`, grv.data, wantRv, 8 * U, 8 * U, grv.guards);
    // forward and backward from the same (float32) statistics
    const out = new Float32Array(N);
    host.batchNormForward(out, x, m32, v32, w, b, B, C, S, eps);
    const pw = w ? place(w, 7) : null, pb = b ? place(b, 8) : null, po = output(N, 2);
    k.batchNormForward(po.arr, px.arr, pm32.arr, pv32.arr, pw?.arr ?? null, pb?.arr ?? null, B, C, S, eps);
    const go = await fetchPlaced(po);
    const invstd = Array.from(v32, (v) => 1 / Math.sqrt(v + eps));
    const chan = (i: number): number => Math.floor(i / S) % C;
    const scale = (c: number): number => invstd[c]! * Math.abs(w ? w[c]! : 1);
    res.compare(`forward ${name}`, go.data, out, (i) => {
      const c = chan(i);
      return 16 * U * (Math.abs(x[i]! - m32[c]!) * scale(c) + Math.abs(x[i]!) * scale(c) + Math.abs(b ? b[c]! : 0)) + 1e-30;
    }, go.guards);
    for (const batchStats of [true, false]) {
      const dx = new Float32Array(N), dw = w ? new Float32Array(C) : null, db = b ? new Float32Array(C) : null;
      host.batchNormBackward(dx, dw, db, dy, x, m32, v32, w, B, C, S, eps, batchStats);
      const pdy = place(dy, 3), pdx = output(N, 5), pdw = dw ? output(C, 6) : null, pdb = db ? output(C, 7) : null;
      k.batchNormBackward(pdx.arr, pdw?.arr ?? null, pdb?.arr ?? null, pdy.arr, px.arr, pm32.arr, pv32.arr, pw?.arr ?? null,
        B, C, S, eps, batchStats);
      // S1 = sum |dy| (1 + |xhat|) per channel: the scale of the sums' rounding
      const s1 = new Float64Array(C);
      for (let i = 0; i < N; i++) s1[chan(i)]! += Math.abs(dy[i]!) * (1 + Math.abs((x[i]! - m32[chan(i)]!) * invstd[chan(i)]!));
      const gdx = await fetchPlaced(pdx);
      const tag = `${batchStats ? "batch statistics" : "running statistics"} ${name}`;
      res.compare(`dx ${tag}`, gdx.data, dx, (i) => {
        const c = chan(i), xh = Math.abs((x[i]! - m32[c]!) * invstd[c]!);
        return scale(c) * (16 * U * (Math.abs(dy[i]!) + (batchStats ? 2 * s1[c]! / n * (1 + xh) : 0)) + (batchStats ? sumTol * s1[c]! / n * (1 + xh) * 2 : 0)) + 1e-30;
      }, gdx.guards);
      if (pdw && dw) { const g = await fetchPlaced(pdw); res.compare(`dweight ${tag}`, g.data, dw, (c) => 2 * sumTol * s1[c]! + 1e-30, g.guards); }
      if (pdb && db) { const g = await fetchPlaced(pdb); res.compare(`dbias ${tag}`, g.data, db, (c) => 2 * sumTol * s1[c]! + 1e-30, g.guards); }
    }
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// segment ops: rows grouped CSR-style (a counting sort of the ids, as ops/scatter.ts builds it)

function grouping(id: number[], S: number): { order: Float32Array; offsets: Float32Array; index: Float32Array } {
  const offsets = new Float32Array(S + 1);
  for (const s of id) offsets[s + 1]!++;
  for (let s = 0; s < S; s++) offsets[s + 1]! += offsets[s]!;
  const next = offsets.slice(0, S), order = new Float32Array(id.length);
  id.forEach((s, e) => { order[next[s]!++] = e; });
  return { order, offsets, index: Float32Array.from(id) };
}

async function segmentCases(): Promise<CaseResult[]> {
  const res = new Results();
  const cases: [string, number, number, number][] = [
    // name, E, S, inner (ids drawn at random; some segments empty)
    ["one row", 1, 1, 1], ["10 rows into 6 segments, inner 6", 10, 6, 6], ["1000 rows into 3 segments", 1000, 3, 5],
    ["700 rows into 900 segments, inner 1", 700, 900, 1], ["300 rows into 40 segments, inner 33", 300, 40, 33],
  ];
  let seed = 9000;
  for (const [name, E, S, inner] of cases) {
    const r = rng(seed++);
    const id = Array.from({ length: E }, () => Math.floor(r() * S));
    const g = grouping(id, S);
    const src = randn(r, E * inner, 3), dy = randn(r, E * inner), dOut = randn(r, S * inner);
    const sum = new Float32Array(S * inner), bc = new Float32Array(E * inner), sm = new Float32Array(E * inner), dsm = new Float32Array(E * inner);
    segmentSum(sum, src, g.order, g.offsets, S, inner);
    segmentBroadcast(bc, dOut, g.index, E, inner);
    segmentSoftmax(sm, src, g.order, g.offsets, S, inner);
    segmentSoftmaxBackward(dsm, sm, dy, g.order, g.offsets, S, inner);
    const psrc = place(src, 3), porder = place(g.order, 5), poff = place(g.offsets, 7), pidx = place(g.index, 2);
    const pdOut = place(dOut, 4), pdy = place(dy, 6), psm = place(sm, 8);
    const oSum = output(S * inner, 1), oBc = output(E * inner, 2), oSm = output(E * inner, 3), oDsm = output(E * inner, 4);
    k.segmentSum(oSum.arr, psrc.arr, porder.arr, poff.arr, S, inner);
    k.segmentBroadcast(oBc.arr, pdOut.arr, pidx.arr, E, inner);
    k.segmentSoftmax(oSm.arr, psrc.arr, porder.arr, poff.arr, S, inner);
    k.segmentSoftmaxBackward(oDsm.arr, psm.arr, pdy.arr, porder.arr, poff.arr, S, inner);
    const gs = await fetchPlaced(oSum), gb = await fetchPlaced(oBc), gm = await fetchPlaced(oSm), gd = await fetchPlaced(oDsm);
    const rows = new Float64Array(S);
    for (const s of id) rows[s]!++;
    const absSum = new Float32Array(S * inner);
    segmentSum(absSum, src.map(Math.abs), g.order, g.offsets, S, inner);
    // fp32 sums in row order against float64 ones: (rows + 2) u sum |src|
    res.compare(`segmentSum ${name}`, gs.data, sum, (i) => (rows[Math.floor(i / inner)]! + 2) * U * absSum[i]! + 1e-30, gs.guards);
    res.compare(`segmentBroadcast ${name}`, gb.data, bc, () => 1e-37, gb.guards);
    // WGSL's exp is within 3 + 2 |y| ulp, y = x - max (|y| <= -log(out)); the denominator sums the segment's rows
    const rowsOf = (i: number): number => rows[id[Math.floor(i / inner)]!]!;
    res.compare(`segmentSoftmax ${name}`, gm.data, sm, (i) => (8 + 2 * rowsOf(i) + 4 * Math.abs(Math.log(sm[i]!))) * U * sm[i]! + 1e-30, gm.guards);
    res.close(`segmentSoftmaxBackward ${name}`, gd.data, dsm, 8 * U, 16 * U, gd.guards);
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// errors

async function thrown(name: string, f: () => unknown): Promise<ThrownResult> {
  try {
    await f();
    return { name, error: "none", message: "" };
  } catch (e) {
    const err = e as Error;
    return { name, error: err.name, message: err.message };
  }
}

async function errorCases(): Promise<ThrownResult[]> {
  const out: ThrownResult[] = [];
  out.push(await thrown("compileShader with a syntax error", () => compileShader(k.gpu.device, "broken", "fn main( {\n}")));
  // a pipeline of a broken kernel: the compiler's error comes out of finish()
  const other = await WebGPUKernels.create();
  other.pipeline("brokenKernel", () => "@compute @workgroup_size(1) fn main() { let x: f32 = undefinedThing; }");
  out.push(await thrown("a broken kernel's pipeline, then finish()", () => other.finish()));
  out.push(await thrown("requestAdapter resolving null", () => requestGpuDevice({ requestAdapter: async () => null })));
  out.push(await thrown("no GPU object", () => requestGpuDevice(null)));
  out.push(await thrown("an allocation over maxBufferSize", () => k.alloc(k.gpu.limits.maxBufferSize)));
  const t = k.alloc(4096);
  // the limits are checked before anything is recorded
  const probe = k.pipeline("unary.neg", () => "");
  const recorded = k.recorder.dispatches;
  const maxDim = k.gpu.limits.maxComputeWorkgroupsPerDimension;
  out.push(await thrown("workgroups over the limit", () => k.dispatch("probe", probe, [t], [t], [1, 0], [maxDim + 1, 1, 1])));
  const many = Array.from({ length: k.gpu.limits.maxStorageBuffersPerShaderStage + 1 }, () => k.alloc(4));
  out.push(await thrown("storage bindings over the limit", () => k.dispatch("probe", probe, [], many, [], 1)));
  if (k.recorder.dispatches !== recorded) out.push({ name: "a refused dispatch was recorded", error: "none", message: "" });
  const kept = other.alloc(4);
  other.gpu.device.destroy();
  await other.gpu.device.lost;
  out.push(await thrown("a call after the device is lost", () => other.alloc(4)));
  out.push(await thrown("a kernel after the device is lost", () => other.unary("neg", kept, kept, 4, 0)));
  return out;
}

const FAMILIES: Record<string, () => Promise<CaseResult[]>> = {
  matmul: matmulCases, unary: unaryCases, binary: binaryCases, stridedCopy: copyCases, softmax: softmaxCases,
  layerNorm: layerNormCases, attentionForward: () => attentionCases(false), attentionBackward: () => attentionCases(true),
  pool: poolCases, large: largeCases, conv2d: convCases, pooling: poolingCases, batchNorm: batchNormCases, segment: segmentCases,
  select: selectCases, reduceDim: reduceDimCases, gather: gatherCases, dropout: dropoutCases,
  ...efficientFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() }),
  ...attentionDropoutFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() }),
  ...gemmFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() }),
  ...deviceIndexFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() }),
  ...clipFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() }),
  ...nllFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() }),
};

void startPage("qkvWebgpu", (kernels): PageApi => {
  k = kernels;
  return {
    info: { vendor: k.gpu.vendor, architecture: k.gpu.architecture, ...k.gpu.features },
    families: Object.keys(FAMILIES),
    run: async (family) => {
      const f = FAMILIES[family];
      if (!f) throw new Error(`no family ${family}`);
      const list = await f();
      await k.finish();
      return list;
    },
    errors: errorCases,
  };
});
