/**
 * Graph attention (Velickovic et al. 2018) as PyTorch Geometric's GATConv, with its parameter
 * names lin.weight [heads*F, Fin], att_src and att_dst [1, heads, F], bias, and its glorot / zero
 * initialization.
 *
 * Edges: edgeIndex int32 [2, E], row 0 the source j and row 1 the target i; messages flow
 * source -> target, so node i attends over its incoming edges. With addSelfLoops (default), input
 * self-loops are dropped and one self-loop per node 0..N-1 is appended after the remaining edges.
 * Per head k: h = x W^T, s_e = LeakyReLU(<h_j, att_src_k> + <h_i, att_dst_k>), alpha = softmax of
 * s over the incoming edges of each target, out_i = sum_e alpha_e h_j; heads side by side
 * (concat) or averaged, then + bias.
 *
 * ```ts
 * const gat = new GATConv(16, 8, { heads: 4 });
 * const edges = tensor([[0, 1, 2], [1, 2, 0]], { dtype: "int32" });        // 0->1, 1->2, 2->0
 * const { output, alpha, edgeIndex } = gat.forward(randn([3, 16]), edges, { returnAttentionWeights: true });
 * // output [3, 32]; alpha [6, 4] per edge of edgeIndex [2, 6] (the 3 edges, then 3 self-loops)
 * ```
 */
import { add, gt, mul, where } from "../ops/elementwise.js";
import { dropout } from "../ops/functional.js";
import { mean, sum } from "../ops/reduce.js";
import { scatterAdd, segmentSoftmax } from "../ops/scatter.js";
import { indexSelect, reshape, unsqueeze } from "../ops/shape.js";
import { checkDropoutP } from "../ops/util.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { uniform, xavierUniform, zerosParam } from "./init.js";
import { Linear } from "./layers.js";
import { Module } from "./module.js";

export interface GATConvOptions {
  /** Attention heads (default 1). */
  heads?: number;
  /** Concatenate the heads ([N, heads*F], default) or average them ([N, F]). */
  concat?: boolean;
  /** Slope of the LeakyReLU on the attention scores for negative inputs (default 0.2). */
  negativeSlope?: number;
  /** Dropout probability on the attention coefficients, in training (default 0). */
  dropout?: number;
  /** Drop input self-loops and add one per node (default true). */
  addSelfLoops?: boolean;
  /** Learnable output bias (default true). */
  bias?: boolean;
  generator?: Generator;
}

export interface GATConvForwardOptions {
  /** Also return the attention coefficients and the edge list they belong to (default false). */
  returnAttentionWeights?: boolean;
}

export interface GATConvResult {
  /** [N, heads*F] (concat) or [N, F]. */
  output: Tensor;
  /** [E', heads]: the coefficient of every edge of edgeIndex (after dropout, as PyG), when asked for. */
  alpha?: Tensor;
  /** int32 [2, E']: the edges used, self-loops included, when asked for. */
  edgeIndex?: Tensor;
}

const OP = "GATConv";

/** Validates edgeIndex int32 [2, E] over N nodes; returns sources and targets, self-loops handled. */
function edgesOf(edgeIndex: Tensor, N: number, selfLoops: boolean): { src: Int32Array; dst: Int32Array } {
  expectTensor(edgeIndex, "edgeIndex", OP);
  if (edgeIndex.dtype !== "int32") throw new DTypeError(OP, "edgeIndex", "int32", edgeIndex.dtype);
  if (edgeIndex.rank !== 2 || edgeIndex.shape[0] !== 2) throw new ShapeError(OP, "edgeIndex", "[2, E]", fmtShape(edgeIndex.shape));
  const E = edgeIndex.shape[1]!, ed = edgeIndex.data as Int32Array;
  for (const v of ed) if (v < 0 || v >= N) throw new ValueError(OP, "edgeIndex", `node indices in [0, ${N})`, String(v));
  if (!selfLoops) return { src: ed.slice(0, E), dst: ed.slice(E, 2 * E) };
  const src: number[] = [], dst: number[] = [];
  for (let e = 0; e < E; e++) {
    if (ed[e] === ed[E + e]) continue; // input self-loops are dropped ...
    src.push(ed[e]!);
    dst.push(ed[E + e]!);
  }
  for (let n = 0; n < N; n++) { // ... and one per node is appended
    src.push(n);
    dst.push(n);
  }
  return { src: Int32Array.from(src), dst: Int32Array.from(dst) };
}

