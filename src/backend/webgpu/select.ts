/**
 * The select kernel on the device, as Backend.where: out = cond != 0 ? a : b with broadcasting
 * through strides (copy.ts's shape walk over three operands; dims merged on the host first). cond
 * holds 0 / 1 as floats (a bool mask uploaded as float32). A thread per output element.
 *
 * ```ts
 * where(ctx, out, cond, a, b, [2, 3], [3, 1], [0, 1], [0, 0]); // cond [2, 3], a [3], b a scalar
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { coalesce, walkFn, walkTable, WG } from "./copy.js";
import { computeMain, header } from "./wgsl.js";

const whereSource = (): string => /* wgsl */ `
${header(["out"], ["c", "a", "b"], ["n: u32", "rank: u32"], true)}
${walkFn(3)}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let w = walk(i);
  b_out[p.o_out + i] = select(b_b[p.o_b + w[2]], b_a[p.o_a + w[1]], b_c[p.o_c + w[0]] != 0.0);
}`;

/** out [outShape] = cond ? a : b, each read at its strides per out dim (0 broadcasts). */
export function where(ctx: KernelContext, out: GpuArray, cond: GpuArray, a: GpuArray, b: GpuArray, outShape: readonly number[],
  condStrides: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
  const n = outShape.reduce((x, y) => x * y, 1);
  if (n === 0) return;
  const w = coalesce(outShape, [condStrides, aStrides, bStrides]);
  dispatchKernel(ctx, "where", whereSource, [out], [cond, a, b], [n, w.shape.length], ceilDiv(n, WG), walkTable(w.shape, w.strides));
}
