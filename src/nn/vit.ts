/**
 * The Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words") with timm's
 * parameter names: an image cut into patches (a convolution with kernel = stride = patch), a class
 * token or mean pooling, learned or fixed 2-D sine-cosine positions, pre-norm encoder blocks and a
 * linear head. With `stem`, the patch projection is replaced by a small CNN (nn/hybrid.ts) whose
 * feature map becomes the tokens: the hybrid "CNN + attention" model.
 *
 * Names: patch_embed.proj.{weight,bias} (hybrid: patch_embed.backbone.{i}.{conv,bn}.…,
 * patch_embed.proj.…), cls_token [1, 1, E], pos_embed [1, T, E] (learned positions only),
 * blocks.{i}.norm1, blocks.{i}.attn.qkv, blocks.{i}.attn.proj, blocks.{i}.norm2,
 * blocks.{i}.mlp.fc1, blocks.{i}.mlp.fc2, norm, head. T = N patches (+ 1 with the class token).
 *
 * ```ts
 * const vit = new VisionTransformer({ imageSize: 28, patchSize: 4, inChannels: 1, numClasses: 10, dim: 64, depth: 4, heads: 4 });
 * const logits = vit.forward(randn([8, 1, 28, 28])); // [8, 10]
 * const { records } = captureAttention(vit, () => vit.forward(x)); // blocks.0.attn ... [B, H, 50, 50]
 * ```
 */
import { scaledDotProductAttention, type AttentionResult } from "../attention/sdpa.js";
import { releaseTemporary } from "../autograd/free-graph.js";
import { add, gelu } from "../ops/elementwise.js";
import { packedSelfAttention } from "../ops/packed-attention.js";
import { mean } from "../ops/reduce.js";
import { concat, expand, flatten, permute, reshape, slice, squeeze, transpose } from "../ops/shape.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { Conv2d } from "./conv.js";
import { ConvStem, stemStateSize } from "./hybrid.js";
import { normal, xavierUniform } from "./init.js";
import { Dropout, LayerNorm, Linear } from "./layers.js";
import { Module, ModuleList } from "./module.js";

type Gen = { generator?: Generator };
const gen = (g: Generator | undefined): Gen => (g ? { generator: g } : {});

/** Options of the encoder's parts: dropout probability (default 0), the generator of initialization and dropout. */
export interface ViTLayerOptions {
  dropout?: number;
  generator?: Generator;
}

/**
 * Patch embedding: x [B, C, H, W] -> tokens [B, N, E], N = (H / p) (W / p), through `proj`, a
 * Conv2d(C, E, p, stride p) whose output [B, E, H / p, W / p] is flattened row by row. H and W
 * must be multiples of p (no pixels are dropped silently).
 */
export class PatchEmbedding extends Module {
  readonly proj: Conv2d;
  constructor(readonly inChannels: number, readonly dim: number, readonly patchSize: number, opts: Gen = {}) {
    super();
    if (!Number.isInteger(patchSize) || patchSize < 1) throw new ValueError("PatchEmbedding", "patchSize", "a positive integer", String(patchSize));
    this.proj = this.registerModule("proj", new Conv2d(inChannels, dim, patchSize, { stride: patchSize, ...gen(opts.generator) }));
  }
  /** [B, C, H, W] -> [B, N, E] */
  forward(x: Tensor): Tensor {
    const op = "PatchEmbedding.forward", p = this.patchSize;
    expectTensor(x, "x", op);
    if (x.rank !== 4 || x.shape[1] !== this.inChannels || x.shape[2]! % p !== 0 || x.shape[3]! % p !== 0 || x.shape[2] === 0 || x.shape[3] === 0) {
      throw new ShapeError(op, "x", `[B, ${this.inChannels}, H, W] with H and W positive multiples of the patch size ${p}`, fmtShape(x.shape));
    }
    return transpose(flatten(this.proj.forward(x), 2), 1, 2); // [B, E, h, w] -> [B, E, N] -> [B, N, E]
  }
}

/**
 * timm's Attention: one projection to q, k, v (`qkv`, [3E, E]), multi-head scaled dot-product
 * attention (the fused kernel over the packed projection, packedSelfAttention, unless the weights
 * are asked for), the output projection `proj`.
 */
