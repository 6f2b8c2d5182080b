/**
 * torch.nn.TransformerDecoderLayer and TransformerDecoder with PyTorch's options and parameter
 * names (self_attn.…, multihead_attn.…, linear1/2, norm1/2/3), per-head cross-attention capture,
 * and a KV cache for step-by-step decoding.
 *
 * Post-norm: x = norm1(x + sa(x)); x = norm2(x + mha(x, memory)); x = norm3(x + ff(x)).
 * Pre-norm: x = x + sa(norm1(x)); x = x + mha(norm2(x), memory); x = x + ff(norm3(x)).
 *
 * With a cache, the self-attention is causal over the cached and the new tokens: each layer
 * appends the projected keys/values of its self-attention input for the new tokens only (this is
 * exact for post- and pre-norm alike, since a causal position never sees later ones), so decoding
 * one token costs one row per layer.
 *
 * The `attention` option selects the self-attention variant. An efficient kind runs in its causal
 * form (attention/causal.ts: query i sees keys j <= i; linformer and nystrom have none and are
 * refused, a block layout must be lower-triangular), takes no tgtMask or tgtKeyPaddingMask, and
 * decodes with a cache for window, dilated, longformer and bigbird (other kinds refuse a cache).
 * The cross-attention over the memory stays full.
 *
 * ```ts
 * const dec = new TransformerDecoder(new TransformerDecoderLayer(32, 4, { batchFirst: true }), 2);
 * const y = dec.forward(tgt, memory, { tgtIsCausal: true });              // [B, T, 32]
 * const cache = new DecoderCache(2);
 * for (let t = 0; t < T; t++) dec.forward(slice(tgt, 1, t, t + 1), memory, { cache }); // [B, 1, 32]
 * dec.setCaptureAttention(true); dec.forward(tgt, memory); dec.crossAttentionWeights(); // per layer [B, H, T, S]
 * const local = new TransformerDecoderLayer(32, 4, { batchFirst: true, attention: { kind: "window", window: 64 } });
 * ```
 */
import { cachedAttention, cachedKinds, causalForm } from "../attention/causal.js";
import { scaledDotProductAttention, type AttentionResult } from "../attention/sdpa.js";
import { add, logicalOr, where } from "../ops/elementwise.js";
import { linear } from "../ops/matmul.js";
import { permute, reshape, slice, squeeze, transpose, unsqueeze } from "../ops/shape.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { cachedCausalMask, DecoderCache, KVCache } from "./kv-cache.js";
import { Dropout, LayerNorm, Linear } from "./layers.js";
import { Module, ModuleList } from "./module.js";
import { keyPaddingOn } from "./padding-mask.js";
import { forwardStack } from "./stack-forward.js";
import { MultiheadAttention } from "./multihead-attention.js";
import {
  activationFn, checkAttnMask, checkKeyPaddingMask, checkSeq, childOptions, hiddenOf, resolveLayerOptions,
  type ResolvedLayerOptions, type TransformerLayerOptions,
} from "./transformer.js";

export interface DecoderLayerForwardOptions {
  /** [T, T] (with a cache: [T, cached + T]) or [B * nhead, …]: bool (true = may not attend) or float (added). */
  tgtMask?: Tensor | null;
  /** [T, S] or [B * nhead, T, S]. */
  memoryMask?: Tensor | null;
  /** [B, T] (with a cache: [B, cached + T]); true (or -inf) marks padding. */
  tgtKeyPaddingMask?: Tensor | null;
  /** [B, S]. */
  memoryKeyPaddingMask?: Tensor | null;
  /** Causal self-attention (on top of tgtMask). Implied by a cache. */
  tgtIsCausal?: boolean;
  /** Causal cross-attention (top-left aligned, on top of memoryMask). */
  memoryIsCausal?: boolean;
}

/** Several bool / float masks as one: bools or'ed, floats added, a bool over a float gives -Infinity. */
function mergeMasks(masks: (Tensor | null)[]): Tensor | null {
  let b: Tensor | null = null, f: Tensor | null = null;
  for (const m of masks) {
    if (!m) continue;
    if (m.dtype === "bool") b = b ? logicalOr(b, m) : m;
    else f = f ? add(f, m) : m;
  }
  if (b && f) return where(b, -Infinity, f);
  return b ?? f;
}

/**
 * Self-attention of x [B, T, E] (batch-first) through mha's projections, appending the new keys
 * and values to `cache`; causal over cached + new tokens. -> output [B, T, E], weights [B, H, T, S'].
 */
