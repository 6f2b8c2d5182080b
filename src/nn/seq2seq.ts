/**
 * An encoder–decoder transformer over one shared subword vocabulary, the model of the text
 * applications (translation, summarization): pre-norm layers, one embedding table shared by the
 * encoder input, the decoder input and the output projection (tied embeddings, Press & Wolf
 * 2017), sinusoidal positions, embeddings scaled by sqrt(E) as in Vaswani et al.
 *
 * Parameter names: `embed.weight`, `encoder.layers.N.…`, `encoder.norm.…`, `decoder.layers.N.…`,
 * `decoder.norm.…` (torch.nn.TransformerEncoder/Decoder's names below the two stacks).
 *
 * ```ts
 * const m = new Seq2SeqTransformer({ vocabSize: 8000, dModel: 256, nhead: 4, encoderLayers: 3, decoderLayers: 3, dimFeedforward: 1024, padId: 0 });
 * const logits = m.forward(src, tgtIn);              // src [B, S], tgtIn [B, T] int32 -> [B, T, V]
 * const memory = m.encode(src);                      // [B, S, E]
 * const cache = m.decoder.createCache();
 * const step = m.decode(tok, memory, srcPad, { cache, offset: t }); // tok [B, 1] -> [B, 1, V]
 * ```
 */
import { add, mul } from "../ops/elementwise.js";
import { compare } from "../ops/elementwise.js";
import { linear } from "../ops/matmul.js";
import { slice } from "../ops/shape.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { normal } from "./init.js";
import type { DecoderCache } from "./kv-cache.js";
import { Dropout, Embedding, LayerNorm } from "./layers.js";
import { Module } from "./module.js";
import { sinusoidalPositionalEncoding } from "./positional.js";
import { TransformerEncoder, TransformerEncoderLayer, type Activation } from "./transformer.js";
import { TransformerDecoder, TransformerDecoderLayer } from "./transformer-decoder.js";

export interface Seq2SeqConfig {
  vocabSize: number;
  dModel: number;
  nhead: number;
  encoderLayers: number;
  decoderLayers: number;
  dimFeedforward: number;
  /** Dropout on embeddings, attention outputs and feed-forward blocks (default 0.1). */
  dropout?: number;
  /** Longest source or target sequence (positions table size; default 512). */
  maxLen?: number;
  /** Id of the padding token (its embedding row starts at zero). */
  padId: number;
  activation?: "relu" | "gelu";
}

const CONFIG_KEYS = ["vocabSize", "dModel", "nhead", "encoderLayers", "decoderLayers", "dimFeedforward", "dropout", "maxLen", "padId", "activation"] as const;

/** Checks a config (e.g. read from a model file) and returns it with its defaults filled in. */
export function resolveSeq2SeqConfig(c: unknown, op = "Seq2SeqTransformer"): Required<Seq2SeqConfig> {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ValueError(op, "config", "an object", String(c));
  const o = c as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new ValueError(op, "config", `only the keys ${CONFIG_KEYS.join(", ")}`, `unknown ${unknown.join(", ")}`);
  const int = (k: string, min: number, dflt?: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ValueError(op, `config.${k}`, `an integer >= ${min}`, String(v));
    return v;
  };
  const prob = (k: string, dflt: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== "number" || !(v >= 0 && v < 1)) throw new ValueError(op, `config.${k}`, "a probability in [0, 1)", String(v));
    return v;
  };
  const r: Required<Seq2SeqConfig> = {
    vocabSize: int("vocabSize", 2),
    dModel: int("dModel", 1),
    nhead: int("nhead", 1),
    encoderLayers: int("encoderLayers", 1),
    decoderLayers: int("decoderLayers", 1),
    dimFeedforward: int("dimFeedforward", 1),
    dropout: prob("dropout", 0.1),
    maxLen: int("maxLen", 1, 512),
    padId: int("padId", 0),
    activation: (o.activation ?? "relu") as "relu" | "gelu",
  };
  if (r.activation !== "relu" && r.activation !== "gelu") throw new ValueError(op, "config.activation", '"relu" or "gelu"', String(o.activation));
  if (r.dModel % r.nhead !== 0) throw new ValueError(op, "config.dModel", `a multiple of nhead (${r.nhead})`, String(r.dModel));
  if (r.padId >= r.vocabSize) throw new ValueError(op, "config.padId", `an id below vocabSize (${r.vocabSize})`, String(r.padId));
  return r;
}