export class ViTAttention extends Module {
  readonly headDim: number;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly dropout: number;
  private readonly projDrop: Dropout;
  private readonly generator: Generator | undefined;
  constructor(readonly dim: number, readonly heads: number, opts: ViTLayerOptions = {}) {
    super();
    const generator = (this.generator = opts.generator);
    this.dropout = opts.dropout ?? 0;
    if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0) throw new ValueError("ViTAttention", "heads", `a positive divisor of dim ${dim}`, String(heads));
    this.headDim = dim / heads;
    this.qkv = this.registerModule("qkv", new Linear(dim, 3 * dim, gen(generator)));
    this.proj = this.registerModule("proj", new Linear(dim, dim, gen(generator)));
    this.projDrop = this.registerModule("proj_drop", new Dropout(this.dropout, generator));
  }
  /** x [B, T, E] -> output [B, T, E]; weights [B, H, T, T] when needWeights. */
  forward(x: Tensor, opts: { needWeights?: boolean } = {}): AttentionResult {
    const op = "ViTAttention.forward";
    expectTensor(x, "x", op);
    if (x.rank !== 3 || x.shape[2] !== this.dim) throw new ShapeError(op, "x", `[B, T, ${this.dim}]`, fmtShape(x.shape));
    const [B, T] = x.shape as [number, number, number];
    const H = this.heads, D = this.headDim;
    const dropoutP = this.training ? this.dropout : 0;
    if (!(opts.needWeights ?? false)) {
      // the fused kernel reads q, k, v inside [B, T, 3E] and writes [B, T, E]: no permutes
      const qkv = this.qkv.forward(x); // [B, T, 3E]
      const o = packedSelfAttention(qkv, H, { dropoutP, ...gen(this.generator) }); // [B, T, E]
      releaseTemporary(qkv); // inference: no graph holds it (a no-op when one does)
      const output = this.projDrop.forward(this.proj.forward(o));
      releaseTemporary(o);
      return { output, weights: null };
    }
    // [B, T, 3E] -> [B, T, 3, H, D] -> [3, B, H, T, D]; q, k, v are views of its three blocks
    const qkv = permute(reshape(this.qkv.forward(x), [B, T, 3, H, D]), [2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => reshape(slice(qkv, 0, i, i + 1), [B, H, T, D])) as [Tensor, Tensor, Tensor];
    const r = scaledDotProductAttention(q, k, v, { dropoutP, needWeights: true, ...gen(this.generator) });
    const o = reshape(permute(r.output, [0, 2, 1, 3]), [B, T, this.dim]); // [B, H, T, D] -> [B, T, E]
    return { output: this.projDrop.forward(this.proj.forward(o)), weights: r.weights };
  }
}

/** timm's Mlp: fc1 (E -> hidden), exact GELU, dropout, fc2 (hidden -> E), dropout. */
export class ViTMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly drop1: Dropout;
  private readonly drop2: Dropout;
  constructor(dim: number, hidden: number, opts: ViTLayerOptions = {}) {
    super();
    const { dropout = 0, generator } = opts;
    this.fc1 = this.registerModule("fc1", new Linear(dim, hidden, gen(generator)));
    this.drop1 = this.registerModule("drop1", new Dropout(dropout, generator));
    this.fc2 = this.registerModule("fc2", new Linear(hidden, dim, gen(generator)));
    this.drop2 = this.registerModule("drop2", new Dropout(dropout, generator));
  }
  /** [..., E] -> [..., E] */
  forward(x: Tensor): Tensor {
    return this.drop2.forward(this.fc2.forward(this.drop1.forward(gelu(this.fc1.forward(x)))));
  }
}

/** A pre-norm encoder block: x + attn(norm1(x)), then x + mlp(norm2(x)). LayerNorm eps: timm's 1e-6 unless given. */
export class ViTBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: ViTAttention;
  readonly norm2: LayerNorm;
  readonly mlp: ViTMlp;
  constructor(dim: number, heads: number, hidden: number, opts: ViTLayerOptions & { layerNormEps?: number } = {}) {
    super();
    const eps = opts.layerNormEps ?? 1e-6;
    this.norm1 = this.registerModule("norm1", new LayerNorm(dim, { eps }));
    this.attn = this.registerModule("attn", new ViTAttention(dim, heads, opts));
    this.norm2 = this.registerModule("norm2", new LayerNorm(dim, { eps }));
    this.mlp = this.registerModule("mlp", new ViTMlp(dim, hidden, opts));
  }
  /** [B, T, E] -> [B, T, E] */
  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.norm1.forward(x)).output);
    return add(h, this.mlp.forward(this.norm2.forward(h)));
  }
}

