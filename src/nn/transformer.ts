/**
 * torch.nn.TransformerEncoderLayer and TransformerEncoder with PyTorch's options, defaults and
 * parameter names (self_attn.in_proj_weight, linear1.weight, norm1.weight, layers.0.…, norm.…),
 * so a PyTorch state dict loads unchanged. Also the pieces the decoder shares: layer options,
 * activations, mask checks and generateSquareSubsequentMask.
 *
 * Post-norm (normFirst=false, the default): x = norm1(x + sa(x)); x = norm2(x + ff(x)).
 * Pre-norm: x = x + sa(norm1(x)); x = x + ff(norm2(x)). ff(x) = linear2(dropout(act(linear1(x)))).
 * Masks: bool true = may NOT attend (srcKeyPaddingMask true = padding); float masks are added.
 *
 * ```ts
 * const layer = new TransformerEncoderLayer(32, 4, { dimFeedforward: 64, batchFirst: true });
 * const enc = new TransformerEncoder(layer, 2, { norm: new LayerNorm(32) });
 * const y = enc.forward(randn([2, 7, 32]), { srcMask: generateSquareSubsequentMask(7) }); // [2, 7, 32]
 * enc.setCaptureAttention(true); enc.forward(x); enc.attentionWeights(); // per layer [B, H, L, L]
 * ```
 */
import { gelu, relu } from "../ops/elementwise.js";
import { add } from "../ops/elementwise.js";
import { linearRelu } from "../ops/matmul.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { Dropout, LayerNorm, Linear } from "./layers.js";
import { Module, ModuleList, plainForward } from "./module.js";
import { forwardStack } from "./stack-forward.js";
import { MultiheadAttention } from "./multihead-attention.js";
import type { AttentionSpec } from "../attention/select.js";

export type Activation = "relu" | "gelu" | ((x: Tensor) => Tensor);

/** The options of TransformerEncoderLayer and TransformerDecoderLayer (torch.nn's, camelCased). */
export interface TransformerLayerOptions {
  /** Hidden width of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability (default 0.1). */
  dropout?: number;
  /** "relu" (default), "gelu" (exact erf form) or a function. */
  activation?: Activation;
  /** LayerNorm eps (default 1e-5). */
  layerNormEps?: number;
  /** [B, L, E] when true; [L, B, E] when false (default, as PyTorch). */
  batchFirst?: boolean;
  /** Pre-norm when true; post-norm (default) when false. */
  normFirst?: boolean;
  /** Bias in every Linear, attention projection and LayerNorm (default true). */
  bias?: boolean;
  generator?: Generator;
  /**
   * The self-attention variant of TransformerEncoderLayer (default full): e.g.
   * `{ kind: "window", window: 128 }`; see attention/select.ts. Attention-weight dropout applies
   * to full attention only; the other dropouts are unchanged.
   */
  attention?: AttentionSpec;
  /** Longest sequence, for attention kind "linformer". */
  maxLen?: number;
}

export interface ResolvedLayerOptions {
  dimFeedforward: number;
  dropout: number;
  activation: Activation;
  layerNormEps: number;
  batchFirst: boolean;
  normFirst: boolean;
  bias: boolean;
  generator: Generator | undefined;
  attention: AttentionSpec | undefined;
  maxLen: number | undefined;
}

