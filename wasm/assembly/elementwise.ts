/**
 * Elementwise kernels. Op codes follow the order of UnaryOp / BinaryOp in src/backend/wasm/codes.ts.
 * Cheap ops run on f32x4; transcendental ones (pow and geluErfGrad among the binary ones) in f64,
 * rounded once to f32 like the js kernels.
 * Parts (threads) take 4-aligned ranges of elements (unary) or of rows / columns (binary).
 */
import { partStart, partStartAligned } from "./parts";

// unary codes
const NEG = 0, EXP = 1, LOG = 2, SQRT = 3, RSQRT = 4, TANH = 5, ERF = 6, ABS = 7, RELU = 8, SIGMOID = 9;
const GELU_ERF = 10, GELU_TANH = 11, SIN = 12, COS = 13, SQUARE = 14, RECIPROCAL = 15, SIGN = 16, ELU = 17;
// binary codes
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, POW = 4, MAXIMUM = 5, MINIMUM = 6, GELU_ERF_GRAD = 7, RELU_GRAD = 8;

/** erfc(z) for z >= 0 with relative error < 1.2e-7 (the js kernel's fit, same constants). */
function erfcPositive(z: f64): f64 {
  const t = 1 / (1 + 0.5 * z);
  return t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
}

/** erf with |error| < 1.2e-7 (1 - erfc, as the js kernel). */
function erf(x: f64): f64 {
  const r = erfcPositive(Math.abs(x));
  return x >= 0 ? 1 - r : r - 1;
}

const SQRT_2_OVER_PI: f64 = 0.7978845608028654;
const SQRT1_2: f64 = 0.7071067811865476;
const INV_SQRT_2PI: f64 = 0.3989422804014327;

/**
 * gelu'(x) = Φ(x) + x φ(x), as the js kernel: Φ from erfc on the side where it is small, x φ(x) 0
 * past |x| = 40 (so ±Infinity give the limits 1 and 0).
 */
function geluErfDerivative(x: f64): f64 {
  const c = 0.5 * erfcPositive(Math.abs(x) * SQRT1_2);
  const xphi = Math.abs(x) > 40 ? 0 : x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
  return (x < 0 ? c : 1 - c) + xphi;
}

function unaryScalar(op: i32, x: f64, alpha: f64): f64 {
  switch (op) {
    case NEG: return -x;
    case EXP: return Math.exp(x);
    case LOG: return Math.log(x);
    case SQRT: return Math.sqrt(x);
    case RSQRT: return 1 / Math.sqrt(x);
    case TANH: return Math.tanh(x);
    case ERF: return erf(x);
    case ABS: return Math.abs(x);
    case RELU: return x > 0 ? x : 0;
    case SIGMOID: return 1 / (1 + Math.exp(-x));
    case GELU_ERF: return 0.5 * x * (1 + erf(x * SQRT1_2));
    case GELU_TANH: return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case SIN: return Math.sin(x);
    case COS: return Math.cos(x);
    case SQUARE: return x * x;
    case RECIPROCAL: return 1 / x;
    case SIGN: return x > 0 ? 1 : x < 0 ? -1 : x;
    case ELU: return x > 0 ? x : alpha * (Math.exp(x) - 1);
    default: return NaN;
  }
}

/** The ops with an exact f32x4 form (the f64 result rounded to f32 is the same). */
function unaryVector(op: i32, x: v128): v128 {
  switch (op) {
    case NEG: return f32x4.neg(x);
    case SQRT: return f32x4.sqrt(x);
    case ABS: return f32x4.abs(x);
    case RELU: return v128.and(x, f32x4.gt(x, f32x4.splat(0)));
    case SQUARE: return f32x4.mul(x, x);
    case RECIPROCAL: return f32x4.div(f32x4.splat(1), x);
    default: return x;
  }
}

/** out[i] = op(x[i]) for i in part `part` of [0, n). */
export function unary(op: i32, out: usize, x: usize, n: i32, alpha: f64, part: i32, parts: i32): void {
  const i0 = partStartAligned(n, part, parts, 4);
  unaryRange(op, out + (<usize>i0 << 2), x + (<usize>i0 << 2), partStartAligned(n, part + 1, parts, 4) - i0, alpha);
}

function unaryRange(op: i32, out: usize, x: usize, n: i32, alpha: f64): void {
  let i = 0;
  if (op == NEG || op == SQRT || op == ABS || op == RELU || op == SQUARE || op == RECIPROCAL) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, unaryVector(op, v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, <f32>unaryScalar(op, <f64>load<f32>(x + o), alpha));
  }
}

// @ts-ignore: decorator
@inline function binaryScalar(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV: return a / b;
    case POW: return <f32>Math.pow(<f64>a, <f64>b);
    case MAXIMUM: return a > b || a != a ? a : b;
    case MINIMUM: return a < b || a != a ? a : b;
    case GELU_ERF_GRAD: return <f32>(<f64>a * geluErfDerivative(<f64>b));
    case RELU_GRAD: return b > 0 ? a : 0;
    default: return NaN;
  }
}

