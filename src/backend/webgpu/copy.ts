/**
 * Strided copy on the device, and the shape/stride walk it shares with the binary kernels.
 *
 * out [outShape] (contiguous) = x read at element strides `strides` per out dim (0 broadcasts),
 * as Backend.stridedCopy; `stridedScatter` is the reverse, out at strides (distinct elements) = x
 * contiguous, writing nothing else of out. The host first merges dims that every operand walks contiguously
 * (`coalesce`), so a plain copy or a broadcast of rows is a walk over one or two dims; the shape
 * and strides go to the kernel in a u32 table [shape(R), strides(R) per operand].
 *
 * ```ts
 * stridedCopy(ctx, out, x, [3, 2], [1, 3]); // out [3, 2] = x [2, 3]^T
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv } from "./context.js";
import { header } from "./wgsl.js";

export const WG = 256;

/**
 * outShape with its operands' strides, size-1 dims dropped and each dim merged into the next
 * inner one when every operand steps over it contiguously; at least rank 1.
 */
export function coalesce(outShape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const shape: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = outShape.length - 1; d >= 0; d--) {
    const n = outShape[d]!;
    if (n === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && strides.every((s, k) => s[d]! === st[k]![last]! * shape[last]!)) {
      shape[last]! *= n;
      continue;
    }
    shape.push(n);
    strides.forEach((s, k) => st[k]!.push(s[d]!));
  }
  if (shape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: shape.reverse(), strides: st.map((s) => s.reverse()) };
}

/** The u32 table of a walk: shape then each operand's strides. */
export function walkTable(shape: readonly number[], strides: readonly (readonly number[])[]): Uint32Array {
  return Uint32Array.from([...shape, ...strides.flat()]);
}

/** WGSL: `walk(i)` gives the element offsets of out index i in each of the `operands` strides (tab rows 1..). */
export function walkFn(operands: number): string {
  const vars = Array.from({ length: operands }, (_, k) => `o${k}`);
  return /* wgsl */ `
fn walk(i: u32) -> array<u32, ${operands}> {
  var rem = i;
  var r: array<u32, ${operands}>;
  for (var d = p.rank; d > 0u; d--) {
    let k = d - 1u;
    let c = rem % tab[k];
    rem = rem / tab[k];
${vars.map((_, q) => `    r[${q}] += c * tab[${q + 1}u * p.rank + k];`).join("\n")}
  }
  return r;
}`;
}

// One walk both ways: a gather reads x at the walked offset (out dense), a scatter writes out there (x dense).
const walkSource = (scatter: boolean) => (): string => /* wgsl */ `
${header(["out"], ["x"], ["n: u32", "rank: u32"], true)}
${walkFn(1)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let w = walk(i);
  ${scatter ? "b_out[p.o_out + w[0]] = b_x[p.o_x + i];" : "b_out[p.o_out + i] = b_x[p.o_x + w[0]];"}
}`;
const copySource = walkSource(false), scatterSource = walkSource(true);

function walkCopy(ctx: KernelContext, name: "stridedCopy" | "stridedScatter", out: GpuArray, x: GpuArray,
  shape: readonly number[], strides: readonly number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const w = coalesce(shape, [strides]);
  const pipeline = ctx.pipeline(name, name === "stridedCopy" ? copySource : scatterSource);
  ctx.dispatch(name, pipeline, [out], [x], [n, w.shape.length], ceilDiv(n, WG), walkTable(w.shape, w.strides));
}

/** out [outShape] = x at `strides` (see the file comment). */
export function stridedCopy(ctx: KernelContext, out: GpuArray, x: GpuArray, outShape: readonly number[], strides: readonly number[]): void {
  walkCopy(ctx, "stridedCopy", out, x, outShape, strides);
}

/** out at `strides` (element strides per dim of `shape`, each element once) = x [shape] (contiguous). */
export function stridedScatter(ctx: KernelContext, out: GpuArray, x: GpuArray, shape: readonly number[], strides: readonly number[]): void {
  walkCopy(ctx, "stridedScatter", out, x, shape, strides);
}