/** Validates dModel, nhead and the options; returns the options with their defaults. */
export function resolveLayerOptions(op: string, dModel: number, nhead: number, opts: TransformerLayerOptions): ResolvedLayerOptions {
  for (const [arg, v] of [["dModel", dModel], ["nhead", nhead]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
  }
  if (dModel % nhead !== 0) throw new ValueError(op, "dModel", `a multiple of nhead (${nhead})`, String(dModel));
  const r: ResolvedLayerOptions = {
    dimFeedforward: opts.dimFeedforward ?? 2048,
    dropout: opts.dropout ?? 0.1,
    activation: opts.activation ?? "relu",
    layerNormEps: opts.layerNormEps ?? 1e-5,
    batchFirst: opts.batchFirst ?? false,
    normFirst: opts.normFirst ?? false,
    bias: opts.bias ?? true,
    generator: opts.generator,
    attention: opts.attention,
    maxLen: opts.maxLen,
  };
  if (!Number.isInteger(r.dimFeedforward) || r.dimFeedforward < 1) throw new ValueError(op, "dimFeedforward", "a positive integer", String(r.dimFeedforward));
  if (typeof r.dropout !== "number" || !(r.dropout >= 0 && r.dropout < 1)) throw new ValueError(op, "dropout", "a probability in [0, 1)", String(r.dropout));
  if (r.activation !== "relu" && r.activation !== "gelu" && typeof r.activation !== "function") {
    throw new ValueError(op, "activation", '"relu", "gelu" or a function', JSON.stringify(r.activation) ?? String(r.activation));
  }
  if (typeof r.layerNormEps !== "number" || !(r.layerNormEps >= 0)) throw new ValueError(op, "layerNormEps", "a non-negative number", String(r.layerNormEps));
  return r;
}

/** The activation as a function. */
export function activationFn(a: Activation): (x: Tensor) => Tensor {
  return a === "relu" ? relu : a === "gelu" ? (x: Tensor) => gelu(x, "none") : a;
}

/**
 * act(linear1(x)), a feed-forward block's hidden layer: one op for relu (linearRelu: on webgpu the
 * product, its bias and the relu in one kernel) where linear1 runs Linear's own forward, else the two.
 */
export function hiddenOf(linear1: Linear, activation: Activation, act: (x: Tensor) => Tensor, x: Tensor): Tensor {
  return activation === "relu" && plainForward(linear1, Linear) ? linearRelu(x, linear1.weight, linear1.bias) : act(linear1.forward(x));
}

/** Options shared by child modules: bias and (when given) the generator. */
export function childOptions(o: ResolvedLayerOptions): { bias: boolean; generator?: Generator } {
  return { bias: o.bias, ...(o.generator ? { generator: o.generator } : {}) };
}

/**
 * The causal mask of nn.Transformer.generate_square_subsequent_mask: float32 [n, n], 0 on and
 * below the diagonal, -Infinity above.
 */
export function generateSquareSubsequentMask(n: number, opts: { dtype?: "float32" | "float64" } = {}): Tensor {
  if (!Number.isInteger(n) || n < 1) throw new ValueError("generateSquareSubsequentMask", "n", "a positive integer", String(n));
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i * n + j] = -Infinity;
  return opts.dtype === "float64" ? new Tensor(d, [n, n], "float64") : new Tensor(Float32Array.from(d), [n, n], "float32");
}

/** Sequence geometry of an input: batched or not, batch size B and length n. */
export interface SeqInfo {
  batched: boolean;
  B: number;
  n: number;
}

/**
 * Checks x is [n, B, E] / [B, n, E] (batchFirst) / unbatched [n, E], with `len` naming n in the
 * message; when B is given the batch must match. Returns the geometry.
 */
export function checkSeq(op: string, arg: string, x: Tensor, E: number, batchFirst: boolean, len: string, B?: number): SeqInfo {
  expectTensor(x, arg, op);
  const b = B === undefined ? "B" : String(B);
  const want = batchFirst ? `[${b}, ${len}, ${E}]` : `[${len}, ${b}, ${E}]`;
  if ((x.rank !== 3 && x.rank !== 2) || x.shape[x.rank - 1] !== E) throw new ShapeError(op, arg, `${want} or unbatched [${len}, ${E}]`, fmtShape(x.shape));
  if (x.dtype !== "float32" && x.dtype !== "float64") throw new DTypeError(op, arg, "float32 or float64", x.dtype);
  const batched = x.rank === 3;
  const bx = batched ? x.shape[batchFirst ? 0 : 1]! : 1;
  if (B !== undefined && bx !== B) throw new ShapeError(op, arg, want, fmtShape(x.shape));
  return { batched, B: bx, n: x.shape[batched ? (batchFirst ? 1 : 0) : 0]! };
}

