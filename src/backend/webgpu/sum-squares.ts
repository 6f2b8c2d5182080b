/**
 * The sum of the squares of many arrays into one element, as SumOfSquares (backend.ts) for the
 * gradient clipping's norm (optim/clip-device.ts). Arrays go in groups of as many as the device
 * binds at once (maxStorageBuffersPerShaderStage less the output, at most 8): one dispatch per
 * group, one workgroup of 256 threads per chunk of 16384 elements of an array (an array up to that
 * long: one workgroup), thread t summing x[t]², x[t + 256]², ... of its chunk in order, then a tree
 * over the workgroup into the chunk's partial sum; a last dispatch adds the partial sums in array
 * and chunk order to acc. A large gradient is so spread over many workgroups instead of walked by
 * one. The fixed order gives the same bits every run, and the same bits as one array at a time
 * (acc = ((acc + s0) + s1) + ...). It replaces one dispatch per gradient, each
 * a single workgroup, that ran one after another. `clipNorm` ends in a kernel that takes the root
 * and the clipping's scale as well, in place of the five one-element kernels and three fills that
 * computed them.
 *
 * ```ts
 * sumOfSquares(ctx, acc, [g0, g1], [n0, n1], true); // acc[0] += sum of g0[i]² + sum of g1[i]²
 * clipNorm(ctx, norm, coef, [g0, g1], [n0, n1], 1);  // norm[0] = the 2-norm, coef[0] = min(1, 1 / (norm + 1e-6))
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { dispatchKernel, f32Bits } from "./context.js";
import { fill } from "./elementwise.js";
import { arraysOverGroups, computeMain, header, reduceFn } from "./wgsl.js";

const WG = 256;

/** Arrays a dispatch binds besides its one output: the device's storage bindings less one, at most 8. */
export function arraysPerDispatch(ctx: KernelContext): number {
  return Math.max(1, Math.min(8, ctx.maxStorageBuffers - 1));
}

/** Elements one workgroup sums: 64 per thread. A longer array is summed in chunks of this many, a workgroup each. */
const CHUNK = 64 * WG;

/** The chunks array x of n elements is summed in (one at least: an empty array's partial sum is 0). */
const chunksOf = (n: number): number => Math.max(1, Math.ceil(n / CHUNK));

/**
 * k arrays x0 .. x(k-1) laid out over the workgroups, chunks of CHUNK elements one after another
 * (arraysOverGroups): the workgroup of chunk c of array j writes its sum of squares to
 * part[f_j + c].
 */
const partialSource = (k: number) => (): string => {
  const xs = Array.from({ length: k }, (_, j) => `x${j}`), over = arraysOverGroups(k, CHUNK);
  const cases = xs.map((x, j) => `    case ${j}u: {
      at = p.f${j} + c;
      let end = min(p.n${j}, (c + 1u) * ${CHUNK}u);
      for (var e = c * ${CHUNK}u + t; e < end; e += ${WG}u) { let v = b_${x}[p.o_${x} + e]; s = fma(v, v, s); }
    }`);
  return /* wgsl */ `
${header(["part"], xs, [...xs.map((_, j) => `n${j}: u32`), ...xs.map((_, j) => `f${j}: u32`), ...over.fields])}
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("total", WG, (a, b) => `${a} + ${b}`)}
${computeMain(WG)} {
${over.find}
  let c = gi - base;
  var s = 0.0;
  var at = 0u;
  switch a {
${cases.join("\n")}
    default: {}
  }
  let r = total(t, s);
  if (t == 0u) { b_part[p.o_part + at] = r; }
}`;
};

/** acc[0] = (accumulate ? acc[0] : 0) + part[0] + part[1] + ... + part[m - 1], added in that order. */
const combineSource = (): string => /* wgsl */ `
${header(["acc"], ["part"], ["m: u32", "accumulate: u32"])}
${computeMain(1)} {
  var s = 0.0;
  if (p.accumulate != 0u) { s = b_acc[p.o_acc]; }
  for (var j = 0u; j < p.m; j++) { s = s + b_part[p.o_part + j]; }
  b_acc[p.o_acc] = s;
}`;

