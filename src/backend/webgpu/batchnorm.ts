/**
 * Batch normalization on the device, as Backend.batchNormStats / batchNormUpdate /
 * batchNormForward / batchNormBackward over x [B, C, S] (S: the product of the spatial dims),
 * per channel c.
 *
 * Statistics: one workgroup of 256 threads per channel reduces its B S values through workgroup
 * memory, the mean first, then the variance about it (two passes, as the js kernel). The
 * running-statistics update and the forward are a thread per element. Backward: a workgroup per
 * channel sums dy and dy xhat (written to dbias and dweight when asked, and to a scratch array),
 * then a thread per element writes dx from them. invstd = 1 / sqrt(variance + eps) is recomputed
 * where it is needed (no array of it is kept).
 *
 * ```ts
 * batchNormStats(ctx, mean, variance, x, B, C, S);
 * batchNormForward(ctx, out, x, mean, variance, weight, bias, B, C, S, 1e-5);
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel, f32Bits } from "./context.js";
import { computeMain, header, reduceFn } from "./wgsl.js";

const WG = 256;

const SIZES = ["B: u32", "C: u32", "S: u32"];

// the value i of channel c's B S values
const CHANNEL = /* wgsl */ `
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("chanSum", WG, (a, b) => `${a} + ${b}`)}
fn chanAt(c: u32, i: u32) -> u32 { return ((i / p.S) * p.C + c) * p.S + i % p.S; }`;

const statsSource = (): string => /* wgsl */ `
${header(["mean", "variance"], ["x"], SIZES)}
${CHANNEL}
${computeMain(WG)} {
  let c = groupIndex(wid, nwg);
  if (c >= p.C) { return; }
  let n = p.B * p.S;
  var s = 0.0;
  for (var i = t; i < n; i += ${WG}u) { s += b_x[p.o_x + chanAt(c, i)]; }
  let m = chanSum(t, s) / f32(n);
  var v = 0.0;
  for (var i = t; i < n; i += ${WG}u) { let d = b_x[p.o_x + chanAt(c, i)] - m; v += d * d; }
  v = chanSum(t, v) / f32(n);
  if (t == 0u) {
    b_mean[p.o_mean + c] = m;
    b_variance[p.o_variance + c] = v;
  }
}`;

const updateSource = (): string => /* wgsl */ `
${header(["rm", "rv"], ["mean", "variance"], ["C: u32", "momentum: f32", "unbias: f32"])}
${computeMain(WG)} {
  let c = groupIndex(wid, nwg) * ${WG}u + t;
  if (c >= p.C) { return; }
  let k = 1.0 - p.momentum;
  b_rm[p.o_rm + c] = k * b_rm[p.o_rm + c] + p.momentum * b_mean[p.o_mean + c];
  b_rv[p.o_rv + c] = k * b_rv[p.o_rv + c] + p.momentum * b_variance[p.o_variance + c] * p.unbias;
}`;

const forwardSource = (w: boolean, b: boolean) => (): string => /* wgsl */ `
${header(["out"], ["x", "mean", "variance", ...(w ? ["w"] : []), ...(b ? ["bias"] : [])], [...SIZES, "eps: f32"])}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.B * p.C * p.S) { return; }
  let c = (e / p.S) % p.C;
  var scale = 1.0 / sqrt(b_variance[p.o_variance + c] + p.eps);
  ${w ? "scale *= b_w[p.o_w + c];" : ""}
  var y = (b_x[p.o_x + e] - b_mean[p.o_mean + c]) * scale;
  ${b ? "y += b_bias[p.o_bias + c];" : ""}
  b_out[p.o_out + e] = y;
}`;

// (every array a variant declares must be read: the pipeline's layout is inferred from the shader)
// sums [2, C]: sum dy, then sum dy xhat, per channel
const sumsSource = (dw: boolean, db: boolean) => (): string => /* wgsl */ `
${header(["sums", ...(dw ? ["dw"] : []), ...(db ? ["db"] : [])], ["dy", "x", "mean", "variance"], [...SIZES, "eps: f32"])}
${CHANNEL}
${computeMain(WG)} {
  let c = groupIndex(wid, nwg);
  if (c >= p.C) { return; }
  let n = p.B * p.S;
  let m = b_mean[p.o_mean + c];
  let r = 1.0 / sqrt(b_variance[p.o_variance + c] + p.eps);
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var i = t; i < n; i += ${WG}u) {
    let k = chanAt(c, i);
    let g = b_dy[p.o_dy + k];
    sdy += g;
    sdyx += g * (b_x[p.o_x + k] - m) * r;
  }
  sdy = chanSum(t, sdy);
  sdyx = chanSum(t, sdyx);
  if (t == 0u) {
    b_sums[p.o_sums + c] = sdy;
    b_sums[p.o_sums + p.C + c] = sdyx;
    ${dw ? "b_dw[p.o_dw + c] = sdyx;" : ""}
    ${db ? "b_db[p.o_db + c] = sdy;" : ""}
  }
}`;

