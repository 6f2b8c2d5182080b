/**
 * topk: the k largest values along the last dim and their indices (as torch.topk with sorted
 * output), in js/topk.ts's order: the larger value first, the lower index among equal values, NaN
 * last. A selection, as argmax is: no gradient. On a device it runs there (the backend's TopK:
 * webgpu's kernel, k at most TOPK_MAX), so beam search reads back k candidates a row, not the row.
 *
 * ```ts
 * const { values, indices } = topk(tensor([[0.1, 0.7, 0.7, -Infinity]]), 2); // [[0.7, 0.7]], [[1, 2]] (int32)
 * ```
 */
import { TOPK_MAX, type TopK } from "../backend/backend.js";
import { topKRows } from "../backend/js/topk.js";
import { arrayOf, backendOf, emptyOn } from "../backend/tensor-arrays.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";

/** x [..., n] -> values [..., k] (x's dtype) and indices [..., k] (int32), each row's k first. */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  expectTensor(x, "x", "topk");
  if (x.dtype !== "float32" && x.dtype !== "float64") throw new DTypeError("topk", "x", "float32 or float64", x.dtype);
  if (x.rank < 1) throw new ShapeError("topk", "x", "a tensor of rank >= 1", fmtShape(x.shape));
  const n = x.shape[x.rank - 1]!, rows = n === 0 ? 0 : x.size / n;
  const limit = x.device !== null ? Math.min(n, TOPK_MAX) : n;
  if (!Number.isInteger(k) || k < 1 || k > limit) {
    throw new ValueError("topk", "k", `an integer in [1, ${limit}]${x.device !== null && n > TOPK_MAX ? ` (at most ${TOPK_MAX} on a device)` : ""}`, String(k));
  }
  if (n > 2 ** 24) throw new ShapeError("topk", "x", "rows of at most 2^24 elements (indices exact in float32)", fmtShape(x.shape));
  const shape = [...x.shape.slice(0, -1), k];
  if (x.device === null) {
    const values = new Tensor(x.dtype === "float64" ? new Float64Array(rows * k) : new Float32Array(rows * k), shape, x.dtype);
    const indices = new Tensor(new Int32Array(rows * k), shape, "int32");
    topKRows(values.data, indices.data, x.data, rows, n, k);
    return { values, indices };
  }
  const be = backendOf(x);
  const sel = be as Partial<TopK>;
  if (typeof sel.topK !== "function") throw new ValueError("topk", "x", "a tensor on the host or on a device with a top-k kernel", `a tensor on the ${be.name} device`);
  const values = emptyOn(be, shape, "float32"), idx = emptyOn(be, shape, "float32");
  sel.topK(arrayOf(values, be), arrayOf(idx, be), arrayOf(x, be), rows, n, k);
  // the indices as float32 values on the device, as argmax's (exact below 2^24)
  return { values, indices: new Tensor(null, shape, "int32", idx.device, idx.store) };
}
