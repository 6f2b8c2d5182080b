/**
 * ONNX emitters for attention: the additive masks (key padding, user masks, causal, and the
 * patterns of the exact sparse kinds window / dilated / longformer, built from Range over the
 * graph's symbolic lengths), MultiheadAttention in plain ops (MatMul / Add / Reshape / Transpose /
 * Softmax), through com.microsoft.MultiHeadAttention (ONNX Runtime's fused kernel) or through
 * the standard Attention operator of opset 23, and the shared layer helpers (Linear, LayerNorm,
 * activations). All values are batch-first [B, L, E].
 *
 * ```ts
 * const g = new GraphBuilder("mha");
 * const x = g.input("query", "float32", ["batch", "seq", 16]);
 * const y = emitMha(g, mha, "", { q: x, k: x, v: x, mask: null, form: "plain" }); // [B, L, 16]
 * ```
 */
import type { AttentionSpec } from "../attention/select.js";
import type { LayerNorm, Linear } from "../nn/layers.js";
import type { MultiheadAttention } from "../nn/multihead-attention.js";
import type { Activation } from "../nn/transformer.js";
import type { Tensor } from "../tensor/tensor.js";
import { ATTENTION_OPSET, MS_DOMAIN, OPSET, type GraphBuilder } from "./graph.js";

/**
 * How the attention core is written: "plain" ops, "fused" com.microsoft.MultiHeadAttention, or
 * "opset23" the standard Attention operator (the graph then imports ai.onnx opset 23).
 */
export type AttentionForm = "plain" | "fused" | "opset23";
export const attentionForms: readonly AttentionForm[] = ["plain", "fused", "opset23"];

/** The ai.onnx opset a graph with attention written as `form` imports. */
export const opsetOf = (form: AttentionForm): number => (form === "opset23" ? ATTENTION_OPSET : OPSET);

/** The attention kinds an export writes: full, and the exact sparse kinds whose pattern is a mask. */
export const exportableKinds = ["full", "window", "dilated", "longformer"] as const;

const dot = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

/** Size of `x` along `axis` as an int64 scalar (0-d). */
export function dimScalar(g: GraphBuilder, x: string, axis: number): string {
  return g.node("Squeeze", [g.node("Shape", [x], { start: axis, end: axis + 1 }), g.ints([0])]);
}

/** Size of `x` along `axis` as an int64 vector of one element. */
export function dimVector(g: GraphBuilder, x: string, axis: number): string {
  return g.node("Shape", [x], { start: axis, end: axis + 1 });
}

const int64Scalar = (g: GraphBuilder, v: number): string => g.constant({ type: "int64", dims: [], data: [v] }, "int");

/** bool "may not attend" -> additive float32 (0 / -Infinity), same shape. */
export function additiveFromBlocked(g: GraphBuilder, blocked: string): string {
  return g.node("Where", [blocked, g.scalar(-Infinity), g.scalar(0)]);
}

/** A key padding mask, bool [B, S] (true = padding), as an additive [B, 1, 1, S]. */
export function paddingMask(g: GraphBuilder, kpmBool: string): string {
  return g.node("Unsqueeze", [additiveFromBlocked(g, kpmBool), g.ints([1, 2])]);
}

/** A user mask [L, S], bool (true = may not attend) or float (added), as an additive [1, 1, L, S]. */
export function userMask(g: GraphBuilder, m: string, isBool: boolean): string {
  return g.node("Unsqueeze", [isBool ? additiveFromBlocked(g, m) : m, g.ints([0, 1])]);
}

/** Sums additive masks (a bool over a float gives -Infinity either way); null when there are none. */
export function sumMasks(g: GraphBuilder, masks: (string | null)[]): string | null {
  let m: string | null = null;
  for (const x of masks) if (x) m = m ? g.node("Add", [m, x]) : x;
  return m;
}

