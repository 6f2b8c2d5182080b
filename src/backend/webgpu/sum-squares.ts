/**
 * The sum of the squares of many arrays into one element, as SumOfSquares (backend.ts) for the
 * gradient clipping's norm (optim/clip-device.ts). Arrays go in groups of as many as the device
 * binds at once (maxStorageBuffersPerShaderStage less the output, at most 8): one dispatch per
 * group, one workgroup of 256 threads per array, thread t summing x[t]², x[t + 256]², ... in order,
 * then a tree over the workgroup into the array's partial sum; a last dispatch adds the partial
 * sums in array order to acc. The fixed order gives the same bits every run, and the same bits as
 * one array at a time (acc = ((acc + s0) + s1) + ...). It replaces one dispatch per gradient, each
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
import { computeMain, header, reduceFn } from "./wgsl.js";

const WG = 256;

/** Arrays a dispatch binds besides its one output: the device's storage bindings less one, at most 8. */
export function arraysPerDispatch(ctx: KernelContext): number {
  return Math.max(1, Math.min(8, ctx.maxStorageBuffers - 1));
}

/** k arrays x0 .. x(k-1): workgroup j writes the sum of squares of xj to part[first + j]. */
const partialSource = (k: number) => (): string => {
  const xs = Array.from({ length: k }, (_, j) => `x${j}`);
  const cases = xs.map((x, j) => `    case ${j}u: { for (var i = t; i < p.n${j}; i += ${WG}u) { let v = b_${x}[p.o_${x} + i]; s = fma(v, v, s); } }`);
  return /* wgsl */ `
${header(["part"], xs, ["first: u32", ...xs.map((_, j) => `n${j}: u32`)])}
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("total", WG, (a, b) => `${a} + ${b}`)}
${computeMain(WG)} {
  var s = 0.0;
  switch wid.x {
${cases.join("\n")}
    default: {}
  }
  let r = total(t, s);
  if (t == 0u) { b_part[p.o_part + p.first + wid.x] = r; }
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

/** Each array's sum of squares into part[j] (one workgroup an array, as many arrays a dispatch as bind). */
function partialSums(ctx: KernelContext, xs: readonly GpuArray[], ns: readonly number[]): GpuArray {
  const m = xs.length, part = ctx.scratch(m), per = arraysPerDispatch(ctx);
  for (let first = 0; first < m; first += per) {
    const k = Math.min(per, m - first);
    dispatchKernel(ctx, `sumOfSquares.k${k}`, partialSource(k), [part], xs.slice(first, first + k), [first, ...ns.slice(first, first + k)], k);
  }
  return part;
}

/** acc[0] = (accumulate ? acc[0] : 0) + the sum over arrays j of the sum of xs[j][i]² over i < ns[j]. */
export function sumOfSquares(ctx: KernelContext, acc: GpuArray, xs: readonly GpuArray[], ns: readonly number[], accumulate: boolean): void {
  const m = xs.length;
  if (m === 0) {
    if (!accumulate) fill(ctx, acc, 1, 0);
    return;
  }
  const part = partialSums(ctx, xs, ns);
  dispatchKernel(ctx, "sumOfSquares.combine", combineSource, [acc], [part], [m, accumulate ? 1 : 0], 1);
  ctx.release(part);
}

/**
 * The gradient clipping's norm and scale (ClipNorm, backend.ts): norm[0] = the 2-norm of all the
 * arrays together (their sums of squares as `sumOfSquares` adds them), coef[0] =
 * min(1, maxNorm / (norm[0] + 1e-6)); one dispatch besides the partial sums.
 */
export function clipNorm(ctx: KernelContext, norm: GpuArray, coef: GpuArray, xs: readonly GpuArray[], ns: readonly number[], maxNorm: number): void {
  const m = xs.length;
  const part = m > 0 ? partialSums(ctx, xs, ns) : ctx.scratch(1); // m = 0: nothing read
  dispatchKernel(ctx, "sumOfSquares.clip", clipSource, [norm, coef], [part], [m, f32Bits(maxNorm)], 1);
  ctx.release(part);
}