export class GATConv extends Module {
  readonly heads: number;
  readonly concat: boolean;
  readonly negativeSlope: number;
  readonly dropout: number;
  readonly addSelfLoops: boolean;
  attSrc: Tensor;
  attDst: Tensor;
  bias: Tensor | null;
  readonly lin: Linear;
  private readonly generator: Generator | undefined;

  constructor(readonly inChannels: number, readonly outChannels: number, opts: GATConvOptions = {}) {
    super();
    this.heads = opts.heads ?? 1;
    for (const [arg, v] of [["inChannels", inChannels], ["outChannels", outChannels], ["heads", this.heads]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(OP, arg, "a positive integer", String(v));
    }
    this.concat = opts.concat ?? true;
    this.negativeSlope = opts.negativeSlope ?? 0.2;
    if (typeof this.negativeSlope !== "number" || !Number.isFinite(this.negativeSlope)) {
      throw new ValueError(OP, "negativeSlope", "a finite number", String(this.negativeSlope));
    }
    this.dropout = opts.dropout ?? 0;
    checkDropoutP(this.dropout, OP, "dropout");
    this.addSelfLoops = opts.addSelfLoops ?? true;
    this.generator = opts.generator;
    const H = this.heads, F = outChannels, g = opts.generator;
    const a = Math.sqrt(6 / (H + F)); // PyG's glorot on [1, H, F]: fans of the last two dims
    this.attSrc = this.registerParameter("att_src", uniform([1, H, F], -a, a, g));
    this.attDst = this.registerParameter("att_dst", uniform([1, H, F], -a, a, g));
    this.bias = this.registerParameter("bias", opts.bias ?? true ? zerosParam([this.concat ? H * F : F]) : null);
    this.lin = this.registerModule("lin", new Linear(inChannels, H * F, { bias: false, ...(g ? { generator: g } : {}) }));
    this.lin.weight.data.set(xavierUniform([H * F, inChannels], 1, g).data);
  }

  /** x [N, inChannels], edgeIndex int32 [2, E] (row 0 source, row 1 target) -> output [N, heads*F] or [N, F]. */
  forward(x: Tensor, edgeIndex: Tensor, fo: GATConvForwardOptions = {}): GATConvResult {
    expectTensor(x, "x", OP);
    if (x.dtype !== "float32" && x.dtype !== "float64") throw new DTypeError(OP, "x", "float32 or float64", x.dtype);
    if (x.rank !== 2 || x.shape[1] !== this.inChannels) throw new ShapeError(OP, "x", `[N, ${this.inChannels}]`, fmtShape(x.shape));
    const N = x.shape[0]!, H = this.heads, F = this.outChannels;
    const { src, dst } = edgesOf(edgeIndex, N, this.addSelfLoops);
    const E = src.length;
    const srcT = new Tensor(src, [E], "int32"), dstT = new Tensor(dst, [E], "int32");

    const h = reshape(this.lin.forward(x), [N, H, F]); // [N, H, F]
    const aSrc = sum(mul(h, this.attSrc), -1); // [N, H]
    const aDst = sum(mul(h, this.attDst), -1); // [N, H]
    const s = add(indexSelect(aSrc, 0, srcT), indexSelect(aDst, 0, dstT)); // [E, H]
    const score = where(gt(s, 0), s, mul(s, this.negativeSlope)); // LeakyReLU, [E, H]
    let alpha = segmentSoftmax(score, dstT, N); // [E, H]: sums to 1 over each target's incoming edges
    if (this.dropout > 0 && this.training) {
      alpha = dropout(alpha, this.dropout, { training: true, ...(this.generator ? { generator: this.generator } : {}) });
    }
    const msg = mul(indexSelect(h, 0, srcT), unsqueeze(alpha, -1)); // [E, H, F]
    const agg = scatterAdd(msg, dstT, N); // [N, H, F]
    let output = this.concat ? reshape(agg, [N, H * F]) : mean(agg, 1); // [N, H*F] or [N, F]
    if (this.bias) output = add(output, this.bias);
    if (!fo.returnAttentionWeights) return { output };
    const ei = new Int32Array(2 * E);
    ei.set(src, 0);
    ei.set(dst, E);
    return { output, alpha, edgeIndex: new Tensor(ei, [2, E], "int32") };
  }
}
