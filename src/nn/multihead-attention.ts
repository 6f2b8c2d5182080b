/**
 * MultiheadAttention with torch.nn.MultiheadAttention's options, shapes and parameter names, so a
 * PyTorch state dict loads unchanged; SelfAttention, the source document's module done right (one
 * set of q/k/v projections).
 *
 * Masks: bool true = may NOT attend (keyPaddingMask true = padding); float masks are added.
 * A query whose keys are all masked gets output 0 (PyTorch gives NaN there).
 *
 * ```ts
 * const mha = new MultiheadAttention(16, 4);               // sequence-first, as PyTorch
 * const x = randn([5, 2, 16]);                              // [L, B, E]
 * const { output, weights } = mha.forward(x, x, x);         // [5, 2, 16], [2, 5, 5]
 * ```
 */
import { releaseTemporary } from "../autograd/free-graph.js";
import { scaledDotProductAttention } from "../attention/sdpa.js";
import { causalForm } from "../attention/causal.js";
import { attentionKinds, efficientAttention, type AttentionSpec } from "../attention/select.js";
import { PerformerFeatures } from "../attention/performer.js";
import { add } from "../ops/elementwise.js";
import { concat, expand, permute, reshape, slice, squeeze, transpose, unsqueeze } from "../ops/shape.js";
import { linear } from "../ops/matmul.js";
import { headsAttention, headsAttentionKV, packedSelfAttention, type PackedAttentionOptions } from "../ops/packed-attention.js";
import { mean } from "../ops/reduce.js";
import { checkDropoutP } from "../ops/util.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { xavierNormal, xavierUniform, zerosParam } from "./init.js";
import { Linear } from "./layers.js";
import { Module } from "./module.js";

export interface MultiheadAttentionOptions {
  dropout?: number;
  bias?: boolean;
  addBiasKV?: boolean;
  addZeroAttn?: boolean;
  kdim?: number;
  vdim?: number;
  batchFirst?: boolean;
  generator?: Generator;
  /**
   * The attention variant (default `{ kind: "full" }`): sparse, low-rank or linear kinds of
   * attention/select.ts. They take no attnMask or keyPaddingMask and no attention dropout;
   * isCausal maps onto the kinds that have a causal form (all but linformer and nystrom; a block
   * layout must then be lower-triangular).
   */
  attention?: AttentionSpec;
  /** Longest key sequence, for kind "linformer" (its E and F parameters are [k, maxLen]). */
  maxLen?: number;
}

export interface MultiheadAttentionForwardOptions {
  /** [B, S] (or [S] unbatched): true (or -inf) marks padding keys. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights (default true, as PyTorch). */
  needWeights?: boolean;
  /** [L, S] or [B * numHeads, L, S]: bool (true = may not attend) or float (added). */
  attnMask?: Tensor | null;
  /** Average the weights over heads (default true): [B, L, S] instead of [B, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Causal mask (query i attends keys j <= i), applied on top of attnMask. */
  isCausal?: boolean;
}

const OP = "multiheadAttention";

/** A bool or float mask as an additive float mask of dtype `dtype`. */
function additive(m: Tensor, dtype: "float32" | "float64"): Tensor {
  if (m.dtype === dtype) return m;
  const n = m.size;
  const d = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  if (m.dtype === "bool") for (let i = 0; i < n; i++) d[i] = m.data[i] ? -Infinity : 0;
  else for (let i = 0; i < n; i++) d[i] = Number(m.data[i]);
  return new Tensor(d, m.shape, dtype);
}

/**
 * attnMask [1|B, 1|H, L, S] and keyPaddingMask [B, 1, 1, S] as one mask: bool when both are bool, else
 * additive in `dtype`; either alone as it is (a float one converted to `dtype`).
 */
