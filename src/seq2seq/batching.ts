/**
 * Token-bucketed batches for sequence-to-sequence training: pairs of similar length go together
 * (sorted by length, then cut into batches of at most `maxTokens` padded tokens), so little of a
 * batch is padding; the order of the batches is reshuffled every epoch with a seeded generator,
 * so `batchAt(step)` is a pure function of (data, seed, step) and a resumed run sees the same
 * batches as an uninterrupted one.
 *
 * ```ts
 * const plan = new TokenBatches(pairs, { maxTokens: 2048, seed: 0, padId: 0, bosId: 1, eosId: 2 });
 * const b = plan.batchAt(123);   // { src [B, S], tgtIn [B, T], tgtOut [B * T] } int32
 * plan.epochOf(123);             // which pass over the data step 123 belongs to
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { Generator } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";

/** One training example as token ids (no <s> / </s>: the batcher adds them). */
export interface IdPair {
  src: readonly number[];
  tgt: readonly number[];
}

export interface Seq2SeqBatch {
  /** int32 [B, S], padded with padId. */
  src: Tensor;
  /** int32 [B, T]: <s> y1 … y(n-1), padded. */
  tgtIn: Tensor;
  /** int32 [B * T]: y1 … yn </s>, padded (the loss ignores padId). */
  tgtOut: Tensor;
  /** Target tokens (non-padding entries of tgtOut). */
  tokens: number;
}

export interface TokenBatchOptions {
  /** Most padded tokens per batch: batch size × max(longest source, longest target + 1). */
  maxTokens: number;
  seed: number;
  padId: number;
  bosId: number;
  eosId: number;
}

/** Pads pairs into one batch (sources as given, targets with <s> / </s> added). */
export function makeSeq2SeqBatch(pairs: readonly IdPair[], ids: { padId: number; bosId: number; eosId: number }): Seq2SeqBatch {
  if (pairs.length === 0) throw new ValueError("makeSeq2SeqBatch", "pairs", "at least one pair", "none");
  const B = pairs.length;
  const S = Math.max(1, ...pairs.map((p) => p.src.length));
  const T = Math.max(...pairs.map((p) => p.tgt.length)) + 1;
  const src = new Int32Array(B * S).fill(ids.padId);
  const tin = new Int32Array(B * T).fill(ids.padId);
  const tout = new Int32Array(B * T).fill(ids.padId);
  let tokens = 0;
  pairs.forEach((p, b) => {
    src.set(p.src, b * S);
    tin[b * T] = ids.bosId;
    tin.set(p.tgt, b * T + 1);
    tout.set(p.tgt, b * T);
    tout[b * T + p.tgt.length] = ids.eosId;
    tokens += p.tgt.length + 1;
  });
  return { src: new Tensor(src, [B, S], "int32"), tgtIn: new Tensor(tin, [B, T], "int32"), tgtOut: new Tensor(tout, [B * T], "int32"), tokens };
}

export class TokenBatches {
  /** Each batch as indices into the pairs. */
  readonly batches: number[][];
  private orderCache: { epoch: number; order: Int32Array } | null = null;

  constructor(readonly pairs: readonly IdPair[], readonly opts: TokenBatchOptions) {
    const op = "TokenBatches";
    if (!Array.isArray(pairs) || pairs.length === 0) throw new ValueError(op, "pairs", "a non-empty array of { src, tgt }", String(pairs));
    if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) throw new ValueError(op, "maxTokens", "a positive integer", String(opts.maxTokens));
    // sort by (target length, source length), ties by a seeded shuffle, then cut greedily
    const tie = new Float64Array(pairs.length);
    new Generator(opts.seed ^ 0x5eed).fillUniform(tie);
    const idx = Array.from(pairs.keys()).sort((a, b) =>
      pairs[a]!.tgt.length - pairs[b]!.tgt.length || pairs[a]!.src.length - pairs[b]!.src.length || tie[a]! - tie[b]!);
    this.batches = [];
    let cur: number[] = [], longest = 0;
    for (const i of idx) {
      const len = Math.max(pairs[i]!.src.length, pairs[i]!.tgt.length + 1);
      const next = Math.max(longest, len);
      if (cur.length > 0 && (cur.length + 1) * next > opts.maxTokens) {
        this.batches.push(cur);
        cur = [];
        longest = 0;
      }
      cur.push(i);
      longest = Math.max(longest, len);
    }
    if (cur.length) this.batches.push(cur);
  }

  get batchesPerEpoch(): number {
    return this.batches.length;
  }

  epochOf(step: number): number {
    return Math.floor(step / this.batches.length);
  }

  /** The batch of training step `step` (0-based): epoch e's permutation of the batches. */
  batchAt(step: number): Seq2SeqBatch {
    if (!Number.isInteger(step) || step < 0) throw new ValueError("TokenBatches.batchAt", "step", "an integer >= 0", String(step));
    const n = this.batches.length, epoch = Math.floor(step / n);
    if (this.orderCache?.epoch !== epoch) {
      const order = Int32Array.from({ length: n }, (_, i) => i);
      const u = new Float64Array(n);
      new Generator(this.opts.seed * 1000003 + epoch).fillUniform(u);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(u[i]! * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      this.orderCache = { epoch, order };
    }
    const members = this.batches[this.orderCache.order[step % n]!]!;
    return makeSeq2SeqBatch(members.map((i) => this.pairs[i]!), this.opts);
  }
}
