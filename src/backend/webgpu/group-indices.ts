/**
 * Backend.groupIndices on the device: the grouping of index [m] (integers as floats) by the row in
 * [0, n) each picks, that the gather backward (gather.ts) walks — offsets [n + 1] and order [m],
 * its first offsets[n] entries written, equal to backend/index-grouping.ts's on the host (a stable
 * counting sort: row r holds the positions k of its indices, ascending, at order[offsets[r] ..
 * offsets[r + 1]); an index outside [0, n) or equal to `skip` is left out). No float atomics, and
 * the result does not depend on the order threads run in:
 *
 * 1. counts [n] (u32) zeroed, a thread per row;
 * 2. a thread per index adds 1 to its row's count (atomicAdd on u32);
 * 3. one workgroup scans the counts into offsets: each of its 256 threads sums a block of rows,
 *    the block sums are scanned in workgroup memory, each thread writes its block's offsets;
 * 4. a thread per index takes a place in its row's range by atomicSub on the count (each of
 *    count .. 1 once, in whatever order the threads come) and writes its k there, in `placed`;
 * 5. a thread per index counts the positions of its row's range in `placed` smaller than its own
 *    k: that rank is where its k goes in order. O(sum over rows of count^2) work (a row picked by
 *    every index: m^2), each thread only walking its own row.
 *
 * ```ts
 * groupIndices(ctx, order, offsets, ids, V, N, padIdx); // order [N], offsets [V + 1]
 * indexSelectBackward(ctx, dw, g, order, offsets, 1, V, E, N);
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;
const SIZES = ["n: u32", "m: u32", "skip: u32"];

// the row that index k picks when it is kept, else p.n (p.skip is p.n when nothing is skipped)
const KEPT_ROW = /* wgsl */ `
fn keptRow(v: f32) -> u32 {
  if (v >= 0.0 && v < f32(p.n)) {
    let r = u32(v);
    if (r != p.skip) { return r; }
  }
  return p.n;
}`;

// a thread per i in [0, p.<count>); threads past the end return
const thread = (count: string, i: string): string => /* wgsl */ `
  let ${i} = groupIndex(wid, nwg) * ${WG}u + t;
  if (${i} >= p.${count}) { return; }`;

const zeroSource = (): string => /* wgsl */ `
${header(["counts"], [], SIZES, false, { counts: "u32" })}
${computeMain(WG)} {
${thread("n", "r")}
  b_counts[p.o_counts + r] = 0u;
}`;

const countSource = (): string => /* wgsl */ `
${header(["counts"], ["index"], SIZES, false, { counts: "atomic<u32>" })}
${KEPT_ROW}
${computeMain(WG)} {
${thread("m", "k")}
  let r = keptRow(b_index[p.o_index + k]);
  if (r < p.n) { atomicAdd(&b_counts[p.o_counts + r], 1u); }
}`;

const scanSource = (): string => /* wgsl */ `
${header(["offsets"], ["counts"], SIZES, false, { counts: "u32" })}
var<workgroup> part: array<u32, ${WG}>;
${computeMain(WG)} {
  let per = (p.n + ${WG - 1}u) / ${WG}u;
  let lo = min(t * per, p.n);
  let hi = min(lo + per, p.n);
  var s = 0u;
  for (var r = lo; r < hi; r++) { s += b_counts[p.o_counts + r]; }
  part[t] = s;
  workgroupBarrier();
  // inclusive scan of the block sums (Hillis-Steele)
  for (var d = 1u; d < ${WG}u; d = d << 1u) {
    var add = 0u;
    if (t >= d) { add = part[t - d]; }
    workgroupBarrier();
    part[t] += add;
    workgroupBarrier();
  }
  var run = 0u;
  if (t > 0u) { run = part[t - 1u]; }
  if (t == 0u) { b_offsets[p.o_offsets] = 0.0; }
  for (var r = lo; r < hi; r++) {
    run += b_counts[p.o_counts + r];
    b_offsets[p.o_offsets + r + 1u] = f32(run);
  }
}`;

const placeSource = (): string => /* wgsl */ `
${header(["placed", "counts"], ["index", "offsets"], SIZES, false, { placed: "u32", counts: "atomic<u32>" })}
${KEPT_ROW}
${computeMain(WG)} {
${thread("m", "k")}
  let r = keptRow(b_index[p.o_index + k]);
  if (r < p.n) {
    let c = atomicSub(&b_counts[p.o_counts + r], 1u);
    b_placed[p.o_placed + u32(b_offsets[p.o_offsets + r]) + c - 1u] = k;
  }
}`;

const rankSource = (): string => /* wgsl */ `
${header(["order"], ["index", "offsets", "placed"], SIZES, false, { placed: "u32" })}
${KEPT_ROW}
${computeMain(WG)} {
${thread("m", "k")}
  let r = keptRow(b_index[p.o_index + k]);
  if (r < p.n) {
    let a = u32(b_offsets[p.o_offsets + r]);
    let b = u32(b_offsets[p.o_offsets + r + 1u]);
    var rank = 0u;
    for (var q = a; q < b; q++) {
      if (b_placed[p.o_placed + q] < k) { rank++; }
    }
    b_order[p.o_order + a + rank] = f32(k);
  }
}`;

/**
 * order [m] (the first offsets[n] entries) and offsets [n + 1] of index [m]: the positions k of the
 * kept indices row by row, ascending within a row (indices outside [0, n) and `skip` left out).
 */
export function groupIndices(ctx: KernelContext, order: GpuArray, offsets: GpuArray, index: GpuArray, n: number, m: number,
  skip: number): void {
  const sizes = [n, m, Number.isInteger(skip) && skip >= 0 && skip < n ? skip : n];
  const counts = ctx.scratch(n);
  if (n > 0) dispatchKernel(ctx, "groupIndices.zero", zeroSource, [counts], [], sizes, ceilDiv(n, WG));
  if (m > 0 && n > 0) dispatchKernel(ctx, "groupIndices.count", countSource, [counts], [index], sizes, ceilDiv(m, WG));
  dispatchKernel(ctx, "groupIndices.scan", scanSource, [offsets], [counts], sizes, 1);
  if (m > 0 && n > 0) {
    const placed = ctx.scratch(m);
    dispatchKernel(ctx, "groupIndices.place", placeSource, [placed, counts], [index, offsets], sizes, ceilDiv(m, WG));
    dispatchKernel(ctx, "groupIndices.rank", rankSource, [order], [index, offsets, placed], sizes, ceilDiv(m, WG));
    ctx.release(placed);
  }
  ctx.release(counts);
}