const dxSource = (w: boolean, batchStats: boolean) => (): string => /* wgsl */ `
${header(["dx"], [...(batchStats ? ["dy", "x", "mean", "variance", "sums"] : ["dy", "variance"]), ...(w ? ["w"] : [])], [...SIZES, "eps: f32"])}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.B * p.C * p.S) { return; }
  let c = (e / p.S) % p.C;
  let r = 1.0 / sqrt(b_variance[p.o_variance + c] + p.eps);
  let k = r${w ? " * b_w[p.o_w + c]" : ""};
  ${batchStats ? `let n = f32(p.B * p.S);
  let mdy = b_sums[p.o_sums + c] / n;
  let mdyx = b_sums[p.o_sums + p.C + c] / n;
  b_dx[p.o_dx + e] = k * (b_dy[p.o_dy + e] - mdy - (b_x[p.o_x + e] - b_mean[p.o_mean + c]) * r * mdyx);`
    : "b_dx[p.o_dx + e] = k * b_dy[p.o_dy + e];"}
}`;

/** mean [C] and biased variance [C] of x [B, C, S]. */
export function batchNormStats(ctx: KernelContext, mean: GpuArray, variance: GpuArray, x: GpuArray, B: number, C: number, S: number): void {
  if (C === 0) return;
  dispatchKernel(ctx, "batchNormStats", statsSource, [mean, variance], [x], [B, C, S], C);
}

/** The running statistics [C] in place: r = (1 - momentum) r + momentum s (the variance times unbias). */
export function batchNormUpdate(ctx: KernelContext, runningMean: GpuArray, runningVar: GpuArray, mean: GpuArray, variance: GpuArray,
  C: number, momentum: number, unbias: number): void {
  if (C === 0) return;
  dispatchKernel(ctx, "batchNormUpdate", updateSource, [runningMean, runningVar], [mean, variance],
    [C, f32Bits(momentum), f32Bits(unbias)], ceilDiv(C, WG));
}

/** out [B, C, S] = (x - mean) / sqrt(variance + eps) weight + bias. */
export function batchNormForward(ctx: KernelContext, out: GpuArray, x: GpuArray, mean: GpuArray, variance: GpuArray,
  weight: GpuArray | null, bias: GpuArray | null, B: number, C: number, S: number, eps: number): void {
  const n = B * C * S;
  if (n === 0) return;
  const key = `batchNormForward.${weight ? "w" : ""}${bias ? "b" : ""}`;
  dispatchKernel(ctx, key, forwardSource(!!weight, !!bias), [out], [x, mean, variance, ...(weight ? [weight] : []), ...(bias ? [bias] : [])],
    [B, C, S, f32Bits(eps)], ceilDiv(n, WG));
}

/** dx [B, C, S], dweight and dbias [C], each written when not null (see Backend.batchNormBackward). */
export function batchNormBackward(ctx: KernelContext, dx: GpuArray | null, dweight: GpuArray | null, dbias: GpuArray | null, dy: GpuArray,
  x: GpuArray, mean: GpuArray, variance: GpuArray, weight: GpuArray | null, B: number, C: number, S: number, eps: number,
  batchStats: boolean): void {
  if (C === 0) return;
  const sizes = [B, C, S, f32Bits(eps)];
  const needSums = dweight !== null || dbias !== null || (dx !== null && batchStats);
  const sums = ctx.scratch(2 * C); // [2, C]: sum dy, sum dy xhat
  if (needSums) {
    const key = `batchNormBackward.sums${dweight ? ".dw" : ""}${dbias ? ".db" : ""}`;
    dispatchKernel(ctx, key, sumsSource(!!dweight, !!dbias), [sums, ...(dweight ? [dweight] : []), ...(dbias ? [dbias] : [])],
      [dy, x, mean, variance], sizes, C);
  }
  if (dx && B * C * S > 0) {
    const key = `batchNormBackward.dx${weight ? ".w" : ""}${batchStats ? ".batch" : ""}`;
    dispatchKernel(ctx, key, dxSource(!!weight, batchStats), [dx], [...(batchStats ? [dy, x, mean, variance, sums] : [dy, variance]), ...(weight ? [weight] : [])], sizes,
      ceilDiv(B * C * S, WG));
  }
  ctx.release(sums);
}
