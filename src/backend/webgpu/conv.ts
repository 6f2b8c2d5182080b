/**
 * 2-D convolution on the device, as Backend.conv2dForward / conv2dBackwardInput /
 * conv2dBackwardWeight (NCHW, groups, stride, padding, dilation; see Conv2dArgs).
 *
 * Columns are laid out [K, n, L] (K = C kH kW rows, n images of a chunk, L = oH oW positions), so
 * that each group's rows are one [Kg, n L] block and every product is one batched GEMM over the G
 * groups (matmul.ts), the images folded into N (forward, input gradient) or into the summed K
 * (weight gradient):
 *
 * 1. cols [K, n, L] = im2col(x)                                        (a kernel, a thread per element)
 * 2. tmp_g [Og, n L] = weight_g [Og, Kg] @ cols_g [Kg, n L]            (GEMM, batch G)
 * 3. out [n, O, L] = tmp [O, n, L] permuted, + bias [O]                (strided copy, or binary add)
 *
 * Backward for x: dyT [O, n, L] = dy permuted; dcols_g = weight_g^T @ dyT_g; dx = col2im(dcols),
 * a gather (each input pixel sums the taps that read it, in a fixed order: deterministic, no
 * atomics). Backward for the weight: dweight_g [Og, Kg] += dyT_g [Og, n L] @ cols_g^T, summed over
 * chunks. Images go in chunks of at most 4M column elements (16 MiB), as the js kernels do.
 *
 * Split K (the weight gradient): its GEMM has only O x Kg outputs but sums over n L, so on a large
 * device it is a few workgroups each walking a long K. Where `splitK` says so, the n L positions go
 * in S contiguous ranges of kc = ceil(n L / S) (the last shorter, the layout padded with zeros):
 * columns as [S, K, kc] and dy as [S, O, kc], so each (range, group) is one block of a batched
 * GEMM of S G products into partial sums [S, O, Kg] (accumulated over the chunks of images), then
 * dweight = sum of the S partials, in order from range 0 (a thread per weight). With S = 1 the
 * columns' layout is [K, n, L] above. The sums round differently from the unsplit GEMM's.
 *
 * ```ts
 * conv2dForward(ctx, out, x, weight, bias, args);     // out [B, O, oH, oW]
 * conv2dBackwardInput(ctx, dx, dy, weight, args);     // dx [B, C, H, W]
 * conv2dBackwardWeight(ctx, dweight, dy, x, args);    // dweight [O, C / G, kH, kW]
 * forceConvSplitK(3);                                // the tests: every weight gradient in 3 ranges of K
 * ```
 */
import { ValueError } from "../../tensor/errors.js";
import type { Conv2dArgs } from "../backend.js";
import { zero } from "./attention.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { stridedCopy } from "./copy.js";
import { binary } from "./elementwise.js";
import { matmul } from "./matmul.js";
import { TILE64 } from "./matmul-tile64.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;
/** Column (or permuted output) elements per chunk of images. */
const CHUNK = 1 << 22;

const GEOMETRY = ["n: u32", "C: u32", "H: u32", "W: u32", "kH: u32", "kW: u32", "oH: u32", "oW: u32",
  "sH: u32", "sW: u32", "padTop: u32", "padLeft: u32", "dH: u32", "dW: u32", "total: u32", "kc: u32"];

// 1. cols[(s, k, j)] = x[b, c, oh sH - padTop + i dH, ow sW - padLeft + j dW] (0 outside) at position
// q = s kc + j = b L + oh oW + ow (0 past n L), k = (c kH + i) kW + j; S = 1, kc = n L: cols [K, n, L]
const im2colSource = (): string => /* wgsl */ `
${header(["cols"], ["x"], GEOMETRY)}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.total) { return; }
  let L = p.oH * p.oW;
  let K = p.C * p.kH * p.kW;
  let q = (e / (p.kc * K)) * p.kc + e % p.kc;
  if (q >= p.n * L) {
    b_cols[p.o_cols + e] = 0.0;
    return;
  }
  let l = q % L;
  let b = q / L;
  let k = (e / p.kc) % K;
  let taps = p.kH * p.kW;
  let c = k / taps;
  let ki = (k % taps) / p.kW;
  let kj = k % p.kW;
  let h = i32((l / p.oW) * p.sH + ki * p.dH) - i32(p.padTop);
  let w = i32((l % p.oW) * p.sW + kj * p.dW) - i32(p.padLeft);
  var v = 0.0;
  if (h >= 0 && h < i32(p.H) && w >= 0 && w < i32(p.W)) {
    v = b_x[p.o_x + ((b * p.C + c) * p.H + u32(h)) * p.W + u32(w)];
  }
  b_cols[p.o_cols + e] = v;
}`;

