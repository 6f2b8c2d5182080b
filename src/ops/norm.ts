/**
 * layerNorm over the trailing `normalizedShape` dims, biased variance (as torch.nn.LayerNorm).
 *
 * ```ts
 * const y = layerNorm(x, [E], weight, bias, 1e-5); // x [B, L, E]
 * ```
 */
import { attach } from "../autograd/graph.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { numel, sameShape } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { arrayOf, emptyOn, floatOf, fullOn, kernelsFor, sameFloat } from "./util.js";

export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  expectTensor(x, "x", "layerNorm");
  const dtype = floatOf(x, "x", "layerNorm");
  const k = normalizedShape.length;
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), normalizedShape)) {
    throw new ShapeError("layerNorm", "x", `[..., ${normalizedShape.join(", ")}]`, fmtShape(x.shape));
  }
  for (const [arg, p] of [["weight", weight], ["bias", bias]] as const) {
    if (!p) continue;
    expectTensor(p, arg, "layerNorm");
    sameFloat(x, p, "x", arg, "layerNorm");
    if (!sameShape(p.shape, normalizedShape)) throw new ShapeError("layerNorm", arg, fmtShape(normalizedShape), fmtShape(p.shape));
  }
  if (typeof eps !== "number" || !(eps >= 0)) throw new ValueError("layerNorm", "eps", "a non-negative number", String(eps));
  const cols = numel(normalizedShape);
  const rows = cols === 0 ? 0 : x.size / cols;
  const be = kernelsFor(dtype);
  const out = emptyOn(be, x.shape, dtype);
  const mean = emptyOn(be, [rows], dtype), rstd = emptyOn(be, [rows], dtype); // written row by row
  be.layerNorm(arrayOf(out, be), arrayOf(mean, be), arrayOf(rstd, be), arrayOf(x, be), weight ? arrayOf(weight, be) : null,
    bias ? arrayOf(bias, be) : null, rows, cols, eps);
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
