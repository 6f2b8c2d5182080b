/**
 * layerNorm over the trailing `normalizedShape` dims, biased variance (as torch.nn.LayerNorm).
 *
 * ```ts
 * const y = layerNorm(x, [E], weight, bias, 1e-5); // x [B, L, E]
 * const { sum, out } = addLayerNorm(x, r, [E], weight, bias);  // x + r and layerNorm(x + r)
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { AddLayerNorm, AnyBackend } from "../backend/backend.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { numel, sameShape } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { add } from "./elementwise.js";
import { arrayOf, emptyOn, floatOf, fullOn, kernelsFor, sameFloat } from "./util.js";

/** Checks layerNorm's arguments (for `op`); returns its dtype. */
function checkLayerNorm(op: string, x: Tensor, normalizedShape: readonly number[], weight: Tensor | null | undefined, bias: Tensor | null | undefined,
  eps: number): "float32" | "float64" {
  expectTensor(x, "x", op);
  const dtype = floatOf(x, "x", op);
  const k = normalizedShape.length;
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), normalizedShape)) {
    throw new ShapeError(op, "x", `[..., ${normalizedShape.join(", ")}]`, fmtShape(x.shape));
  }
  for (const [arg, p] of [["weight", weight], ["bias", bias]] as const) {
    if (!p) continue;
    expectTensor(p, arg, op);
    sameFloat(x, p, "x", arg, op);
    if (!sameShape(p.shape, normalizedShape)) throw new ShapeError(op, arg, fmtShape(normalizedShape), fmtShape(p.shape));
  }
  if (typeof eps !== "number" || !(eps >= 0)) throw new ValueError(op, "eps", "a non-negative number", String(eps));
  return dtype;
}

export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const dtype = checkLayerNorm("layerNorm", x, normalizedShape, weight, bias, eps);
  const cols = numel(normalizedShape);
  const rows = cols === 0 ? 0 : x.size / cols;
  const be = kernelsFor(dtype);
  const out = emptyOn(be, x.shape, dtype);
  const mean = emptyOn(be, [rows], dtype), rstd = emptyOn(be, [rows], dtype); // written row by row
  be.layerNorm(arrayOf(out, be), arrayOf(mean, be), arrayOf(rstd, be), arrayOf(x, be), weight ? arrayOf(weight, be) : null,
    bias ? arrayOf(bias, be) : null, rows, cols, eps);
  return attachLayerNorm(out, x, mean, rstd, weight, bias, rows, cols, be, dtype);
}

/**
 * sum = x + r and out = layerNorm(sum): a transformer layer's residual add and the norm after it
 * (post-norm: `norm(x + sublayer(x))`; pre-norm: the sum goes on as the residual stream and the
 * next sublayer reads its norm). One kernel where the backend has AddLayerNorm (webgpu: the same
 * bits as the two ops); else add, then layerNorm. Either way the graph is an add and a layer norm
 * of its result. x and r of one shape and dtype.
 */
export function addLayerNorm(x: Tensor, r: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null,
  eps = 1e-5): { sum: Tensor; out: Tensor } {
  const op = "addLayerNorm";
  const dtype = checkLayerNorm(op, x, normalizedShape, weight, bias, eps);
  expectTensor(r, "r", op);
  if (r.dtype !== x.dtype) throw new DTypeError(op, "r", x.dtype, r.dtype);
  if (!sameShape(r.shape, x.shape)) throw new ShapeError(op, "r", fmtShape(x.shape), fmtShape(r.shape));
  const be = kernelsFor(dtype);
  const fused = be as Partial<AddLayerNorm>;
  if (typeof fused.addLayerNorm !== "function") {
    const sum = add(x, r);
    return { sum, out: layerNorm(sum, normalizedShape, weight, bias, eps) };
  }
  const cols = numel(normalizedShape);
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = emptyOn(be, x.shape, dtype), sum = emptyOn(be, x.shape, dtype);
  const mean = emptyOn(be, [rows], dtype), rstd = emptyOn(be, [rows], dtype); // written row by row
  fused.addLayerNorm(arrayOf(out, be), arrayOf(mean, be), arrayOf(rstd, be), arrayOf(sum, be), arrayOf(x, be), arrayOf(r, be),
    weight ? arrayOf(weight, be) : null, bias ? arrayOf(bias, be) : null, rows, cols, eps);
  // the add's node (its gradient to both summands, as add's of one shape), then the norm's of the sum
  const summed = attach(sum, "add", [x, r], (g) => [g, g]);
  return { sum: summed, out: attachLayerNorm(out, summed, mean, rstd, weight, bias, rows, cols, be, dtype) };
}

/** Records a layer norm's backward on `out`, the norm of x's rows (mean and rstd saved). */
function attachLayerNorm(out: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined,
  rows: number, cols: number, be: AnyBackend, dtype: "float32" | "float64"): Tensor {
  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  return attach(out, "layerNorm", inputs, (g) => {
    const dx = emptyOn(be, x.shape, dtype);
    // written, not accumulated, by the kernel (zeros without rows)
    const dw = weight ? (rows === 0 ? fullOn(be, weight.shape, dtype, 0) : emptyOn(be, weight.shape, dtype)) : null;
    const db = bias ? (rows === 0 ? fullOn(be, bias.shape, dtype, 0) : emptyOn(be, bias.shape, dtype)) : null;
    be.layerNormBackward(arrayOf(dx, be), dw ? arrayOf(dw, be) : null, db ? arrayOf(db, be) : null, arrayOf(g, be), arrayOf(x, be),
      arrayOf(mean, be), arrayOf(rstd, be), weight ? arrayOf(weight, be) : null, rows, cols);
    const r: (Tensor | null)[] = [dx];
    if (weight) r.push(dw);
    if (bias) r.push(db);
    return r;
  }, [mean, rstd]);
}
