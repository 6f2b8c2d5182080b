/** Argument checks shared by the convolution and pooling ops: int-or-pair options and output sizes. */
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** An option given as one int for both spatial dims or as [h, w]. */
export type IntPair = number | readonly [number, number];

/** [h, w] from an int or a pair of ints, each at least `min`. */
export function pair(v: IntPair, arg: string, op: string, min: number): [number, number] {
  const p = typeof v === "number" ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  const what = min === 0 ? "a non-negative integer" : "a positive integer";
  if (!p || !p.every((n) => Number.isInteger(n) && n >= min)) {
    throw new ValueError(op, arg, `${what} or a pair of them`, Array.isArray(v) ? `[${v.join(", ")}]` : String(v));
  }
  return [p[0]!, p[1]!];
}

/** The [B, C, H, W] of a batched (4-D) or unbatched (3-D) image input. */
export function imageDims(x: Tensor, op: string): { dims: [number, number, number, number]; batched: boolean } {
  if (x.rank !== 3 && x.rank !== 4) throw new ShapeError(op, "x", "[B, C, H, W] or [C, H, W]", fmtShape(x.shape));
  const batched = x.rank === 4;
  const s = batched ? x.shape : [1, ...x.shape];
  return { dims: [s[0]!, s[1]!, s[2]!, s[3]!], batched };
}

/**
 * Output size along one dim: floor((n + padBefore + padAfter - d (k - 1) - 1) / s) + 1, or with
 * ceilMode the ceiling, dropping a last window that would start in the right padding (torch's rule).
 */
export function outSize(n: number, k: number, s: number, padBefore: number, padAfter: number, d: number, ceilMode = false): number {
  const span = n + padBefore + padAfter - d * (k - 1) - 1;
  let o = Math.floor((span + (ceilMode ? s - 1 : 0)) / s) + 1;
  if (ceilMode && (o - 1) * s >= n + padBefore) o--;
  return o;
}

/** Refuses an empty output, naming the computed size. */
export function checkOutSize(oH: number, oW: number, H: number, W: number, op: string, detail: string): void {
  if (oH < 1 || oW < 1) {
    throw new ValueError(op, "x", `an input that gives an output of at least [1, 1] (${detail})`,
      `input ${fmtShape([H, W])}, computed output size ${fmtShape([oH, oW])}`);
  }
}
