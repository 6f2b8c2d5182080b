/**
 * The dropout kernel: keep x[i] / (1 - p) unless the counter-based generator's uniformAt(k0, k1,
 * start + i) falls below p.   out, x [n]
 */
import type { FloatArray } from "../../tensor/dtype.js";
import { uniformAt } from "../../tensor/rng.js";

export function dropout(out: FloatArray, x: FloatArray, n: number, p: number, k0: number, k1: number, start: number): void {
  const scale = 1 / (1 - p);
  for (let i = 0; i < n; i++) out[i] = uniformAt(k0, k1, start + i) < p ? 0 : x[i]! * scale;
}