// @ts-ignore: decorator
@inline function binaryVector(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    // a where a > b or a is NaN, else b (the js rule, signed zeros included)
    case MAXIMUM: return v128.bitselect(a, b, v128.or(f32x4.gt(a, b), f32x4.ne(a, a)));
    case MINIMUM: return v128.bitselect(a, b, v128.or(f32x4.lt(a, b), f32x4.ne(a, a)));
    // a where b > 0, else +0 (the mask's zero bits)
    case RELU_GRAD: return v128.and(a, f32x4.gt(b, f32x4.splat(0)));
    default: return a;
  }
}

/** out[j] = a[j * sa] (op) b[j * sb] for j < n (strides in elements). */
function binaryRow(op: i32, out: usize, a: usize, sa: i32, b: usize, sb: i32, n: i32): void {
  let j = 0;
  if (op != POW && op != GELU_ERF_GRAD) {
    if (sa == 1 && sb == 1) {
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j << 2;
        v128.store(out + o, binaryVector(op, v128.load(a + o), v128.load(b + o)));
      }
    } else if (sa == 1 && sb == 0) {
      const vb = v128.load32_splat(b);
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j << 2;
        v128.store(out + o, binaryVector(op, v128.load(a + o), vb));
      }
    } else if (sa == 0 && sb == 1) {
      const va = v128.load32_splat(a);
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j << 2;
        v128.store(out + o, binaryVector(op, va, v128.load(b + o)));
      }
    }
  }
  for (; j < n; j++) {
    store<f32>(out + (<usize>j << 2), binaryScalar(op, load<f32>(a + (<usize>(j * sa) << 2)), load<f32>(b + (<usize>(j * sb) << 2))));
  }
}

/**
 * out = a (op) b with broadcasting: shape, aStrides, bStrides are i32 [rank] (element strides per
 * out dim, 0 broadcasts); idx is i32 [parts, rank] scratch; n = prod(shape). Trailing dims that are
 * contiguous in out, a and b alike merge into rows; part `part` takes a share of the rows, or, when
 * there are fewer rows than parts, a 4-aligned share of every row's columns.
 */
export function binary(op: i32, out: usize, a: usize, b: usize, rank: i32, shape: usize, aStrides: usize, bStrides: usize,
  idx: usize, n: i32, part: i32, parts: i32): void {
  if (n == 0) return;
  if (rank == 0) {
    if (part == 0) store<f32>(out, binaryScalar(op, load<f32>(a), load<f32>(b)));
    return;
  }
  // merge trailing dims that are contiguous in out, a and b alike (fewer, longer rows)
  let inner = load<i32>(shape + (<usize>(rank - 1) << 2));
  const sa = load<i32>(aStrides + (<usize>(rank - 1) << 2)), sb = load<i32>(bStrides + (<usize>(rank - 1) << 2));
  let outer = rank - 1;
  while (outer > 0) {
    const d = <usize>(outer - 1) << 2;
    const len = load<i32>(shape + d);
    if (load<i32>(aStrides + d) != sa * inner || load<i32>(bStrides + d) != sb * inner) break;
    inner *= len;
    outer--;
  }
  const rows = n / inner;
  let r0 = 0, r1 = rows, c0 = 0, c1 = inner;
  if (rows >= parts) {
    r0 = partStart(rows, part, parts);
    r1 = partStart(rows, part + 1, parts);
  } else {
    c0 = partStartAligned(inner, part, parts, 4);
    c1 = partStartAligned(inner, part + 1, parts, 4);
  }
  if (r0 >= r1 || c0 >= c1) return;
  // the index of row r0 over the outer dims, and its offsets into a and b
  idx += <usize>(part * rank) << 2;
  let pa = 0, pb = 0, r = r0;
  for (let d = outer - 1; d >= 0; d--) {
    const dd = <usize>d << 2;
    const len = load<i32>(shape + dd);
    const i = r % len;
    r /= len;
    store<i32>(idx + dd, i);
    pa += i * load<i32>(aStrides + dd);
    pb += i * load<i32>(bStrides + dd);
  }
  for (let o = r0; o < r1; o++) {
    binaryRow(op, out + (<usize>(o * inner + c0) << 2), a + (<usize>(pa + c0 * sa) << 2), sa, b + (<usize>(pb + c0 * sb) << 2), sb,
      c1 - c0);
    for (let d = outer - 1; d >= 0; d--) {
      const dd = <usize>d << 2;
      const i = load<i32>(idx + dd) + 1;
      const st = load<i32>(aStrides + dd), sbd = load<i32>(bStrides + dd), len = load<i32>(shape + dd);
      pa += st;
      pb += sbd;
      if (i < len) { store<i32>(idx + dd, i); break; }
      pa -= st * len;
      pb -= sbd * len;
      store<i32>(idx + dd, 0);
    }
  }
}
