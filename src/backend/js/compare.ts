/**
 * The comparison kernel: out = a (op) b ? 1 : 0 with broadcasting through element strides (the
 * walk of the binary kernel), for bool results kept as floats (on a device).
 *
 * ```ts
 * compare("gt", out, a, b, [2, 3], [3, 1], [0, 0]); // a [2, 3] > the scalar b
 * ```
 */
import type { CompareOp } from "../backend.js";
import type { FloatArray } from "../../tensor/dtype.js";
import { binaryWith } from "./elementwise.js";

/** Whether u (op) v, for numbers (NaN: only "ne" holds). */
export function compares(op: CompareOp, u: number, v: number): boolean {
  switch (op) {
    case "eq": return u === v;
    case "ne": return u !== v;
    case "lt": return u < v;
    case "le": return u <= v;
    case "gt": return u > v;
    case "ge": return u >= v;
  }
}

/** out [outShape] (contiguous) = a (op) b ? 1 : 0, a and b read at their strides per out dim (0 broadcasts). */
export function compare(op: CompareOp, out: FloatArray, a: FloatArray, b: FloatArray, outShape: readonly number[],
  aStrides: readonly number[], bStrides: readonly number[]): void {
  const n = outShape.reduce((x, y) => x * y, 1);
  binaryWith((u, v) => (compares(op, u, v) ? 1 : 0), n, out, a, b, outShape, aStrides, bStrides);
}
