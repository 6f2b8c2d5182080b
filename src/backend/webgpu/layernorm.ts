/**
 * LayerNorm on the device, as Backend.layerNorm / Backend.layerNormBackward over x [rows, cols]
 * (biased variance; weight and bias [cols] optional; mean and rstd [rows] saved).
 *
 * Forward and dx: one workgroup of 64 threads per row, reducing through workgroup memory. The
 * forward takes the mean, then the variance about it, as the js kernel, both of the row shifted by
 * its first element (so a row far from 0 keeps its precision). dweight / dbias [cols]: a second
 * kernel where a workgroup of 64 columns x 4 row lanes sums dy * xhat and dy down the rows, then
 * writes them (not accumulates). One pipeline per combination of the optional arrays.
 *
 * ```ts
 * layerNorm(ctx, out, mean, rstd, x, weight, bias, rows, cols, 1e-5);
 * addLayerNorm(ctx, out, mean, rstd, sum, x, r, weight, bias, rows, cols, 1e-5); // sum = x + r, out = layerNorm(sum)
 * layerNormBackward(ctx, dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, f32Bits } from "./context.js";
import { header, reduceFn } from "./wgsl.js";

const WG = 64;

const ROW = `
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("rowSum", WG, (a, b) => `${a} + ${b}`)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32)`;

/**
 * With `residual`, the row is x + r, written to sum (its own elements by each thread, read back by
 * that thread alone; the first element, which every thread needs, each adds itself) before the
 * statistics are taken of it.
 */
const forwardSource = (w: boolean, b: boolean, residual = false): (() => string) => {
  const x = residual ? "b_sum" : "b_x"; // the rows normalized
  return (): string => /* wgsl */ `
${header(["out", "mean", "rstd", ...(residual ? ["sum"] : [])], [...(residual ? ["xr", "r"] : ["x"]), ...(w ? ["w"] : []), ...(b ? ["bias"] : [])],
    ["rows: u32", "cols: u32", "eps: f32"])}
${ROW} {
  let row = groupIndex(wid, nwg);
  if (row >= p.rows) { return; }
  let oo = p.o_out + row * p.cols;
  let n = f32(p.cols);${residual ? `
  let ro = row * p.cols;
  for (var j = t; j < p.cols; j += ${WG}u) { b_sum[p.o_sum + ro + j] = b_xr[p.o_xr + ro + j] + b_r[p.o_r + ro + j]; }
  let xo = p.o_sum + ro;` : `
  let xo = p.o_x + row * p.cols;`}
  // the mean as x0 + dm, shifted by the row's first element: x - mean is (x - x0) - dm, as
  // accurate as the spread of the row, not its distance from 0
  let x0 = ${residual ? "b_xr[p.o_xr + ro] + b_r[p.o_r + ro]" : "b_x[xo]"};
  var s = 0.0;
  for (var j = t; j < p.cols; j += ${WG}u) { s += ${x}[xo + j] - x0; }
  let dm = rowSum(t, s) / n;
  var v = 0.0;
  for (var j = t; j < p.cols; j += ${WG}u) { let d = (${x}[xo + j] - x0) - dm; v += d * d; }
  let rs = 1.0 / sqrt(rowSum(t, v) / n + p.eps);
  if (t == 0u) {
    b_mean[p.o_mean + row] = x0 + dm;
    b_rstd[p.o_rstd + row] = rs;
  }
  for (var j = t; j < p.cols; j += ${WG}u) {
    var y = ((${x}[xo + j] - x0) - dm) * rs;
    ${w ? "y *= b_w[p.o_w + j];" : ""}
    ${b ? "y += b_bias[p.o_bias + j];" : ""}
    b_out[oo + j] = y;
  }
}`;
};

/** out [rows, cols] = layer norm of x's rows, saving mean and rstd [rows]; weight / bias [cols] or null. */
export function layerNorm(ctx: KernelContext, out: GpuArray, mean: GpuArray, rstd: GpuArray, x: GpuArray, weight: GpuArray | null,
  bias: GpuArray | null, rows: number, cols: number, eps: number): void {
  if (rows === 0) return;
  const key = `layerNorm.${weight ? "w" : ""}${bias ? "b" : ""}`;
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  ctx.dispatch(key, ctx.pipeline(key, forwardSource(!!weight, !!bias)), [out, mean, rstd], inputs, [rows, cols, f32Bits(eps)], rows);
}

