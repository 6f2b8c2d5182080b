/**
 * Attention capture from any model: `captureAttention(model, fn)` walks the model's modules (their
 * dotted names from Module.namedModules), switches every attention module onto its
 * weight-returning path for the duration of `fn`, records the per-head weights of every call, and
 * puts everything back afterwards. Models that are not being captured keep the fused kernel: the
 * weights are only ever computed inside a capture.
 *
 * What is captured (weights always per head, batch first):
 * - TransformerEncoderLayer: `<layer>.self_attn`, [B, H, L, L] (the layer's captureAttention flag);
 * - TransformerDecoderLayer: `<layer>.self_attn` [B, H, T, T'] and `<layer>.multihead_attn`
 *   (cross-attention) [B, H, T, S], on every path, KV-cached decoding included (one record per step);
 * - any other MultiheadAttention (SelfAttention's `attn` among them), GroupedQueryAttention and
 *   EfficientSelfAttention: [B, H, L, S] (S: the keys the variant attends, e.g. Linformer's k);
 * - ViTAttention (a VisionTransformer's `blocks.{i}.attn`): [B, H, T, T] over the image's tokens;
 * - GATConv: [E', H] per edge, with the edges used (`edgeIndex`, self-loops included);
 *   TransformerConv: [E, H] per edge of its edgeIndex.
 *
 * With `gradient`, the weights stay on the autograd graph, `gradient(output)` (a scalar) is
 * differentiated, and each record gets `grad`, d gradient / d weights, of the weights' shape
 * (null where the output does not depend on that tensor, e.g. unbatched inputs, whose weights
 * come back as a squeezed copy) — the input of attention × gradient.
 *
 * ```ts
 * const { output, records } = captureAttention(model, () => model.forward(src, tgtIn));
 * records.map((r) => `${r.name} ${r.kind} [${r.weights.shape}]`);
 * // ["encoder.layers.0.self_attn self [1,4,9,9]", "decoder.layers.0.self_attn self [1,4,7,7]",
 * //  "decoder.layers.0.multihead_attn cross [1,4,7,9]"]
 * ```
 */
import { enableGrad, noGrad } from "../autograd/graph.js";
import { backward } from "../autograd/backward.js";
import { EfficientSelfAttention } from "../nn/efficient-self-attention.js";
import { GATConv, type GATConvForwardOptions, type GATConvResult } from "../nn/gat.js";
import { GroupedQueryAttention, type GroupedQueryAttentionForwardOptions } from "../nn/gqa-attention.js";
import { Module } from "../nn/module.js";
import { MultiheadAttention, type MultiheadAttentionForwardOptions } from "../nn/multihead-attention.js";
import { TransformerConv, type TransformerConvForwardOptions, type TransformerConvResult } from "../nn/transformer-conv.js";
import { TransformerDecoderLayer } from "../nn/transformer-decoder.js";
import { TransformerEncoderLayer } from "../nn/transformer.js";
import { ViTAttention } from "../nn/vit.js";
import { mean } from "../ops/reduce.js";
import { unsqueeze } from "../ops/shape.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";

/** What a record's weights are: self-attention, cross-attention (queries and keys from different sequences), or graph edges. */
export type AttentionRecordKind = "self" | "cross" | "graph";

export interface AttentionRecord {
  /** Dotted name of the attention module ("encoder.layers.0.self_attn"). */
  name: string;
  kind: AttentionRecordKind;
  /** The module's class (MultiheadAttention, GroupedQueryAttention, GATConv, ...). */
  module: string;
  /** 0 for the module's first call inside the capture, 1 for the next (decoding steps), ... */
  call: number;
  /** [B, H, L, S] per head; graph: [E', H] per edge. */
  weights: Tensor;
  /** Graph records: int32 [2, E'], row 0 the source and row 1 the target of each edge. */
  edgeIndex?: Tensor;
  /** With the `gradient` option: d gradient(output) / d weights, same shape; null off the output's path. */
  grad?: Tensor | null;
}

export interface CaptureOptions<T> {
  /** A scalar of the callback's result to differentiate with respect to every weight map. */
  gradient?: (output: T) => Tensor;
}

export interface CaptureResult<T> {
  /** What the callback returned. */
  output: T;
  /** Every attention call, in call order. */
  records: AttentionRecord[];
}

const OP = "captureAttention";