/** Checks an attention mask: [L, S] or [B * nhead, L, S], bool or float. */
export function checkAttnMask(op: string, arg: string, m: Tensor | null | undefined, q: SeqInfo, S: number, nhead: number): void {
  if (m === null || m === undefined) return;
  expectTensor(m, arg, op);
  if (m.dtype === "int32") throw new DTypeError(op, arg, "bool or float", m.dtype);
  const ok2 = m.rank === 2 && m.shape[0] === q.n && m.shape[1] === S;
  const ok3 = m.rank === 3 && m.shape[0] === q.B * nhead && m.shape[1] === q.n && m.shape[2] === S;
  if (!ok2 && !ok3) throw new ShapeError(op, arg, `[L, S] = [${q.n}, ${S}] or [B * nhead, L, S] = [${q.B * nhead}, ${q.n}, ${S}]`, fmtShape(m.shape));
}

/** Checks a key padding mask: [B, S] (or [S] unbatched), bool or float. */
export function checkKeyPaddingMask(op: string, arg: string, m: Tensor | null | undefined, k: SeqInfo, S: number = k.n): void {
  if (m === null || m === undefined) return;
  expectTensor(m, arg, op);
  if (m.dtype === "int32") throw new DTypeError(op, arg, "bool or float", m.dtype);
  const exp = k.batched ? [k.B, S] : [S];
  if (m.rank !== exp.length || m.shape.some((d, i) => d !== exp[i])) throw new ShapeError(op, arg, k.batched ? `[B, S] = ${fmtShape(exp)}` : `[S] = ${fmtShape(exp)}`, fmtShape(m.shape));
}

export interface EncoderLayerForwardOptions {
  /** [L, L] or [B * nhead, L, L]: bool (true = may not attend) or float (added). */
  srcMask?: Tensor | null;
  /** [B, L] ([L] unbatched): true (or -inf) marks padding. */
  srcKeyPaddingMask?: Tensor | null;
  /** Apply the causal mask (query i attends keys j <= i), on top of srcMask. */
  isCausal?: boolean;
}

export class TransformerEncoderLayer extends Module {
  readonly options: ResolvedLayerOptions;
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  /** When true, forward() keeps the per-head self-attention weights in lastAttnWeights. */
  captureAttention = false;
  /** [B, nhead, L, L] ([nhead, L, L] unbatched) of the last forward, when captureAttention. */
  lastAttnWeights: Tensor | null = null;
  private readonly act: (x: Tensor) => Tensor;

  constructor(readonly dModel: number, readonly nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const o = (this.options = resolveLayerOptions("TransformerEncoderLayer", dModel, nhead, opts));
    const c = childOptions(o), g = o.generator;
    const efficient = o.attention !== undefined && o.attention.kind !== "full";
    this.selfAttn = this.registerModule("self_attn", new MultiheadAttention(dModel, nhead, {
      dropout: efficient ? 0 : o.dropout, batchFirst: o.batchFirst, ...c,
      ...(o.attention ? { attention: o.attention } : {}), ...(o.maxLen !== undefined ? { maxLen: o.maxLen } : {}),
    }));
    this.linear1 = this.registerModule("linear1", new Linear(dModel, o.dimFeedforward, c));
    this.dropout = this.registerModule("dropout", new Dropout(o.dropout, g));
    this.linear2 = this.registerModule("linear2", new Linear(o.dimFeedforward, dModel, c));
    this.norm1 = this.registerModule("norm1", new LayerNorm(dModel, { eps: o.layerNormEps, bias: o.bias }));
    this.norm2 = this.registerModule("norm2", new LayerNorm(dModel, { eps: o.layerNormEps, bias: o.bias }));
    this.dropout1 = this.registerModule("dropout1", new Dropout(o.dropout, g));
    this.dropout2 = this.registerModule("dropout2", new Dropout(o.dropout, g));
    this.act = activationFn(o.activation);
  }

  /** A new layer with the same options and a copy of the parameters (as torch's deepcopy). */
  clone(): TransformerEncoderLayer {
    const { generator, attention, maxLen, ...rest } = this.options;
    const l = new TransformerEncoderLayer(this.dModel, this.nhead, {
      ...rest, ...(generator ? { generator } : {}), ...(attention ? { attention } : {}), ...(maxLen !== undefined ? { maxLen } : {}),
    });
    l.loadStateDict(this.stateDict());
    l.train(this.training);
    return l;
  }

  /** src [L, B, E] (batchFirst: [B, L, E]; unbatched [L, E]) -> same shape. */
  forward(src: Tensor, fo: EncoderLayerForwardOptions = {}): Tensor {
    return this.forwardJoined(src, fo, null, null).out;
  }

