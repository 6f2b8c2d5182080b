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
import { backendFor, empty, emptyUninit, fdata, floatOf, sameFloat } from "./util.js";

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
  const be = backendFor(dtype);
  const out = emptyUninit(x.shape, dtype);
  const mean = empty([rows], dtype), rstd = empty([rows], dtype);
  be.layerNorm(fdata(out), fdata(mean), fdata(rstd), fdata(x), weight ? fdata(weight) : null, bias ? fdata(bias) : null, rows, cols, eps);
  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  return attach(out, "layerNorm", inputs, (g) => {
    const dx = emptyUninit(x.shape, dtype);
    const dw = weight ? empty(weight.shape, dtype) : null;
    const db = bias ? empty(bias.shape, dtype) : null;
    be.layerNormBackward(fdata(dx), dw ? fdata(dw) : null, db ? fdata(db) : null, fdata(g), fdata(x), fdata(mean), fdata(rstd),
      weight ? fdata(weight) : null, rows, cols);
    const r: (Tensor | null)[] = [dx];
    if (weight) r.push(dw);
    if (bias) r.push(db);
    return r;
  });
}