function cachedSelfAttention(mha: MultiheadAttention, x: Tensor, cache: KVCache, attnMask: Tensor | null, keyPaddingMask: Tensor | null,
  needWeights: boolean, training: boolean): { output: Tensor; weights: Tensor | null } {
  // full attention: the causal mask merged with the user's masks; an efficient kind (no masks,
  // checked by the layer): its causal pattern for the rows past .. S - 1
  const W = mha.inProjWeight;
  if (!W || mha.biasK || mha.opts.addZeroAttn) throw new ValueError("TransformerDecoderLayer.forward", "cache", "a self-attention with packed projections", "an unsupported MultiheadAttention");
  const E = mha.embedDim, H = mha.numHeads, D = mha.headDim;
  const B = x.shape[0]!, T = x.shape[1]!;
  const past = cache.length;
  const S = past + T;
  const bias = mha.inProjBias;
  const part = (i: number): [Tensor, Tensor | null] => [slice(W, 0, i * E, (i + 1) * E), bias ? slice(bias, 0, i * E, (i + 1) * E) : null];
  const heads = (t: Tensor): Tensor => permute(reshape(t, [B, T, H, D]), [0, 2, 1, 3]); // [B, H, T, D]
  const q = heads(linear(x, ...part(0))); // [B, H, T, D]
  const { k, v } = cache.append(heads(linear(x, ...part(1))), heads(linear(x, ...part(2)))); // [B, H, S, D]
  let r: AttentionResult;
  if (mha.attention.kind === "full") {
    const am = attnMask ? (attnMask.rank === 2 ? attnMask : reshape(attnMask, [B, H, T, S])) : null; // [T, S] | [B, H, T, S]
    const kpm = keyPaddingMask ? reshape(keyPaddingMask, [B, 1, 1, S]) : null;
    const mask = mergeMasks([T > 1 ? cachedCausalMask(T, past) : null, am, kpm]);
    r = scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP: training ? mha.dropout : 0, needWeights }); // [B, H, T, D]
  } else {
    r = cachedAttention(q, k, v, mha.attention, past, { needWeights }, "TransformerDecoderLayer.forward"); // [B, H, T, D]
  }
  const { output: oh, weights } = r;
  const o = reshape(permute(oh, [0, 2, 1, 3]), [B, T, E]); // [B, T, E]
  return { output: mha.outProj.forward(o), weights };
}

/**
 * Cross-attention of x [B, T, E] over memory [B, S, E] through mha's projections, with the
 * memory's keys and values projected once per cache (cache.memoryKV) and reused at every step.
 * -> output [B, T, E], weights [B, H, T, S].
 */
function cachedCrossAttention(mha: MultiheadAttention, x: Tensor, memory: Tensor, cache: KVCache, keyPaddingMask: Tensor | null,
  needWeights: boolean, training: boolean): { output: Tensor; weights: Tensor | null } {
  const W = mha.inProjWeight;
  if (!W || mha.biasK || mha.opts.addZeroAttn) throw new ValueError("TransformerDecoderLayer.forward", "cache", "a cross-attention with packed projections", "an unsupported MultiheadAttention");
  const E = mha.embedDim, H = mha.numHeads, D = mha.headDim;
  const B = x.shape[0]!, T = x.shape[1]!, S = memory.shape[1]!;
  const bias = mha.inProjBias;
  const part = (i: number): [Tensor, Tensor | null] => [slice(W, 0, i * E, (i + 1) * E), bias ? slice(bias, 0, i * E, (i + 1) * E) : null];
  const heads = (t: Tensor, n: number): Tensor => permute(reshape(t, [B, n, H, D]), [0, 2, 1, 3]); // [B, H, n, D]
  if (cache.memoryKV?.memory !== memory) {
    cache.memoryKV = { memory, k: heads(linear(memory, ...part(1)), S), v: heads(linear(memory, ...part(2)), S) }; // [B, H, S, D]
  }
  const q = heads(linear(x, ...part(0)), T); // [B, H, T, D]
  const r = scaledDotProductAttention(q, cache.memoryKV.k, cache.memoryKV.v, { attnMask: memoryMaskOf(cache, keyPaddingMask, memory, B, S), dropoutP: training ? mha.dropout : 0, needWeights }); // [B, H, T, D]
  const o = reshape(permute(r.output, [0, 2, 1, 3]), [B, T, E]); // [B, T, E]
  return { output: mha.outProj.forward(o), weights: r.weights };
}

