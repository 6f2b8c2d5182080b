/**
 * Reductions along one dim of x [outer, n, inner] on the device, as Backend.extreme /
 * extremeBackward / logsumexp: a thread per output element walks its n inputs in order (so the
 * first extreme wins ties, as on the host; for a few long rows, max / min and logsumexp take a
 * workgroup per output whose partial walks combine in workgroup memory), max / min with the index
 * as a float (exact below 2^24) and a NaN winning; the backward a thread per dx element; logsumexp
 * shifted by the max (by 0 when the max is not finite), -Infinity terms skipped by their bits and
 * a row of only -Infinity giving -Infinity (a max of NaN or +Infinity is the result, as the js
 * kernel's unshifted sum gives).
 *
 * ```ts
 * extreme(ctx, values, indices, x, outer, n, inner, "max"); // values, indices [outer, inner]
 * logsumexp(ctx, out, x, outer, n, inner);                  // out [outer, inner]
 * ```
 */
import type { ExtremeOp } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header, reduceFn } from "./wgsl.js";

const WG = 256;
const SIZES = ["outer: u32", "n: u32", "inner: u32"];

/** The thread's output (o, j) of [outer, inner] and the offset of its first input. */
const OUTPUT = /* wgsl */ `
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.outer * p.inner) { return; }
  let o = i / p.inner;
  let j = i - o * p.inner;
  let x0 = o * p.n * p.inner + j;`;

const extremeSource = (op: ExtremeOp) => (): string => /* wgsl */ `
${header(["values", "indices"], ["x"], SIZES)}
${computeMain(WG)} {${OUTPUT}
  var best = b_x[p.o_x + x0];
  var bi = 0u;
  for (var k = 1u; k < p.n && !isNan(best); k++) {
    let v = b_x[p.o_x + x0 + k * p.inner];
    if (v ${op === "max" ? ">" : "<"} best || isNan(v)) { best = v; bi = k; }
  }
  b_values[p.o_values + i] = best;
  b_indices[p.o_indices + i] = f32(bi);
}`;

/**
 * (v, i) or (w, j), whichever the sequential walk would keep: a NaN over any number (the first
 * NaN: the smaller index), else the larger (max) / smaller (min) value, else (a tie) the smaller
 * index.
 */
const KEEP = (op: ExtremeOp): string => /* wgsl */ `
fn keepSecond(v: f32, i: u32, w: f32, j: u32) -> bool {
  if (isNan(v) && isNan(w)) { return j < i; }
  if (isNan(v)) { return false; }
  if (isNan(w)) { return true; }
  if (w ${op === "max" ? ">" : "<"} v) { return true; }
  return w == v && j < i;
}`;

/**
 * A workgroup per output, for few outputs of long rows (an argmax over a vocabulary): thread t walks
 * k = t, t + WG, ... as the sequential walk does, then the WG partial results are combined pairwise
 * in workgroup memory with the same rule (keepSecond), so the result is the sequential walk's.
 */
const extremeRowSource = (op: ExtremeOp) => (): string => /* wgsl */ `
${header(["values", "indices"], ["x"], SIZES)}
var<workgroup> rv: array<f32, ${WG}>;
var<workgroup> ri: array<u32, ${WG}>;
${KEEP(op)}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg);
  if (i >= p.outer * p.inner) { return; }
  let o = i / p.inner;
  let j = i - o * p.inner;
  let x0 = o * p.n * p.inner + j;
  var best = b_x[p.o_x + x0];
  var bi = 0u;
  if (t < p.n) {
    best = b_x[p.o_x + x0 + t * p.inner];
    bi = t;
    for (var k = t + ${WG}u; k < p.n && !isNan(best); k += ${WG}u) {
      let v = b_x[p.o_x + x0 + k * p.inner];
      if (v ${op === "max" ? ">" : "<"} best || isNan(v)) { best = v; bi = k; }
    }
  }
  rv[t] = best;
  ri[t] = bi;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s && keepSecond(rv[t], ri[t], rv[t + s], ri[t + s])) {
      rv[t] = rv[t + s];
      ri[t] = ri[t + s];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    b_values[p.o_values + i] = rv[0];
    b_indices[p.o_indices + i] = f32(ri[0]);
  }
}`;

/** Rows at least this long, when there are at most ROW_OUTPUTS outputs, take a workgroup each. */
const LONG_ROW = 1024;
const ROW_OUTPUTS = 1024;

