/**
 * The small model of the long-range experiment: value embedding + "flag" marker embedding, one
 * EfficientSelfAttention layer with a residual connection, a linear read-out per position.
 *
 * ```ts
 * const m = new LongRangeModel(8, 32, 2, 2048, { kind: "window", window: 64 });
 * const logits = m.forward(batch.ids, batch.flags); // [B * N, V]
 * ```
 */
import type { AttentionSpec } from "../../src/attention/select.js";
import { EfficientSelfAttention } from "../../src/nn/efficient-self-attention.js";
import { Embedding, Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { add } from "../../src/ops/elementwise.js";
import { reshape } from "../../src/ops/shape.js";
import { Generator } from "../../src/tensor/rng.js";
import type { Tensor } from "../../src/tensor/tensor.js";

export class LongRangeModel extends Module {
  tok: Embedding;
  flag: Embedding;
  attn: EfficientSelfAttention;
  head: Linear;

  constructor(readonly V: number, readonly dModel: number, nHeads: number, maxLen: number, spec: AttentionSpec, seed = 0) {
    super();
    const generator = new Generator(seed);
    this.tok = this.registerModule("tok", new Embedding(V, dModel, { generator }));
    this.flag = this.registerModule("flag", new Embedding(2, dModel, { generator }));
    this.attn = this.registerModule("attn", new EfficientSelfAttention(dModel, nHeads, spec, { maxLen, generator }));
    this.head = this.registerModule("head", new Linear(dModel, V, { generator }));
  }

  /** ids, flags [B, N] int32 -> logits [B * N, V]. */
  forward(ids: Tensor, flags: Tensor): Tensor {
    const x = add(this.tok.forward(ids), this.flag.forward(flags)); // [B, N, d]
    const h = add(x, this.attn.forward(x).output);
    return reshape(this.head.forward(h), [ids.size, this.V]);
  }
}