/**
 * Fixed 2-D sine-cosine positions (MAE's get_2d_sincos_pos_embed): [gh * gw, E] row by row; the
 * first E / 2 channels encode the column, the last E / 2 the row, each half sin then cos of
 * position * 10000^(-k / (E / 4)), k = 0 .. E / 4 - 1. E must be a multiple of 4.
 */
export function sincos2dPositionalEncoding(gh: number, gw: number, dim: number): Tensor {
  const op = "sincos2dPositionalEncoding";
  for (const [arg, v] of [["gh", gh], ["gw", gw]] as const) if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
  if (!Number.isInteger(dim) || dim < 4 || dim % 4 !== 0) throw new ValueError(op, "dim", "a positive multiple of 4", String(dim));
  const q = dim / 4, out = new Float32Array(gh * gw * dim);
  for (let i = 0; i < gh; i++) {
    for (let j = 0; j < gw; j++) {
      const row = out.subarray((i * gw + j) * dim, (i * gw + j + 1) * dim);
      for (let k = 0; k < q; k++) {
        const omega = 1 / Math.pow(10000, k / q);
        row[k] = Math.sin(j * omega);
        row[q + k] = Math.cos(j * omega);
        row[2 * q + k] = Math.sin(i * omega);
        row[3 * q + k] = Math.cos(i * omega);
      }
    }
  }
  return new Tensor(out, [gh * gw, dim], "float32");
}

export type ViTPooling = "cls" | "mean";
export type ViTPositions = "learned" | "sincos2d";

export interface ViTConfig {
  /** Image height and width (a number for a square image). */
  imageSize: number | readonly [number, number];
  /** Side of a square patch; with `stem`, the stem's downsampling (2^stages). */
  patchSize: number;
  /** Image channels (default 3). */
  inChannels?: number;
  numClasses: number;
  /** Token width E. */
  dim: number;
  /** Encoder blocks. */
  depth: number;
  heads: number;
  /** MLP hidden width as a multiple of dim (default 4; dim * mlpRatio must be an integer). */
  mlpRatio?: number;
  /** Dropout after the positions, on the attention weights, projections and MLP (default 0). */
  dropout?: number;
  /** "cls" (default): the class token's output; "mean": the mean of the patch tokens. */
  pooling?: ViTPooling;
  /** "learned" (default): pos_embed is a parameter; "sincos2d": fixed (dim a multiple of 4). */
  positions?: ViTPositions;
  /** A CNN stem instead of the patch projection: the channels of each stage (conv 3x3, BN, ReLU, 2x2 max-pool); null or absent: none. */
  stem?: readonly number[] | null;
  /** The LayerNorms' epsilon (default 1e-6, timm's; Hugging Face's ViT configs use 1e-12). */
  layerNormEps?: number;
}

export interface ResolvedViTConfig {
  imageSize: [number, number];
  patchSize: number;
  inChannels: number;
  numClasses: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  dropout: number;
  pooling: ViTPooling;
  positions: ViTPositions;
  stem: number[] | null;
  layerNormEps: number;
}

const KEYS = ["imageSize", "patchSize", "inChannels", "numClasses", "dim", "depth", "heads", "mlpRatio", "dropout", "pooling", "positions", "stem", "layerNormEps"] as const;
/** Largest image side a config may ask for (its positions are built from it). */
export const MAX_VIT_IMAGE_SIDE = 4096;

