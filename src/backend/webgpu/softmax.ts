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
import { dispatchKernel } from "./context.js";
import { computeMain, header, reduceFn } from "./wgsl.js";

const WG = 64;

/** The loop of a thread over its columns of the row. */
const COLS = `for (var j = t; j < p.cols; j += ${WG}u)`;

/**
 * A kernel of a workgroup per row over `outputs` and `inputs` [rows, cols], with the row
 * reductions rowMax / rowSum; `starts` are [name, array] pairs: `let name` = the row's start in
 * that array. `body` follows.
 */
const rowKernel = (outputs: string[], inputs: string[], starts: [string, string][], body: string): string => /* wgsl */ `
${header(outputs, inputs, ["rows: u32", "cols: u32"])}
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("rowMax", WG, (a, b) => `max(${a}, ${b})`)}
${reduceFn("rowSum", WG, (a, b) => `${a} + ${b}`)}
${computeMain(WG)} {
  let row = groupIndex(wid, nwg);
  if (row >= p.rows) { return; }
${starts.map(([v, arr]) => `  let ${v} = p.o_${arr} + row * p.cols;`).join("\n")}${body}
}`;

/** One workgroup per row of a [rows, cols] problem; nothing to do when it is empty. */
function dispatchRows(ctx: KernelContext, key: string, source: () => string, outputs: GpuArray[], inputs: GpuArray[],
  rows: number, cols: number): void {
  if (rows === 0 || cols === 0) return;
  dispatchKernel(ctx, key, source, outputs, inputs, [rows, cols], rows);
}

const forwardSource = (log: boolean) => (): string => rowKernel(["out"], ["x"], [["xo", "x"], ["oo", "out"]], /* wgsl */ `
  // pass 1: the row max over entries that are not -Infinity (LOWEST when there are none)
  var m = LOWEST;
  ${COLS} {
    let v = b_x[xo + j];
    if (!isNegInf(v)) { m = max(m, v); }
  }
  m = rowMax(t, m);
  // pass 2: the sum of exponentials
  var s = 0.0;
  ${COLS} {
    let v = b_x[xo + j];
    if (!isNegInf(v)) { s += exp(v - m); }
  }
  s = rowSum(t, s);
  let masked = s == 0.0;
  ${log ? "let lse = m + log(s);" : "let inv = 1.0 / s;"}
  ${COLS} {
    let v = b_x[xo + j];
    ${log
      ? "b_out[oo + j] = select(v - lse, negInf(), masked || isNegInf(v));"
      : "b_out[oo + j] = select(exp(v - m) * inv, 0.0, masked || isNegInf(v));"}
  }`);

/** out [rows, cols] = softmax (or log-softmax) of each row of x. */
export function softmax(ctx: KernelContext, out: GpuArray, x: GpuArray, rows: number, cols: number, log: boolean): void {
  const key = log ? "logSoftmax" : "softmax";
  dispatchRows(ctx, key, forwardSource(log), [out], [x], rows, cols);
}

const backwardSource = (log: boolean) => (): string => rowKernel(["dx"], ["y", "dy"], [["yo", "y"], ["go", "dy"], ["xo", "dx"]], /* wgsl */ `
  var s = 0.0;
  ${COLS} {
    ${log ? "s += b_dy[go + j];" : "s += b_y[yo + j] * b_dy[go + j];"}
  }
  s = rowSum(t, s);
  ${COLS} {
    let y = b_y[yo + j];
    ${log
      // y = x - lse: dx = dy - softmax * sum(dy)
      ? "b_dx[xo + j] = select(b_dy[go + j] - exp(y) * s, 0.0, isNegInf(y));"
      // dx = y * (dy - sum(y * dy))
      : "b_dx[xo + j] = y * (b_dy[go + j] - s);"}
  }`);

/** dx [rows, cols] from the forward output y and the incoming dy. */
export function softmaxBackward(ctx: KernelContext, dx: GpuArray, y: GpuArray, dy: GpuArray, rows: number, cols: number, log: boolean): void {
  const key = log ? "logSoftmaxBackward" : "softmaxBackward";
  dispatchRows(ctx, key, backwardSource(log), [dx], [y, dy], rows, cols);
}
