/**
 * Learned absolute position embeddings (BERT, GPT-2): a trainable table weight [maxLen, E] whose
 * row p is added to the token at position p.
 *
 * ```ts
 * const pos = new LearnedPositionalEmbedding(128, 32);   // weight [128, 32]
 * const h = pos.forward(tokEmb);                         // tokEmb [B, L, 32] -> [B, L, 32]
 * const h1 = pos.forward(stepEmb, { offset: cache.length }); // rows offset..offset+L-1
 * ```
 */
import { add } from "../ops/elementwise.js";
import { slice, unsqueeze } from "../ops/shape.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { type Tensor, expectTensor } from "../tensor/tensor.js";
import { normal } from "./init.js";
import { Module } from "./module.js";

export interface LearnedPositionalEmbeddingOptions {
  /** x is [B, L, E] when true (default), [L, B, E] when false. */
  batchFirst?: boolean;
  /** Standard deviation of the N(0, std²) initialization (default 0.02, as GPT-2). */
  std?: number;
  generator?: Generator;
}

export class LearnedPositionalEmbedding extends Module {
  weight: Tensor;
  readonly batchFirst: boolean;
  constructor(readonly maxLen: number, readonly embeddingDim: number, opts: LearnedPositionalEmbeddingOptions = {}) {
    super();
    const C = "LearnedPositionalEmbedding";
    for (const [arg, v] of [["maxLen", maxLen], ["embeddingDim", embeddingDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(C, arg, "a positive integer", String(v));
    }
    const std = opts.std ?? 0.02;
    if (typeof std !== "number" || !(std >= 0) || !Number.isFinite(std)) throw new ValueError(C, "std", "a non-negative number", String(std));
    this.batchFirst = opts.batchFirst ?? true;
    this.weight = this.registerParameter("weight", normal([maxLen, embeddingDim], 0, std, opts.generator));
  }

  /** The embeddings of positions offset..offset+L-1, [L, E]. */
  positions(L: number, offset = 0): Tensor {
    const op = "LearnedPositionalEmbedding.positions";
    if (!Number.isInteger(L) || L < 1) throw new ValueError(op, "L", "a positive integer", String(L));
    if (!Number.isInteger(offset) || offset < 0 || offset + L > this.maxLen) {
      throw new ValueError(op, "offset", `an integer in [0, ${this.maxLen - L}] (maxLen ${this.maxLen}, L ${L})`, String(offset));
    }
    return slice(this.weight, 0, offset, offset + L); // [L, E]
  }

  /** x [B, L, E] (batchFirst false: [L, B, E]; or [L, E]) plus the embeddings of positions offset… */
  forward(x: Tensor, opts: { offset?: number } = {}): Tensor {
    const op = "LearnedPositionalEmbedding.forward";
    expectTensor(x, "x", op);
    const E = this.embeddingDim;
    if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== E) {
      throw new ShapeError(op, "x", this.batchFirst ? `[B, L, ${E}] or [L, ${E}]` : `[L, B, ${E}] or [L, ${E}]`, fmtShape(x.shape));
    }
    const timeDim = x.rank === 3 && this.batchFirst ? 1 : 0;
    const pe = this.positions(x.shape[timeDim]!, opts.offset ?? 0); // [L, E]
    return add(x, x.rank === 3 && !this.batchFirst ? unsqueeze(pe, 1) : pe);
  }
}