// dx[b, c, h, w] = sum over taps (i, j) and positions (oh, ow) that read (h, w) of dcols[(k, b, l)]
const col2imSource = (): string => /* wgsl */ `
${header(["dx"], ["dcols"], GEOMETRY)}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.total) { return; }
  let w = e % p.W;
  let h = (e / p.W) % p.H;
  let c = (e / (p.W * p.H)) % p.C;
  let b = e / (p.W * p.H * p.C);
  let L = p.oH * p.oW;
  var s = 0.0;
  for (var i = 0u; i < p.kH; i++) {
    // oh sH = h + padTop - i dH
    let th = i32(h + p.padTop) - i32(i * p.dH);
    if (th < 0 || u32(th) % p.sH != 0u) { continue; }
    let oh = u32(th) / p.sH;
    if (oh >= p.oH) { continue; }
    for (var j = 0u; j < p.kW; j++) {
      let tw = i32(w + p.padLeft) - i32(j * p.dW);
      if (tw < 0 || u32(tw) % p.sW != 0u) { continue; }
      let ow = u32(tw) / p.sW;
      if (ow >= p.oW) { continue; }
      let k = (c * p.kH + i) * p.kW + j;
      s += b_dcols[p.o_dcols + (k * p.n + b) * L + oh * p.oW + ow];
    }
  }
  b_dx[p.o_dx + e] = s;
}`;

// split K: dyS[(s, o, j)] = dy[b, o, l] at position q = s kc + j = b L + l (0 past n L)
const dyChunksSource = (): string => /* wgsl */ `
${header(["dyS"], ["dy"], ["n: u32", "O: u32", "L: u32", "kc: u32", "total: u32"])}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.total) { return; }
  let q = (e / (p.kc * p.O)) * p.kc + e % p.kc;
  var v = 0.0;
  if (q < p.n * p.L) {
    let o = (e / p.kc) % p.O;
    v = b_dy[p.o_dy + ((q / p.L) * p.O + o) * p.L + q % p.L];
  }
  b_dyS[p.o_dyS + e] = v;
}`;

// split K: dw[e] (+)= parts[0, e] + parts[1, e] + ... + parts[S - 1, e], in that order
const sumPartsSource = (): string => /* wgsl */ `
${header(["dw"], ["parts"], ["S: u32", "total: u32", "accumulate: u32"])}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.total) { return; }
  var v = b_parts[p.o_parts + e];
  for (var s = 1u; s < p.S; s++) { v += b_parts[p.o_parts + s * p.total + e]; }
  if (p.accumulate != 0u) { v += b_dw[p.o_dw + e]; }
  b_dw[p.o_dw + e] = v;
}`;

/** Elements [off, off + len) of arr (a kernel-level view; nothing owns it). */
const at = (arr: GpuArray, off: number, len: number): GpuArray => ({ buffer: arr.buffer, offset: arr.offset + off, length: len });

function geometry(a: Conv2dArgs, n: number, total: number, kc: number): number[] {
  return [n, a.C, a.H, a.W, a.kH, a.kW, a.oH, a.oW, a.sH, a.sW, a.padTop, a.padLeft, a.dH, a.dW, total, kc];
}

/** cols [S, K, kc] from the n images of x [n, C, H, W] (S = 1, kc = n L: [K, n, L]). */
function im2col(ctx: KernelContext, cols: GpuArray, x: GpuArray, n: number, a: Conv2dArgs, S = 1, kc = n * a.oH * a.oW): void {
  const total = S * a.C * a.kH * a.kW * kc;
  dispatchKernel(ctx, "conv2d.im2col", im2colSource, [cols], [x], geometry(a, n, total, kc), ceilDiv(total, WG));
}

/** dyS [S, O, kc] from the n images of dy [n, O, L]. */
function dyChunks(ctx: KernelContext, dyS: GpuArray, dy: GpuArray, n: number, O: number, L: number, S: number, kc: number): void {
  const total = S * O * kc;
  dispatchKernel(ctx, "conv2d.dyChunks", dyChunksSource, [dyS], [dy], [n, O, L, kc, total], ceilDiv(total, WG));
}

