/**
 * Greedy decoding through the decoder's KV cache: one new token per step, each step computing
 * only that token's row.
 *
 * ```ts
 * const outs = greedyDecode(model, batch, vocab, 12); // ["1999-03-03", ...]
 * ```
 */
import { noGrad } from "../../autograd/graph.js";
import type { CharVocab } from "../../data/dates.js";
import { argmax } from "../../ops/reduce.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Batch } from "./batches.js";
import type { DateModel } from "./model.js";

export function greedyDecode(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): string[] {
  return noGrad(() => {
    const B = batch.src.shape[0]!;
    const memory = model.encode(batch.src, batch.srcPad); // [B, S, E]
    const cache = model.decoder.createCache();
    const out: number[][] = Array.from({ length: B }, () => []);
    const done = new Uint8Array(B);
    let tok = new Int32Array(B).fill(vocab.bosId);
    for (let t = 0; t < maxLen; t++) {
      const logits = model.decode(new Tensor(tok, [B, 1], "int32"), memory, batch.srcPad, cache, t); // [B, 1, V]
      const next = argmax(logits, -1).data as Int32Array; // [B, 1]
      tok = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        tok[b] = next[b]!;
        if (!done[b]) {
          if (next[b] === vocab.eosId) done[b] = 1;
          else out[b]!.push(next[b]!);
        }
      }
      if (done.every((d) => d === 1)) break;
    }
    return out.map((ids) => vocab.decode(ids));
  });
}