/**
 * The mask of a kind's pattern (and causality) for queries at positions start … start + L - 1
 * over keys 0 … S - 1, additive [1, 1, L, S]; null for full non-causal attention.
 * `L`, `S` and `start` are int64 scalars.
 */
export function patternMask(g: GraphBuilder, spec: AttentionSpec, L: string, S: string, start: string | null): string | null {
  const causal = "causal" in spec && spec.causal === true;
  if (spec.kind === "full" && !causal) return null;
  const one = int64Scalar(g, 1);
  const i0 = start ?? int64Scalar(g, 0);
  const i = g.node("Unsqueeze", [g.node("Range", [i0, g.node("Add", [i0, L]), one]), g.ints([1])]); // [L, 1]
  const j = g.node("Unsqueeze", [g.node("Range", [int64Scalar(g, 0), S, one]), g.ints([0])]); // [1, S]
  const diff = g.node("Sub", [j, i]); // [L, S]: j - i
  const blocked: string[] = [];
  if (causal) blocked.push(g.node("Greater", [diff, int64Scalar(g, 0)]));
  const absd = (): string => g.node("Abs", [diff]);
  if (spec.kind === "window") {
    blocked.push(g.node("Greater", [absd(), int64Scalar(g, spec.window)]));
  } else if (spec.kind === "dilated") {
    const a = absd();
    blocked.push(g.node("Greater", [a, int64Scalar(g, spec.window * spec.dilation)]));
    blocked.push(g.node("Not", [g.node("Equal", [g.node("Mod", [a, int64Scalar(g, spec.dilation)]), int64Scalar(g, 0)])]));
  } else if (spec.kind === "longformer") {
    // blocked unless |j - i| <= w, or i or j is one of the first numGlobal tokens
    const far = g.node("Greater", [absd(), int64Scalar(g, spec.window)]);
    const ng = int64Scalar(g, spec.numGlobal);
    const local = g.node("And", [g.node("Not", [g.node("Less", [i, ng])]), g.node("Not", [g.node("Less", [j, ng])])]);
    blocked.push(g.node("And", [far, local]));
  }
  const any = blocked.reduce((a, b) => g.node("Or", [a, b]));
  return g.node("Unsqueeze", [additiveFromBlocked(g, any), g.ints([0, 1])]);
}

/** x @ weight^T + bias, with weight [out, in] stored under its state-dict name. */
export function emitLinear(g: GraphBuilder, lin: Linear, prefix: string, x: string): string {
  return matmulT(g, x, g.param(dot(prefix, "weight"), lin.weight), lin.bias ? g.param(dot(prefix, "bias"), lin.bias) : null);
}

/** x @ w^T (+ b), w a value name of [out, in]. */
function matmulT(g: GraphBuilder, x: string, w: string, b: string | null): string {
  const y = g.node("MatMul", [x, g.node("Transpose", [w], { perm: [1, 0] })]);
  return b ? g.node("Add", [y, b]) : y;
}

export function emitLayerNorm(g: GraphBuilder, ln: LayerNorm, prefix: string, x: string): string {
  const n = ln.normalizedShape;
  const scale = ln.weight ? g.param(dot(prefix, "weight"), ln.weight) : g.constant({ type: "float32", dims: n.slice(), data: new Float32Array(n.reduce((a, b) => a * b, 1)).fill(1) }, "ones");
  const inputs = ln.bias ? [x, scale, g.param(dot(prefix, "bias"), ln.bias)] : [x, scale];
  return g.node("LayerNormalization", inputs, { axis: -n.length, epsilon: { f: ln.opts.eps ?? 1e-5 } });
}

/** relu, or the exact (erf) gelu: 0.5 x (1 + erf(x / sqrt 2)). */
export function emitActivation(g: GraphBuilder, act: Activation, x: string): string {
  if (act === "relu") return g.node("Relu", [x]);
  const e = g.node("Erf", [g.node("Div", [x, g.scalar(Math.SQRT2)])]);
  return g.node("Mul", [g.node("Mul", [x, g.scalar(0.5)]), g.node("Add", [e, g.scalar(1)])]);
}