/** sum = x + r and out = layer norm of sum's rows (mean, rstd saved), in one dispatch: as AddLayerNorm.addLayerNorm. */
export function addLayerNorm(ctx: KernelContext, out: GpuArray, mean: GpuArray, rstd: GpuArray, sum: GpuArray, x: GpuArray, r: GpuArray,
  weight: GpuArray | null, bias: GpuArray | null, rows: number, cols: number, eps: number): void {
  if (rows === 0) return;
  const key = `addLayerNorm.${weight ? "w" : ""}${bias ? "b" : ""}`;
  const inputs = [x, r, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  ctx.dispatch(key, ctx.pipeline(key, forwardSource(!!weight, !!bias, true)), [out, mean, rstd, sum], inputs, [rows, cols, f32Bits(eps)], rows);
}

const dxSource = (w: boolean) => (): string => /* wgsl */ `
${header(["dx"], ["dy", "x", "mean", "rstd", ...(w ? ["w"] : [])], ["rows: u32", "cols: u32"])}
${ROW} {
  let row = groupIndex(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let m = b_mean[p.o_mean + row];
  let rs = b_rstd[p.o_rstd + row];
  // g = dy * w; dx = rs * (g - mean(g) - xhat * mean(g * xhat))
  var sg = 0.0;
  var sgx = 0.0;
  for (var j = t; j < p.cols; j += ${WG}u) {
    let xh = (b_x[p.o_x + base + j] - m) * rs;
    let g = b_dy[p.o_dy + base + j]${w ? " * b_w[p.o_w + j]" : ""};
    sg += g;
    sgx += g * xh;
  }
  let n = f32(p.cols);
  sg = rowSum(t, sg) / n;
  sgx = rowSum(t, sgx) / n;
  for (var j = t; j < p.cols; j += ${WG}u) {
    let xh = (b_x[p.o_x + base + j] - m) * rs;
    let g = b_dy[p.o_dy + base + j]${w ? " * b_w[p.o_w + j]" : ""};
    b_dx[p.o_dx + base + j] = rs * (g - sg - xh * sgx);
  }
}`;

const LANES = 4;

const paramSource = (dw: boolean, db: boolean) => (): string => /* wgsl */ `
${header([...(dw ? ["dw"] : []), ...(db ? ["db"] : [])], ["dy", "x", "mean", "rstd"], ["rows: u32", "cols: u32"])}
var<workgroup> pw: array<f32, ${LANES * WG}>;
var<workgroup> pb: array<f32, ${LANES * WG}>;
@compute @workgroup_size(${WG}, ${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = groupIndex(wid, nwg) * ${WG}u + lid.x;
  var sw = 0.0;
  var sb = 0.0;
  if (c < p.cols) {
    for (var r = lid.y; r < p.rows; r += ${LANES}u) {
      let d = b_dy[p.o_dy + r * p.cols + c];
      sw += d * (b_x[p.o_x + r * p.cols + c] - b_mean[p.o_mean + r]) * b_rstd[p.o_rstd + r];
      sb += d;
    }
  }
  pw[lid.y * ${WG}u + lid.x] = sw;
  pb[lid.y * ${WG}u + lid.x] = sb;
  workgroupBarrier();
  if (lid.y == 0u && c < p.cols) {
    var tw = 0.0;
    var tb = 0.0;
    for (var l = 0u; l < ${LANES}u; l++) { tw += pw[l * ${WG}u + lid.x]; tb += pb[l * ${WG}u + lid.x]; }
    ${dw ? "b_dw[p.o_dw + c] = tw;" : "_ = tw;"}
    ${db ? "b_db[p.o_db + c] = tb;" : "_ = tb;"}
  }
}`;

/** dx [rows, cols]; dweight and dbias [cols] written (not accumulated) when not null. */
export function layerNormBackward(ctx: KernelContext, dx: GpuArray, dweight: GpuArray | null, dbias: GpuArray | null, dy: GpuArray,
  x: GpuArray, mean: GpuArray, rstd: GpuArray, weight: GpuArray | null, rows: number, cols: number): void {
  if (cols === 0) return;
  if (rows > 0) {
    const key = `layerNormBackward.dx${weight ? ".w" : ""}`;
    ctx.dispatch(key, ctx.pipeline(key, dxSource(!!weight)), [dx], [dy, x, mean, rstd, ...(weight ? [weight] : [])], [rows, cols], rows);
  }
  if (dweight || dbias) {
    const key = `layerNormBackward.${dweight ? "dw" : ""}${dbias ? "db" : ""}`;
    const outs = [...(dweight ? [dweight] : []), ...(dbias ? [dbias] : [])];
    ctx.dispatch(key, ctx.pipeline(key, paramSource(!!dweight, !!dbias)), outs, [dy, x, mean, rstd], [rows, cols], ceilDiv(cols, WG));
  }
}
