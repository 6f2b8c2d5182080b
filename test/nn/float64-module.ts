/** Test helper: switches a module's parameters to float64 copies, for gradchecks of whole layers. */
import type { Module } from "../../src/nn/module.js";
import { Tensor } from "../../src/tensor/tensor.js";

/**
 * Replaces every float32 parameter field of every module in the tree by a float64 copy that
 * requires grad; returns the copies (pass them to gradcheck). The registered state dict is left
 * as it was: only forward() sees the copies.
 */
export function float64Params(root: Module): Tensor[] {
  const params = new Set(root.parameters());
  const out: Tensor[] = [];
  for (const [, m] of root.namedModules()) {
    for (const [key, value] of Object.entries(m)) {
      if (value instanceof Tensor && params.has(value) && value.dtype === "float32") {
        const t = new Tensor(Float64Array.from(value.data), value.shape, "float64").requiresGrad_(true);
        Reflect.set(m, key, t);
        out.push(t);
      }
    }
  }
  return out;
}
