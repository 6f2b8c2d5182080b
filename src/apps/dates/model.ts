/**
 * The dates model: a small encoder-decoder transformer (pre-norm) over characters, with
 * sinusoidal positions and tied nothing — plain and readable.
 *
 * ```ts
 * const m = new DateModel({ vocabSize: vocab.size, dModel: 64, nhead: 4, layers: 2, dimFeedforward: 128 });
 * const logits = m.forward(batch.src, batch.srcPad, batch.tgtIn); // [B, T, V]
 * ```
 */
import { add } from "../../ops/elementwise.js";
import { reshape, slice } from "../../ops/shape.js";
import { LayerNorm, Embedding, Linear } from "../../nn/layers.js";
import { Module } from "../../nn/module.js";
import { sinusoidalPositionalEncoding } from "../../nn/positional.js";
import { TransformerEncoder, TransformerEncoderLayer } from "../../nn/transformer.js";
import { TransformerDecoder, TransformerDecoderLayer } from "../../nn/transformer-decoder.js";
import type { Tensor } from "../../tensor/tensor.js";

export interface DateModelConfig {
  vocabSize: number;
  dModel: number;
  nhead: number;
  layers: number;
  dimFeedforward: number;
  dropout?: number;
  maxLen?: number;
}

export class DateModel extends Module {
  readonly srcEmbed: Embedding;
  readonly tgtEmbed: Embedding;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;
  readonly generator: Linear;
  private readonly pe: Tensor;

  constructor(readonly config: DateModelConfig) {
    super();
    const { vocabSize: V, dModel: E, nhead, layers, dimFeedforward } = config;
    const layerOpts = { dimFeedforward, dropout: config.dropout ?? 0.1, batchFirst: true, normFirst: true };
    this.srcEmbed = this.registerModule("src_embed", new Embedding(V, E));
    this.tgtEmbed = this.registerModule("tgt_embed", new Embedding(V, E));
    this.encoder = this.registerModule("encoder", new TransformerEncoder(new TransformerEncoderLayer(E, nhead, layerOpts), layers, { norm: new LayerNorm(E) }));
    this.decoder = this.registerModule("decoder", new TransformerDecoder(new TransformerDecoderLayer(E, nhead, layerOpts), layers, { norm: new LayerNorm(E) }));
    this.generator = this.registerModule("generator", new Linear(E, V));
    this.pe = this.registerBuffer("pe", sinusoidalPositionalEncoding(config.maxLen ?? 64, E));
  }

  /**
   * ids [B, N] -> token embeddings plus positions starting at `offset`: [B, N, E]. The embeddings
   * start as N(0, 1) (nn.Embedding's init), the same scale as the sinusoids, so neither drowns
   * the other (scaling by sqrt(E) is for embeddings initialized at std 1/sqrt(E)).
   */
  private embed(table: Embedding, ids: Tensor, offset = 0): Tensor {
    const N = ids.shape[1]!;
    const pos = slice(this.pe, 0, offset, offset + N); // [N, E]
    return add(table.forward(ids), pos);
  }

  /** src ids [B, S], srcPad [B, S] -> memory [B, S, E] */
  encode(src: Tensor, srcPad: Tensor): Tensor {
    return this.encoder.forward(this.embed(this.srcEmbed, src), { srcKeyPaddingMask: srcPad });
  }

  /** tgt ids [B, T] -> logits [B, T, V] (causal; or, with a cache, only the new positions). */
  decode(tgtIn: Tensor, memory: Tensor, srcPad: Tensor, cache?: ReturnType<TransformerDecoder["createCache"]>, offset = 0): Tensor {
    const h = this.decoder.forward(this.embed(this.tgtEmbed, tgtIn, offset), memory, {
      tgtIsCausal: true,
      memoryKeyPaddingMask: srcPad,
      ...(cache ? { cache } : {}),
    }); // [B, T, E]
    return this.generator.forward(h); // [B, T, V]
  }

  forward(src: Tensor, srcPad: Tensor, tgtIn: Tensor): Tensor {
    return this.decode(tgtIn, this.encode(src, srcPad), srcPad);
  }
}

/** logits [B, T, V] -> [B * T, V] for the loss. */
export function flatLogits(logits: Tensor): Tensor {
  return reshape(logits, [-1, logits.shape[2]!]);
}
