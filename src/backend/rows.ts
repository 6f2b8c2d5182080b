/**
 * Strided [B, heads, rows, n] attention operands (AttentionArgs' qStrides ...) for the backends whose
 * kernels take dense ones: the wasm backend gathers such an operand into its memory on the way in
 * and scatters it on the way out, row by row; webgpu does the same with its copy kernels.
 *
 * ```ts
 * const r: Rows = { st: [T * 3 * E, D, 3 * E], B, heads: H, rows: T, n: D }; // q of qkv [B, T, 3, H, D]
 * gatherRows(f32, p >>> 2, qkv, r);  // f32[p/4 ..] = q as [B, H, T, D]
 * ```
 */
import type { FloatArray } from "../tensor/dtype.js";
import type { RowStrides } from "./backend.js";

/** The layout of one [B, heads, rows, n] operand: element (b, h, i, c) at b st[0] + h st[1] + i st[2] + c. */
export interface Rows {
  st: RowStrides;
  B: number; heads: number; rows: number; n: number;
}

/** Elements of the operand. */
export function rowsSize(r: Rows): number {
  return r.B * r.heads * r.rows * r.n;
}

/** Whether the operand is dense [B, heads, rows, n] from element 0 (an empty one is). */
export function isDense(r: Rows): boolean {
  const [sB, sH, sL] = r.st;
  return rowsSize(r) === 0 ||
    (r.rows <= 1 || sL === r.n) && (r.heads <= 1 || sH === r.rows * r.n) && (r.B <= 1 || sB === r.heads * r.rows * r.n);
}

/** Calls visit(o, at) for each row of r in dense order: o its offset at r's strides, at its dense one. */
function eachRow(r: Rows, at: number, visit: (o: number, at: number) => void): void {
  const { st, B, heads, rows, n } = r;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < rows; i++, at += n) visit(b * st[0] + h * st[1] + i * st[2], at);
    }
  }
}

/** dst[at ..] = x's elements as a dense [B, heads, rows, n]. */
export function gatherRows(dst: Float32Array, at: number, x: FloatArray, r: Rows): void {
  eachRow(r, at, (o, d) => {
    for (let c = 0; c < r.n; c++) dst[d + c] = x[o + c]!;
  });
}

/** x's elements = src[at ..] read as a dense [B, heads, rows, n]; nothing else of x is written. */
export function scatterRows(x: FloatArray, src: Float32Array, at: number, r: Rows): void {
  eachRow(r, at, (o, d) => {
    for (let c = 0; c < r.n; c++) x[o + c] = src[d + c]!;
  });
}