/**
 * The cross-attention's mask [B, 1, 1, S] from the key padding mask [B, S] (null: none). With the
 * memory on a device and the mask on the host, the mask goes there once per cache (as additive
 * values: true -> -Infinity) and is reused at every step it is given again.
 */
function memoryMaskOf(cache: KVCache, keyPaddingMask: Tensor | null, memory: Tensor, B: number, S: number): Tensor | null {
  if (!keyPaddingMask) return null;
  if (memory.device === null || keyPaddingMask.device !== null) return reshape(keyPaddingMask, [B, 1, 1, S]);
  if (cache.memoryMask?.from !== keyPaddingMask) cache.memoryMask = { from: keyPaddingMask, mask: keyPaddingOn(keyPaddingMask, memory, [B, 1, 1, S]) };
  return cache.memoryMask.mask;
}

export class TransformerDecoderLayer extends Module {
  readonly options: ResolvedLayerOptions;
  readonly selfAttn: MultiheadAttention;
  readonly multiheadAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly dropout3: Dropout;
  /** When true, forward() keeps the per-head weights in lastSelfAttnWeights and lastCrossAttnWeights. */
  captureAttention = false;
  /** [B, nhead, T, T'] of the last forward (T' = cached + T with a cache), when captureAttention. */
  lastSelfAttnWeights: Tensor | null = null;
  /** [B, nhead, T, S] cross-attention weights of the last forward, when captureAttention. */
  lastCrossAttnWeights: Tensor | null = null;
  private readonly act: (x: Tensor) => Tensor;

  constructor(readonly dModel: number, readonly nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const o = (this.options = resolveLayerOptions("TransformerDecoderLayer", dModel, nhead, opts));
    const c = childOptions(o), g = o.generator;
    const mo = { dropout: o.dropout, batchFirst: o.batchFirst, ...c };
    // an efficient self-attention is causal by construction (it takes no tgtMask to make it so)
    const efficient = o.attention !== undefined && o.attention.kind !== "full";
    this.selfAttn = this.registerModule("self_attn", new MultiheadAttention(dModel, nhead, efficient ? {
      ...mo, dropout: 0, attention: causalForm(o.attention!, "TransformerDecoderLayer", "attention"),
      ...(o.maxLen !== undefined ? { maxLen: o.maxLen } : {}),
    } : mo));
    this.multiheadAttn = this.registerModule("multihead_attn", new MultiheadAttention(dModel, nhead, mo));
    this.linear1 = this.registerModule("linear1", new Linear(dModel, o.dimFeedforward, c));
    this.dropout = this.registerModule("dropout", new Dropout(o.dropout, g));
    this.linear2 = this.registerModule("linear2", new Linear(o.dimFeedforward, dModel, c));
    const no = { eps: o.layerNormEps, bias: o.bias };
    this.norm1 = this.registerModule("norm1", new LayerNorm(dModel, no));
    this.norm2 = this.registerModule("norm2", new LayerNorm(dModel, no));
    this.norm3 = this.registerModule("norm3", new LayerNorm(dModel, no));
    this.dropout1 = this.registerModule("dropout1", new Dropout(o.dropout, g));
    this.dropout2 = this.registerModule("dropout2", new Dropout(o.dropout, g));
    this.dropout3 = this.registerModule("dropout3", new Dropout(o.dropout, g));
    this.act = activationFn(o.activation);
  }

  /** A new layer with the same options and a copy of the parameters (as torch's deepcopy). */
  clone(): TransformerDecoderLayer {
    const { generator, attention, maxLen, ...rest } = this.options;
    const l = new TransformerDecoderLayer(this.dModel, this.nhead, {
      ...rest, ...(generator ? { generator } : {}), ...(attention ? { attention } : {}), ...(maxLen !== undefined ? { maxLen } : {}),
    });
    l.loadStateDict(this.stateDict());
    l.train(this.training);
    return l;
  }

  /**
   * tgt [T, B, E] (batchFirst: [B, T, E]; unbatched [T, E]), memory [S, B, E] -> tgt's shape.
   * With `cache`, tgt holds only the new tokens (positions cache.length …).
   */
  forward(tgt: Tensor, memory: Tensor, fo: DecoderLayerForwardOptions & { cache?: KVCache | null } = {}): Tensor {
    return this.forwardJoined(tgt, memory, fo, null, null).out;
  }

