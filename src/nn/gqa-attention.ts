/**
 * Grouped-query attention (Ainslie et al.) as in Llama-style decoders: numHeads query heads share
 * numKVHeads key/value heads (query head h uses kv head floor(h / (numHeads / numKVHeads)));
 * numKVHeads = numHeads is multi-head, numKVHeads = 1 multi-query attention. Separate q_proj,
 * k_proj, v_proj, o_proj projections (bias off by default, as Llama), optional rotary embedding,
 * causal by default, and a KVCache for incremental decoding.
 *
 * ```ts
 * const attn = new GroupedQueryAttention(64, 8, 2, { rotary: { layout: "half" } });
 * const { output } = attn.forward(randn([2, 10, 64]));     // [B, L, E], causal
 * const cache = new KVCache();
 * for (const xt of steps) attn.forward(xt, { cache });       // xt [B, 1, E], positions from cache.length
 * ```
 */
import { scaledDotProductAttention } from "../attention/sdpa.js";
import { permute, reshape } from "../ops/shape.js";
import { checkDropoutP } from "../ops/util.js";
import { logicalOr, where } from "../ops/elementwise.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { cachedCausalMask, type KVCache } from "./kv-cache.js";
import { Linear } from "./layers.js";
import { Module } from "./module.js";
import { RotaryEmbedding, type RotaryOptions } from "./rope.js";

export interface GroupedQueryAttentionOptions {
  /** Per-head dim D; default embedDim / numHeads. */
  headDim?: number;
  /** Bias in the four projections; default false (Llama). */
  bias?: boolean;
  /** Rotary embedding of q and k (rotaryDim defaults to headDim); null/absent: none. */
  rotary?: RotaryOptions | null;
  /** Causal self-attention (default true). */
  causal?: boolean;
  dropout?: number;
  generator?: Generator;
}

export interface GroupedQueryAttentionForwardOptions {
  /** Past keys/values of this layer; the new ones are appended. Token positions start at cache.length. */
  cache?: KVCache | null;
  /** bool (true = may not attend) or float (added), broadcastable to [B, numHeads, L, S] (S counts cached tokens). */
  attnMask?: Tensor | null;
  /** Overrides the module's `causal`. With a cache, query i sits at position cache.length + i. */
  isCausal?: boolean;
  /** Token positions for the rotary embedding (default cache.length .. cache.length + L - 1). */
  positions?: Tensor | readonly number[];
  /** Return the per-head weights [B, numHeads, L, S]. */
  needWeights?: boolean;
}

const OP = "GroupedQueryAttention.forward";

export class GroupedQueryAttention extends Module {
  readonly headDim: number;
  readonly causal: boolean;
  readonly dropout: number;
  qProj: Linear;
  kProj: Linear;
  vProj: Linear;
  oProj: Linear;
  readonly rotary: RotaryEmbedding | null;
  private readonly generator: Generator | undefined;

  constructor(readonly embedDim: number, readonly numHeads: number, readonly numKVHeads: number, opts: GroupedQueryAttentionOptions = {}) {
    super();
    const C = "GroupedQueryAttention";
    for (const [arg, v] of [["embedDim", embedDim], ["numHeads", numHeads], ["numKVHeads", numKVHeads]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(C, arg, "a positive integer", String(v));
    }
    if (numHeads % numKVHeads !== 0) throw new ValueError(C, "numKVHeads", `a divisor of numHeads (${numHeads})`, String(numKVHeads));
    if (opts.headDim === undefined && embedDim % numHeads !== 0) {
      throw new ValueError(C, "embedDim", `a multiple of numHeads (${numHeads}) unless headDim is given`, String(embedDim));
    }
    const D = opts.headDim ?? embedDim / numHeads;
    if (!Number.isInteger(D) || D < 1) throw new ValueError(C, "headDim", "a positive integer", String(D));
    this.headDim = D;
    this.causal = opts.causal ?? true;
    this.dropout = opts.dropout ?? 0;
    checkDropoutP(this.dropout, C, "dropout");
    this.generator = opts.generator;
    const lo = { bias: opts.bias ?? false, ...(opts.generator ? { generator: opts.generator } : {}) };
    this.qProj = this.registerModule("q_proj", new Linear(embedDim, numHeads * D, lo));
    this.kProj = this.registerModule("k_proj", new Linear(embedDim, numKVHeads * D, lo));
    this.vProj = this.registerModule("v_proj", new Linear(embedDim, numKVHeads * D, lo));
    this.oProj = this.registerModule("o_proj", new Linear(numHeads * D, embedDim, lo));
    this.rotary = opts.rotary ? new RotaryEmbedding(D, opts.rotary) : null;
  }

  /** x [B, L, E] -> output [B, L, E], weights [B, numHeads, L, S] when needWeights (S = cached + L). */
  forward(x: Tensor, fo: GroupedQueryAttentionForwardOptions = {}): { output: Tensor; weights: Tensor | null } {
    expectTensor(x, "x", OP);
    const E = this.embedDim, H = this.numHeads, Hkv = this.numKVHeads, D = this.headDim;
    if (x.rank !== 3 || x.shape[2] !== E) throw new ShapeError(OP, "x", `[B, L, ${E}]`, fmtShape(x.shape));
    if (x.dtype !== "float32" && x.dtype !== "float64") throw new DTypeError(OP, "x", "float32 or float64", x.dtype);
    const B = x.shape[0]!, L = x.shape[1]!;
    const cache = fo.cache ?? null;
    const past = cache ? cache.length : 0;
    if (cache && cache.keys && cache.keys.shape[0] !== B) throw new ShapeError(OP, "x", `[${cache.keys.shape[0]}, L, ${E}] (the cached batch)`, fmtShape(x.shape));
    const am = fo.attnMask ?? null;
    if (am) expectTensor(am, "attnMask", OP);

    const heads = (t: Tensor, n: number): Tensor => permute(reshape(t, [B, L, n, D]), [0, 2, 1, 3]); // [B, n, L, D]
    let q = heads(this.qProj.forward(x), H); // [B, H, L, D]
    let k = heads(this.kProj.forward(x), Hkv); // [B, Hkv, L, D]
    let v = heads(this.vProj.forward(x), Hkv); // [B, Hkv, L, D]
    if (this.rotary) {
      const pos = fo.positions ? { positions: fo.positions } : { offset: past };
      q = this.rotary.rotate(q, pos);
      k = this.rotary.rotate(k, pos);
    }
    if (cache) ({ k, v } = cache.append(k, v)); // [B, Hkv, S, D]

    const causal = fo.isCausal ?? this.causal;
    // top-left causal alignment is right without cached tokens; after them, an explicit mask
    let mask = am;
    if (causal && past > 0 && L > 1) {
      const cm = cachedCausalMask(L, past); // [L, S]
      mask = !mask ? cm : mask.dtype === "bool" ? logicalOr(mask, cm) : where(cm, -Infinity, mask);
    }
    const { output: oh, weights } = scaledDotProductAttention(q, k, v, {
      attnMask: mask,
      isCausal: causal && past === 0,
      dropoutP: this.training ? this.dropout : 0,
      needWeights: fo.needWeights ?? false,
      ...(this.generator ? { generator: this.generator } : {}),
    }); // [B, H, L, D], [B, H, L, S]
    const o = reshape(permute(oh, [0, 2, 1, 3]), [B, L, H * D]); // [B, L, H*D]
    return { output: this.oProj.forward(o), weights };
  }
}