/** values, indices [outer, inner] = the max (or min) of x [outer, n, inner] over n and its first index. */
export function extreme(ctx: KernelContext, values: GpuArray, indices: GpuArray, x: GpuArray, outer: number, n: number,
  inner: number, op: ExtremeOp): void {
  const outputs = outer * inner;
  if (outputs === 0) return;
  if (n >= LONG_ROW && outputs <= ROW_OUTPUTS) {
    dispatchKernel(ctx, `extremeRow.${op}`, extremeRowSource(op), [values, indices], [x], [outer, n, inner], outputs);
    return;
  }
  dispatchKernel(ctx, `extreme.${op}`, extremeSource(op), [values, indices], [x], [outer, n, inner], ceilDiv(outputs, WG));
}

const extremeBackwardSource = (): string => /* wgsl */ `
${header(["dx"], ["g", "indices"], SIZES)}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.outer * p.n * p.inner) { return; }
  let j = e % p.inner;
  let ok = e / p.inner;
  let k = ok % p.n;
  let oi = (ok / p.n) * p.inner + j;
  b_dx[p.o_dx + e] = select(0.0, b_g[p.o_g + oi], u32(b_indices[p.o_indices + oi]) == k);
}`;

/** dx [outer, n, inner] = g [outer, inner] at indices along n, 0 elsewhere. */
export function extremeBackward(ctx: KernelContext, dx: GpuArray, g: GpuArray, indices: GpuArray, outer: number, n: number,
  inner: number): void {
  const total = outer * n * inner;
  if (total === 0) return;
  dispatchKernel(ctx, "extremeBackward", extremeBackwardSource, [dx], [g, indices], [outer, n, inner], ceilDiv(total, WG));
}

const logsumexpSource = (): string => /* wgsl */ `
${header(["out"], ["x"], SIZES)}
fn isFinite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }
${computeMain(WG)} {${OUTPUT}
  var m = b_x[p.o_x + x0];
  for (var k = 1u; k < p.n && !isNan(m); k++) {
    let v = b_x[p.o_x + x0 + k * p.inner];
    if (v > m || isNan(v)) { m = v; }
  }
  let shift = select(0.0, m, isFinite(m));
  var s = 0.0;
  for (var k = 0u; k < p.n; k++) {
    let v = b_x[p.o_x + x0 + k * p.inner];
    if (!isNegInf(v)) { s += exp(v - shift); }
  }
  b_out[p.o_out + i] = select(log(s) + shift, negInf(), s == 0.0);
}`;

/**
 * logsumexp with a workgroup per output (rows of at least LONG_ROW >= WG, so every thread has an
 * element): pass 1, each thread's strided walk k = t, t + WG, ... keeps its max (a NaN winning), the
 * WG maxima combine in workgroup memory to the row's; pass 2, the threads' sums of exp(x - max)
 * (-Infinity terms skipped by their bits) combine likewise. A max that is NaN, +Infinity or
 * -Infinity (every term -Infinity) is the result; else log(sum) + max.
 */
const logsumexpRowSource = (): string => /* wgsl */ `
${header(["out"], ["x"], SIZES)}
var<workgroup> red: array<f32, ${WG}>;
fn isFinite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; }
/** The larger of a and b, a NaN winning. */
fn maxNan(a: f32, b: f32) -> f32 { return select(select(a, b, b > a), b, isNan(b) && !isNan(a)); }
${reduceFn("maxAll", WG, (a, b) => `maxNan(${a}, ${b})`)}
${reduceFn("sumAll", WG, (a, b) => `${a} + ${b}`)}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg);
  if (i >= p.outer * p.inner) { return; }
  let o = i / p.inner;
  let j = i - o * p.inner;
  let x0 = p.o_x + o * p.n * p.inner + j;
  var m = b_x[x0 + t * p.inner];
  for (var k = t + ${WG}u; k < p.n; k += ${WG}u) { m = maxNan(m, b_x[x0 + k * p.inner]); }
  m = maxAll(t, m);
  let finite = isFinite(m);
  var s = 0.0;
  if (finite) {
    for (var k = t; k < p.n; k += ${WG}u) {
      let v = b_x[x0 + k * p.inner];
      if (!isNegInf(v)) { s += exp(v - m); }
    }
  }
  s = sumAll(t, s);
  if (t == 0u) { b_out[p.o_out + i] = select(m, log(s) + m, finite); }
}`;

/** out [outer, inner] = log sum exp of x [outer, n, inner] over n. */
export function logsumexp(ctx: KernelContext, out: GpuArray, x: GpuArray, outer: number, n: number, inner: number): void {
  const outputs = outer * inner;
  if (outputs === 0) return;
  if (n >= LONG_ROW && outputs <= ROW_OUTPUTS) {
    dispatchKernel(ctx, "logsumexpRow", logsumexpRowSource, [out], [x], [outer, n, inner], outputs);
    return;
  }
  dispatchKernel(ctx, "logsumexp", logsumexpSource, [out], [x], [outer, n, inner], ceilDiv(outer * inner, WG));
}
