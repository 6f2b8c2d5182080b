/**
 * The sum of the squares of an array into one element, as SumOfSquares (backend.ts) for the
 * gradient clipping's norm (optim/clip-device.ts): one workgroup of 256 threads, thread t summing
 * x[t]², x[t + 256]², ... in order, then a tree over the workgroup; the fixed order gives the same
 * bits every run. It replaces a [1, n] @ [n, 1] product, which the GEMM kernels run as a single
 * workgroup walking all of n in steps of 16, each step through workgroup memory and barriers.
 *
 * ```ts
 * sumOfSquares(ctx, acc, g, n, true); // acc[0] += sum of g[i]², i < n
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { dispatchKernel } from "./context.js";
import { computeMain, header, reduceFn } from "./wgsl.js";

const WG = 256;

const source = (): string => /* wgsl */ `
${header(["acc"], ["x"], ["n: u32", "accumulate: u32"])}
var<workgroup> red: array<f32, ${WG}>;
${reduceFn("total", WG, (a, b) => `${a} + ${b}`)}
${computeMain(WG)} {
  var s = 0.0;
  for (var i = t; i < p.n; i += ${WG}u) {
    let v = b_x[p.o_x + i];
    s = fma(v, v, s);
  }
  let r = total(t, s);
  if (t == 0u) {
    var prev = 0.0;
    if (p.accumulate != 0u) { prev = b_acc[p.o_acc]; }
    b_acc[p.o_acc] = prev + r;
  }
}`;

/** acc[0] = (accumulate ? acc[0] : 0) + the sum of x[i]² over i < n. */
export function sumOfSquares(ctx: KernelContext, acc: GpuArray, x: GpuArray, n: number, accumulate: boolean): void {
  dispatchKernel(ctx, "sumOfSquares", source, [acc], [x], [n, accumulate ? 1 : 0], 1);
}
