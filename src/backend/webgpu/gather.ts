/**
 * Gathers along one dim on the device, as Backend.indexSelect / indexSelectBackward: out [outer,
 * m, inner] = x [outer, n, inner] at index [m] (a thread per output element; the row of an index
 * outside [0, n) is zeros, and with a check, for indices nobody checked on the host, its thread
 * also stores 1 in the check's flag slot: backend/index-checks.ts), and the backward without
 * atomics over the indices grouped by row (backend/index-grouping.ts on the host, group-indices.ts
 * on the device: `order` lists the positions k row by row, ascending, row r holding
 * order[offsets[r] .. offsets[r + 1])): a thread per dx element sums, in order of k, only the
 * gradient rows that picked its row, so the work is O(outer (n + m) inner), the result
 * deterministic and the js kernel's bits; an index left out of the grouping (outside [0, n), the
 * embedding's padding) adds nowhere. Integers are floats.
 *
 * ```ts
 * indexSelect(ctx, out, weight, ids, 1, V, E, N);                    // out [N, E] = weight [V, E] rows at ids
 * indexSelect(ctx, out, weight, ids, 1, V, E, N, { op: "embedding", arg: "indices" }); // ids unchecked
 * indexSelectBackward(ctx, dw, g, order, offsets, 1, V, E, N);       // dw [V, E]
 * ```
 */
import type { IndexCheck } from "../index-checks.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;
const SIZES = ["outer: u32", "n: u32", "inner: u32", "m: u32"];

// a thread per element e = (o, i, j) of [outer, mid, inner] (mid: p.m or p.n; i: the name its index takes); threads past the end return
const elementThread = (mid: "m" | "n", i: string): string => /* wgsl */ `
  let e = groupIndex(wid, nwg) * ${WG}u + t;
  if (e >= p.outer * p.${mid} * p.inner) { return; }
  let j = e % p.inner;
  let row = e / p.inner;
  let ${i} = row % p.${mid};
  let o = row / p.${mid};`;

// checked: the flags (atomic u32 words) are the second output, the slot the last size
const forwardSource = (checked: boolean) => (): string => /* wgsl */ `
${checked ? header(["out", "flags"], ["x", "index"], [...SIZES, "slot: u32"], false, { flags: "atomic<u32>" }) : header(["out"], ["x", "index"], SIZES)}
${computeMain(WG)} {
${elementThread("m", "k")}
  let v = b_index[p.o_index + k];
  if (v >= 0.0 && v < f32(p.n)) {
    b_out[p.o_out + e] = b_x[p.o_x + (o * p.n + u32(v)) * p.inner + j];
  } else {
    b_out[p.o_out + e] = 0.0;${checked ? `
    atomicStore(&b_flags[p.o_flags + p.slot], 1u);` : ""}
  }
}`;

// a thread per index: the check alone, for a gather with no output element
const checkOnlySource = (): string => /* wgsl */ `
${header(["flags"], ["index"], ["n: u32", "m: u32", "slot: u32"], false, { flags: "atomic<u32>" })}
${computeMain(WG)} {
  let k = groupIndex(wid, nwg) * ${WG}u + t;
  if (k >= p.m) { return; }
  let v = b_index[p.o_index + k];
  if (!(v >= 0.0 && v < f32(p.n))) { atomicStore(&b_flags[p.o_flags + p.slot], 1u); }
}`;

/**
 * out [outer, m, inner] = x [outer, n, inner] at index [m] along n, zeros for an index outside
 * [0, n); with `check` such an index also sets the check's flag (ctx.indexCheck), also when there
 * is no output element (outer or inner 0: a kernel of the check alone).
 */
export function indexSelect(ctx: KernelContext, out: GpuArray, x: GpuArray, index: GpuArray, outer: number, n: number,
  inner: number, m: number, check?: IndexCheck): void {
  const total = outer * m * inner;
  if (total === 0) {
    // no output element (outer or inner 0): the indices are still checked, as on the host
    if (check && m > 0) {
      const { flags, slot } = ctx.indexCheck(check, n);
      dispatchKernel(ctx, "indexSelect.checkOnly", checkOnlySource, [flags], [index], [n, m, slot], ceilDiv(m, WG));
    }
    return;
  }
  if (!check) {
    dispatchKernel(ctx, "indexSelect", forwardSource(false), [out], [x, index], [outer, n, inner, m], ceilDiv(total, WG));
    return;
  }
  const { flags, slot } = ctx.indexCheck(check, n);
  dispatchKernel(ctx, "indexSelect.checked", forwardSource(true), [out, flags], [x, index], [outer, n, inner, m, slot], ceilDiv(total, WG));
}

const backwardSource = (): string => /* wgsl */ `
${header(["dx"], ["g", "order", "offsets"], SIZES)}
${computeMain(WG)} {
${elementThread("n", "r")}
  let k0 = u32(b_offsets[p.o_offsets + r]);
  let k1 = u32(b_offsets[p.o_offsets + r + 1u]);
  var s = 0.0;
  for (var k = k0; k < k1; k++) {
    s += b_g[p.o_g + (o * p.m + u32(b_order[p.o_order + k])) * p.inner + j];
  }
  b_dx[p.o_dx + e] = s;
}`;

/**
 * dx [outer, n, inner] = for each row r, the sum in order of k of the rows k of g [outer, m, inner]
 * listed for r: order[offsets[r] .. offsets[r + 1]).
 */
export function indexSelectBackward(ctx: KernelContext, dx: GpuArray, g: GpuArray, order: GpuArray, offsets: GpuArray, outer: number,
  n: number, inner: number, m: number): void {
  const total = outer * n * inner;
  if (total === 0) return;
  dispatchKernel(ctx, "indexSelectBackward", backwardSource, [dx], [g, order, offsets], [outer, n, inner, m], ceilDiv(total, WG));
}