/** dw [total] (+)= the sum of parts [S, total] over S, from part 0 on. */
function sumParts(ctx: KernelContext, dw: GpuArray, parts: GpuArray, S: number, total: number, accumulate: boolean): void {
  dispatchKernel(ctx, "conv2d.sumParts", sumPartsSource, [dw], [parts], [S, total, accumulate ? 1 : 0], ceilDiv(total, WG));
}

/** dx [n, C, H, W] = col2im(dcols [K, n, L]), written. */
function col2im(ctx: KernelContext, dx: GpuArray, dcols: GpuArray, n: number, a: Conv2dArgs): void {
  const total = n * a.C * a.H * a.W;
  dispatchKernel(ctx, "conv2d.col2im", col2imSource, [dx], [dcols], geometry(a, n, total, 0), ceilDiv(total, WG));
}

/** L positions and K column rows per image, Og / Kg per group, images per chunk. */
function sizes(a: Conv2dArgs): { L: number; K: number; Og: number; Kg: number; CHW: number; nb: number } {
  const L = a.oH * a.oW, K = a.C * a.kH * a.kW;
  const nb = Math.max(1, Math.min(a.B, Math.floor(CHUNK / Math.max(1, Math.max(K, a.O) * L))));
  return { L, K, Og: a.O / a.G, Kg: K / a.G, CHW: a.C * a.H * a.W, nb };
}

/** dyT [O, n, L] = the n images of dy [n, O, L] at element `from`, permuted. */
function permuteDy(ctx: KernelContext, dyT: GpuArray, dy: GpuArray, from: number, n: number, O: number, L: number): void {
  stridedCopy(ctx, dyT, at(dy, from, n * O * L), [O, n, L], [L, O * L, 1]);
}

/** out [B, O, oH, oW] = conv(x [B, C, H, W], weight [O, C / G, kH, kW]) (+ bias [O]). */
export function conv2dForward(ctx: KernelContext, out: GpuArray, x: GpuArray, weight: GpuArray, bias: GpuArray | null, a: Conv2dArgs): void {
  const { B, O, G } = a;
  const { L, K, Og, Kg, CHW, nb } = sizes(a);
  if (B === 0 || O === 0 || L === 0) return;
  const cols = ctx.scratch(nb * K * L), tmp = ctx.scratch(O * nb * L);
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0);
    im2col(ctx, cols, at(x, b0 * CHW, n * CHW), n, a); // 1.
    matmul(ctx, tmp, weight, cols, G, Og, n * L, Kg, false, false, Og * Kg, Kg * n * L, false); // 2. [G, Og, n L]
    const o = at(out, b0 * O * L, n * O * L); // 3. [n, O, L] from tmp [O, n, L]
    if (bias) binary(ctx, "add", o, tmp, bias, [n, O, L], [L, n * L, 1], [0, 1, 0]);
    else stridedCopy(ctx, o, tmp, [n, O, L], [L, n * L, 1]);
  }
  ctx.release(cols);
  ctx.release(tmp);
}

/** dx [B, C, H, W] for dy [B, O, oH, oW] (written): undoes 2 and 1 for x. */
export function conv2dBackwardInput(ctx: KernelContext, dx: GpuArray, dy: GpuArray, weight: GpuArray, a: Conv2dArgs): void {
  const { B, O, G } = a;
  const { L, K, Og, Kg, CHW, nb } = sizes(a);
  if (B === 0) return;
  if (L === 0 || O === 0) {
    zero(ctx, dx, B * CHW);
    return;
  }
  const dyT = ctx.scratch(O * nb * L), dcols = ctx.scratch(nb * K * L);
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0);
    permuteDy(ctx, dyT, dy, b0 * O * L, n, O, L); // undoes 3
    matmul(ctx, dcols, weight, dyT, G, Kg, n * L, Og, true, false, Og * Kg, Og * n * L, false); // undoes 2: [G, Kg, n L]
    col2im(ctx, at(dx, b0 * CHW, n * CHW), dcols, n, a); // undoes 1
  }
  ctx.release(dyT);
  ctx.release(dcols);
}