export interface MhaInputs {
  /** [B, L, E] */
  q: string;
  /** [B, S, kdim] */
  k: string;
  /** [B, S, vdim] */
  v: string;
  /** Additive mask broadcastable to [B, H, L, S] with dims [B|1, 1, L|1, S], or null. */
  mask: string | null;
  /** How the attention core is written. */
  form: AttentionForm;
}

/** The projections q, k, v [B, n, E] of the inputs (one packed MatMul for self-attention). */
export function emitProjections(g: GraphBuilder, mha: MultiheadAttention, prefix: string, q: string, k: string, v: string,
  which: readonly ("q" | "k" | "v")[] = ["q", "k", "v"]): Partial<Record<"q" | "k" | "v", string>> {
  const E = mha.embedDim;
  const bias = mha.inProjBias ? g.param(dot(prefix, "in_proj_bias"), mha.inProjBias) : null;
  const all = which.length === 3;
  if (mha.inProjWeight && all && q === k && k === v) {
    const w = g.param(dot(prefix, "in_proj_weight"), mha.inProjWeight);
    const [pq, pk, pv] = g.split(matmulT(g, q, w, bias), 3, -1);
    return { q: pq!, k: pk!, v: pv! };
  }
  const out: Partial<Record<"q" | "k" | "v", string>> = {};
  const src = { q, k, v };
  which.forEach((name) => {
    const i = name === "q" ? 0 : name === "k" ? 1 : 2;
    let w: string;
    if (mha.inProjWeight) {
      w = g.node("Slice", [g.param(dot(prefix, "in_proj_weight"), mha.inProjWeight), g.ints([i * E]), g.ints([(i + 1) * E]), g.ints([0])]);
    } else {
      const t: Tensor = name === "q" ? mha.qProjWeight! : name === "k" ? mha.kProjWeight! : mha.vProjWeight!;
      w = g.param(dot(prefix, `${name}_proj_weight`), t);
    }
    const b = bias ? g.node("Slice", [bias, g.ints([i * E]), g.ints([(i + 1) * E]), g.ints([0])]) : null;
    out[name] = matmulT(g, src[name], w, b);
  });
  return out;
}

/** [B, n, E] -> heads [B, H, n, D] (kT: [B, H, D, n]). */
export function splitHeads(g: GraphBuilder, x: string, H: number, D: number, transposeForKeys = false): string {
  return g.node("Transpose", [g.node("Reshape", [x, g.ints([0, -1, H, D])])], { perm: transposeForKeys ? [0, 2, 3, 1] : [0, 2, 1, 3] });
}

/**
 * Attention over heads: q [B, H, L, D], k [B, H, S, D], v [B, H, S, D], additive mask -> [B, L, E]
 * (plain ops), heads merged.
 */
export function emitCore(g: GraphBuilder, qh: string, kh: string, vh: string, mask: string | null, H: number, D: number): string {
  const kT = g.node("Transpose", [kh], { perm: [0, 1, 3, 2] }); // [B, H, D, S]
  let scores = g.node("Mul", [g.node("MatMul", [qh, kT]), g.scalar(1 / Math.sqrt(D))]); // [B, H, L, S]
  if (mask) scores = g.node("Add", [scores, mask]);
  const o = g.node("MatMul", [g.node("Softmax", [scores], { axis: -1 }), vh]); // [B, H, L, D]
  return g.node("Reshape", [g.node("Transpose", [o], { perm: [0, 2, 1, 3] }), g.ints([0, -1, H * D])]); // [B, L, E]
}

/**
 * com.microsoft.MultiHeadAttention on q [B, L, E] and k, v ([B, S, E], or heads [B, H, S, D]);
 * the mask goes in as attention_bias, expanded to [B, 1, L, S].
 */
