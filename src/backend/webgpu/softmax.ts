/**
 * Row softmax / log-softmax on the device and its backward, as Backend.softmax /
 * Backend.softmaxBackward over x [rows, cols]: one workgroup of 64 threads per row, strided over
 * the columns, reduced through workgroup memory. -Infinity entries are recognised by their bits
 * (wgsl.ts); a row of only -Infinity gives 0 (softmax) or -Infinity (log-softmax), and its
 * log-softmax backward 0.
 *
 * ```ts
 * softmax(ctx, out, x, rows, cols, false);
 * softmaxBackward(ctx, dx, out, dy, rows, cols, false);
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { header, reduceFn } from "./wgsl.js";

const WG = 64;

const REDUCE = `
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("rowMax", WG, (a, b) => `max(${a}, ${b})`)}
${reduceFn("rowSum", WG, (a, b) => `${a} + ${b}`)}`;

const MAIN = "@compute @workgroup_size(" + WG + ")\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32)";

const forwardSource = (log: boolean) => (): string => /* wgsl */ `
${header(["out"], ["x"], ["rows: u32", "cols: u32"])}
${REDUCE}
${MAIN} {
  let row = groupIndex(wid, nwg);
  if (row >= p.rows) { return; }
  let xo = p.o_x + row * p.cols;
  let oo = p.o_out + row * p.cols;
  // pass 1: the row max over entries that are not -Infinity (LOWEST when there are none)
  var m = LOWEST;
  for (var j = t; j < p.cols; j += ${WG}u) {
    let v = b_x[xo + j];
    if (!isNegInf(v)) { m = max(m, v); }
  }
  m = rowMax(t, m);
  // pass 2: the sum of exponentials
  var s = 0.0;
  for (var j = t; j < p.cols; j += ${WG}u) {
    let v = b_x[xo + j];
    if (!isNegInf(v)) { s += exp(v - m); }
  }
  s = rowSum(t, s);
  let masked = s == 0.0;
  ${log ? "let lse = m + log(s);" : "let inv = 1.0 / s;"}
  for (var j = t; j < p.cols; j += ${WG}u) {
    let v = b_x[xo + j];
    ${log
      ? "b_out[oo + j] = select(v - lse, negInf(), masked || isNegInf(v));"
      : "b_out[oo + j] = select(exp(v - m) * inv, 0.0, masked || isNegInf(v));"}
  }
}`;

/** out [rows, cols] = softmax (or log-softmax) of each row of x. */
export function softmax(ctx: KernelContext, out: GpuArray, x: GpuArray, rows: number, cols: number, log: boolean): void {
  if (rows === 0 || cols === 0) return;
  const key = log ? "logSoftmax" : "softmax";
  ctx.dispatch(key, ctx.pipeline(key, forwardSource(log)), [out], [x], [rows, cols], rows);
}

const backwardSource = (log: boolean) => (): string => /* wgsl */ `
${header(["dx"], ["y", "dy"], ["rows: u32", "cols: u32"])}
${REDUCE}
${MAIN} {
  let row = groupIndex(wid, nwg);
  if (row >= p.rows) { return; }
  let yo = p.o_y + row * p.cols;
  let go = p.o_dy + row * p.cols;
  let xo = p.o_dx + row * p.cols;
  var s = 0.0;
  for (var j = t; j < p.cols; j += ${WG}u) {
    ${log ? "s += b_dy[go + j];" : "s += b_y[yo + j] * b_dy[go + j];"}
  }
  s = rowSum(t, s);
  for (var j = t; j < p.cols; j += ${WG}u) {
    let y = b_y[yo + j];
    ${log
      // y = x - lse: dx = dy - softmax * sum(dy)
      ? "b_dx[xo + j] = select(b_dy[go + j] - exp(y) * s, 0.0, isNegInf(y));"
      // dx = y * (dy - sum(y * dy))
      : "b_dx[xo + j] = y * (b_dy[go + j] - s);"}
  }
}`;

/** dx [rows, cols] from the forward output y and the incoming dy. */
export function softmaxBackward(ctx: KernelContext, dx: GpuArray, y: GpuArray, dy: GpuArray, rows: number, cols: number, log: boolean): void {
  if (rows === 0 || cols === 0) return;
  const key = log ? "logSoftmaxBackward" : "softmaxBackward";
  ctx.dispatch(key, ctx.pipeline(key, backwardSource(log)), [dx], [y, dy], [rows, cols], rows);
}
