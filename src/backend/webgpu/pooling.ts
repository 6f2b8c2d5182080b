/**
 * 2-D pooling on the device, as Backend.maxPool2d / avgPool2d / adaptiveAvgPool2d and their
 * backwards, over planes x [P, H, W] -> out [P, oH, oW] (see Pool2dArgs).
 *
 * Forward: a thread per output, the window walked in row-major order as the js kernels walk it
 * (max: the first max wins ties, a NaN wins; argmax saved as the float h W + w). Backward: a
 * thread per input element gathers from the windows that cover it, in the order of the outputs
 * (the order the js kernels add in), so there are no atomics and the result is deterministic; max
 * pooling takes a window's gradient where its saved argmax is this element.
 *
 * ```ts
 * maxPool2d(ctx, out, argmax, x, args);           // out, argmax [P, oH, oW]
 * maxPool2dBackward(ctx, dx, dy, argmax, args);   // dx [P, H, W]
 * ```
 */
import type { AdaptivePool2dArgs, AvgPool2dArgs, Pool2dArgs } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;

const WINDOW = ["P: u32", "H: u32", "W: u32", "oH: u32", "oW: u32", "kH: u32", "kW: u32", "sH: u32", "sW: u32",
  "padH: u32", "padW: u32", "dH: u32", "dW: u32", "countIncludePad: u32", "divisor: u32", "total: u32"];

function params(a: Pool2dArgs, total: number, avg?: AvgPool2dArgs): number[] {
  return [a.P, a.H, a.W, a.oH, a.oW, a.kH, a.kW, a.sH, a.sW, a.padH, a.padW, a.dH, a.dW,
    avg?.countIncludePad ? 1 : 0, avg?.divisor ?? 0, total];
}

// a thread per output e = (plane, oh, ow) of [P, oH, oW]; xo: where its plane starts in x
const OUTPUT_THREAD = /* wgsl */ `
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.total) { return; }
  let ow = e % p.oW;
  let oh = (e / p.oW) % p.oH;
  let xo = p.o_x + (e / (p.oW * p.oH)) * p.H * p.W;`;

// a thread per input element e = (plane, h, w) of [P, H, W]
const INPUT_THREAD = /* wgsl */ `
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.total) { return; }
  let w = e % p.W;
  let h = (e / p.W) % p.H;
  let plane = e / (p.W * p.H);`;

// the sum of x over rows [h0, h1) and columns [w0, w1) of the plane at xo, row by row (the js kernels' order)
const WINDOW_SUM = /* wgsl */ `
fn windowSum(xo: u32, h0: i32, h1: i32, w0: i32, w1: i32) -> f32 {
  var s = 0.0;
  for (var h = h0; h < h1; h++) {
    for (var w = w0; w < w1; w++) { s += b_x[xo + u32(h) * p.W + u32(w)]; }
  }
  return s;
}`;

const maxSource = (): string => /* wgsl */ `
${header(["out", "argmax"], ["x"], WINDOW)}
${computeMain(WG)} {
${OUTPUT_THREAD}
  let h0 = i32(oh * p.sH) - i32(p.padH);
  let w0 = i32(ow * p.sW) - i32(p.padW);
  var best = negInf();
  var bestAt = -1;
  for (var i = 0u; i < p.kH; i++) {
    let h = h0 + i32(i * p.dH);
    if (h < 0 || h >= i32(p.H)) { continue; }
    for (var j = 0u; j < p.kW; j++) {
      let w = w0 + i32(j * p.dW);
      if (w < 0 || w >= i32(p.W)) { continue; }
      let v = b_x[xo + u32(h) * p.W + u32(w)];
      if (bestAt < 0 || v > best || isNan(v)) {
        best = v;
        bestAt = h * i32(p.W) + w;
      }
    }
  }
  b_out[p.o_out + e] = best;
  b_argmax[p.o_argmax + e] = f32(bestAt);
}`;

