/**
 * Batches for the dates task: padded int32 id tensors and the padding mask.
 *
 * ```ts
 * const b = makeBatch(pairs.slice(0, 64), vocab);
 * b.src;     // int32 [B, S]
 * b.srcPad;  // bool  [B, S], true = padding
 * b.tgtIn;   // int32 [B, T]  <bos> y1 .. yT-1
 * b.tgtOut;  // int32 [B, T]  y1 .. yT <eos>
 * ```
 */
import type { CharVocab, DatePair } from "../../data/dates.js";
import { Tensor } from "../../tensor/tensor.js";

export interface Batch {
  src: Tensor;
  srcPad: Tensor;
  tgtIn: Tensor;
  tgtOut: Tensor;
  pairs: DatePair[];
}

/** Pads each id list to the longest with `pad`; returns ids [B, N] and the padding mask. */
export function padIds(lists: number[][], pad: number): { ids: Tensor; mask: Tensor } {
  let N = 1;
  for (const l of lists) N = Math.max(N, l.length);
  const B = lists.length;
  const ids = new Int32Array(B * N).fill(pad);
  const mask = new Uint8Array(B * N).fill(1);
  for (let b = 0; b < B; b++) {
    const l = lists[b]!;
    for (let i = 0; i < l.length; i++) {
      ids[b * N + i] = l[i]!;
      mask[b * N + i] = 0;
    }
  }
  return { ids: new Tensor(ids, [B, N], "int32"), mask: new Tensor(mask, [B, N], "bool") };
}

/** Each pair's source and target encoded once: the target's ids serve tgtIn (after <bos>) and tgtOut (before <eos>). */
export function makeBatch(pairs: DatePair[], vocab: CharVocab): Batch {
  const B = pairs.length;
  const srcIds = pairs.map((p) => vocab.encode(p.source));
  const tgtIds = pairs.map((p) => vocab.encode(p.target));
  let T = 1;
  for (const t of tgtIds) T = Math.max(T, t.length + 1);
  const tin = new Int32Array(B * T).fill(vocab.padId), tout = new Int32Array(B * T).fill(vocab.padId);
  for (let b = 0; b < B; b++) {
    const t = tgtIds[b]!, at = b * T;
    tin[at] = vocab.bosId;
    for (let i = 0; i < t.length; i++) tin[at + 1 + i] = tout[at + i] = t[i]!;
    tout[at + t.length] = vocab.eosId;
  }
  const src = padIds(srcIds, vocab.padId);
  return { src: src.ids, srcPad: src.mask, tgtIn: new Tensor(tin, [B, T], "int32"), tgtOut: new Tensor(tout, [B, T], "int32"), pairs };
}
