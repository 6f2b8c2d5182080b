/**
 * Each row's k largest values and their indices (TopK): a workgroup per row. Thread t keeps the k
 * first of its elements t, t + WG, ... in order (insertion into a sorted list in its registers);
 * then k rounds take the first of the threads' heads, combined pairwise in workgroup memory, and
 * advance the winner's list. The order is js/topk.ts's (the larger value first, the lower index
 * among equal values, NaN last), so values and indices are the js kernel's bit for bit. k is
 * compiled in (pipelines per k, at most TOPK_MAX).
 *
 * ```ts
 * topK(ctx, values, indices, x, rows, n, 8); // values, indices [rows, 8]
 * ```
 */
import { TOPK_MAX } from "../backend.js";
import { ValueError } from "../../tensor/errors.js";
import type { GpuArray, KernelContext } from "./context.js";
import { dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;
/** The index of an empty slot: after every real one. */
const NONE = 0xffffffff;

const source = (k: number) => (): string => /* wgsl */ `
${header(["values", "indices"], ["x"], ["rows: u32", "n: u32"])}
var<workgroup> hv: array<f32, ${WG}>;
var<workgroup> hi: array<u32, ${WG}>;
var<workgroup> ht: array<u32, ${WG}>;
// (v, i) before (w, j): the larger value, the lower index among equal values, NaN after numbers, an empty slot last
fn before(v: f32, i: u32, w: f32, j: u32) -> bool {
  if (i == ${NONE}u) { return false; }
  if (j == ${NONE}u) { return true; }
  if (isNan(v)) { return isNan(w) && i < j; }
  if (isNan(w)) { return true; }
  return v > w || (v == w && i < j);
}
${computeMain(WG)} {
  let r = groupIndex(wid, nwg);
  if (r >= p.rows) { return; }
  let row = p.o_x + r * p.n;
  var lv: array<f32, ${k}>;
  var li: array<u32, ${k}>;
  for (var q = 0u; q < ${k}u; q++) { lv[q] = 0.0; li[q] = ${NONE}u; }
  for (var j = t; j < p.n; j += ${WG}u) {
    let e = b_x[row + j];
    if (!before(e, j, lv[${k - 1}u], li[${k - 1}u])) { continue; }
    var at = ${k - 1}u;
    while (at > 0u && before(e, j, lv[at - 1u], li[at - 1u])) {
      lv[at] = lv[at - 1u];
      li[at] = li[at - 1u];
      at--;
    }
    lv[at] = e;
    li[at] = j;
  }
  var pos = 0u;
  for (var q = 0u; q < ${k}u; q++) {
    hv[t] = select(0.0, lv[min(pos, ${k - 1}u)], pos < ${k}u);
    hi[t] = select(${NONE}u, li[min(pos, ${k - 1}u)], pos < ${k}u);
    ht[t] = t;
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
      if (t < s && before(hv[t + s], hi[t + s], hv[t], hi[t])) {
        hv[t] = hv[t + s];
        hi[t] = hi[t + s];
        ht[t] = ht[t + s];
      }
      workgroupBarrier();
    }
    if (t == 0u) {
      b_values[p.o_values + r * ${k}u + q] = hv[0];
      b_indices[p.o_indices + r * ${k}u + q] = f32(hi[0]);
    }
    if (ht[0] == t) { pos++; }
    workgroupBarrier();
  }
}`;

/** values, indices [rows, k] = each row of x [rows, n]'s k largest values and their indices (1 <= k <= min(n, TOPK_MAX)). */
export function topK(ctx: KernelContext, values: GpuArray, indices: GpuArray, x: GpuArray, rows: number, n: number, k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > Math.min(n, TOPK_MAX)) {
    throw new ValueError("topK", "k", `an integer in [1, ${Math.min(n, TOPK_MAX)}]`, String(k));
  }
  if (rows === 0) return;
  dispatchKernel(ctx, `topK.k${k}`, source(k), [values, indices], [x], [rows, n], rows);
}
