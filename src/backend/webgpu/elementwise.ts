/**
 * Elementwise kernels on the device: `fill`, `unary` over n elements (one pipeline per UnaryOp) and
 * `binary` with broadcasting through strides (one pipeline per BinaryOp; the shape walk of
 * copy.ts, any rank). Semantics as Backend.unary / Backend.binary in fp32.
 *
 * WGSL's builtins are not accurate enough everywhere (sin and cos are only 2^-11 absolute; tanh
 * may be sinh / cosh, NaN past 89), so tanh, erf, sin, cos and expm1 are written out here:
 * erf by its Maclaurin series below 0.5 and Numerical Recipes' erfc (relative error < 1.2e-7)
 * above, so erf is within ~2e-7 absolute; gelu with erf uses erfc directly on its negative side,
 * and gelu with tanh is x * sigmoid(2u), so neither tail cancels. The binary geluErfGrad,
 * a * gelu'(b), takes Φ(b) from erfc on its small side the same way.
 *
 * ```ts
 * fill(ctx, out, n, 0);
 * unary(ctx, "geluErf", out, x, n, 0);
 * binary(ctx, "add", out, a, b, [2, 3], [3, 1], [0, 1]); // a [2, 3] + b [3]
 * ```
 */
import type { BinaryOp, UnaryOp } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, f32Bits } from "./context.js";
import { coalesce, walkFn, walkTable, WG } from "./copy.js";
import { header } from "./wgsl.js";

/** WGSL math functions with the accuracy of the js kernels (see the file comment). */
export const MATH = /* wgsl */ `
fn expm1_(x: f32) -> f32 {
  if (abs(x) < 0.25) {
    return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0))))))));
  }
  return exp(x) - 1.0;
}
fn tanh_(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.25) {
    let z2 = x * x;
    return x * (1.0 + z2 * (-1.0 / 3.0 + z2 * (2.0 / 15.0 + z2 * (-17.0 / 315.0 + z2 * (62.0 / 2835.0)))));
  }
  let e = exp(-2.0 * min(z, 20.0));
  let t = (1.0 - e) / (1.0 + e);
  return select(t, -t, x < 0.0);
}
/** erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
fn erfcPos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
}
/** erf(x) for |x| < 0.5: 2 / sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)). */
fn erfSmall(x: f32) -> f32 {
  let x2 = x * x;
  return 1.1283791670955126 * x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (1.0 / 10.0 + x2 * (-1.0 / 42.0 + x2 * (1.0 / 216.0
    + x2 * (-1.0 / 1320.0 + x2 * (1.0 / 9360.0)))))));
}
fn erf_(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.5) { return erfSmall(x); }
  let r = erfcPos(z);
  return select(1.0 - r, r - 1.0, x < 0.0);
}
fn geluErf(x: f32) -> f32 {
  let z = abs(x) * 0.70710678118654752;
  if (z < 0.5) { return 0.5 * x * (1.0 + erfSmall(x * 0.70710678118654752)); }
  let r = erfcPos(z);
  return select(x * (1.0 - 0.5 * r), 0.5 * x * r, x < 0.0);
}
fn sigmoid_(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(1.0 / (1.0 + e), e / (1.0 + e), x < 0.0);
}
/** sin and cos of r in [-pi/4, pi/4] (Taylor to r^9 / r^10, relative error < 2e-9). */
fn sinPoly(r: f32) -> f32 {
  let r2 = r * r;
  return r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
}
fn cosPoly(r: f32) -> f32 {
  let r2 = r * r;
  return 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
}
/** x = q pi/2 + r (Cody-Waite, three parts of pi/2); returns (r, q mod 4). */
fn reduceHalfPi(x: f32) -> vec2<f32> {
  let q = round(x * 0.63661977236758134);
  let r = ((x - q * 1.5703125) - q * 4.837512969970703125e-4) - q * 7.54978995489188216e-8;
  let qi = i32(q) & 3;
  return vec2<f32>(r, f32(qi));
}
fn sin_(x: f32) -> f32 {
  let rq = reduceHalfPi(x);
  let q = u32(rq.y);
  // sin(r + q pi/2) = sin r, cos r, -sin r, -cos r
  let v = select(sinPoly(rq.x), cosPoly(rq.x), (q & 1u) == 1u);
  return select(v, -v, q >= 2u);
}
fn cos_(x: f32) -> f32 {
  let rq = reduceHalfPi(x);
  let q = u32(rq.y);
  // cos(r + q pi/2) = cos r, -sin r, -cos r, sin r
  let v = select(cosPoly(rq.x), sinPoly(rq.x), (q & 1u) == 1u);
  return select(v, -v, q == 1u || q == 2u);
}
`;