/** Checks a config (e.g. read from a model file) and fills in its defaults. */
export function resolveViTConfig(c: unknown, op = "VisionTransformer"): ResolvedViTConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ValueError(op, "config", "an object", String(c));
  const o = c as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new ValueError(op, "config", `only the keys ${KEYS.join(", ")}`, `unknown ${unknown.join(", ")}`);
  const isInt = (v: unknown, min: number, max = Infinity): v is number => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  const int = (k: string, min: number, dflt?: number, max = Infinity): number => {
    const v = o[k] ?? dflt;
    if (!isInt(v, min, max)) throw new ValueError(op, `config.${k}`, max < Infinity ? `an integer in [${min}, ${max}]` : `an integer >= ${min}`, JSON.stringify(v) ?? String(v));
    return v;
  };
  const is = o.imageSize;
  const side = (v: unknown): boolean => isInt(v, 1, MAX_VIT_IMAGE_SIDE);
  if (!(side(is) || (Array.isArray(is) && is.length === 2 && is.every(side)))) {
    throw new ValueError(op, "config.imageSize", `a side or [height, width], integers in [1, ${MAX_VIT_IMAGE_SIDE}]`, JSON.stringify(is) ?? String(is));
  }
  const imageSize: [number, number] = Array.isArray(is) ? [is[0] as number, is[1] as number] : [is as number, is as number];
  const r: ResolvedViTConfig = {
    imageSize, patchSize: int("patchSize", 1), inChannels: int("inChannels", 1, 3), numClasses: int("numClasses", 1),
    dim: int("dim", 1), depth: int("depth", 1), heads: int("heads", 1), mlpRatio: 4, dropout: 0, pooling: "cls", positions: "learned", stem: null,
    layerNormEps: 1e-6,
  };
  const eps = o.layerNormEps ?? 1e-6;
  if (typeof eps !== "number" || !(eps >= 0 && eps <= 1)) throw new ValueError(op, "config.layerNormEps", "a number in [0, 1]", JSON.stringify(eps) ?? String(eps));
  r.layerNormEps = eps;
  const mlpRatio = o.mlpRatio ?? 4;
  if (typeof mlpRatio !== "number" || !(mlpRatio > 0) || !Number.isInteger(mlpRatio * r.dim)) {
    throw new ValueError(op, "config.mlpRatio", `a positive number with dim * mlpRatio an integer (dim ${r.dim})`, String(mlpRatio));
  }
  r.mlpRatio = mlpRatio;
  const dropout = o.dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new ValueError(op, "config.dropout", "a probability in [0, 1)", String(dropout));
  r.dropout = dropout;
  const pooling = o.pooling ?? "cls", positions = o.positions ?? "learned";
  if (pooling !== "cls" && pooling !== "mean") throw new ValueError(op, "config.pooling", '"cls" or "mean"', JSON.stringify(pooling) ?? String(pooling));
  if (positions !== "learned" && positions !== "sincos2d") throw new ValueError(op, "config.positions", '"learned" or "sincos2d"', JSON.stringify(positions) ?? String(positions));
  r.pooling = pooling;
  r.positions = positions;
  if (r.dim % r.heads !== 0) throw new ValueError(op, "config.dim", `a multiple of heads (${r.heads})`, String(r.dim));
  if (positions === "sincos2d" && r.dim % 4 !== 0) throw new ValueError(op, "config.dim", 'a multiple of 4 with positions "sincos2d"', String(r.dim));
  const stem = o.stem ?? null;
  if (stem !== null) {
    if (!Array.isArray(stem) || stem.length === 0 || stem.length > 12 || !stem.every((ch) => isInt(ch, 1))) {
      throw new ValueError(op, "config.stem", "null or a list of 1 to 12 positive channel counts", JSON.stringify(stem) ?? String(stem));
    }
    if (r.patchSize !== 2 ** stem.length) {
      throw new ValueError(op, "config.patchSize", `${2 ** stem.length} (the stem's ${stem.length} stages halve the image each)`, String(r.patchSize));
    }
    r.stem = stem.slice() as number[];
  }
  const [H, W] = imageSize;
  if (H % r.patchSize !== 0 || W % r.patchSize !== 0) {
    throw new ValueError(op, "config.patchSize", `a divisor of the image's height and width [${H}, ${W}]`, String(r.patchSize));
  }
  return r;
}

/** The patch grid [h, w] and token count T of a resolved config. */
export function vitTokens(c: ResolvedViTConfig): { gh: number; gw: number; tokens: number } {
  const gh = c.imageSize[0] / c.patchSize, gw = c.imageSize[1] / c.patchSize;
  return { gh, gw, tokens: gh * gw + (c.pooling === "cls" ? 1 : 0) };
}

/** Elements in the state dict of the model a config builds (computed without building it). */
export function vitStateSize(config: ViTConfig): number {
  const c = resolveViTConfig(config, "vitStateSize");
  const E = c.dim, F = E * c.mlpRatio, p = c.patchSize;
  const embed = c.stem ? stemStateSize(c.inChannels, c.stem, E) : c.inChannels * E * p * p + E;
  const block = 4 * E + 3 * E * E + 3 * E + E * E + E + E * F + F + F * E + E;
  const { tokens } = vitTokens(c);
  return embed + (c.pooling === "cls" ? E : 0) + (c.positions === "learned" ? tokens * E : 0) + c.depth * block + 2 * E + E * c.numClasses + c.numClasses;
}

