/**
 * The comparison kernel on the device, as Backend.compare: out = a (op) b ? 1 : 0 with
 * broadcasting through strides (copy.ts's shape walk; dims merged on the host first), a bool
 * result held as floats. One pipeline per op; a thread per output element. WGSL may assume no
 * NaN, so NaN operands are recognised by their bits: they compare unequal to everything.
 *
 * ```ts
 * compare(ctx, "gt", out, a, b, [2, 3], [3, 1], [0, 0]); // a [2, 3] > the scalar b
 * ```
 */
import type { CompareOp } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { coalesce, walkFn, walkTable, WG } from "./copy.js";
import { computeMain, header } from "./wgsl.js";

/** The WGSL test of each op on a and b (neither NaN). */
const TEST: Record<CompareOp, string> = { eq: "a == b", ne: "a != b", lt: "a < b", le: "a <= b", gt: "a > b", ge: "a >= b" };

const source = (op: CompareOp) => (): string => /* wgsl */ `
${header(["out"], ["a", "b"], ["n: u32", "rank: u32"], true)}
${walkFn(2)}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let w = walk(i);
  let a = b_a[p.o_a + w[0]];
  let b = b_b[p.o_b + w[1]];
  let nan = isNan(a) || isNan(b);
  b_out[p.o_out + i] = select(select(0.0, 1.0, ${TEST[op]}), ${op === "ne" ? "1.0" : "0.0"}, nan);
}`;

/** out [outShape] = a (op) b ? 1 : 0, a and b read at their strides per out dim (0 broadcasts). */
export function compare(ctx: KernelContext, op: CompareOp, out: GpuArray, a: GpuArray, b: GpuArray, outShape: readonly number[],
  aStrides: readonly number[], bStrides: readonly number[]): void {
  const n = outShape.reduce((x, y) => x * y, 1);
  if (n === 0) return;
  const w = coalesce(outShape, [aStrides, bStrides]);
  dispatchKernel(ctx, `compare.${op}`, source(op), [out], [a, b], [n, w.shape.length], ceilDiv(n, WG), walkTable(w.shape, w.strides));
}