/** The WGSL expression of each unary op in x (and alpha). */
const UNARY: Record<UnaryOp, string> = {
  neg: "-x",
  exp: "exp(x)",
  log: "log(x)",
  sqrt: "sqrt(x)",
  rsqrt: "inverseSqrt(x)",
  tanh: "tanh_(x)",
  erf: "erf_(x)",
  abs: "abs(x)",
  relu: "select(0.0, x, x > 0.0)",
  sigmoid: "sigmoid_(x)",
  geluErf: "geluErf(x)",
  geluTanh: "x / (1.0 + exp(min(-1.5957691216057308 * (x + 0.044715 * x * x * x), 80.0)))",
  sin: "sin_(x)",
  cos: "cos_(x)",
  square: "x * x",
  reciprocal: "1.0 / x",
  sign: "select(select(x, -1.0, x < 0.0), 1.0, x > 0.0)",
  elu: "select(p.alpha * expm1_(x), x, x > 0.0)",
};

const fillSource = (): string => /* wgsl */ `
${header(["out"], [], ["n: u32", "value: f32"])}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  b_out[p.o_out + i] = p.value;
}`;

/** out[i] = value for i < n (value rounded to float32; NaN and infinities as given). */
export function fill(ctx: KernelContext, out: GpuArray, n: number, value: number): void {
  if (n === 0) return;
  ctx.dispatch("fill", ctx.pipeline("fill", fillSource), [out], [], [n, f32Bits(value)], ceilDiv(n, WG));
}

/** With `inPlace` the kernel reads x from out itself (out and x the same array): no copy of x. */
const unarySource = (op: UnaryOp, inPlace: boolean) => (): string => /* wgsl */ `
${header(["out"], inPlace ? [] : ["x"], ["n: u32", "alpha: f32"])}
${MATH}
fn f(x: f32) -> f32 { return ${UNARY[op]}; }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  b_out[p.o_out + i] = f(${inPlace ? "b_out[p.o_out + i]" : "b_x[p.o_x + i]"});
}`;

/**
 * Whether x is out itself, element for element: the same buffer and offset, read at out's own
 * row-major strides (every dim of more than one element). Each thread then reads the element it
 * writes, so the kernel may read it from the output binding instead of a copy (WebGPU binds no
 * buffer writable and read-only at once).
 */
function sameAs(out: GpuArray, x: GpuArray, shape: readonly number[], strides: readonly number[]): boolean {
  if (x.buffer !== out.buffer || x.offset !== out.offset) return false;
  for (let d = shape.length - 1, s = 1; d >= 0; s *= shape[d]!, d--) if (shape[d]! > 1 && strides[d] !== s) return false;
  return true;
}

/** out[i] = op(x[i]) for i < n; alpha parameterizes elu. In place (x is out) it reads out itself. */
export function unary(ctx: KernelContext, op: UnaryOp, out: GpuArray, x: GpuArray, n: number, alpha: number): void {
  if (n === 0) return;
  const inPlace = sameAs(out, x, [n], [1]);
  const key = `unary.${op}${inPlace ? ".inPlace" : ""}`;
  ctx.dispatch(key, ctx.pipeline(key, unarySource(op, inPlace)), [out], inPlace ? [] : [x], [n, f32Bits(alpha)], ceilDiv(n, WG));
}