/**
 * A ViT classifier, x [B, C, H, W] -> logits [B, numClasses]. Initialization: Linear weights
 * Xavier-uniform and zero biases (timm's "jax" scheme: timm's default N(0, 0.02) does not scale
 * with the width, and at the small widths of MNIST-sized models it leaves every block close to the
 * identity, which slows the start of training), pos_embed N(0, 0.02), cls_token N(0, 1e-6);
 * convolutions PyTorch's default; LayerNorm eps 1e-6 unless config.layerNormEps says otherwise.
 */
export class VisionTransformer extends Module {
  readonly config: ResolvedViTConfig;
  readonly patchEmbed: PatchEmbedding | ConvStem;
  readonly clsToken: Tensor | null;
  readonly posEmbed: Tensor;
  readonly blocks: ModuleList<ViTBlock>;
  readonly norm: LayerNorm;
  readonly head: Linear;
  private readonly posDrop: Dropout;

  constructor(config: ViTConfig, opts: Gen = {}) {
    super();
    const c = (this.config = resolveViTConfig(config));
    const E = c.dim, g = opts.generator;
    const { gh, gw, tokens } = vitTokens(c);
    this.patchEmbed = this.registerModule("patch_embed", c.stem ? new ConvStem(c.inChannels, c.stem, E, gen(g)) : new PatchEmbedding(c.inChannels, E, c.patchSize, gen(g)));
    this.clsToken = this.registerParameter("cls_token", c.pooling === "cls" ? normal([1, 1, E], 0, 1e-6, g) : null);
    if (c.positions === "learned") this.posEmbed = this.registerParameter("pos_embed", normal([1, tokens, E], 0, 0.02, g));
    else {
      // fixed: the class token (when there is one) gets no position
      const pe = sincos2dPositionalEncoding(gh, gw, E);
      const d = new Float32Array(tokens * E);
      d.set(pe.data as Float32Array, (tokens - gh * gw) * E);
      this.posEmbed = new Tensor(d, [1, tokens, E], "float32");
    }
    this.posDrop = this.registerModule("pos_drop", new Dropout(c.dropout, g));
    this.blocks = this.registerModule("blocks", new ModuleList(Array.from({ length: c.depth }, () => new ViTBlock(E, c.heads, E * c.mlpRatio, { dropout: c.dropout, layerNormEps: c.layerNormEps, ...gen(g) }))));
    this.norm = this.registerModule("norm", new LayerNorm(E, { eps: c.layerNormEps }));
    this.head = this.registerModule("head", new Linear(E, c.numClasses, gen(g)));
    for (const [, m] of this.namedModules()) {
      if (m instanceof Linear) {
        m.weight.data.set(xavierUniform(m.weight.shape, 1, g).data);
        m.bias?.data.fill(0);
      }
    }
  }

  /** x [B, C, H, W] -> the encoder's normalized tokens [B, T, E] (T = N patches, + 1 with the class token first). */
  features(x: Tensor): Tensor {
    const op = "VisionTransformer.forward";
    const c = this.config, [H, W] = c.imageSize;
    expectTensor(x, "x", op);
    if (x.rank !== 4 || x.shape[1] !== c.inChannels || x.shape[2] !== H || x.shape[3] !== W) {
      throw new ShapeError(op, "x", `[B, ${c.inChannels}, ${H}, ${W}]`, fmtShape(x.shape));
    }
    if (x.dtype !== "float32" && x.dtype !== "float64") throw new DTypeError(op, "x", "float32 or float64", x.dtype);
    const B = x.shape[0]!, E = c.dim;
    let h = this.patchEmbed.forward(x); // [B, N, E]
    if (this.clsToken) h = concat([expand(this.clsToken, [B, 1, E]), h], 1); // [B, T, E]
    // fixed positions are float32; a float64 model (gradient checks) gets a float64 copy
    const pos = this.posEmbed.dtype === h.dtype ? this.posEmbed : new Tensor(Float64Array.from(this.posEmbed.data), this.posEmbed.shape, "float64");
    h = this.posDrop.forward(add(h, pos)); // [B, T, E]
    for (const block of this.blocks) h = block.forward(h);
    return this.norm.forward(h); // [B, T, E]
  }

  /** x [B, C, H, W] -> logits [B, numClasses] */
  forward(x: Tensor): Tensor {
    const h = this.features(x); // [B, T, E]
    const pooled = this.clsToken ? squeeze(slice(h, 1, 0, 1), 1) : mean(h, 1); // [B, E]
    return this.head.forward(pooled);
  }
}
