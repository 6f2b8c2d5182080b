/**
 * Prepacked weights for inference: `prepackWeights(model)` marks the model's weight matrices so
 * that `linear` packs each one once for the native GEMM, the first time a product needs it with
 * no gradient recorded (under `noGrad`), and reuses the packed copy on every later call, instead
 * of packing the weight on every call (what ONNX Runtime does when it loads a model). Products
 * that record a gradient (training) use the weight itself, as before. An optimizer step,
 * `loadStateDict` and `toDevice` drop the copies of the weights they change (the next product
 * packs again); after writing into a weight's `data` directly, call `prepackWeights` again. Other
 * backends ignore the marks. The copies cost as much memory as the weights.
 *
 * ```ts
 * const model = new MultiheadAttention(512, 8, { batchFirst: true }).eval();
 * prepackWeights(model);
 * const y = noGrad(() => model.forward(x, x, x).output); // packs once, then reuses
 * unpackWeights(model);                                  // the copies go
 * ```
 */
import { markPrepacked, unmarkPrepacked } from "../tensor/prepacked.js";
import { ValueError } from "../tensor/errors.js";
import { Module } from "./module.js";

function expectModule(module: unknown, op: string): void {
  if (!(module instanceof Module)) throw new ValueError(op, "module", "a Module", module === null ? "null" : typeof module);
}

/** Marks every float32 weight matrix (rank 2) of `module` to be kept prepacked; returns how many. */
export function prepackWeights(module: Module): number {
  expectModule(module, "prepackWeights");
  let n = 0;
  for (const p of module.parameters()) {
    if (p.rank !== 2 || p.dtype !== "float32") continue;
    markPrepacked(p);
    n++;
  }
  return n;
}

/** Unmarks the weights of `module` and drops their packed copies. */
export function unpackWeights(module: Module): void {
  expectModule(module, "unpackWeights");
  for (const p of module.parameters()) unmarkPrepacked(p);
}
