/**
 * Graph transformer layer (Shi et al. 2021, "Masked Label Prediction: Unified Message Passing
 * Model for Semi-Supervised Classification") as PyTorch Geometric's TransformerConv, with its
 * parameter names lin_key, lin_query, lin_value (Linear Fin -> heads*C), lin_edge (edgeDim ->
 * heads*C, no bias), lin_skip (Fin -> heads*C, or C when the heads are averaged) and lin_beta
 * (3*width -> 1, no bias).
 *
 * Edges: edgeIndex int32 [2, E], row 0 the source j and row 1 the target i; node i attends over
 * its incoming edges only (the graph is the attention mask; no self-loops are added). Per head k,
 * with e_ji = W_e edgeAttr_ji when edge features are given (else 0):
 *   alpha_ji = softmax over the j -> i edges of <q_i, k_j + e_ji> / sqrt(C),
 *   out_i = sum_j alpha_ji (v_j + e_ji);
 * heads side by side (concat) or averaged; then the skip r_i = W_skip x_i is added, or with beta
 * mixed in by a learned gate: b = sigmoid(w_beta [out, r, out - r]), out = b r + (1 - b) out.
 *
 * ```ts
 * const conv = new TransformerConv(16, 8, { heads: 4, edgeDim: 3 });
 * const edges = tensor([[0, 1, 2], [1, 2, 0]], { dtype: "int32" });       // 0->1, 1->2, 2->0
 * const { output, alpha } = conv.forward(randn([3, 16]), edges, { edgeAttr: randn([3, 3]), returnAttentionWeights: true });
 * // output [3, 32]; alpha [3, 4]: one coefficient per edge and head
 * ```
 */
import { add, mul, sigmoid, sub } from "../ops/elementwise.js";
import { dropout } from "../ops/functional.js";
import { mean, sum } from "../ops/reduce.js";
import { scatterAdd, segmentSoftmax } from "../ops/scatter.js";
import { concat, indexSelect, reshape, unsqueeze } from "../ops/shape.js";
import { checkDropoutP } from "../ops/util.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { Linear } from "./layers.js";
import { Module } from "./module.js";

export interface TransformerConvOptions {
  /** Attention heads (default 1). */
  heads?: number;
  /** Concatenate the heads ([N, heads*C], default) or average them ([N, C]). */
  concat?: boolean;
  /** Gate between the skip and the aggregated messages (default false; needs rootWeight). */
  beta?: boolean;
  /** Dropout probability on the attention coefficients, in training (default 0). */
  dropout?: number;
  /** Width of the edge features (default none: no lin_edge, edgeAttr not accepted). */
  edgeDim?: number;
  /** Biases of lin_key, lin_query, lin_value and lin_skip (default true). */
  bias?: boolean;
  /** Add the skip connection lin_skip(x) (default true). */
  rootWeight?: boolean;
  generator?: Generator;
}

export interface TransformerConvForwardOptions {
  /** [E, edgeDim] features of the edges of edgeIndex, in its order (required when edgeDim was given). */
  edgeAttr?: Tensor;
  /** Also return the attention coefficients and the edge list they belong to (default false). */
  returnAttentionWeights?: boolean;
}

export interface TransformerConvResult {
  /** [N, heads*C] (concat) or [N, C]. */
  output: Tensor;
  /** [E, heads]: the coefficient of every edge of edgeIndex (after dropout, as PyG), when asked for. */
  alpha?: Tensor;
  /** int32 [2, E]: the edges, when asked for (the input edgeIndex). */
  edgeIndex?: Tensor;
}

const OP = "TransformerConv";

export class TransformerConv extends Module {
  readonly heads: number;
  readonly concat: boolean;
  readonly beta: boolean;
  readonly dropout: number;
  readonly edgeDim: number | null;
  readonly rootWeight: boolean;
  readonly linKey: Linear;
  readonly linQuery: Linear;
  readonly linValue: Linear;
  readonly linEdge: Linear | null;
  readonly linSkip: Linear | null;
  readonly linBeta: Linear | null;
  private readonly generator: Generator | undefined;

