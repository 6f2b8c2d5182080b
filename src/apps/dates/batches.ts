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
  const B = lists.length;
  const N = Math.max(1, ...lists.map((l) => l.length));
  const ids = new Int32Array(B * N).fill(pad);
  const mask = new Uint8Array(B * N).fill(1);
  lists.forEach((l, b) => {
    ids.set(l, b * N);
    mask.fill(0, b * N, b * N + l.length);
  });
  return { ids: new Tensor(ids, [B, N], "int32"), mask: new Tensor(mask, [B, N], "bool") };
}

export function makeBatch(pairs: DatePair[], vocab: CharVocab): Batch {
  const src = padIds(pairs.map((p) => vocab.encode(p.source)), vocab.padId);
  const tin = padIds(pairs.map((p) => [vocab.bosId, ...vocab.encode(p.target)]), vocab.padId);
  const tout = padIds(pairs.map((p) => [...vocab.encode(p.target), vocab.eosId]), vocab.padId);
  return { src: src.ids, srcPad: src.mask, tgtIn: tin.ids, tgtOut: tout.ids, pairs };
}
