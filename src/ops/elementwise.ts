/**
 * Elementwise ops with NumPy broadcasting: arithmetic, math functions, activations, comparisons,
 * where and maskedFill. Each op's backward is recorded right beside its forward.
 *
 * ```ts
 * const y = add(mul(x, 2), 1);            // 2x + 1
 * const g = gelu(x, "tanh");
 * const m = maskedFill(scores, mask, -Infinity);
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { AnyBackend, BinaryOp, CompareOp, KernelArray, UnaryOp } from "../backend/backend.js";
import { geluErfDerivative } from "../backend/js/elementwise.js";
import type { DeviceArray, DeviceStore } from "../tensor/device.js";
import { isFloat, promote } from "../tensor/dtype.js";
import { DTypeError, DeviceOpError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { broadcastShapes, broadcastStrides, broadcastsTo, numel } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { arrayOf, backendFor, backendOf, empty, emptyOn, fdata, filledArray, floatOf, kernelsFor, scalar, sumToShape } from "./util.js";

export type TensorLike = Tensor | number;

function toTensor(x: TensorLike, like: Tensor | null, arg: string, op: string): Tensor {
  if (typeof x === "number") return scalar(x, like && isFloat(like.dtype) ? like.dtype : "float32");
  expectTensor(x, arg, op);
  return x;
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, name: string): Tensor {
  const outShape = broadcastShapes(a.shape, b.shape, name);
  const dtype = promote(a.dtype, b.dtype);
  if (!isFloat(dtype)) throw new DTypeError(name, "a", "float tensors", `${a.dtype} and ${b.dtype}`);
  if (a.dtype !== dtype || b.dtype !== dtype) {
    throw new DTypeError(name, a.dtype !== dtype ? "a" : "b", dtype, a.dtype !== dtype ? a.dtype : b.dtype);
  }
  const be = kernelsFor(dtype);
  const out = emptyOn(be, outShape, dtype);
  be.binary(op, arrayOf(out, be), arrayOf(a, be), arrayOf(b, be), outShape, broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape));
  return out;
}

function binaryArgs(a: TensorLike, b: TensorLike, op: string): [Tensor, Tensor] {
  const ta = toTensor(a, typeof b === "number" ? null : b, "a", op);
  const tb = toTensor(b, ta, "b", op);
  return [typeof a === "number" ? toTensor(a, tb, "a", op) : ta, tb];
}

/** a + b (broadcast). */
export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "add");
  return attach(binaryRaw("add", x, y, "add"), "add", [x, y], (g) => [sumToShape(g, x.shape), sumToShape(g, y.shape)]);
}

/** a - b (broadcast). */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "sub");
  return attach(binaryRaw("sub", x, y, "sub"), "sub", [x, y], (g) => [sumToShape(g, x.shape), y.requiresGrad ? sumToShape(neg(g), y.shape) : null]);
}

/** a * b (broadcast). */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "mul");
  return attach(binaryRaw("mul", x, y, "mul"), "mul", [x, y], (g) => [
    x.requiresGrad ? sumToShape(binaryRaw("mul", g, y, "mul"), x.shape) : null,
    y.requiresGrad ? sumToShape(binaryRaw("mul", g, x, "mul"), y.shape) : null,
  ]);
}

/** a / b (broadcast). */
export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "div");
  const out = binaryRaw("div", x, y, "div");
  return attach(out, "div", [x, y], (g) => [
    x.requiresGrad ? sumToShape(binaryRaw("div", g, y, "div"), x.shape) : null,
    // d(a/b)/db = -(a/b)/b
    y.requiresGrad ? sumToShape(neg(binaryRaw("div", binaryRaw("mul", g, out, "div"), y, "div")), y.shape) : null,
  ]);
}