function mergeMasks(mask4: Tensor | null, kpm4: Tensor | null, B: number, L: number, S: number, dtype: "float32" | "float64"): Tensor | null {
  let merged: Tensor | null;
  if (mask4 && kpm4) {
    if (mask4.dtype === "bool" && kpm4.dtype === "bool") {
      const Hm = mask4.shape[1]!;
      const m = new Tensor(new Uint8Array(B * Hm * L * S), [B, Hm, L, S], "bool");
      for (let bb = 0; bb < B; bb++) for (let h = 0; h < Hm; h++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
        const mi = ((mask4.shape[0] === 1 ? 0 : bb) * Hm + h) * L * S + i * S + j;
        m.data[((bb * Hm + h) * L + i) * S + j] = mask4.data[mi] || kpm4.data[bb * S + j] ? 1 : 0;
      }
      merged = m;
    } else {
      merged = add(additive(mask4, dtype), additive(kpm4, dtype));
    }
  } else {
    merged = mask4 ?? kpm4;
  }
  if (merged && merged.dtype !== "bool" && merged.dtype !== dtype) merged = additive(merged, dtype);
  return merged;
}

/** Appends `n` unmasked columns to the last dim of a mask. */
function padMask(m: Tensor, n: number): Tensor {
  const shape = [...m.shape.slice(0, -1), n];
  const zeros = new Tensor(m.dtype === "bool" ? new Uint8Array(shape.reduce((a, b) => a * b, 1)) :
    m.dtype === "float64" ? new Float64Array(shape.reduce((a, b) => a * b, 1)) : new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, m.dtype);
  return concat([m, zeros], -1);
}

