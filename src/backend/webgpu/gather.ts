/**
 * Gathers along one dim on the device, as Backend.indexSelect / indexSelectBackward: out [outer,
 * m, inner] = x [outer, n, inner] at index [m] (a thread per output element), and the backward
 * without atomics: a thread per dx element sums, in order of k, the gradient rows k whose index is
 * its row (so the result is deterministic and the js kernel's bits; an index outside [0, n), such
 * as the embedding's padding marked -1, adds nowhere). Indices are floats holding integers.
 *
 * ```ts
 * indexSelect(ctx, out, weight, ids, 1, V, E, N);         // out [N, E] = weight [V, E] rows at ids
 * indexSelectBackward(ctx, dw, g, ids, 1, V, E, N);       // dw [V, E]
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;
const SIZES = ["outer: u32", "n: u32", "inner: u32", "m: u32"];

const forwardSource = (): string => /* wgsl */ `
${header(["out"], ["x", "index"], SIZES)}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.outer * p.m * p.inner) { return; }
  let j = e % p.inner;
  let ok = e / p.inner;
  let k = ok % p.m;
  let o = ok / p.m;
  let r = u32(b_index[p.o_index + k]);
  b_out[p.o_out + e] = b_x[p.o_x + (o * p.n + r) * p.inner + j];
}`;

/** out [outer, m, inner] = x [outer, n, inner] at index [m] along n. */
export function indexSelect(ctx: KernelContext, out: GpuArray, x: GpuArray, index: GpuArray, outer: number, n: number,
  inner: number, m: number): void {
  const total = outer * m * inner;
  if (total === 0) return;
  dispatchKernel(ctx, "indexSelect", forwardSource, [out], [x, index], [outer, n, inner, m], ceilDiv(total, WG));
}

const backwardSource = (): string => /* wgsl */ `
${header(["dx"], ["g", "index"], SIZES)}
${computeMain(WG)} {
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.outer * p.n * p.inner) { return; }
  let j = e % p.inner;
  let row = e / p.inner;
  let r = i32(row % p.n);
  let o = row / p.n;
  var s = 0.0;
  for (var k = 0u; k < p.m; k++) {
    if (i32(b_index[p.o_index + k]) == r) { s += b_g[p.o_g + (o * p.m + k) * p.inner + j]; }
  }
  b_dx[p.o_dx + e] = s;
}`;

/** dx [outer, n, inner] = for each row r, the sum over k with index[k] == r of g [outer, m, inner] row k. */
export function indexSelectBackward(ctx: KernelContext, dx: GpuArray, g: GpuArray, index: GpuArray, outer: number, n: number,
  inner: number, m: number): void {
  const total = outer * n * inner;
  if (total === 0) return;
  dispatchKernel(ctx, "indexSelectBackward", backwardSource, [dx], [g, index], [outer, n, inner, m], ceilDiv(total, WG));
}