/** a ** b (broadcast). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "pow");
  const out = binaryRaw("pow", x, y, "pow");
  return attach(out, "pow", [x, y], (g) => [
    // b * a^(b-1)
    x.requiresGrad ? sumToShape(mul(g, mul(y, binaryRaw("pow", x, sub(y, 1), "pow"))), x.shape) : null,
    // a^b * log(a)
    y.requiresGrad ? sumToShape(mul(g, mul(out, unaryRaw("log", x))), y.shape) : null,
  ]);
}

/** Elementwise maximum; the gradient goes to a where a >= b. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "maximum");
  return attach(binaryRaw("maximum", x, y, "maximum"), "maximum", [x, y], (g) => {
    const pick = compare("ge", x, y, "maximum");
    return [sumToShape(where(pick, g, 0), x.shape), sumToShape(where(pick, 0, g), y.shape)];
  });
}

/** Elementwise minimum; the gradient goes to a where a <= b. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryArgs(a, b, "minimum");
  return attach(binaryRaw("minimum", x, y, "minimum"), "minimum", [x, y], (g) => {
    const pick = compare("le", x, y, "minimum");
    return [sumToShape(where(pick, g, 0), x.shape), sumToShape(where(pick, 0, g), y.shape)];
  });
}

function unaryRaw(op: UnaryOp, x: Tensor, alpha = 1, name: string = op): Tensor {
  expectTensor(x, "x", name);
  const dtype = floatOf(x, "x", name);
  const be = kernelsFor(dtype);
  const out = emptyOn(be, x.shape, dtype);
  be.unary(op, arrayOf(out, be), arrayOf(x, be), x.size, alpha);
  return out;
}

/** d op(x) / dx as a function of x and y = op(x). */
function derivative(op: UnaryOp, x: number, y: number, alpha: number): number {
  switch (op) {
    case "neg": return -1;
    case "exp": return y;
    case "log": return 1 / x;
    case "sqrt": return 0.5 / y;
    case "rsqrt": return -0.5 * y * y * y;
    case "tanh": return 1 - y * y;
    case "erf": return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
    case "abs": return x > 0 ? 1 : x < 0 ? -1 : 0;
    case "relu": return x > 0 ? 1 : 0;
    case "sigmoid": return y * (1 - y);
    case "geluErf": return geluErfDerivative(x);
    case "geluTanh": {
      const c = Math.sqrt(2 / Math.PI);
      const u = c * (x + 0.044715 * x * x * x);
      const t = Math.tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
    }
    case "sin": return Math.cos(x);
    case "cos": return -Math.sin(x);
    case "square": return 2 * x;
    case "reciprocal": return -y * y;
    case "sign": return 0;
    case "elu": return x > 0 ? 1 : y + alpha;
  }
}

/**
 * d = g gelu'(x), gelu'(x) = Φ(x) + x φ(x) = 0.5 (1 + erf(x / √2)) + x e^(-x² / 2) / √(2π), in one
 * backend pass (the fused kernel is PyTorch's gelu_backward).   d, g, x [n]
 */
function geluErfBackward(be: AnyBackend, d: KernelArray, g: KernelArray, x: KernelArray, n: number): void {
  be.binary("geluErfGrad", d, g, x, [n], [1], [1]);
}

/** d = g σ'(x) = g y (1 - y) for sigmoid, d = g tanh'(x) = g (1 - y²) for tanh, from y, in backend kernels. */
function squashBackward(be: AnyBackend, op: "sigmoid" | "tanh", d: KernelArray, g: KernelArray, y: KernelArray, n: number): void {
  const flat = [n], one = [1], bcast = [0];
  const c1 = filledArray(be, d instanceof Float64Array ? "float64" : "float32", 1, 1);
  if (op === "sigmoid") {
    be.binary("sub", d, c1, y, flat, bcast, one); // d = 1 - y
    be.binary("mul", d, d, y, flat, one, one); // d = y (1 - y)
  } else {
    be.binary("mul", d, y, y, flat, one, one);
    be.binary("sub", d, c1, d, flat, bcast, one); // d = 1 - y²
  }
  be.binary("mul", d, d, g, flat, one, one);
}