/** The attention modules of a model with their dotted names (a layer's own MultiheadAttention children are covered by the layer). */
export function attentionModules(model: Module): [string, Module][] {
  if (!(model instanceof Module)) throw new ValueError("attentionModules", "model", "a Module", model === null ? "null" : typeof model);
  const out: [string, Module][] = [];
  const covered = new Set<Module>();
  for (const [name, m] of model.namedModules()) {
    if (m instanceof TransformerEncoderLayer) covered.add(m.selfAttn);
    if (m instanceof TransformerDecoderLayer) {
      covered.add(m.selfAttn);
      covered.add(m.multiheadAttn);
    }
    const isAttn = m instanceof TransformerEncoderLayer || m instanceof TransformerDecoderLayer || m instanceof MultiheadAttention ||
      m instanceof GroupedQueryAttention || m instanceof EfficientSelfAttention || m instanceof ViTAttention || m instanceof GATConv ||
      m instanceof TransformerConv;
    if (isAttn && !covered.has(m)) out.push([name, m]);
  }
  return out;
}

/** Per-head weights as [B, H, L, S]: unbatched [H, L, S] gains the batch dim. */
function batched(w: Tensor): Tensor {
  return w.rank === 3 ? unsqueeze(w, 0) : w;
}

/**
 * Runs `fn` with every attention module of `model` returning its weights, and returns fn's result
 * with one record per attention call. Everything is restored afterwards, also when fn throws.
 * `fn` must be synchronous.
 */
