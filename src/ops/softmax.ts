/**
 * softmax and logSoftmax over any dim, stable for logits of ±1e4; a row of only -Infinity gives
 * zeros (softmax) instead of NaN.
 *
 * ```ts
 * const p = softmax(scores, -1); // [B, H, L, S], rows sum to 1
 * ```
 */
import { attach } from "../autograd/graph.js";
import { ShapeError } from "../tensor/errors.js";
import { normAxis } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { transpose } from "./shape.js";
import { arrayOf, emptyOn, floatOf, kernelsFor } from "./util.js";

function softmaxLast(x: Tensor, log: boolean): Tensor {
  const cols = x.shape[x.rank - 1] ?? 1;
  const rows = cols === 0 ? 0 : x.size / cols;
  const be = kernelsFor(x.dtype);
  const out = emptyOn(be, x.shape, x.dtype);
  be.softmax(arrayOf(out, be), arrayOf(x, be), rows, cols, log);
  return attach(out, log ? "logSoftmax" : "softmax", [x], (g) => {
    const dx = emptyOn(be, x.shape, g.dtype);
    be.softmaxBackward(arrayOf(dx, be), arrayOf(out, be), arrayOf(g, be), rows, cols, log);
    return [dx];
  });
}

function softmaxAny(x: Tensor, dim: number, log: boolean, op: string): Tensor {
  expectTensor(x, "x", op);
  floatOf(x, "x", op);
  if (x.rank === 0) throw new ShapeError(op, "x", "at least 1 dimension", "a scalar");
  const d = normAxis(dim, x.rank, op);
  if (d === x.rank - 1) return softmaxLast(x, log);
  return transpose(softmaxLast(transpose(x, d, -1), log), d, -1);
}

/** softmax over `dim` (default: the last). */
export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxAny(x, dim, false, "softmax");
}

/** log-softmax over `dim` (default: the last). */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return softmaxAny(x, dim, true, "logSoftmax");
}