/**
 * d = g op'(x) on a device, from x and y = op(x) with elementwise kernels (the host computes
 * `derivative` in a loop): log' = 1 / x, sqrt' = 0.5 / y, rsqrt' = -0.5 y³, erf' = 2 / √π e^(-x²),
 * abs' = sign(x), sin' = cos(x), cos' = -sin(x), square' = 2x, reciprocal' = -y², sign' = 0,
 * elu' = s + (1 - s)(y + alpha) with s = sign(relu(x)), and the tanh GELU's
 * 0.5 (1 + t) + 0.5 x (1 - t²) c (1 + 3k x²), t = tanh(c (x + k x³)).   d, g, x, y [n]
 */
function derivativeOnDevice(be: AnyBackend, op: UnaryOp, d: KernelArray, g: KernelArray, x: KernelArray, y: KernelArray,
  n: number, alpha: number, name: string): void {
  const flat = [n], one = [1], bcast = [0];
  const c = (v: number): KernelArray => filledArray(be, "float32", 1, v);
  const mul = (out: KernelArray, a: KernelArray, b: KernelArray): void => be.binary("mul", out, a, b, flat, one, one);
  const scale = (out: KernelArray, a: KernelArray, v: number): void => be.binary("mul", out, a, c(v), flat, one, bcast);
  const shift = (out: KernelArray, a: KernelArray, v: number): void => be.binary("add", out, a, c(v), flat, one, bcast);
  const oneMinus = (out: KernelArray, a: KernelArray): void => be.binary("sub", out, c(1), a, flat, bcast, one);
  switch (op) {
    case "log": be.binary("div", d, g, x, flat, one, one); return;
    case "sqrt": be.binary("div", d, g, y, flat, one, one); scale(d, d, 0.5); return;
    case "rsqrt": mul(d, y, y); mul(d, d, y); scale(d, d, -0.5); mul(d, d, g); return;
    case "erf": mul(d, x, x); be.unary("neg", d, d, n, 1); be.unary("exp", d, d, n, 1); scale(d, d, 2 / Math.sqrt(Math.PI)); mul(d, d, g); return;
    case "abs": be.unary("sign", d, x, n, 1); mul(d, d, g); return;
    case "sin": be.unary("cos", d, x, n, 1); mul(d, d, g); return;
    case "cos": be.unary("sin", d, x, n, 1); be.unary("neg", d, d, n, 1); mul(d, d, g); return;
    case "square": scale(d, x, 2); mul(d, d, g); return;
    case "reciprocal": mul(d, y, y); be.unary("neg", d, d, n, 1); mul(d, d, g); return;
    case "sign": scale(d, g, 0); return;
    case "elu": {
      const s = be.alloc(n), u = be.alloc(n);
      be.unary("relu", s, x, n, 1);
      be.unary("sign", s, s, n, 1); // s = 1 where x > 0, else 0
      shift(d, y, alpha);
      oneMinus(u, s);
      mul(d, d, u);
      be.binary("add", d, d, s, flat, one, one);
      mul(d, d, g);
      release(be, s, u);
      return;
    }
    case "geluTanh": {
      const k = 0.044715, cc = Math.sqrt(2 / Math.PI);
      const x2 = be.alloc(n), t = be.alloc(n), b = be.alloc(n);
      mul(x2, x, x);
      scale(t, x2, k); shift(t, t, 1); mul(t, t, x); scale(t, t, cc); // c (x + k x³)
      be.unary("tanh", t, t, n, 1);
      mul(b, t, t); oneMinus(b, b); // 1 - t²
      scale(x2, x2, 3 * k); shift(x2, x2, 1); scale(x2, x2, cc); // c (1 + 3k x²)
      mul(b, b, x2); mul(b, b, x); scale(b, b, 0.5);
      shift(d, t, 1); scale(d, d, 0.5); // 0.5 (1 + t)
      be.binary("add", d, d, b, flat, one, one);
      mul(d, d, g);
      release(be, x2, t, b);
      return;
    }
    default: throw new DeviceOpError(`backward(${name})`, "x", be.name, `the derivative of ${op} runs on the host`);
  }
}

/** Gives scratch arrays of a device backend back to its pool (the kernels recorded before still see them). */
function release(be: AnyBackend, ...arrays: KernelArray[]): void {
  for (const a of arrays) (be as unknown as DeviceStore).release(a as DeviceArray);
}

