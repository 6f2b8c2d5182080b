/**
 * Linformer attention: learned projections E, F [k, S'] compress keys and values along the
 * sequence, K' = E k, V' = F v ([..., k, D]), then output = softmax(q K'^T · scale) V' — O(N·k·D).
 * When S' > S the first S columns of E and F are used (one module serves shorter sequences).
 * E and F are shared by the batch and the heads (the fixture's convention).
 *
 * ```ts
 * const q = randn([1, 2, 6, 4]), k = randn([1, 2, 6, 4]), v = randn([1, 2, 6, 4]);
 * const E = randn([3, 6]), F = randn([3, 6]);
 * const { output, weights } = linformerAttention(q, k, v, E, F, { needWeights: true }); // weights [1, 2, 6, 3]
 * ```
 */
import { matmul } from "../ops/matmul.js";
import { slice } from "../ops/shape.js";
import { DTypeError, ShapeError, fmtShape } from "../tensor/errors.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";
import { canonQKV, scaleOf } from "./canon.js";
import { scaledDotProductAttention, type AttentionResult } from "./sdpa.js";

export interface LinformerOptions {
  scale?: number;
  /** Also return the weights [..., L, k]. */
  needWeights?: boolean;
}

export function linformerAttention(q: Tensor, k: Tensor, v: Tensor, E: Tensor, F: Tensor, opts: LinformerOptions = {}): AttentionResult {
  const op = "linformerAttention";
  const c = canonQKV(op, q, k, v);
  const proj: Tensor[] = [];
  for (const [name, P] of [["E", E], ["F", F]] as const) {
    expectTensor(P, name, op);
    if (P.dtype !== q.dtype) throw new DTypeError(op, name, q.dtype, P.dtype);
    if (P.rank !== 2 || P.shape[1]! < c.S || (name === "F" && P.shape[0] !== E.shape[0])) {
      throw new ShapeError(op, name, `[k, S'] with S' >= ${c.S}${name === "F" ? ` and k = ${E.shape[0]}` : ""}`, fmtShape(P.shape));
    }
    proj.push(P.shape[1] === c.S ? P : slice(P, 1, 0, c.S));
  }
  const kp = matmul(proj[0]!, k); // [..., k, D]
  const vp = matmul(proj[1]!, v); // [..., k, Dv]
  return scaledDotProductAttention(q, kp, vp, { scale: scaleOf(op, opts.scale, c.D), needWeights: opts.needWeights ?? false });
}
