/**
 * ONNX emitters for the transformer stacks: TransformerEncoderLayer / TransformerEncoder,
 * TransformerDecoderLayer / TransformerDecoder over a whole target, and one decoder step with
 * the KV cache as graph inputs and outputs (past self-attention keys/values in, the grown ones out;
 * the cross-attention keys/values either computed from the memory or read back from the inputs).
 * Values are batch-first [B, n, E]; dropout is left out (an export is an eval-mode graph).
 *
 * ```ts
 * const y = emitEncoder(g, enc, "", x, masks, "plain"); // [B, L, E]
 * ```
 */
import type { AttentionSpec } from "../attention/select.js";
import type { MultiheadAttention } from "../nn/multihead-attention.js";
import type { TransformerDecoder, TransformerDecoderLayer } from "../nn/transformer-decoder.js";
import type { Activation, TransformerEncoder, TransformerEncoderLayer } from "../nn/transformer.js";
import {
  dimScalar, emitActivation, emitAttentionCore, emitLayerNorm, emitLinear, emitMha, emitProjections, patternMask, splitHeads, sumMasks, type AttentionForm,
} from "./emit-attention.js";
import type { GraphBuilder } from "./graph.js";

const dot = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

/** The masks of one stack: the part every layer shares, and each kind's pattern, made once per graph. */
export class MaskCache {
  private readonly patterns = new Map<string, string | null>();
  /**
   * base: additive mask shared by every layer (padding, user masks) or null. L, S: int64 scalars
   * of the query and key lengths; start: position of the first query (null = 0).
   */
  constructor(private readonly g: GraphBuilder, readonly base: string | null, private readonly L: string, private readonly S: string,
    private readonly start: string | null = null) {}

  /** The mask of attention `spec`: base plus its pattern. */
  of(spec: AttentionSpec): string | null {
    const key = JSON.stringify(spec);
    if (!this.patterns.has(key)) this.patterns.set(key, sumMasks(this.g, [this.base, patternMask(this.g, spec, this.L, this.S, this.start)]));
    return this.patterns.get(key)!;
  }
}

function feedForward(g: GraphBuilder, l: TransformerEncoderLayer | TransformerDecoderLayer, prefix: string, x: string): string {
  const act = l.options.activation as Activation;
  return emitLinear(g, l.linear2, dot(prefix, "linear2"), emitActivation(g, act, emitLinear(g, l.linear1, dot(prefix, "linear1"), x)));
}

/** Pre-norm (x + f(norm(x))) or post-norm (norm(x + f(x))) around one block. */
function residual(g: GraphBuilder, normFirst: boolean, x: string, norm: () => (h: string) => string, f: (h: string) => string): string {
  const n = norm();
  return normFirst ? g.node("Add", [x, f(n(x))]) : n(g.node("Add", [x, f(x)]));
}

/** One encoder layer: x [B, L, E] -> [B, L, E]. */
export function emitEncoderLayer(g: GraphBuilder, l: TransformerEncoderLayer, prefix: string, x: string, masks: MaskCache, form: AttentionForm): string {
  const nf = l.options.normFirst;
  const mask = masks.of(l.selfAttn.attention);
  const sa = (h: string): string => emitMha(g, l.selfAttn, dot(prefix, "self_attn"), { q: h, k: h, v: h, mask, form });
  x = residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm1, dot(prefix, "norm1"), h), sa);
  return residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm2, dot(prefix, "norm2"), h), (h) => feedForward(g, l, prefix, h));
}

/** The encoder stack and its final norm: x [B, L, E] -> [B, L, E]. */
export function emitEncoder(g: GraphBuilder, enc: TransformerEncoder, prefix: string, x: string, masks: MaskCache, form: AttentionForm): string {
  enc.layers.items.forEach((l, i) => { x = emitEncoderLayer(g, l, dot(prefix, `layers.${i}`), x, masks, form); });
  return enc.norm ? emitLayerNorm(g, enc.norm, dot(prefix, "norm"), x) : x;
}

/** The masks of a decoder: self-attention over the target, cross-attention over the memory. */
export interface DecoderMasks {
  self: MaskCache;
  /** Additive mask of the memory keys [B|1, 1, T|1, S], or null. */
  cross: string | null;
}

/** One decoder layer over the whole target: x [B, T, E], memory [B, S, E] -> [B, T, E]. */
export function emitDecoderLayer(g: GraphBuilder, l: TransformerDecoderLayer, prefix: string, x: string, memory: string, masks: DecoderMasks, form: AttentionForm): string {
  const nf = l.options.normFirst;
  const selfMask = masks.self.of(l.selfAttn.attention);
  const sa = (h: string): string => emitMha(g, l.selfAttn, dot(prefix, "self_attn"), { q: h, k: h, v: h, mask: selfMask, form });
  const ca = (h: string): string => emitMha(g, l.multiheadAttn, dot(prefix, "multihead_attn"), { q: h, k: memory, v: memory, mask: masks.cross, form });
  x = residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm1, dot(prefix, "norm1"), h), sa);
  x = residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm2, dot(prefix, "norm2"), h), ca);
  return residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm3, dot(prefix, "norm3"), h), (h) => feedForward(g, l, prefix, h));
}