/**
 * norm[0] = sqrt(part[0] + ... + part[m - 1]) (added in that order, from 0) and
 * coef[0] = min(1, maxNorm / (norm[0] + 1e-6)): each step rounded to float32, as the separate
 * kernels (an add, a sqrt, an add, a div, a minimum) round it.
 */
const clipSource = (): string => /* wgsl */ `
${header(["norm", "coef"], ["part"], ["m: u32", "maxNorm: f32"])}
${computeMain(1)} {
  var s = 0.0;
  for (var j = 0u; j < p.m; j++) { s = s + b_part[p.o_part + j]; }
  let n = sqrt(s);
  b_norm[p.o_norm] = n;
  let q = p.maxNorm / (n + 1e-6);
  b_coef[p.o_coef] = select(1.0, q, q < 1.0 || isNan(q)); // a NaN norm gives a NaN scale (as binary "minimum")
}`;

/**
 * Each array's sum of squares by chunks into `part` (a workgroup a chunk, as many arrays a dispatch
 * as bind), array by array, chunk by chunk; returns it and the number of partial sums.
 */
function partialSums(ctx: KernelContext, xs: readonly GpuArray[], ns: readonly number[]): { part: GpuArray; m: number } {
  const chunks = ns.map(chunksOf), m = chunks.reduce((a, b) => a + b, 0);
  const part = ctx.scratch(m), per = arraysPerDispatch(ctx);
  for (let first = 0, f = 0; first < xs.length; first += per) {
    const k = Math.min(per, xs.length - first), cs = chunks.slice(first, first + k);
    // the partial sums' offsets f_j, and the workgroup where each array after the first starts
    const fs: number[] = [], starts: number[] = [];
    let groups = 0;
    cs.forEach((c, j) => {
      fs.push(f + groups);
      if (j > 0) starts.push(groups);
      groups += c;
    });
    f += groups;
    dispatchKernel(ctx, `sumOfSquares.k${k}`, partialSource(k), [part], xs.slice(first, first + k), [...ns.slice(first, first + k), ...fs, ...starts], groups);
  }
  return { part, m };
}

/** acc[0] = (accumulate ? acc[0] : 0) + the sum over arrays j of the sum of xs[j][i]² over i < ns[j]. */
export function sumOfSquares(ctx: KernelContext, acc: GpuArray, xs: readonly GpuArray[], ns: readonly number[], accumulate: boolean): void {
  const m = xs.length;
  if (m === 0) {
    if (!accumulate) fill(ctx, acc, 1, 0);
    return;
  }
  const { part, m: parts } = partialSums(ctx, xs, ns);
  dispatchKernel(ctx, "sumOfSquares.combine", combineSource, [acc], [part], [parts, accumulate ? 1 : 0], 1);
  ctx.release(part);
}

/**
 * The gradient clipping's norm and scale (ClipNorm, backend.ts): norm[0] = the 2-norm of all the
 * arrays together (their sums of squares as `sumOfSquares` adds them), coef[0] =
 * min(1, maxNorm / (norm[0] + 1e-6)); one dispatch besides the partial sums.
 */
export function clipNorm(ctx: KernelContext, norm: GpuArray, coef: GpuArray, xs: readonly GpuArray[], ns: readonly number[], maxNorm: number): void {
  const { part, m } = xs.length > 0 ? partialSums(ctx, xs, ns) : { part: ctx.scratch(1), m: 0 }; // m = 0: nothing read
  dispatchKernel(ctx, "sumOfSquares.clip", clipSource, [norm, coef], [part], [m, f32Bits(maxNorm)], 1);
  ctx.release(part);
}