export class Seq2SeqTransformer extends Module {
  readonly config: Required<Seq2SeqConfig>;
  /** The shared table [V, E]: encoder input, decoder input and output projection. */
  readonly embed: Embedding;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;
  private readonly pe: Tensor;
  private readonly scale: number;
  private readonly dropout: Dropout;

  constructor(config: Seq2SeqConfig, opts: { generator?: Generator } = {}) {
    super();
    const c = (this.config = resolveSeq2SeqConfig(config));
    const E = c.dModel;
    const g = opts.generator;
    const layerOpts = {
      dimFeedforward: c.dimFeedforward, dropout: c.dropout, batchFirst: true, normFirst: true, activation: c.activation as Activation,
      ...(g ? { generator: g } : {}),
    };
    // N(0, E^-1/2), times sqrt(E) on the way in: unit-scale inputs, logits of unit scale out
    this.embed = this.registerModule("embed", new Embedding(c.vocabSize, E, { paddingIdx: c.padId, ...(g ? { generator: g } : {}) }));
    const w = normal([c.vocabSize, E], 0, Math.pow(E, -0.5), g);
    w.data.fill(0, c.padId * E, (c.padId + 1) * E);
    this.embed.weight.data.set(w.data);
    this.encoder = this.registerModule("encoder", new TransformerEncoder(new TransformerEncoderLayer(E, c.nhead, layerOpts), c.encoderLayers, { norm: new LayerNorm(E) }));
    this.decoder = this.registerModule("decoder", new TransformerDecoder(new TransformerDecoderLayer(E, c.nhead, layerOpts), c.decoderLayers, { norm: new LayerNorm(E) }));
    this.pe = this.registerBuffer("pe", sinusoidalPositionalEncoding(c.maxLen, E));
    this.scale = Math.sqrt(E);
    this.dropout = this.registerModule("dropout", new Dropout(c.dropout, g));
  }

  private checkIds(ids: Tensor, arg: string, op: string, offset = 0): void {
    expectTensor(ids, arg, op);
    if (ids.dtype !== "int32") throw new DTypeError(op, arg, "int32", ids.dtype);
    if (ids.rank !== 2) throw new ShapeError(op, arg, "[B, N]", fmtShape(ids.shape));
    if (offset + ids.shape[1]! > this.config.maxLen) {
      throw new ShapeError(op, arg, `at most ${this.config.maxLen} positions (maxLen)`, `${offset + ids.shape[1]!} (${fmtShape(ids.shape)} at offset ${offset})`);
    }
  }

  /** ids [B, N] -> scaled embeddings plus positions offset … offset + N - 1: [B, N, E]. */
  private embedTokens(ids: Tensor, offset: number): Tensor {
    const N = ids.shape[1]!;
    const x = add(mul(this.embed.forward(ids), this.scale), slice(this.pe, 0, offset, offset + N)); // [B, N, E]
    return this.dropout.forward(x);
  }

  /** The padding mask of ids [B, N]: bool [B, N], true at padding. */
  paddingMask(ids: Tensor): Tensor {
    return compare("eq", ids, this.config.padId);
  }

  /** src ids [B, S] (padded with padId) -> memory [B, S, E]. */
  encode(src: Tensor, srcPad: Tensor = this.paddingMask(src)): Tensor {
    this.checkIds(src, "src", "Seq2SeqTransformer.encode");
    return this.encoder.forward(this.embedTokens(src, 0), { srcKeyPaddingMask: srcPad }); // [B, S, E]
  }

  /**
   * tgt ids [B, T] -> logits [B, T, V], causal. With a cache, tgt holds only the new tokens at
   * positions offset … offset + T - 1.
   */
  decode(tgt: Tensor, memory: Tensor, srcPad: Tensor, opts: { cache?: DecoderCache; offset?: number } = {}): Tensor {
    const offset = opts.offset ?? 0;
    this.checkIds(tgt, "tgt", "Seq2SeqTransformer.decode", offset);
    const h = this.decoder.forward(this.embedTokens(tgt, offset), memory, {
      tgtIsCausal: true,
      memoryKeyPaddingMask: srcPad,
      ...(opts.cache ? { cache: opts.cache } : {}),
    }); // [B, T, E]
    return linear(h, this.embed.weight); // [B, T, V]
  }

  /** src [B, S], tgtIn [B, T] -> logits [B, T, V] (teacher forcing). */
  forward(src: Tensor, tgtIn: Tensor): Tensor {
    const srcPad = this.paddingMask(src);
    return this.decode(tgtIn, this.encode(src, srcPad), srcPad);
  }
}