// the outputs oh whose window row i reads h: oh sH = h + padH - i dH; i from the last, so oh ascends
const maxBackwardSource = (): string => /* wgsl */ `
${header(["dx"], ["dy", "argmax"], WINDOW)}
${computeMain(WG)} {
${INPUT_THREAD}
  let here = f32(h * p.W + w);
  let yo = plane * p.oH * p.oW;
  var s = 0.0;
  for (var ii = p.kH; ii > 0u; ii--) {
    let th = i32(h + p.padH) - i32((ii - 1u) * p.dH);
    if (th < 0 || u32(th) % p.sH != 0u) { continue; }
    let oh = u32(th) / p.sH;
    if (oh >= p.oH) { continue; }
    for (var jj = p.kW; jj > 0u; jj--) {
      let tw = i32(w + p.padW) - i32((jj - 1u) * p.dW);
      if (tw < 0 || u32(tw) % p.sW != 0u) { continue; }
      let ow = u32(tw) / p.sW;
      if (ow >= p.oW) { continue; }
      let o = yo + oh * p.oW + ow;
      if (b_argmax[p.o_argmax + o] == here) { s += b_dy[p.o_dy + o]; }
    }
  }
  b_dx[p.o_dx + e] = s;
}`;

// the window of output (oh, ow): clipped to the padded input (its size: the divisor with
// countIncludePad), then to the input (the divisor without); divisor > 0 overrides both
const AVG_WINDOW = /* wgsl */ `
struct Win { h0: i32, h1: i32, w0: i32, w1: i32, count: f32 }
fn avgWindow(oh: u32, ow: u32) -> Win {
  var h0 = i32(oh * p.sH) - i32(p.padH);
  var w0 = i32(ow * p.sW) - i32(p.padW);
  var h1 = min(h0 + i32(p.kH), i32(p.H + p.padH));
  var w1 = min(w0 + i32(p.kW), i32(p.W + p.padW));
  let padded = (h1 - h0) * (w1 - w0);
  h0 = max(h0, 0);
  w0 = max(w0, 0);
  h1 = min(h1, i32(p.H));
  w1 = min(w1, i32(p.W));
  var count = f32((h1 - h0) * (w1 - w0));
  if (p.countIncludePad != 0u) { count = f32(padded); }
  if (p.divisor > 0u) { count = f32(p.divisor); }
  return Win(h0, h1, w0, w1, count);
}`;

const avgSource = (): string => /* wgsl */ `
${header(["out"], ["x"], WINDOW)}
${AVG_WINDOW}
${WINDOW_SUM}
${computeMain(WG)} {
${OUTPUT_THREAD}
  let win = avgWindow(oh, ow);
  let s = windowSum(xo, win.h0, win.h1, win.w0, win.w1);
  var v = 0.0;
  if (win.h0 < win.h1 && win.w0 < win.w1) { v = s / win.count; }
  b_out[p.o_out + e] = v;
}`;

// output rows oh with oh sH - padH <= h < oh sH - padH + kH, ascending (likewise columns)
const avgBackwardSource = (): string => /* wgsl */ `
${header(["dx"], ["dy"], WINDOW)}
${AVG_WINDOW}
fn firstCovering(x: u32, pad: u32, k: u32, s: u32) -> u32 {
  let lo = i32(x + pad) - i32(k) + 1;
  if (lo <= 0) { return 0u; }
  return (u32(lo) + s - 1u) / s;
}
${computeMain(WG)} {
${INPUT_THREAD}
  let yo = p.o_dy + plane * p.oH * p.oW;
  let ohEnd = min(p.oH, (h + p.padH) / p.sH + 1u);
  let owEnd = min(p.oW, (w + p.padW) / p.sW + 1u);
  var s = 0.0;
  for (var oh = firstCovering(h, p.padH, p.kH, p.sH); oh < ohEnd; oh++) {
    for (var ow = firstCovering(w, p.padW, p.kW, p.sW); ow < owEnd; ow++) {
      s += b_dy[yo + oh * p.oW + ow] / avgWindow(oh, ow).count;
    }
  }
  b_dx[p.o_dx + e] = s;
}`;

const ADAPTIVE = ["P: u32", "H: u32", "W: u32", "oH: u32", "oW: u32", "total: u32"];

// output o of n -> m covers [floor(o n / m), ceil((o + 1) n / m))
const ADAPTIVE_FNS = /* wgsl */ `
fn lo(o: u32, n: u32, m: u32) -> u32 { return (o * n) / m; }
fn hi(o: u32, n: u32, m: u32) -> u32 { return ((o + 1u) * n + m - 1u) / m; }`;

const adaptiveSource = (): string => /* wgsl */ `
${header(["out"], ["x"], ADAPTIVE)}
${ADAPTIVE_FNS}
${WINDOW_SUM}
${computeMain(WG)} {
${OUTPUT_THREAD}
  let h0 = lo(oh, p.H, p.oH);
  let h1 = hi(oh, p.H, p.oH);
  let w0 = lo(ow, p.W, p.oW);
  let w1 = hi(ow, p.W, p.oW);
  let s = windowSum(xo, i32(h0), i32(h1), i32(w0), i32(w1));
  b_out[p.o_out + e] = s / f32((h1 - h0) * (w1 - w0));
}`;