function unaryOp(op: UnaryOp, x: Tensor, alpha = 1, name: string = op): Tensor {
  const out = unaryRaw(op, x, alpha, name);
  return attach(out, name, [x], (g) => {
    const be = kernelsFor(g.dtype);
    const dx = emptyOn(be, x.shape, g.dtype); // every branch below writes all of it
    const n = dx.size, flat = [n], one = [1];
    const d = arrayOf(dx, be), gd = arrayOf(g, be);
    const xd = (): KernelArray => arrayOf(x, be), yd = (): KernelArray => arrayOf(out, be);
    // the common derivatives as backend kernels on y: relu' = [y > 0] (one kernel), exp' = y, neg' = -1
    if (op === "relu") be.binary("reluGrad", d, gd, yd(), flat, one, one);
    else if (op === "exp") be.binary("mul", d, gd, yd(), flat, one, one);
    else if (op === "neg") be.unary("neg", d, gd, n, 1);
    else if (op === "geluErf") geluErfBackward(be, d, gd, xd(), n);
    else if (op === "sigmoid" || op === "tanh") squashBackward(be, op, d, gd, yd(), n);
    else if (be.kind === "device") derivativeOnDevice(be, op, d, gd, xd(), yd(), n, alpha, name);
    else {
      const dh = fdata(dx), xh = fdata(x), yh = fdata(out), gh = fdata(g);
      for (let i = 0; i < n; i++) dh[i] = gh[i]! * derivative(op, xh[i]!, yh[i]!, alpha);
    }
    return [dx];
  });
}

export const neg = (x: Tensor): Tensor => unaryOp("neg", x);
export const exp = (x: Tensor): Tensor => unaryOp("exp", x);
export const log = (x: Tensor): Tensor => unaryOp("log", x);
export const sqrt = (x: Tensor): Tensor => unaryOp("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unaryOp("rsqrt", x);
export const tanh = (x: Tensor): Tensor => unaryOp("tanh", x);
export const erfOp = (x: Tensor): Tensor => unaryOp("erf", x);
export const abs = (x: Tensor): Tensor => unaryOp("abs", x);
export const relu = (x: Tensor): Tensor => unaryOp("relu", x);
export const sigmoid = (x: Tensor): Tensor => unaryOp("sigmoid", x);
export const sin = (x: Tensor): Tensor => unaryOp("sin", x);
export const cos = (x: Tensor): Tensor => unaryOp("cos", x);
export const square = (x: Tensor): Tensor => unaryOp("square", x);
export const reciprocal = (x: Tensor): Tensor => unaryOp("reciprocal", x);
export const sign = (x: Tensor): Tensor => unaryOp("sign", x);
/** elu(x) = x for x > 0, alpha (e^x - 1) otherwise. */
export const elu = (x: Tensor, alpha = 1): Tensor => unaryOp("elu", x, alpha);

/** GELU: "none" is x Φ(x) with the exact erf, "tanh" the tanh approximation (as PyTorch's `approximate`). */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate !== "none" && approximate !== "tanh") throw new ValueError("gelu", "approximate", '"none" or "tanh"', JSON.stringify(approximate));
  return unaryOp(approximate === "none" ? "geluErf" : "geluTanh", x, 1, "gelu");
}

export type { CompareOp } from "../backend/backend.js";