  constructor(readonly inChannels: number, readonly outChannels: number, opts: TransformerConvOptions = {}) {
    super();
    this.heads = opts.heads ?? 1;
    for (const [arg, v] of [["inChannels", inChannels], ["outChannels", outChannels], ["heads", this.heads]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(OP, arg, "a positive integer", String(v));
    }
    this.edgeDim = opts.edgeDim ?? null;
    if (this.edgeDim !== null && (!Number.isInteger(this.edgeDim) || this.edgeDim < 1)) {
      throw new ValueError(OP, "edgeDim", "a positive integer (or none)", String(this.edgeDim));
    }
    this.concat = opts.concat ?? true;
    this.rootWeight = opts.rootWeight ?? true;
    this.beta = (opts.beta ?? false) && this.rootWeight; // PyG: beta and root_weight
    this.dropout = opts.dropout ?? 0;
    checkDropoutP(this.dropout, OP, "dropout");
    this.generator = opts.generator;
    const H = this.heads, C = outChannels, bias = opts.bias ?? true;
    const g = opts.generator ? { generator: opts.generator } : {};
    const width = this.concat ? H * C : C;
    this.linKey = this.registerModule("lin_key", new Linear(inChannels, H * C, { bias, ...g }));
    this.linQuery = this.registerModule("lin_query", new Linear(inChannels, H * C, { bias, ...g }));
    this.linValue = this.registerModule("lin_value", new Linear(inChannels, H * C, { bias, ...g }));
    this.linEdge = this.registerModule("lin_edge", this.edgeDim !== null ? new Linear(this.edgeDim, H * C, { bias: false, ...g }) : null);
    this.linSkip = this.registerModule("lin_skip", this.rootWeight ? new Linear(inChannels, width, { bias, ...g }) : null);
    this.linBeta = this.registerModule("lin_beta", this.beta ? new Linear(3 * width, 1, { bias: false, ...g }) : null);
  }

  /**
   * x [N, inChannels], edgeIndex int32 [2, E] (row 0 source, row 1 target), edgeAttr [E, edgeDim]
   * -> output [N, heads*C] (concat) or [N, C].
   */
  forward(x: Tensor, edgeIndex: Tensor, fo: TransformerConvForwardOptions = {}): TransformerConvResult {
    expectTensor(x, "x", OP);
    if (x.dtype !== "float32" && x.dtype !== "float64") throw new DTypeError(OP, "x", "float32 or float64", x.dtype);
    if (x.rank !== 2 || x.shape[1] !== this.inChannels) throw new ShapeError(OP, "x", `[N, ${this.inChannels}]`, fmtShape(x.shape));
    const N = x.shape[0]!, H = this.heads, C = this.outChannels;
    expectTensor(edgeIndex, "edgeIndex", OP);
    if (edgeIndex.dtype !== "int32") throw new DTypeError(OP, "edgeIndex", "int32", edgeIndex.dtype);
    if (edgeIndex.rank !== 2 || edgeIndex.shape[0] !== 2) throw new ShapeError(OP, "edgeIndex", "[2, E]", fmtShape(edgeIndex.shape));
    const E = edgeIndex.shape[1]!, ed = edgeIndex.data as Int32Array;
    for (const v of ed) if (v < 0 || v >= N) throw new ValueError(OP, "edgeIndex", `node indices in [0, ${N})`, String(v));
    const edgeAttr = fo.edgeAttr;
    if (this.linEdge === null && edgeAttr !== undefined) throw new ValueError(OP, "edgeAttr", "none (the layer was built without edgeDim)", edgeAttr instanceof Tensor ? fmtShape(edgeAttr.shape) : typeof edgeAttr);
    if (this.linEdge !== null) {
      if (edgeAttr === undefined) throw new ValueError(OP, "edgeAttr", `[${E}, ${this.edgeDim}] (the layer was built with edgeDim ${this.edgeDim})`, "none");
      expectTensor(edgeAttr, "edgeAttr", OP);
      if (edgeAttr.dtype !== "float32" && edgeAttr.dtype !== "float64") throw new DTypeError(OP, "edgeAttr", "float32 or float64", edgeAttr.dtype);
      if (edgeAttr.rank !== 2 || edgeAttr.shape[0] !== E || edgeAttr.shape[1] !== this.edgeDim) {
        throw new ShapeError(OP, "edgeAttr", `[${E}, ${this.edgeDim}] (one row per edge)`, fmtShape(edgeAttr.shape));
      }
    }
    const srcT = new Tensor(ed.slice(0, E), [E], "int32"), dstT = new Tensor(ed.slice(E, 2 * E), [E], "int32");

    const q = reshape(this.linQuery.forward(x), [N, H, C]); // [N, H, C]
    const k = reshape(this.linKey.forward(x), [N, H, C]); // [N, H, C]
    const v = reshape(this.linValue.forward(x), [N, H, C]); // [N, H, C]
    const e = this.linEdge && edgeAttr ? reshape(this.linEdge.forward(edgeAttr), [E, H, C]) : null; // [E, H, C]
    let kj = indexSelect(k, 0, srcT); // [E, H, C]
    if (e) kj = add(kj, e);
    const qi = indexSelect(q, 0, dstT); // [E, H, C]
    const score = mul(sum(mul(qi, kj), -1), 1 / Math.sqrt(C)); // [E, H]
    let alpha = segmentSoftmax(score, dstT, N); // [E, H]: sums to 1 over each target's incoming edges
    if (this.dropout > 0 && this.training) {
      alpha = dropout(alpha, this.dropout, { training: true, ...(this.generator ? { generator: this.generator } : {}) });
    }
    let vj = indexSelect(v, 0, srcT); // [E, H, C]
    if (e) vj = add(vj, e);
    const agg = scatterAdd(mul(vj, unsqueeze(alpha, -1)), dstT, N); // [N, H, C]; 0 for a node without incoming edges
    let output = this.concat ? reshape(agg, [N, H * C]) : mean(agg, 1); // [N, H*C] or [N, C]
    if (this.linSkip) {
      const r = this.linSkip.forward(x); // [N, width]
      if (this.linBeta) {
        const b = sigmoid(this.linBeta.forward(concat([output, r, sub(output, r)], -1))); // [N, 1]
        output = add(mul(b, r), mul(sub(1, b), output));
      } else {
        output = add(output, r);
      }
    }
    if (!fo.returnAttentionWeights) return { output };
    return { output, alpha, edgeIndex };
  }
}