// the outputs covering input h: oh in [floor(h oH / H), ceil((h + 1) oH / H)), each checked
const adaptiveBackwardSource = (): string => /* wgsl */ `
${header(["dx"], ["dy"], ADAPTIVE)}
${ADAPTIVE_FNS}
${computeMain(WG)} {
${INPUT_THREAD}
  let yo = p.o_dy + plane * p.oH * p.oW;
  var s = 0.0;
  for (var oh = (h * p.oH) / p.H; oh < min(p.oH, hi(h, p.oH, p.H)); oh++) {
    let h0 = lo(oh, p.H, p.oH);
    let h1 = hi(oh, p.H, p.oH);
    if (h < h0 || h >= h1) { continue; }
    for (var ow = (w * p.oW) / p.W; ow < min(p.oW, hi(w, p.oW, p.W)); ow++) {
      let w0 = lo(ow, p.W, p.oW);
      let w1 = hi(ow, p.W, p.oW);
      if (w < w0 || w >= w1) { continue; }
      s += b_dy[yo + oh * p.oW + ow] / f32((h1 - h0) * (w1 - w0));
    }
  }
  b_dx[p.o_dx + e] = s;
}`;

// a thread per element of `total` (outputs [P, oH, oW] forward, inputs [P, H, W] backward); none to run when it is 0
function launch(ctx: KernelContext, kernel: string, source: () => string, outputs: GpuArray[], inputs: GpuArray[], total: number,
  paramsOf: (total: number) => number[]): void {
  if (total === 0) return;
  dispatchKernel(ctx, kernel, source, outputs, inputs, paramsOf(total), ceilDiv(total, WG));
}

const outputs = (a: AdaptivePool2dArgs): number => a.P * a.oH * a.oW;
const inputs = (a: AdaptivePool2dArgs): number => a.P * a.H * a.W;
const adaptiveParams = (a: AdaptivePool2dArgs) => (total: number): number[] => [a.P, a.H, a.W, a.oH, a.oW, total];

/** out, argmax [P, oH, oW] = max pooling of x [P, H, W]. */
export function maxPool2d(ctx: KernelContext, out: GpuArray, argmax: GpuArray, x: GpuArray, a: Pool2dArgs): void {
  launch(ctx, "maxPool2d", maxSource, [out, argmax], [x], outputs(a), (total) => params(a, total));
}

/** dx [P, H, W] = dy routed to the saved argmax (written). */
export function maxPool2dBackward(ctx: KernelContext, dx: GpuArray, dy: GpuArray, argmax: GpuArray, a: Pool2dArgs): void {
  launch(ctx, "maxPool2dBackward", maxBackwardSource, [dx], [dy, argmax], inputs(a), (total) => params(a, total));
}

/** out [P, oH, oW] = average pooling of x [P, H, W]. */
export function avgPool2d(ctx: KernelContext, out: GpuArray, x: GpuArray, a: AvgPool2dArgs): void {
  launch(ctx, "avgPool2d", avgSource, [out], [x], outputs(a), (total) => params(a, total, a));
}

/** dx [P, H, W] of average pooling (written). */
export function avgPool2dBackward(ctx: KernelContext, dx: GpuArray, dy: GpuArray, a: AvgPool2dArgs): void {
  launch(ctx, "avgPool2dBackward", avgBackwardSource, [dx], [dy], inputs(a), (total) => params(a, total, a));
}

/** out [P, oH, oW] = adaptive average pooling of x [P, H, W]. */
export function adaptiveAvgPool2d(ctx: KernelContext, out: GpuArray, x: GpuArray, a: AdaptivePool2dArgs): void {
  launch(ctx, "adaptiveAvgPool2d", adaptiveSource, [out], [x], outputs(a), adaptiveParams(a));
}

/** dx [P, H, W] of adaptive average pooling (written). */
export function adaptiveAvgPool2dBackward(ctx: KernelContext, dx: GpuArray, dy: GpuArray, a: AdaptivePool2dArgs): void {
  launch(ctx, "adaptiveAvgPool2dBackward", adaptiveBackwardSource, [dx], [dy], inputs(a), adaptiveParams(a));
}
