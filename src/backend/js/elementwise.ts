/** Reference elementwise kernels: a closed set of unary and binary ops, binary with broadcasting. */
import type { FloatArray } from "../../tensor/dtype.js";
import type { BinaryOp, UnaryOp } from "../backend.js";

/** erfc(z) for z >= 0 with relative error < 1.2e-7 (Numerical Recipes' erfcc, a Chebyshev fit); NaN stays NaN. */
export function erfcPositive(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  return t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
}

/** erf with |error| < 1.2e-7 (1 - erfc), enough for float32. */
export function erf(x: number): number {
  const r = erfcPositive(Math.abs(x));
  return x >= 0 ? 1 - r : r - 1;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * The exact GELU's derivative gelu'(x) = Φ(x) + x φ(x), φ(x) = e^(-x² / 2) / √(2π), computed in
 * float64. Φ(x) = erfc(-x / √2) / 2 is taken from erfc on the side where it is small, so the tail
 * x -> -∞ keeps its relative accuracy (1 + erf(x / √2) would cancel there): relative error below
 * 1.2e-7 in Φ (the erfc fit's), a few float64 ulp in x φ(x). x φ(x) is 0 past |x| = 40, where it
 * is below float64's smallest subnormal, which makes ±Infinity give the limits 1 and 0 (not
 * Infinity · 0); NaN stays NaN.
 */
export function geluErfDerivative(x: number): number {
  const c = 0.5 * erfcPositive(Math.abs(x) * Math.SQRT1_2); // Φ(-|x|)
  const xphi = Math.abs(x) > 40 ? 0 : x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
  return (x < 0 ? c : 1 - c) + xphi;
}

export function unaryScalar(op: UnaryOp, x: number, alpha: number): number {
  switch (op) {
    case "neg": return -x;
    case "exp": return Math.exp(x);
    case "log": return Math.log(x);
    case "sqrt": return Math.sqrt(x);
    case "rsqrt": return 1 / Math.sqrt(x);
    case "tanh": return Math.tanh(x);
    case "erf": return erf(x);
    case "abs": return Math.abs(x);
    case "relu": return x > 0 ? x : 0;
    case "sigmoid": return 1 / (1 + Math.exp(-x));
    case "geluErf": return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
    case "geluTanh": return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case "sin": return Math.sin(x);
    case "cos": return Math.cos(x);
    case "square": return x * x;
    case "reciprocal": return 1 / x;
    case "sign": return x > 0 ? 1 : x < 0 ? -1 : x;
    case "elu": return x > 0 ? x : alpha * (Math.exp(x) - 1);
  }
}

export function unary(op: UnaryOp, out: FloatArray, x: FloatArray, n: number, alpha: number): void {
  switch (op) {
    case "relu": for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? v : 0; } return;
    case "exp": for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); return;
    case "neg": for (let i = 0; i < n; i++) out[i] = -x[i]!; return;
    default: for (let i = 0; i < n; i++) out[i] = unaryScalar(op, x[i]!, alpha);
  }
}

function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    case "mul": return (a, b) => a * b;
    case "div": return (a, b) => a / b;
    case "pow": return (a, b) => Math.pow(a, b);
    case "maximum": return (a, b) => (a > b || Number.isNaN(a) ? a : b);
    case "minimum": return (a, b) => (a < b || Number.isNaN(a) ? a : b);
    case "geluErfGrad": return (a, b) => a * geluErfDerivative(b);
    case "reluGrad": return (a, b) => (b > 0 ? a : 0);
  }
}

export function binary(op: BinaryOp, out: FloatArray, a: FloatArray, b: FloatArray,
  outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  binaryWith(binaryFn(op), out.length, out, a, b, outShape, aStrides, bStrides, op);
}

/**
 * out[i] = f(a, b) for the first n elements of out [outShape], a and b read at their strides per out
 * dim (0 broadcasts): the walk of `binary`, for any function of two numbers (the comparisons use
 * it); `op` names a BinaryOp with an inlined loop for the same-layout case.
 */
export function binaryWith(f: (x: number, y: number) => number, n: number, out: FloatArray, a: FloatArray, b: FloatArray,
  outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[], op?: BinaryOp): void {
  const rank = outShape.length;
  // fast paths: same layout, or a scalar operand
  let aFull = true, bFull = true, aScalar = true, bScalar = true;
  let acc = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (aStrides[d] !== acc && outShape[d] !== 1) aFull = false;
    if (bStrides[d] !== acc && outShape[d] !== 1) bFull = false;
    if (aStrides[d] !== 0 && outShape[d] !== 1) aScalar = false;
    if (bStrides[d] !== 0 && outShape[d] !== 1) bScalar = false;
    acc *= outShape[d]!;
  }
  if (op === "add" && aFull && bFull) { for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!; return; }
  if (op === "mul" && aFull && bFull) { for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!; return; }
  if (aFull && bFull) { for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!); return; }
  if (aFull && bScalar) { const s = b[0]!; for (let i = 0; i < n; i++) out[i] = f(a[i]!, s); return; }
  if (aScalar && bFull) { const s = a[0]!; for (let i = 0; i < n; i++) out[i] = f(s, b[i]!); return; }
  if (n === 0) return;
  // general: walk the output with a counter, innermost dim in a tight loop
  const inner = rank > 0 ? outShape[rank - 1]! : 1;
  const sa = rank > 0 ? aStrides[rank - 1]! : 0, sb = rank > 0 ? bStrides[rank - 1]! : 0;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let pa = 0, pb = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = f(a[pa + j * sa]!, b[pb + j * sb]!);
    // increment the outer counter
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      pa += aStrides[d]!;
      pb += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      pa -= aStrides[d]! * outShape[d]!;
      pb -= bStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}