export function emitFusedCore(g: GraphBuilder, q: string, k: string, v: string, mask: string | null, H: number, kvHeads: boolean): string {
  const bias = mask ? expandMask(g, mask, q, k, kvHeads ? 2 : 1) : "";
  return g.node("MultiHeadAttention", [q, k, v, "", "", bias], { num_heads: H }, { domain: MS_DOMAIN });
}

/** An additive mask [B|1, 1, L|1, S] expanded to [B, 1, L, S] (q [B, L, …], k's length on `kAxis`). */
function expandMask(g: GraphBuilder, mask: string, q: string, k: string, kAxis: number): string {
  const shape = g.node("Concat", [dimVector(g, q, 0), g.ints([1]), dimVector(g, q, 1), dimVector(g, k, kAxis)], { axis: 0 });
  return g.node("Expand", [mask, shape]);
}

/**
 * The opset-23 Attention operator on q [B, L, E] and k, v ([B, S, E], or heads [B, H, S, D]) ->
 * [B, L, E]. ONNX Runtime wants q, k and v of one rank and a mask with the query length, so heads
 * k, v take heads q (and the output its heads merged), and the mask is expanded to [B, 1, L, S].
 */
export function emitStdAttentionCore(g: GraphBuilder, q: string, k: string, v: string, mask: string | null, H: number, D: number, kvHeads: boolean): string {
  const m = mask ? expandMask(g, mask, q, k, kvHeads ? 2 : 1) : "";
  const scale = { scale: { f: 1 / Math.sqrt(D) } };
  const inputs = (qq: string): string[] => (m ? [qq, k, v, m] : [qq, k, v]);
  if (!kvHeads) return g.node("Attention", inputs(q), { q_num_heads: H, kv_num_heads: H, ...scale }); // [B, L, E]
  const o = g.node("Attention", inputs(splitHeads(g, q, H, D)), scale); // [B, H, L, D]
  return g.node("Reshape", [g.node("Transpose", [o], { perm: [0, 2, 1, 3] }), g.ints([0, -1, H * D])]); // [B, L, E]
}

/**
 * Attention of q [B, L, E] over k, v ([B, S, E], or heads [B, H, S, D] when kvHeads) in the given
 * form, heads merged -> [B, L, E].
 */
export function emitAttentionCore(g: GraphBuilder, form: AttentionForm, q: string, k: string, v: string, mask: string | null, H: number, D: number,
  kvHeads: boolean): string {
  if (form === "fused") return emitFusedCore(g, q, k, v, mask, H, kvHeads);
  if (form === "opset23") return emitStdAttentionCore(g, q, k, v, mask, H, D, kvHeads);
  const heads = (x: string): string => (kvHeads ? x : splitHeads(g, x, H, D));
  return emitCore(g, splitHeads(g, q, H, D), heads(k), heads(v), mask, H, D);
}

/** MultiheadAttention (batch-first values): projections, attention, output projection -> [B, L, E]. */
export function emitMha(g: GraphBuilder, mha: MultiheadAttention, prefix: string, a: MhaInputs): string {
  const H = mha.numHeads, D = mha.headDim;
  const p = emitProjections(g, mha, prefix, a.q, a.k, a.v);
  const o = emitAttentionCore(g, a.form, p.q!, p.k!, p.v!, a.mask, H, D, false);
  return emitLinear(g, mha.outProj, dot(prefix, "out_proj"), o);
}

/** What keeps a MultiheadAttention from being exported (empty when nothing does). */
export function mhaProblems(mha: MultiheadAttention, name: string): string[] {
  const where = name || "MultiheadAttention";
  const out: string[] = [];
  const kind = mha.attention.kind;
  if (!(exportableKinds as readonly string[]).includes(kind)) {
    out.push(`${where}: attention kind "${kind}" has no ONNX form (exportable: ${exportableKinds.join(", ")})`);
  }
  if (mha.biasK) out.push(`${where}: addBiasKV is not exported`);
  if (mha.opts.addZeroAttn) out.push(`${where}: addZeroAttn is not exported`);
  return out;
}
