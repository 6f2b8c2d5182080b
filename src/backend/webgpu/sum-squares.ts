/**
 * The sum of the squares of many arrays into one element, as SumOfSquares (backend.ts) for the
 * gradient clipping's norm (optim/clip-device.ts). Arrays go in groups of as many as the device
 * binds at once (maxStorageBuffersPerShaderStage less the output, at most 8): one dispatch per
 * group, one workgroup of 256 threads per array, thread t summing x[t]², x[t + 256]², ... in order,
 * then a tree over the workgroup into the array's partial sum; a last dispatch adds the partial
 * sums in array order to acc. The fixed order gives the same bits every run, and the same bits as
 * one array at a time (acc = ((acc + s0) + s1) + ...). It replaces one dispatch per gradient, each
 * a single workgroup, that ran one after another.
 *
 * ```ts
 * sumOfSquares(ctx, acc, [g0, g1], [n0, n1], true); // acc[0] += sum of g0[i]² + sum of g1[i]²
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { dispatchKernel } from "./context.js";
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

/** acc[0] = (accumulate ? acc[0] : 0) + the sum over arrays j of the sum of xs[j][i]² over i < ns[j]. */
export function sumOfSquares(ctx: KernelContext, acc: GpuArray, xs: readonly GpuArray[], ns: readonly number[], accumulate: boolean): void {
  const m = xs.length;
  if (m === 0) {
    if (!accumulate) fill(ctx, acc, 1, 0);
    return;
  }
  const part = ctx.scratch(m), per = arraysPerDispatch(ctx);
  for (let first = 0; first < m; first += per) {
    const k = Math.min(per, m - first);
    dispatchKernel(ctx, `sumOfSquares.k${k}`, partialSource(k), [part], xs.slice(first, first + k), [first, ...ns.slice(first, first + k)], k);
  }
  dispatchKernel(ctx, "sumOfSquares.combine", combineSource, [acc], [part], [m, accumulate ? 1 : 0], 1);
  ctx.release(part);
}
