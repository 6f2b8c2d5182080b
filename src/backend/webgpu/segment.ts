/**
 * Segment ops on the device, as Backend.segmentSum / segmentBroadcast / segmentSoftmax /
 * segmentSoftmaxBackward: rows grouped CSR-style on the host (`order` [E] lists the rows segment
 * by segment, ascending within one; segment s holds order[offsets[s] .. offsets[s + 1]); integers
 * stored as floats, exact below 2^24).
 *
 * A thread per (segment, trailing element) walks its segment's rows in order: each output element
 * is written by exactly one thread, so there are no atomics and the sums are deterministic (in the
 * order the host adds them). segmentBroadcast is a thread per output element.
 *
 * ```ts
 * segmentSum(ctx, out, src, order, offsets, S, inner);       // out [S, inner]
 * segmentSoftmax(ctx, out, src, order, offsets, S, inner);   // out [E, inner]
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;

const SEGMENT = ["S: u32", "inner: u32"];

// the thread's segment s and trailing element j, and its rows order[k0 .. k1)
const OPEN = /* wgsl */ `
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.S * p.inner) { return; }
  let s = e / p.inner;
  let j = e % p.inner;
  let k0 = u32(b_offsets[p.o_offsets + s]);
  let k1 = u32(b_offsets[p.o_offsets + s + 1u]);`;

const row = (k: string): string => `u32(b_order[p.o_order + ${k}]) * p.inner + j`;

const sumSource = (): string => /* wgsl */ `
${header(["out"], ["src", "order", "offsets"], SEGMENT)}
${computeMain(WG)} {${OPEN}
  var acc = 0.0;
  for (var k = k0; k < k1; k++) { acc += b_src[p.o_src + ${row("k")}]; }
  b_out[p.o_out + e] = acc;
}`;

const broadcastSource = (): string => /* wgsl */ `
${header(["out"], ["x", "index"], ["E: u32", "inner: u32"])}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.E * p.inner) { return; }
  let r = e / p.inner;
  b_out[p.o_out + e] = b_x[p.o_x + u32(b_index[p.o_index + r]) * p.inner + e % p.inner];
}`;

const softmaxSource = (): string => /* wgsl */ `
${header(["out"], ["src", "order", "offsets"], SEGMENT)}
${computeMain(WG)} {${OPEN}
  if (k0 >= k1) { return; }
  var m = b_src[p.o_src + ${row("k0")}];
  for (var k = k0 + 1u; k < k1; k++) { let v = b_src[p.o_src + ${row("k")}]; if (v > m) { m = v; } }
  var den = 0.0;
  for (var k = k0; k < k1; k++) { den += exp(b_src[p.o_src + ${row("k")}] - m); }
  for (var k = k0; k < k1; k++) {
    let i = ${row("k")};
    b_out[p.o_out + i] = exp(b_src[p.o_src + i] - m) / den;
  }
}`;

const softmaxBackwardSource = (): string => /* wgsl */ `
${header(["dx"], ["y", "dy", "order", "offsets"], SEGMENT)}
${computeMain(WG)} {${OPEN}
  var gy = 0.0;
  for (var k = k0; k < k1; k++) { let i = ${row("k")}; gy += b_dy[p.o_dy + i] * b_y[p.o_y + i]; }
  for (var k = k0; k < k1; k++) {
    let i = ${row("k")};
    b_dx[p.o_dx + i] = b_y[p.o_y + i] * (b_dy[p.o_dy + i] - gy);
  }
}`;

/** out [S, inner] = the sum of each segment's rows of src [E, inner]. */
export function segmentSum(ctx: KernelContext, out: GpuArray, src: GpuArray, order: GpuArray, offsets: GpuArray, S: number, inner: number): void {
  if (S * inner === 0) return;
  dispatchKernel(ctx, "segmentSum", sumSource, [out], [src, order, offsets], [S, inner], ceilDiv(S * inner, WG));
}

/** out [E, inner] = x [S, inner] at row index[e]. */
export function segmentBroadcast(ctx: KernelContext, out: GpuArray, x: GpuArray, index: GpuArray, E: number, inner: number): void {
  if (E * inner === 0) return;
  dispatchKernel(ctx, "segmentBroadcast", broadcastSource, [out], [x, index], [E, inner], ceilDiv(E * inner, WG));
}

/** out [E, inner] = softmax of src over each segment's rows. */
export function segmentSoftmax(ctx: KernelContext, out: GpuArray, src: GpuArray, order: GpuArray, offsets: GpuArray, S: number, inner: number): void {
  if (S * inner === 0) return;
  dispatchKernel(ctx, "segmentSoftmax", softmaxSource, [out], [src, order, offsets], [S, inner], ceilDiv(S * inner, WG));
}

/** dx [E, inner] = y (dy - sum over the segment of dy y). */
export function segmentSoftmaxBackward(ctx: KernelContext, dx: GpuArray, y: GpuArray, dy: GpuArray, order: GpuArray, offsets: GpuArray,
  S: number, inner: number): void {
  if (S * inner === 0) return;
  dispatchKernel(ctx, "segmentSoftmaxBackward", softmaxBackwardSource, [dx], [y, dy, order, offsets], [S, inner], ceilDiv(S * inner, WG));
}