  /**
   * forward for a stack of pre-norm layers: `normed`, norm1(tgt) when the layer before computed it
   * (null: computed here), and `next`, the norm that follows this layer (the next layer's norm1 or
   * the stack's final norm), whose input is this layer's last residual add: the add and that norm
   * in one kernel where the backend has it. Returns the output and, with `next`, next(output).
   * Post-norm layers take neither (`normed` null, `next` ignored).
   */
  forwardJoined(tgt: Tensor, memory: Tensor, fo: DecoderLayerForwardOptions & { cache?: KVCache | null }, normed: Tensor | null,
    next: LayerNorm | null): { out: Tensor; normed: Tensor | null } {
    const op = "TransformerDecoderLayer.forward";
    const E = this.dModel, bf = this.options.batchFirst;
    const t = checkSeq(op, "tgt", tgt, E, bf, "T");
    if (memory.rank !== tgt.rank) throw new ShapeError(op, "memory", t.batched ? (bf ? `[${t.B}, S, ${E}]` : `[S, ${t.B}, ${E}]`) : `[S, ${E}]`, fmtShape(memory.shape));
    const m = checkSeq(op, "memory", memory, E, bf, "S", t.batched ? t.B : undefined);
    const cache = fo.cache ?? null;
    if (cache !== null && !(cache instanceof KVCache)) throw new ValueError(op, "cache", "a KVCache", typeof cache);
    const kind = this.selfAttn.attention.kind;
    if (kind !== "full") {
      for (const [arg, mask] of [["tgtMask", fo.tgtMask], ["tgtKeyPaddingMask", fo.tgtKeyPaddingMask]] as const) {
        if (mask) throw new ValueError(op, arg, `none with attention kind "${kind}" (its self-attention is causal by construction)`, "a mask");
      }
      if (cache && !cachedKinds.includes(kind)) {
        throw new ValueError(op, "cache", `none with attention kind "${kind}" (cached decoding: full | ${cachedKinds.join(" | ")})`, "a KVCache");
      }
    }
    const Sself = t.n + (cache ? cache.length : 0);
    checkAttnMask(op, "tgtMask", fo.tgtMask, t, Sself, this.nhead);
    checkKeyPaddingMask(op, "tgtKeyPaddingMask", fo.tgtKeyPaddingMask, t, Sself);
    checkAttnMask(op, "memoryMask", fo.memoryMask, t, m.n, this.nhead);
    checkKeyPaddingMask(op, "memoryKeyPaddingMask", fo.memoryKeyPaddingMask, m);
    let x = tgt;
    // each residual add and the norm after it in one kernel where the backend has it (addAndForward)
    if (this.options.normFirst) {
      const a = this.norm2.addAndForward(x, this.sa(normed ?? this.norm1.forward(x), fo, cache, t.batched)); // x + sa(norm1(x)), and its norm2
      const b = this.norm3.addAndForward(a.sum, this.mha(a.out, memory, fo, cache, t.batched));
      const r = this.ff(b.out);
      if (!next) return { out: add(b.sum, r), normed: null };
      const c = next.addAndForward(b.sum, r);
      return { out: c.sum, normed: c.out };
    }
    x = this.norm1.addAndForward(x, this.sa(x, fo, cache, t.batched)).out;
    x = this.norm2.addAndForward(x, this.mha(x, memory, fo, cache, t.batched)).out;
    return { out: this.norm3.addAndForward(x, this.ff(x)).out, normed: null };
  }

  private sa(x: Tensor, fo: DecoderLayerForwardOptions, cache: KVCache | null, batched: boolean): Tensor {
    const need = this.captureAttention;
    let out: Tensor, w: Tensor | null;
    if (cache) {
      const bf = this.options.batchFirst;
      const xb = !batched ? unsqueeze(x, 0) : bf ? x : transpose(x, 0, 1); // [B, T, E]
      const kpm = fo.tgtKeyPaddingMask && !batched ? unsqueeze(fo.tgtKeyPaddingMask, 0) : fo.tgtKeyPaddingMask ?? null;
      const r = cachedSelfAttention(this.selfAttn, xb, cache, fo.tgtMask ?? null, kpm, need, this.training);
      out = !batched ? squeeze(r.output, 0) : bf ? r.output : transpose(r.output, 0, 1);
      w = r.weights && !batched ? squeeze(r.weights, 0) : r.weights;
    } else {
      const r = this.selfAttn.forward(x, x, x, {
        attnMask: fo.tgtMask ?? null,
        keyPaddingMask: fo.tgtKeyPaddingMask ?? null,
        isCausal: fo.tgtIsCausal ?? false,
        needWeights: need,
        averageAttnWeights: false,
      });
      out = r.output;
      w = r.weights;
    }
    this.lastSelfAttnWeights = need ? w : null;
    return this.dropout1.forward(out);
  }

