/**
 * Negative log-likelihood on the device (NllLossKernels): the per-row losses of log-probabilities
 * lp [N, C] against class ids held as float32 values (a negative id: an ignored row), and their
 * gradient, so that nllLoss on a device needs neither a weight matrix of N x C built on the host
 * nor its upload. keep = 1 - eps and spread = eps / C (label smoothing eps), as float32.
 *
 * - forward, a thread per row: per[n] = -keep lp[n, y] - spread sum_c lp[n, c] (the sum in order
 *   of c, only where spread != 0); 0 for an ignored row, whose entries are not read.
 * - backward, a thread per element: dlp[n, c] = -spread g'[n] (where spread != 0, else 0) plus
 *   -keep g'[n] at c = y; 0 in an ignored row; g'[n] = g[n gStride] gScale, so a reduced loss's one
 *   gradient (gStride 0, gScale 1 / count for a mean) needs no broadcast of its own.
 *
 * ```ts
 * nllForward(ctx, per, lp, ids, N, C, 0.95, 0.05 / C);
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, f32Bits } from "./context.js";
import { WG } from "./copy.js";
import { computeMain, header } from "./wgsl.js";

const forwardSource = (): string => /* wgsl */ `
${header(["per"], ["lp", "ids"], ["N: u32", "C: u32", "keep: f32", "spread: f32"])}
${computeMain(WG)} {
  let n = groupIndex(wid, nwg) * ${WG}u + t;
  if (n >= p.N) { return; }
  let y = b_ids[p.o_ids + n];
  if (y < 0.0) {
    b_per[p.o_per + n] = 0.0;
    return;
  }
  let row = p.o_lp + n * p.C;
  var v = -p.keep * b_lp[row + u32(y)];
  if (p.spread != 0.0) {
    var s = 0.0;
    for (var c = 0u; c < p.C; c++) { s += b_lp[row + c]; }
    v -= p.spread * s;
  }
  b_per[p.o_per + n] = v;
}`;

const backwardSource = (): string => /* wgsl */ `
${header(["dlp"], ["g", "ids"], ["N: u32", "C: u32", "keep: f32", "spread: f32", "gScale: f32", "gStride: u32"])}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let y = b_ids[p.o_ids + n];
  var d = 0.0;
  if (y >= 0.0) {
    let g = b_g[p.o_g + n * p.gStride] * p.gScale;
    if (p.spread != 0.0) { d = -p.spread * g; }
    if (i % p.C == u32(y)) { d += -p.keep * g; }
  }
  b_dlp[p.o_dlp + i] = d;
}`;

/** per [N] = the rows' losses (see the file comment). */
export function nllForward(ctx: KernelContext, per: GpuArray, lp: GpuArray, ids: GpuArray, N: number, C: number, keep: number,
  spread: number): void {
  if (N === 0) return;
  ctx.dispatch("nll", ctx.pipeline("nll", forwardSource), [per], [lp, ids], [N, C, f32Bits(keep), f32Bits(spread)], ceilDiv(N, WG));
}

/** dlp [N, C] = the gradient of the rows' losses for g [N] (gStride 1) or one g for all (gStride 0), times gScale (see the file comment). */
export function nllBackward(ctx: KernelContext, dlp: GpuArray, g: GpuArray, ids: GpuArray, N: number, C: number, keep: number,
  spread: number, gScale: number, gStride: 0 | 1): void {
  if (N * C === 0) return;
  ctx.dispatch("nllBackward", ctx.pipeline("nllBackward", backwardSource), [dlp], [g, ids],
    [N, C, f32Bits(keep), f32Bits(spread), f32Bits(gScale), gStride], ceilDiv(N * C, WG));
}
