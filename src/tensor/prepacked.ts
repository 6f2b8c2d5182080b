/**
 * Which weights are kept prepacked for inference, and their packed copies (see nn/prepack.ts):
 * a weight marked here is packed by `linear` the first time a product needs it without a
 * gradient, and the copy is used until the weight changes. The library's own writers of a weight
 * drop the copy (an optimizer's step, `loadStateDict`, `toDevice`); a direct write into `t.data`
 * does not, so after one, mark the weight again.
 *
 * ```ts
 * markPrepacked(w);           // linear(x, w) under noGrad packs w once, then reuses it
 * dropPrepacked(w);           // after w changed: the next product packs it again
 * ```
 */
import type { PackedMatrix } from "../backend/backend.js";
import type { Tensor } from "./tensor.js";

/** Marked weights: their packed copy, or null until the first product packs it. */
const packed = new WeakMap<Tensor, PackedMatrix | null>();

/** Marks `w` to be kept prepacked (again: a copy made before is dropped). */
export function markPrepacked(w: Tensor): void {
  packed.set(w, null);
}

/** Unmarks `w` (its packed copy is dropped). */
export function unmarkPrepacked(w: Tensor): void {
  packed.delete(w);
}

/** Whether `w` is marked. */
export function isPrepacked(w: Tensor): boolean {
  return packed.has(w);
}

/** Drops the packed copy of `w` (it changed); it stays marked, so the next product packs it again. */
export function dropPrepacked(w: Tensor): void {
  if (packed.get(w)) packed.set(w, null);
}

/** The packed copy of a marked `w` (null: none yet), or undefined when `w` is not marked. */
export function prepackedOf(w: Tensor): PackedMatrix | null | undefined {
  return packed.get(w);
}

/** Keeps `p` as the packed copy of the marked `w`. */
export function keepPrepacked(w: Tensor, p: PackedMatrix): void {
  if (packed.has(w)) packed.set(w, p);
}