/** The decoder stack and its final norm over the whole target. */
export function emitDecoder(g: GraphBuilder, dec: TransformerDecoder, prefix: string, x: string, memory: string, masks: DecoderMasks, form: AttentionForm): string {
  dec.layers.items.forEach((l, i) => { x = emitDecoderLayer(g, l, dot(prefix, `layers.${i}`), x, memory, masks, form); });
  return dec.norm ? emitLayerNorm(g, dec.norm, dot(prefix, "norm"), x) : x;
}

/** One layer's cache values: self-attention keys/values [B, H, n, D] and cross-attention ones [B, H, S, D]. */
export interface LayerKV {
  selfK: string;
  selfV: string;
  crossK: string;
  crossV: string;
}

/** The step's cache: past values per layer (self past may have length 0), or null cross = compute from memory. */
export interface StepCache {
  past: { selfK: string | null; selfV: string | null; crossK: string | null; crossV: string | null }[];
  /** The memory [B, S, E] the cross keys/values are projected from, where crossK is null. */
  memory: string | null;
}

/**
 * Self-attention of the new tokens x [B, T, E] over past + new keys: appends the new keys/values
 * to the past ones (present = concat on the length axis). -> output [B, T, E], present k, v.
 */
function stepSelfAttention(g: GraphBuilder, mha: MultiheadAttention, prefix: string, x: string, pastK: string | null, pastV: string | null, mask: string | null, form: AttentionForm):
  { out: string; k: string; v: string } {
  const H = mha.numHeads, D = mha.headDim;
  const p = emitProjections(g, mha, prefix, x, x, x);
  const kNew = splitHeads(g, p.k!, H, D), vNew = splitHeads(g, p.v!, H, D); // [B, H, T, D]
  const k = pastK ? g.node("Concat", [pastK, kNew], { axis: 2 }) : kNew; // [B, H, past + T, D]
  const v = pastV ? g.node("Concat", [pastV, vNew], { axis: 2 }) : vNew;
  const o = emitAttentionCore(g, form, p.q!, k, v, mask, H, D, true);
  return { out: emitLinear(g, mha.outProj, dot(prefix, "out_proj"), o), k, v };
}

/** Cross-attention of x [B, T, E] over cached memory keys/values [B, H, S, D]. */
function stepCrossAttention(g: GraphBuilder, mha: MultiheadAttention, prefix: string, x: string, k: string, v: string, mask: string | null, form: AttentionForm): string {
  const H = mha.numHeads, D = mha.headDim;
  const q = emitProjections(g, mha, prefix, x, x, x, ["q"]).q!;
  const o = emitAttentionCore(g, form, q, k, v, mask, H, D, true);
  return emitLinear(g, mha.outProj, dot(prefix, "out_proj"), o);
}

/**
 * One decoding step of the decoder stack: x [B, T, E] (the new tokens' inputs) -> the stack's
 * output [B, T, E] and each layer's present keys/values. `selfMask` covers the T new queries
 * over past + T keys (causal); `crossMask` the memory's padding.
 */
export function emitDecoderStep(g: GraphBuilder, dec: TransformerDecoder, prefix: string, x: string, cache: StepCache, selfMask: string | null,
  crossMask: string | null, form: AttentionForm): { out: string; present: LayerKV[] } {
  const present: LayerKV[] = [];
  dec.layers.items.forEach((l, i) => {
    const lp = dot(prefix, `layers.${i}`), nf = l.options.normFirst;
    const past = cache.past[i]!;
    let crossK = past.crossK, crossV = past.crossV;
    if (!crossK || !crossV) {
      const H = l.multiheadAttn.numHeads, D = l.multiheadAttn.headDim;
      const m = cache.memory!;
      const p = emitProjections(g, l.multiheadAttn, dot(lp, "multihead_attn"), m, m, m, ["k", "v"]);
      crossK = splitHeads(g, p.k!, H, D); // [B, H, S, D]
      crossV = splitHeads(g, p.v!, H, D);
    }
    let selfK = "", selfV = "";
    const sa = (h: string): string => {
      const r = stepSelfAttention(g, l.selfAttn, dot(lp, "self_attn"), h, past.selfK, past.selfV, selfMask, form);
      selfK = r.k;
      selfV = r.v;
      return r.out;
    };
    const ck = crossK, cv = crossV;
    const ca = (h: string): string => stepCrossAttention(g, l.multiheadAttn, dot(lp, "multihead_attn"), h, ck, cv, crossMask, form);
    x = residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm1, dot(lp, "norm1"), h), sa);
    x = residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm2, dot(lp, "norm2"), h), ca);
    x = residual(g, nf, x, () => (h) => emitLayerNorm(g, l.norm3, dot(lp, "norm3"), h), (h) => feedForward(g, l, lp, h));
    present.push({ selfK, selfV, crossK: ck, crossV: cv });
  });
  return { out: dec.norm ? emitLayerNorm(g, dec.norm, dot(prefix, "norm"), x) : x, present };
}

/** int64 scalars of a batch-first value's length (axis 1). */
export const seqLen = (g: GraphBuilder, x: string): string => dimScalar(g, x, 1);