export function captureAttention<T>(model: Module, fn: () => T, opts: CaptureOptions<T> = {}): CaptureResult<T> {
  if (!(model instanceof Module)) throw new ValueError(OP, "model", "a Module", model === null ? "null" : typeof model);
  if (typeof fn !== "function") throw new ValueError(OP, "fn", "a function", typeof fn);
  if (opts.gradient !== undefined && typeof opts.gradient !== "function") throw new ValueError(OP, "opts.gradient", "a function", typeof opts.gradient);
  const mods = attentionModules(model);
  if (!mods.length) {
    throw new ValueError(OP, "model", "a model with attention modules (MultiheadAttention, Transformer layers, GroupedQueryAttention, EfficientSelfAttention, ViTAttention, GATConv, TransformerConv)",
      `none in ${model.constructor.name}`);
  }
  const records: AttentionRecord[] = [];
  const calls = new Map<string, number>();
  const keep = opts.gradient !== undefined;
  const record = (name: string, kind: AttentionRecordKind, module: Module, weights: Tensor | null, edgeIndex?: Tensor): void => {
    if (!weights) return;
    const call = calls.get(name) ?? 0;
    calls.set(name, call + 1);
    if (keep && weights.requiresGrad) weights.retainGrad();
    records.push({ name, kind, module: module.constructor.name, call, weights, ...(edgeIndex ? { edgeIndex } : {}) });
  };
  const restore: (() => void)[] = [];
  /** Replaces m.forward by `f` on the instance; undone afterwards. */
  const patch = <M extends Module>(m: M, f: unknown): void => {
    const own = Object.getOwnPropertyDescriptor(m, "forward");
    Object.defineProperty(m, "forward", { value: f, configurable: true, writable: true });
    restore.push(() => {
      if (own) Object.defineProperty(m, "forward", own);
      else delete (m as { forward?: unknown }).forward;
    });
  };

  for (const [name, m] of mods) {
    if (m instanceof TransformerEncoderLayer) {
      const { captureAttention: flag, lastAttnWeights } = m;
      const orig = m.forward;
      m.captureAttention = true;
      patch(m, (...a: Parameters<TransformerEncoderLayer["forward"]>) => {
        const y = orig.apply(m, a);
        record(`${name ? `${name}.` : ""}self_attn`, "self", m.selfAttn, m.lastAttnWeights && batched(m.lastAttnWeights));
        return y;
      });
      restore.push(() => { m.captureAttention = flag; m.lastAttnWeights = lastAttnWeights; });
    } else if (m instanceof TransformerDecoderLayer) {
      const { captureAttention: flag, lastSelfAttnWeights, lastCrossAttnWeights } = m;
      const orig = m.forward;
      m.captureAttention = true;
      patch(m, (...a: Parameters<TransformerDecoderLayer["forward"]>) => {
        const y = orig.apply(m, a);
        const p = name ? `${name}.` : "";
        record(`${p}self_attn`, "self", m.selfAttn, m.lastSelfAttnWeights && batched(m.lastSelfAttnWeights));
        record(`${p}multihead_attn`, "cross", m.multiheadAttn, m.lastCrossAttnWeights && batched(m.lastCrossAttnWeights));
        return y;
      });
      restore.push(() => {
        m.captureAttention = flag;
        m.lastSelfAttnWeights = lastSelfAttnWeights;
        m.lastCrossAttnWeights = lastCrossAttnWeights;
      });
    } else if (m instanceof MultiheadAttention) {
      const orig = m.forward;
      patch(m, (q: Tensor, k: Tensor, v: Tensor, fo: MultiheadAttentionForwardOptions = {}) => {
        const r = orig.call(m, q, k, v, { ...fo, needWeights: true, averageAttnWeights: false });
        const w = r.weights; // [B, H, L, S] or unbatched [H, L, S]
        record(name, q === k ? "self" : "cross", m, w && batched(w));
        const wanted = fo.needWeights ?? true, average = fo.averageAttnWeights ?? true;
        return { output: r.output, weights: !wanted || !w ? null : average ? mean(w, w.rank - 3) : w };
      });
    } else if (m instanceof GroupedQueryAttention) {
      const orig = m.forward;
      patch(m, (x: Tensor, fo: GroupedQueryAttentionForwardOptions = {}) => {
        const r = orig.call(m, x, { ...fo, needWeights: true });
        record(name, "self", m, r.weights);
        return { output: r.output, weights: fo.needWeights ? r.weights : null };
      });
    } else if (m instanceof EfficientSelfAttention) {
      const orig = m.forward;
      patch(m, (x: Tensor, fo: { needWeights?: boolean } = {}) => {
        const r = orig.call(m, x, { ...fo, needWeights: true });
        record(name, "self", m, r.weights && batched(r.weights));
        return { output: r.output, weights: fo.needWeights ? r.weights : null };
      });
    } else if (m instanceof ViTAttention) {
      const orig = m.forward;
      patch(m, (x: Tensor, fo: { needWeights?: boolean } = {}) => {
        const r = orig.call(m, x, { ...fo, needWeights: true });
        record(name, "self", m, r.weights);
        return { output: r.output, weights: fo.needWeights ? r.weights : null };
      });
    } else if (m instanceof GATConv) {
      const orig = m.forward;
      patch(m, (x: Tensor, edgeIndex: Tensor, fo: GATConvForwardOptions = {}): GATConvResult => {
        const r = orig.call(m, x, edgeIndex, { ...fo, returnAttentionWeights: true });
        record(name, "graph", m, r.alpha ?? null, r.edgeIndex);
        return fo.returnAttentionWeights ? r : { output: r.output };
      });
    } else if (m instanceof TransformerConv) {
      const orig = m.forward;
      patch(m, (x: Tensor, edgeIndex: Tensor, fo: TransformerConvForwardOptions = {}): TransformerConvResult => {
        const r = orig.call(m, x, edgeIndex, { ...fo, returnAttentionWeights: true });
        record(name, "graph", m, r.alpha ?? null, r.edgeIndex);
        return fo.returnAttentionWeights ? r : { output: r.output };
      });
    }
  }

  let output: T;
  try {
    output = keep ? enableGrad(fn) : fn();
    if (output !== null && typeof output === "object" && typeof (output as { then?: unknown }).then === "function") {
      throw new ValueError(OP, "fn", "a synchronous function", "a function returning a promise");
    }
  } finally {
    for (let i = restore.length - 1; i >= 0; i--) restore[i]!();
  }
  if (opts.gradient) {
    const target = enableGrad(() => opts.gradient!(output));
    if (!(target instanceof Tensor) || target.size !== 1) {
      throw new ShapeError(OP, "opts.gradient", "a function returning a scalar tensor", target instanceof Tensor ? fmtShape(target.shape) : typeof target);
    }
    if (!target.requiresGrad) throw new ValueError(OP, "opts.gradient", "a scalar that depends on the model's parameters", "a tensor without a gradient graph");
    for (const r of records) r.weights.grad = null;
    backward(target);
    for (const r of records) r.grad = r.weights.requiresGrad ? r.weights.grad : null;
  }
  return { output, records };
}

/** The records of one module, in call order. */
export function recordsOf(records: readonly AttentionRecord[], name: string): AttentionRecord[] {
  return records.filter((r) => r.name === name);
}

/** Attention × gradient of one record: weights ⊙ grad, same shape (zeros where the gradient is null). */
export function attentionTimesGradient(r: AttentionRecord): Tensor {
  return noGrad(() => {
    const w = r.weights, g = r.grad;
    if (g === undefined) throw new ValueError("attentionTimesGradient", "record", "a record captured with the gradient option", `no grad on ${r.name}`);
    const d = new Float64Array(w.size);
    if (g) for (let i = 0; i < d.length; i++) d[i] = Number(w.data[i]) * Number(g.data[i]);
    return new Tensor(w.dtype === "float64" ? d : Float32Array.from(d), w.shape.slice(), w.dtype === "float64" ? "float64" : "float32");
  });
}