/**
 * pow as Math.pow on the values tests and models meet: exponent 0 gives 1, a negative base takes
 * an integer exponent (odd: negative result) else NaN, zero base gives 0 or +Infinity.
 */
const POW = /* wgsl */ `
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (b == 1.0) { return a; }
  if (b == 2.0) { return a * a; }
  let m = abs(a);
  if (m == 0.0) { return select(0.0, posInf(), b < 0.0); }
  let r = exp2(b * log2(m));
  if (a > 0.0) { return r; }
  if (round(b) != b) { return nanF(); }
  let odd = abs(b) < 16777216.0 && (i32(b) & 1) == 1;
  return select(r, -r, odd);
}`;

/**
 * gelu'(x) = Φ(x) + x φ(x), Φ from erfc on the side where it is small (erfcPos of MATH). x φ(x) is
 * 0 in f32 past |x| = 14, so it takes x clamped to ±20: ±Infinity give the limits 1 and 0, not
 * Infinity · 0 (NaN stays NaN: the comparisons are false).
 */
const GELU_ERF_GRAD = /* wgsl */ `
fn geluErfDerivative(x: f32) -> f32 {
  let c = 0.5 * erfcPos(abs(x) * 0.70710678118654752);
  let w = select(select(x, -20.0, x < -20.0), 20.0, x > 20.0);
  let xphi = w * 0.39894228040143268 * exp(-0.5 * w * w);
  return select(1.0 - c, c, x < 0.0) + xphi;
}`;

/** The WGSL functions each binary op's expression calls. */
const BINARY_FNS: Partial<Record<BinaryOp, string>> = { pow: POW, geluErfGrad: `${MATH}\n${GELU_ERF_GRAD}` };

const BINARY: Record<BinaryOp, string> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "pow_(a, b)",
  maximum: "select(b, a, a > b || isNan(a))",
  minimum: "select(b, a, a < b || isNan(a))",
  geluErfGrad: "a * geluErfDerivative(b)",
  reluGrad: "select(0.0, a, b > 0.0)",
};

/**
 * `aIsOut` / `bIsOut`: the operand is out itself (sameAs), read from the output binding; its walk
 * offset is then i (the table still walks it, at out's strides).
 */
const binarySource = (op: BinaryOp, aIsOut: boolean, bIsOut: boolean) => (): string => /* wgsl */ `
${header(["out"], [...(aIsOut ? [] : ["a"]), ...(bIsOut ? [] : ["b"])], ["n: u32", "rank: u32"], true)}
${walkFn(2)}
${BINARY_FNS[op] ?? ""}
fn f(a: f32, b: f32) -> f32 { return ${BINARY[op]}; }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let w = walk(i);
  let a = ${aIsOut ? "b_out[p.o_out + i]" : "b_a[p.o_a + w[0]]"};
  let b = ${bIsOut ? "b_out[p.o_out + i]" : "b_b[p.o_b + w[1]]"};
  b_out[p.o_out + i] = f(a, b);
}`;

/**
 * out [outShape] = a (op) b, a and b read at their strides per out dim (0 broadcasts). An operand
 * that is out itself (g *= s, acc += x) is read from the output binding, with no copy.
 */
export function binary(ctx: KernelContext, op: BinaryOp, out: GpuArray, a: GpuArray, b: GpuArray,
  outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  const n = outShape.reduce((x, y) => x * y, 1);
  if (n === 0) return;
  const aIsOut = sameAs(out, a, outShape, aStrides), bIsOut = sameAs(out, b, outShape, bStrides);
  const w = coalesce(outShape, [aStrides, bStrides]);
  const key = `binary.${op}${aIsOut ? ".aIsOut" : ""}${bIsOut ? ".bIsOut" : ""}`;
  const inputs = [...(aIsOut ? [] : [a]), ...(bIsOut ? [] : [b])];
  ctx.dispatch(key, ctx.pipeline(key, binarySource(op, aIsOut, bIsOut)), [out], inputs, [n, w.shape.length], ceilDiv(n, WG), walkTable(w.shape, w.strides));
}