  private mha(x: Tensor, memory: Tensor, fo: DecoderLayerForwardOptions, cache: KVCache | null, batched: boolean): Tensor {
    // with a cache, batch-first and no memory mask: the memory's keys and values are projected once
    if (cache && batched && this.options.batchFirst && !fo.memoryMask && !fo.memoryIsCausal && this.multiheadAttn.inProjWeight) {
      const r = cachedCrossAttention(this.multiheadAttn, x, memory, cache, fo.memoryKeyPaddingMask ?? null, this.captureAttention, this.training);
      this.lastCrossAttnWeights = this.captureAttention ? r.weights : null;
      return this.dropout2.forward(r.output);
    }
    const r = this.multiheadAttn.forward(x, memory, memory, {
      attnMask: fo.memoryMask ?? null,
      keyPaddingMask: fo.memoryKeyPaddingMask ?? null,
      isCausal: fo.memoryIsCausal ?? false,
      needWeights: this.captureAttention,
      averageAttnWeights: false,
    });
    this.lastCrossAttnWeights = this.captureAttention ? r.weights : null;
    return this.dropout2.forward(r.output);
  }

  private ff(x: Tensor): Tensor {
    return this.dropout3.forward(this.linear2.forward(this.dropout.forward(hiddenOf(this.linear1, this.options.activation, this.act, x))));
  }
}

export interface TransformerDecoderOptions {
  /** Final LayerNorm (registered as "norm"); default none. */
  norm?: LayerNorm | null;
}

/** A stack of numLayers copies of decoderLayer (layers.0, …) and an optional final norm. */
export class TransformerDecoder extends Module {
  readonly layers: ModuleList<TransformerDecoderLayer>;
  readonly norm: LayerNorm | null;
  constructor(decoderLayer: TransformerDecoderLayer, readonly numLayers: number, opts: TransformerDecoderOptions = {}) {
    super();
    if (!(decoderLayer instanceof TransformerDecoderLayer)) throw new ValueError("TransformerDecoder", "decoderLayer", "a TransformerDecoderLayer", typeof decoderLayer);
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new ValueError("TransformerDecoder", "numLayers", "a positive integer", String(numLayers));
    this.layers = this.registerModule("layers", new ModuleList(Array.from({ length: numLayers }, () => decoderLayer.clone())));
    this.norm = this.registerModule("norm", opts.norm ?? null);
  }

  /** A cache with one KVCache per layer, for forward(…, { cache }). */
  createCache(): DecoderCache {
    return new DecoderCache(this.numLayers);
  }

  /**
   * tgt [T, B, E] (batchFirst: [B, T, E]), memory [S, B, E] -> tgt's shape. With `cache`, tgt
   * holds only the new tokens; each layer attends over its cached and new keys/values.
   */
  forward(tgt: Tensor, memory: Tensor, fo: DecoderLayerForwardOptions & { cache?: DecoderCache | null } = {}): Tensor {
    const { cache, ...rest } = fo;
    if (cache !== null && cache !== undefined && (!(cache instanceof DecoderCache) || cache.numLayers !== this.numLayers)) {
      throw new ValueError("TransformerDecoder.forward", "cache", `a DecoderCache of ${this.numLayers} layers`, cache instanceof DecoderCache ? `${cache.numLayers} layers` : typeof cache);
    }
    const layerFo = (i: number) => ({ ...rest, cache: cache ? cache.layer(i) : null });
    return forwardStack(this.layers.items, TransformerDecoderLayer, this.norm, tgt,
      (layer, i, x) => layer.forward(x, memory, layerFo(i)),
      (layer, i, x, normed, next) => layer.forwardJoined(x, memory, layerFo(i), normed, next));
  }

  /** Switches weight capture on or off in every layer. */
  setCaptureAttention(on: boolean): this {
    for (const l of this.layers) l.captureAttention = on;
    return this;
  }

  /** Each layer's per-head cross-attention weights [B, nhead, T, S] from the last forward (null where not captured). */
  crossAttentionWeights(): (Tensor | null)[] {
    return this.layers.items.map((l) => l.lastCrossAttnWeights);
  }

  /** Each layer's per-head self-attention weights from the last forward (null where not captured). */
  selfAttentionWeights(): (Tensor | null)[] {
    return this.layers.items.map((l) => l.lastSelfAttnWeights);
  }
}