/**
 * The ranges of K a weight gradient of G products [M, N] summing over K is split into: enough that
 * S times its 64 x 64 tiles reaches SPLIT_WORKGROUPS (about four workgroups per compute unit of the
 * largest GPUs: an H100 has 132), each range keeping at least SPLIT_MIN_K of K (16 of the GEMM's k
 * steps, so the partial sums' extra traffic, S M N floats written and read, stays small beside
 * the ranges' M N K / S products), at most 64; 1 (no split) where that gives fewer than 2, so a
 * split needs K >= 512 and at most 256 tiles. A guess until a GPU run times it.
 */
export function splitK(G: number, M: number, N: number, K: number): number {
  const tiles = G * ceilDiv(M, TILE64) * ceilDiv(N, TILE64);
  const S = Math.min(64, Math.floor(SPLIT_WORKGROUPS / tiles), Math.floor(K / SPLIT_MIN_K));
  return S >= 2 ? S : 1;
}

const SPLIT_WORKGROUPS = 512;
const SPLIT_MIN_K = 256;

/** A forced number of ranges for every weight gradient (the tests' and the bench's knob; 0: unsplit); null: splitK decides. */
let forcedSplit: number | null = null;

/**
 * Forces the weight gradient's split into S ranges of K (S = 1: the split path with one range;
 * S = 0: the unsplit path, whatever splitK says), or back to splitK with null.
 */
export function forceConvSplitK(S: number | null): void {
  if (S !== null && !(Number.isInteger(S) && S >= 0)) {
    throw new ValueError("forceConvSplitK", "S", "a non-negative integer or null", String(S));
  }
  forcedSplit = S;
}

/**
 * dweight [O, C / G, kH, kW] for dy and x (written, or added to with `accumulate`): undoes 2 for
 * the weight, summed over the images; split over K where splitK (or forceConvSplitK) says so.
 */
export function conv2dBackwardWeight(ctx: KernelContext, dweight: GpuArray, dy: GpuArray, x: GpuArray, a: Conv2dArgs, accumulate = false): void {
  const { B, O, G } = a;
  const { L, K, Og, Kg, CHW, nb } = sizes(a);
  if (B === 0 || L === 0) {
    if (!accumulate) zero(ctx, dweight, O * Kg);
    return;
  }
  if (O * Kg === 0) return;
  const S = forcedSplit !== null ? Math.min(forcedSplit, nb * L) : splitK(G, Og, Kg, nb * L);
  if (S === 0 || (forcedSplit === null && S === 1)) {
    const cols = ctx.scratch(nb * K * L), dyT = ctx.scratch(O * nb * L);
    for (let b0 = 0; b0 < B; b0 += nb) {
      const n = Math.min(nb, B - b0);
      im2col(ctx, cols, at(x, b0 * CHW, n * CHW), n, a);
      permuteDy(ctx, dyT, dy, b0 * O * L, n, O, L);
      // dweight_g [Og, Kg] (+)= dyT_g [Og, n L] @ cols_g [Kg, n L]^T
      matmul(ctx, dweight, dyT, cols, G, Og, Kg, n * L, false, true, Og * n * L, Kg * n * L, accumulate || b0 > 0);
    }
    ctx.release(cols);
    ctx.release(dyT);
    return;
  }
  // split: ranges of kc positions; the chunk of nb images has the most, later chunks pad more
  const kcMax = ceilDiv(nb * L, S);
  const cols = ctx.scratch(S * K * kcMax), dyS = ctx.scratch(S * O * kcMax), parts = ctx.scratch(S * O * Kg);
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0), kc = ceilDiv(n * L, S);
    im2col(ctx, cols, at(x, b0 * CHW, n * CHW), n, a, S, kc); // [S, G, Kg, kc]
    dyChunks(ctx, dyS, at(dy, b0 * O * L, n * O * L), n, O, L, S, kc); // [S, G, Og, kc]
    // parts_(s, g) [Og, Kg] (+)= dyS_(s, g) [Og, kc] @ cols_(s, g) [Kg, kc]^T
    matmul(ctx, parts, dyS, cols, S * G, Og, Kg, kc, false, true, Og * kc, Kg * kc, b0 > 0);
  }
  sumParts(ctx, dweight, parts, S, O * Kg, accumulate);
  ctx.release(cols);
  ctx.release(dyS);
  ctx.release(parts);
}