  /**
   * forward for a stack of pre-norm layers: `normed`, norm1(src) when the layer before computed it
   * (null: computed here), and `next`, the norm that follows this layer (the next layer's norm1 or
   * the stack's final norm), whose input is this layer's last residual add: the add and that norm
   * in one kernel where the backend has it. Returns the output and, with `next`, next(output).
   * Post-norm layers take neither (`normed` null, `next` ignored).
   */
  forwardJoined(src: Tensor, fo: EncoderLayerForwardOptions, normed: Tensor | null, next: LayerNorm | null): { out: Tensor; normed: Tensor | null } {
    const op = "TransformerEncoderLayer.forward";
    const s = checkSeq(op, "src", src, this.dModel, this.options.batchFirst, "L");
    checkAttnMask(op, "srcMask", fo.srcMask, s, s.n, this.nhead);
    checkKeyPaddingMask(op, "srcKeyPaddingMask", fo.srcKeyPaddingMask, s);
    const x = src;
    // each residual add and the norm after it in one kernel where the backend has it (addAndForward)
    if (this.options.normFirst) {
      const a = this.norm2.addAndForward(x, this.sa(normed ?? this.norm1.forward(x), fo)); // x + sa(norm1(x)), and its norm2
      const r = this.ff(a.out);
      if (!next) return { out: add(a.sum, r), normed: null };
      const b = next.addAndForward(a.sum, r);
      return { out: b.sum, normed: b.out };
    }
    const y = this.norm1.addAndForward(x, this.sa(x, fo)).out;
    return { out: this.norm2.addAndForward(y, this.ff(y)).out, normed: null };
  }

  private sa(x: Tensor, fo: EncoderLayerForwardOptions): Tensor {
    const r = this.selfAttn.forward(x, x, x, {
      attnMask: fo.srcMask ?? null,
      keyPaddingMask: fo.srcKeyPaddingMask ?? null,
      isCausal: fo.isCausal ?? false,
      needWeights: this.captureAttention,
      averageAttnWeights: false,
    });
    this.lastAttnWeights = this.captureAttention ? r.weights : null;
    return this.dropout1.forward(r.output);
  }

  private ff(x: Tensor): Tensor {
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(hiddenOf(this.linear1, this.options.activation, this.act, x))));
  }
}

export interface TransformerEncoderOptions {
  /** Final LayerNorm (registered as "norm"); default none. */
  norm?: LayerNorm | null;
}

/** A stack of numLayers copies of encoderLayer (layers.0, layers.1, …) and an optional final norm. */
export class TransformerEncoder extends Module {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  readonly norm: LayerNorm | null;
  constructor(encoderLayer: TransformerEncoderLayer, readonly numLayers: number, opts: TransformerEncoderOptions = {}) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer)) throw new ValueError("TransformerEncoder", "encoderLayer", "a TransformerEncoderLayer", typeof encoderLayer);
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new ValueError("TransformerEncoder", "numLayers", "a positive integer", String(numLayers));
    this.layers = this.registerModule("layers", new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.clone())));
    this.norm = this.registerModule("norm", opts.norm ?? null);
  }

  /**
   * src [L, B, E] (batchFirst: [B, L, E]) -> same shape; the masks go to every layer. Pre-norm
   * layers (their own forward, not replaced) join each layer's last residual add with the norm
   * after it: the next layer's norm1, or the final norm.
   */
  forward(src: Tensor, fo: EncoderLayerForwardOptions = {}): Tensor {
    return forwardStack(this.layers.items, TransformerEncoderLayer, this.norm, src,
      (layer, _i, x) => layer.forward(x, fo),
      (layer, _i, x, normed, next) => layer.forwardJoined(x, fo, normed, next));
  }

  /** Switches weight capture on or off in every layer. */
  setCaptureAttention(on: boolean): this {
    for (const l of this.layers) l.captureAttention = on;
    return this;
  }

  /** Each layer's self-attention weights [B, nhead, L, L] from the last forward (null where not captured). */
  attentionWeights(): (Tensor | null)[] {
    return this.layers.items.map((l) => l.lastAttnWeights);
  }
}