/** Elementwise comparison, giving a bool tensor (no gradient). */
export function compare(op: CompareOp, a: TensorLike, b: TensorLike, name: string = op): Tensor {
  const [x, y] = binaryArgs(a, b, name);
  const outShape = broadcastShapes(x.shape, y.shape, name);
  const dev = x.device !== null ? x : y.device !== null ? y : null;
  if (dev !== null) return compareOnDevice(backendOf(dev), op, x, y, outShape);
  const out = empty(outShape, "bool");
  const sa = broadcastStrides(x.shape, outShape), sb = broadcastStrides(y.shape, outShape);
  // index walk shared with the backend's binary kernel: compute a - b style index pairs
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  let pa = 0, pb = 0;
  const xd = x.data, yd = y.data, od = out.data;
  for (let i = 0; i < od.length; i++) {
    const u = Number(xd[pa]), v = Number(yd[pb]);
    od[i] = (op === "eq" ? u === v : op === "ne" ? u !== v : op === "lt" ? u < v : op === "le" ? u <= v : op === "gt" ? u > v : u >= v) ? 1 : 0;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      pa += sa[d]!;
      pb += sb[d]!;
      if (idx[d]! < outShape[d]!) break;
      pa -= sa[d]! * outShape[d]!;
      pb -= sb[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
/**
 * A comparison on a device: a bool tensor there whose array holds 0 / 1 as floats (`where` and
 * `maskedFill` take it as a condition; `await t.read()` gives its Uint8Array). Operands that are
 * not float32 (integers, bools) are compared as their float32 values.
 */
function compareOnDevice(be: AnyBackend, op: CompareOp, x: Tensor, y: Tensor, shape: readonly number[]): Tensor {
  const on = (t: Tensor): KernelArray => {
    if (t.device !== null) return arrayOf(t, be);
    return be.upload(t.dtype === "float32" ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>, Number));
  };
  const arr = be.alloc(numel(shape));
  be.compare(op, arr, on(x), on(y), shape, broadcastStrides(x.shape, shape), broadcastStrides(y.shape, shape));
  return new Tensor(null, shape, "bool", arr as DeviceArray, be as unknown as DeviceStore);
}

export const eq = (a: TensorLike, b: TensorLike): Tensor => compare("eq", a, b);
export const ne = (a: TensorLike, b: TensorLike): Tensor => compare("ne", a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => compare("lt", a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => compare("le", a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => compare("gt", a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => compare("ge", a, b);

/** Logical not of a bool tensor. */
export function logicalNot(x: Tensor): Tensor {
  if (x.dtype !== "bool") throw new DTypeError("logicalNot", "x", "bool", x.dtype);
  if (x.device !== null) return compareOnDevice(backendOf(x), "eq", x, scalar(0, "float32"), x.shape); // 0 / 1 floats
  const out = empty(x.shape, "bool");
  for (let i = 0; i < x.size; i++) out.data[i] = x.data[i] ? 0 : 1;
  return out;
}

/** Logical or of bool tensors (broadcast). */
export function logicalOr(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== "bool") throw new DTypeError("logicalOr", "a", "bool", a.dtype);
  if (b.dtype !== "bool") throw new DTypeError("logicalOr", "b", "bool", b.dtype);
  const shape = broadcastShapes(a.shape, b.shape, "logicalOr");
  const dev = a.device !== null ? a : b.device !== null ? b : null;
  if (dev !== null) {
    // 0 / 1 floats on the device: a or b is their maximum, a bool there again
    const be = backendOf(dev), on = (t: Tensor): KernelArray => (t.device !== null ? arrayOf(t, be) : be.upload(Float32Array.from(t.data as Uint8Array)));
    const arr = be.alloc(numel(shape));
    be.binary("maximum", arr, on(a), on(b), shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
    return new Tensor(null, shape, "bool", arr as DeviceArray, be as unknown as DeviceStore);
  }
  const out = empty(shape, "bool");
  const fa = broadcastFloat(a, shape), fb = broadcastFloat(b, shape);
  for (let i = 0; i < out.size; i++) out.data[i] = fa[i] || fb[i] ? 1 : 0;
  return out;
}

/** The values of `t` (any dtype) broadcast to `shape`, as a plain array of numbers. */
function broadcastFloat(t: Tensor, shape: readonly number[]): Float64Array {
  const f = new Float64Array(t.size);
  for (let i = 0; i < t.size; i++) f[i] = Number(t.data[i]);
  const src = new Tensor(f, t.shape, "float64");
  const out = empty(shape, "float64");
  backendFor("float64").binary("add", fdata(out), fdata(src), new Float64Array(1), shape, broadcastStrides(t.shape, shape), shape.map(() => 0));
  return fdata(out) as Float64Array;
}

/** cond ? a : b, elementwise with broadcasting; cond is bool. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  expectTensor(cond, "cond", "where");
  if (cond.dtype !== "bool" && cond.device === null) throw new DTypeError("where", "cond", "bool", cond.dtype);
  const [x, y] = binaryArgs(a, b, "where");
  const shape = broadcastShapes(broadcastShapes(cond.shape, x.shape, "where", "cond", "a"), y.shape, "where", "a", "b");
  const dtype = promote(x.dtype, y.dtype);
  if (!isFloat(dtype) || x.dtype !== y.dtype) throw new DTypeError("where", "b", `the float dtype of a (${x.dtype})`, y.dtype);
  const dev = x.device !== null ? x : y.device !== null ? y : cond.device !== null ? cond : null;
  if (dev !== null) return whereOnDevice(backendOf(dev), cond, x, y, shape);
  const c = broadcastFloat(cond, shape), xa = broadcastFloat(x, shape), ya = broadcastFloat(y, shape);
  const out = empty(shape, dtype);
  const od = fdata(out);
  for (let i = 0; i < od.length; i++) od[i] = c[i] ? xa[i]! : ya[i]!;
  return attach(out, "where", [x, y], (g) => {
    const gd = fdata(g);
    const ga = empty(shape, g.dtype), gb = empty(shape, g.dtype);
    const da = fdata(ga), db = fdata(gb);
    for (let i = 0; i < gd.length; i++) {
      if (c[i]) da[i] = gd[i]!;
      else db[i] = gd[i]!;
    }
    return [sumToShape(ga, x.shape), sumToShape(gb, y.shape)];
  });
}

/** x with `value` where `mask` is true (mask broadcasts to x's shape); masked entries get zero gradient. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  expectTensor(x, "x", "maskedFill");
  expectTensor(mask, "mask", "maskedFill");
  floatOf(x, "x", "maskedFill");
  if (mask.dtype !== "bool" && mask.device === null) throw new DTypeError("maskedFill", "mask", "bool", mask.dtype);
  if (!broadcastsTo(mask.shape, x.shape)) {
    throw new ShapeError("maskedFill", "mask", `a shape broadcastable to ${fmtShape(x.shape)}`, fmtShape(mask.shape));
  }
  if (x.device !== null || mask.device !== null) {
    const be = backendOf(x.device !== null ? x : mask);
    return whereOnDevice(be, mask, scalar(value, x.dtype), x, x.shape, "maskedFill");
  }
  const m = broadcastFloat(mask, x.shape);
  const out = x.clone();
  const od = fdata(out);
  for (let i = 0; i < od.length; i++) if (m[i]) od[i] = value;
  return attach(out, "maskedFill", [x], (g) => {
    const dx = g.clone();
    const d = fdata(dx);
    for (let i = 0; i < d.length; i++) if (m[i]) d[i] = 0;
    return [dx];
  });
}

/**
 * where (and maskedFill, as where(mask, value, x)) on a device: a bool cond is uploaded as float
 * 0 / 1 (a float32 cond already on the device is taken as it is: 0 false, else true), then one
 * select kernel; the gradients are the same selects of g against 0, summed back to a and b's
 * shapes. out [shape]
 */
function whereOnDevice(be: AnyBackend, cond: Tensor, x: Tensor, y: Tensor, shape: readonly number[], name = "where"): Tensor {
  if (x.dtype !== "float32") throw new DTypeError(name, name === "where" ? "a" : "x", `float32 on the ${be.name} device`, x.dtype);
  const c = cond.device !== null ? arrayOf(cond, be) : be.upload(Float32Array.from(cond.data as ArrayLike<number>, Number));
  const cs = broadcastStrides(cond.shape, shape);
  const select = (a: Tensor, b: Tensor): Tensor => {
    const out = emptyOn(be, shape, "float32");
    be.where(arrayOf(out, be), c, arrayOf(a, be), arrayOf(b, be), shape, cs, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
    return out;
  };
  const out = select(x, y);
  return attach(out, name, [x, y], (g) => {
    const zero = scalar(0, "float32");
    return [
      x.requiresGrad ? sumToShape(select(g, zero), x.shape) : null,
      y.requiresGrad ? sumToShape(select(zero, g), y.shape) : null,
    ];
  });
}
