/**
 * torch.nn.Transformer: an encoder and a decoder stack, each with a final LayerNorm, parameter
 * names encoder.layers.N.…, encoder.norm.…, decoder.layers.N.…, decoder.norm.…; every parameter
 * of rank > 1 re-initialized Xavier-uniform (as torch's _reset_parameters).
 *
 * ```ts
 * const model = new Transformer({ dModel: 32, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, batchFirst: true });
 * const out = model.forward(src, tgt, { tgtMask: generateSquareSubsequentMask(tgt.shape[1]) }); // [B, T, 32]
 * // incremental decoding
 * const memory = model.encode(src);
 * const cache = model.decoder.createCache();
 * const y0 = model.decode(tgt0, memory, { cache });                     // tgt0 [B, 1, 32]
 * // local attention everywhere: window in the encoder, causal window in the decoder
 * const local = new Transformer({ dModel: 32, nhead: 4, batchFirst: true, attention: { kind: "window", window: 64 } });
 * ```
 */
import type { AttentionSpec } from "../attention/select.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { xavierUniform } from "./init.js";
import type { DecoderCache } from "./kv-cache.js";
import { LayerNorm } from "./layers.js";
import { Module } from "./module.js";
import { TransformerDecoder, TransformerDecoderLayer, type DecoderLayerForwardOptions } from "./transformer-decoder.js";
import { TransformerEncoder, TransformerEncoderLayer, generateSquareSubsequentMask, type EncoderLayerForwardOptions, type TransformerLayerOptions } from "./transformer.js";

export interface TransformerOptions extends TransformerLayerOptions {
  /** Model width (default 512). */
  dModel?: number;
  /** Attention heads (default 8). */
  nhead?: number;
  /** Encoder layers (default 6). */
  numEncoderLayers?: number;
  /** Decoder layers (default 6). */
  numDecoderLayers?: number;
  /** Use this encoder instead of building one (no parameters are re-initialized then). */
  customEncoder?: TransformerEncoder;
  /** Use this decoder instead of building one. */
  customDecoder?: TransformerDecoder;
  /**
   * The decoder's self-attention variant (default: `attention`, which the encoder layers take);
   * in the decoder it runs causal, so it needs a kind with a causal form (not linformer or nystrom).
   */
  decoderAttention?: AttentionSpec;
}

export interface TransformerForwardOptions {
  srcMask?: Tensor | null;
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  srcIsCausal?: boolean;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

export class Transformer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;

  constructor(opts: TransformerOptions = {}) {
    super();
    const { dModel = 512, nhead = 8, numEncoderLayers = 6, numDecoderLayers = 6, customEncoder, customDecoder, decoderAttention, ...layerOpts } = opts;
    for (const [arg, v] of [["numEncoderLayers", numEncoderLayers], ["numDecoderLayers", numDecoderLayers]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError("Transformer", arg, "a positive integer", String(v));
    }
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = layerOpts.batchFirst ?? false;
    const eps = layerOpts.layerNormEps ?? 1e-5, bias = layerOpts.bias ?? true;
    this.encoder = this.registerModule("encoder", customEncoder ??
      new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, layerOpts), numEncoderLayers, { norm: new LayerNorm(dModel, { eps, bias }) }));
    this.decoder = this.registerModule("decoder", customDecoder ??
      new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, decoderAttention ? { ...layerOpts, attention: decoderAttention } : layerOpts),
        numDecoderLayers, { norm: new LayerNorm(dModel, { eps, bias }) }));
    if (!customEncoder || !customDecoder) {
      for (const p of this.parameters()) {
        if (p.rank > 1) p.data.set(xavierUniform(p.shape, 1, opts.generator).data);
      }
    }
  }

  /** The causal float mask [n, n] (0 / -Infinity), as nn.Transformer.generate_square_subsequent_mask. */
  static generateSquareSubsequentMask(n: number): Tensor {
    return generateSquareSubsequentMask(n);
  }

  /**
   * src [S, B, E], tgt [T, B, E] (batchFirst: [B, S, E], [B, T, E]; unbatched [S, E], [T, E])
   * -> [T, B, E] (tgt's layout).
   */
  forward(src: Tensor, tgt: Tensor, fo: TransformerForwardOptions = {}): Tensor {
    const op = "Transformer.forward";
    expectTensor(src, "src", op);
    expectTensor(tgt, "tgt", op);
    const E = this.dModel;
    if (src.rank !== tgt.rank) throw new ShapeError(op, "tgt", `rank ${src.rank} (the rank of src)`, fmtShape(tgt.shape));
    if (src.rank === 3) {
      const bd = this.batchFirst ? 0 : 1;
      if (src.shape[bd] !== tgt.shape[bd]) throw new ShapeError(op, "tgt", `batch ${src.shape[bd]} on dim ${bd} (the batch of src)`, fmtShape(tgt.shape));
    }
    if (src.shape[src.rank - 1] !== E) throw new ShapeError(op, "src", `last dim ${E} (dModel)`, fmtShape(src.shape));
    if (tgt.shape[tgt.rank - 1] !== E) throw new ShapeError(op, "tgt", `last dim ${E} (dModel)`, fmtShape(tgt.shape));
    const memory = this.encode(src, { srcMask: fo.srcMask ?? null, srcKeyPaddingMask: fo.srcKeyPaddingMask ?? null, isCausal: fo.srcIsCausal ?? false });
    return this.decode(tgt, memory, {
      tgtMask: fo.tgtMask ?? null,
      memoryMask: fo.memoryMask ?? null,
      tgtKeyPaddingMask: fo.tgtKeyPaddingMask ?? null,
      memoryKeyPaddingMask: fo.memoryKeyPaddingMask ?? null,
      tgtIsCausal: fo.tgtIsCausal ?? false,
      memoryIsCausal: fo.memoryIsCausal ?? false,
    });
  }

  /** The encoder alone: src -> memory. */
  encode(src: Tensor, fo: EncoderLayerForwardOptions = {}): Tensor {
    return this.encoder.forward(src, fo);
  }

  /** The decoder alone (with an optional DecoderCache for step-by-step decoding). */
  decode(tgt: Tensor, memory: Tensor, fo: DecoderLayerForwardOptions & { cache?: DecoderCache | null } = {}): Tensor {
    return this.decoder.forward(tgt, memory, fo);
  }
}