export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly sameEmbedDim: boolean;
  inProjWeight: Tensor | null;
  qProjWeight: Tensor | null;
  kProjWeight: Tensor | null;
  vProjWeight: Tensor | null;
  inProjBias: Tensor | null;
  biasK: Tensor | null;
  biasV: Tensor | null;
  outProj: Linear;
  /** Linformer's projections [k, maxLen] along the sequence (kind "linformer" only). */
  linformerE: Tensor | null = null;
  linformerF: Tensor | null = null;
  readonly attention: AttentionSpec;
  private performer: PerformerFeatures | null = null;
  private readonly generator: Generator | undefined;

  constructor(readonly embedDim: number, readonly numHeads: number, readonly opts: MultiheadAttentionOptions = {}) {
    super();
    for (const [arg, v] of [["embedDim", embedDim], ["numHeads", numHeads]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError("MultiheadAttention", arg, "a positive integer", String(v));
    }
    if (embedDim % numHeads !== 0) {
      throw new ValueError("MultiheadAttention", "embedDim", `a multiple of numHeads (${numHeads})`, String(embedDim));
    }
    this.headDim = embedDim / numHeads;
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    for (const [arg, v] of [["kdim", this.kdim], ["vdim", this.vdim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError("MultiheadAttention", arg, "a positive integer", String(v));
    }
    this.dropout = opts.dropout ?? 0;
    checkDropoutP(this.dropout, "MultiheadAttention", "dropout");
    this.batchFirst = opts.batchFirst ?? false;
    this.generator = opts.generator;
    this.sameEmbedDim = this.kdim === embedDim && this.vdim === embedDim;
    const E = embedDim, g = opts.generator;
    if (this.sameEmbedDim) {
      this.inProjWeight = this.registerParameter("in_proj_weight", xavierUniform([3 * E, E], 1, g));
      this.qProjWeight = this.kProjWeight = this.vProjWeight = null;
    } else {
      this.inProjWeight = null;
      this.qProjWeight = this.registerParameter("q_proj_weight", xavierUniform([E, E], 1, g));
      this.kProjWeight = this.registerParameter("k_proj_weight", xavierUniform([E, this.kdim], 1, g));
      this.vProjWeight = this.registerParameter("v_proj_weight", xavierUniform([E, this.vdim], 1, g));
    }
    const bias = opts.bias ?? true;
    this.inProjBias = this.registerParameter("in_proj_bias", bias ? zerosParam([3 * E]) : null);
    if (opts.addBiasKV) {
      this.biasK = this.registerParameter("bias_k", xavierNormal([1, 1, E], 1, g));
      this.biasV = this.registerParameter("bias_v", xavierNormal([1, 1, E], 1, g));
    } else {
      this.biasK = this.biasV = null;
    }
    this.outProj = this.registerModule("out_proj", new Linear(E, E, { bias, ...(g ? { generator: g } : {}) }));
    if (this.outProj.bias) this.outProj.bias.data.fill(0);
    this.attention = opts.attention ?? { kind: "full" };
    const kind = this.attention.kind;
    if (!attentionKinds.includes(kind)) throw new ValueError("MultiheadAttention", "attention.kind", attentionKinds.join(" | "), String(kind));
    if (kind !== "full" && this.dropout > 0) {
      throw new ValueError("MultiheadAttention", "dropout", `0 with attention kind "${kind}" (the efficient kernels have no attention dropout)`, String(this.dropout));
    }
    if (this.attention.kind === "linformer") {
      const maxLen = opts.maxLen;
      if (maxLen === undefined || !Number.isInteger(maxLen) || maxLen < 1) throw new ValueError("MultiheadAttention", "maxLen", 'a positive integer with attention kind "linformer"', String(maxLen));
      const kk = this.attention.k;
      this.linformerE = this.registerParameter("E", xavierUniform([kk, maxLen], 1, g));
      this.linformerF = this.registerParameter("F", xavierUniform([kk, maxLen], 1, g));
    }
    if (this.attention.kind === "performer") this.performer = new PerformerFeatures(this.headDim, this.attention.features, this.attention.seed);
  }

  /** The fused attention ops' options: the merged mask, causal, dropout in training, the generator. */
  private fusedOptions(merged: Tensor | null, fo: MultiheadAttentionForwardOptions): PackedAttentionOptions {
    return {
      attnMask: merged,
      isCausal: fo.isCausal ?? false,
      dropoutP: this.training ? this.dropout : 0,
      ...(this.generator ? { generator: this.generator } : {}),
    };
  }

  /** Draws new Performer features (kind "performer"; no effect otherwise). */
  redraw(): void {
    this.performer?.redraw();
  }

  /** The variant with isCausal folded in, for the kinds that have a causal form. */
  private causalSpec(isCausal: boolean): AttentionSpec {
    return isCausal ? causalForm(this.attention, OP, "isCausal", `true (kind "${this.attention.kind}")`) : this.attention;
  }

  /** The q, k, v projection weights [E, E|kdim|vdim] and biases [E] (views into in_proj_* when shared). */
  private projections(): { w: [Tensor, Tensor, Tensor]; b: [Tensor | null, Tensor | null, Tensor | null] } {
    const E = this.embedDim;
    const w: [Tensor, Tensor, Tensor] = this.inProjWeight
      ? [slice(this.inProjWeight, 0, 0, E), slice(this.inProjWeight, 0, E, 2 * E), slice(this.inProjWeight, 0, 2 * E, 3 * E)]
      : [this.qProjWeight!, this.kProjWeight!, this.vProjWeight!];
    const ib = this.inProjBias;
    const b: [Tensor | null, Tensor | null, Tensor | null] = ib ? [slice(ib, 0, 0, E), slice(ib, 0, E, 2 * E), slice(ib, 0, 2 * E, 3 * E)] : [null, null, null];
    return { w, b };
  }

  /**
   * query [L, B, E] (batchFirst: [B, L, E]; unbatched: [L, E]), key [S, B, kdim], value [S, B, vdim]
   * -> output with query's layout, weights [B, L, S] (averaged) or [B, numHeads, L, S], or null.
   */
  forward(query: Tensor, key: Tensor, value: Tensor, fo: MultiheadAttentionForwardOptions = {}): { output: Tensor; weights: Tensor | null } {
    expectTensor(query, "query", OP);
    expectTensor(key, "key", OP);
    expectTensor(value, "value", OP);
    const E = this.embedDim, H = this.numHeads, D = this.headDim;
    const batched = query.rank === 3;
    if (query.rank !== 3 && query.rank !== 2) throw new ShapeError(OP, "query", this.batchFirst ? `[B, L, ${E}] or [L, ${E}]` : `[L, B, ${E}] or [L, ${E}]`, fmtShape(query.shape));
    if (query.dtype !== "float32" && query.dtype !== "float64") throw new DTypeError(OP, "query", "float32 or float64", query.dtype);
    const dtype = query.dtype;
    const bf = this.batchFirst && batched;
    const B = batched ? query.shape[bf ? 0 : 1]! : 1;
    const L = query.shape[batched ? (bf ? 1 : 0) : 0]!;
    if (query.shape[query.rank - 1] !== E) {
      throw new ShapeError(OP, "query", batched ? (bf ? `[B, L, ${E}]` : `[L, B, ${E}]`) : `[L, ${E}]`, fmtShape(query.shape));
    }
    const kvExpect = (dim: number, s: string): string => (batched ? (bf ? `[B, ${s}, ${dim}]` : `[${s}, B, ${dim}]`) : `[${s}, ${dim}]`);
    const S = key.shape[batched ? (bf ? 1 : 0) : 0] ?? -1;
    const okKv = (t: Tensor, dim: number): boolean =>
      t.rank === query.rank && t.shape[t.rank - 1] === dim && (!batched || t.shape[bf ? 0 : 1] === B) && t.shape[batched ? (bf ? 1 : 0) : 0] === S;
    if (!okKv(key, this.kdim)) throw new ShapeError(OP, "key", kvExpect(this.kdim, "S"), fmtShape(key.shape));
    if (!okKv(value, this.vdim)) throw new ShapeError(OP, "value", kvExpect(this.vdim, String(S)), fmtShape(value.shape));
    if (key.dtype !== dtype) throw new DTypeError(OP, "key", dtype, key.dtype);
    if (value.dtype !== dtype) throw new DTypeError(OP, "value", dtype, value.dtype);
    const kpm = fo.keyPaddingMask ?? null;
    if (kpm) {
      expectTensor(kpm, "keyPaddingMask", OP);
      const exp = batched ? [B, S] : [S];
      if (kpm.rank !== exp.length || kpm.shape.some((d, i) => d !== exp[i])) throw new ShapeError(OP, "keyPaddingMask", batched ? `[B, S] = ${fmtShape(exp)}` : `[S] = ${fmtShape(exp)}`, fmtShape(kpm.shape));
      if (kpm.dtype === "int32") throw new DTypeError(OP, "keyPaddingMask", "bool or float", kpm.dtype);
    }
    const am = fo.attnMask ?? null;
    if (am) {
      expectTensor(am, "attnMask", OP);
      const ok2 = am.rank === 2 && am.shape[0] === L && am.shape[1] === S;
      const ok3 = am.rank === 3 && am.shape[0] === B * H && am.shape[1] === L && am.shape[2] === S;
      if (!ok2 && !ok3) throw new ShapeError(OP, "attnMask", `[L, S] = [${L}, ${S}] or [B * numHeads, L, S] = [${B * H}, ${L}, ${S}]`, fmtShape(am.shape));
      if (am.dtype === "int32") throw new DTypeError(OP, "attnMask", "bool or float", am.dtype);
    }
    const needWeights = fo.needWeights ?? true;
    const average = fo.averageAttnWeights ?? true;

    // canonical: batch-first [B, L, E]
    const toBF = (t: Tensor): Tensor => (!batched ? unsqueeze(t, 0) : bf ? t : transpose(t, 0, 1));
    const qIn = toBF(query), kIn = key === query ? qIn : toBF(key), vIn = value === key ? kIn : toBF(value);
    // masks as [B, 1|H, L|1, S] pieces, padded alongside the keys
    let mask4: Tensor | null = am ? (am.rank === 2 ? reshape(am, [1, 1, L, S]) : reshape(am, [B, H, L, S])) : null;
    let kpm4: Tensor | null = kpm ? reshape(kpm, [B, 1, 1, S]) : null;
    let Sx = S;
    // the out-projection, back to query's layout; the weights [B, L, S'] (averaged) or [B, H, L, S']
    const finish = (o: Tensor, weights: Tensor | null): { output: Tensor; weights: Tensor | null } => {
      let output = this.outProj.forward(o); // [B, L, E]
      output = !batched ? squeeze(output, 0) : bf ? output : transpose(output, 0, 1);
      let wts: Tensor | null = null;
      if (needWeights && weights) {
        wts = average ? mean(weights, 1) : weights;
        if (!batched) wts = squeeze(wts, 0);
      }
      return { output, weights: wts };
    };
    const inProj = this.inProjWeight;
    const selfAttention = inProj !== null && query === key && key === value && !this.biasK;
    if (selfAttention && this.attention.kind === "full" && !needWeights && !this.opts.addZeroAttn) {
      const merged = mergeMasks(mask4, kpm4, B, L, S, dtype);
      if (!merged || merged.dtype === "bool" || !merged.requiresGrad) {
        // the attention reads q, k, v where the fused projection put them and writes [B, L, E]:
        // no split into heads, no merge back
        const qkv = linear(qIn, inProj, this.inProjBias); // [B, L, 3E]
        const o = packedSelfAttention(qkv, H, this.fusedOptions(merged, fo)); // [B, L, E]
        releaseTemporary(qkv); // inference: no graph holds it (a no-op when one does)
        const r = finish(o, null);
        releaseTemporary(o);
        return r;
      }
    }
    if (!selfAttention && this.attention.kind === "full" && !needWeights && !this.opts.addZeroAttn && !this.biasK) {
      const merged = mergeMasks(mask4, kpm4, B, L, S, dtype);
      if (!merged || merged.dtype === "bool" || !merged.requiresGrad) {
        // separate projections (a cross-attention's): the attention reads each head's columns of
        // q [B, L, E], k and v [B, S, E] and writes [B, L, E]: no split into heads, no merge back
        const o4 = this.fusedOptions(merged, fo);
        let o: Tensor, made: Tensor[];
        if (inProj && key === value) {
          // key and value from one input: projected together by in_proj's last 2E rows, [B, S, 2E]
          const ib = this.inProjBias;
          const q = linear(qIn, slice(inProj, 0, 0, E), ib ? slice(ib, 0, 0, E) : null);
          const kv = linear(kIn, slice(inProj, 0, E, 3 * E), ib ? slice(ib, 0, E, 3 * E) : null);
          o = headsAttentionKV(q, kv, H, o4); // [B, L, E]
          made = [q, kv];
        } else {
          const { w, b } = this.projections();
          made = [linear(qIn, w[0], b[0]), linear(kIn, w[1], b[1]), linear(vIn, w[2], b[2])];
          o = headsAttention(made[0]!, made[1]!, made[2]!, H, o4); // [B, L, E]
        }
        for (const t of made) releaseTemporary(t); // inference: no graph holds them (a no-op when one does)
        const r = finish(o, null);
        releaseTemporary(o);
        return r;
      }
    }
    let qh: Tensor, kh: Tensor, vh: Tensor; // [B, H, L|S', D]
    if (selfAttention) {
      // self-attention: one [B, L, 3E] projection, split into heads by one copy
      // [B, L, 3, H, D] -> [3, B, H, L, D], whose q / k / v blocks are views
      const qkv = permute(reshape(linear(qIn, inProj, this.inProjBias), [B, L, 3, H, D]), [2, 0, 3, 1, 4]);
      [qh, kh, vh] = [0, 1, 2].map((i) => reshape(slice(qkv, 0, i, i + 1), [B, H, L, D])) as [Tensor, Tensor, Tensor];
    } else {
      const { w, b } = this.projections();
      // three projections against slices of in_proj_weight: the same work as one fused projection,
      // without the [B, L, 3E] intermediate and its chunk copies
      const q = linear(qIn, w[0], b[0]); // [B, L, E]
      let k = linear(kIn, w[1], b[1]); // [B, S, E]
      let v = linear(vIn, w[2], b[2]); // [B, S, E]
      if (this.biasK && this.biasV) {
        k = concat([k, expand(this.biasK, [B, 1, E])], 1); // [B, S+1, E]
        v = concat([v, expand(this.biasV, [B, 1, E])], 1);
        if (mask4) mask4 = padMask(mask4, 1);
        if (kpm4) kpm4 = padMask(kpm4, 1);
        Sx++;
      }
      const heads = (t: Tensor, n: number): Tensor => permute(reshape(t, [B, n, H, D]), [0, 2, 1, 3]); // [B, H, n, D]
      qh = heads(q, L);
      kh = heads(k, Sx);
      vh = heads(v, Sx);
    }
    if (this.opts.addZeroAttn) {
      const z = new Tensor(dtype === "float64" ? new Float64Array(B * H * D) : new Float32Array(B * H * D), [B, H, 1, D], dtype);
      kh = concat([kh, z], 2); // [B, H, S'+1, D]
      vh = concat([vh, z], 2);
      if (mask4) mask4 = padMask(mask4, 1);
      if (kpm4) kpm4 = padMask(kpm4, 1);
      Sx++;
    }
    // one mask: bool when both are bool, else additive float
    const merged = mergeMasks(mask4, kpm4, B, L, Sx, dtype);

    let attended: { output: Tensor; weights: Tensor | null };
    if (this.attention.kind === "full") {
      attended = scaledDotProductAttention(qh, kh, vh, {
        attnMask: merged,
        isCausal: fo.isCausal ?? false,
        dropoutP: this.training ? this.dropout : 0,
        needWeights,
        ...(this.generator ? { generator: this.generator } : {}),
      }); // [B, H, L, D], [B, H, L, S']
    } else {
      if (merged) throw new ValueError(OP, am ? "attnMask" : "keyPaddingMask", `none with attention kind "${this.attention.kind}"`, "a mask");
      attended = efficientAttention(qh, kh, vh, this.causalSpec(fo.isCausal ?? false), {
        needWeights,
        ...(this.linformerE && this.linformerF ? { E: this.linformerE, F: this.linformerF } : {}),
        ...(this.performer ? { features: this.performer } : {}),
      });
    }
    const { output: oh, weights } = attended;
    return finish(reshape(permute(oh, [0, 2, 1, 3]), [B, L, E]), weights); // [B, H, L, D] -> [B, L, E]
  }
}

export interface SelfAttentionOptions {
  dropout?: number;
  bias?: boolean;
  /** The attention variant (default full); see MultiheadAttentionOptions.attention. */
  attention?: AttentionSpec;
  /** Longest sequence, for kind "linformer". */
  maxLen?: number;
  /** [B, L, E] when true (default), [L, B, E] when false. */
  batchFirst?: boolean;
  generator?: Generator;
}

/**
 * Self-attention over one sequence: one set of q/k/v projections (attn.in_proj_weight) and the
 * output projection. The source document's version projects twice (a Linear(d, 3d) in front of
 * nn.MultiheadAttention); this module does it once.
 */
export class SelfAttention extends Module {
  readonly attn: MultiheadAttention;
  constructor(readonly dModel: number, readonly nHeads: number, opts: SelfAttentionOptions = {}) {
    super();
    this.attn = this.registerModule("attn", new MultiheadAttention(dModel, nHeads, { ...opts, batchFirst: opts.batchFirst ?? true }));
  }
  /** x [B, L, E] -> output [B, L, E], weights [B, L, L] (or per head) when needWeights. */
  forward(x: Tensor, opts: Omit<MultiheadAttentionForwardOptions, "needWeights"> & { needWeights?: boolean } = {}): { output: Tensor; weights: Tensor | null } {
    return this.attn.forward(x, x, x, { needWeights: false, ...opts });
  }
}
