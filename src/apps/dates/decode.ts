/**
 * Greedy decoding through the decoder's KV cache: one new token per step, each step computing
 * only that token's row. The loop is written once (`decodeSteps`, a generator that yields each
 * step's argmax and is given its ids back); `greedyDecode` reads them with `data` (a host model),
 * `greedyDecodeAsync` with `await read()` (a model on a device, whose tensors have no synchronous
 * `data`), so both give the same strings from the same logits.
 *
 * ```ts
 * const outs = greedyDecode(model, batch, vocab, 12); // ["1999-03-03", ...]
 * const same = await greedyDecodeAsync(deviceModel, batch, vocab, 12); // one read per step
 * ```
 */
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import type { CharVocab } from "../../data/dates.js";
import { argmax } from "../../ops/reduce.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Batch } from "./batches.js";
import type { DateModel } from "./model.js";

/** Yields each step's next ids [B, 1] (an int32 tensor, on the model's device or the host), takes them back read; returns the strings. */
function* decodeSteps(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): Generator<Tensor, string[], Int32Array> {
  const B = batch.src.shape[0]!;
  const memory = model.encode(batch.src, batch.srcPad); // [B, S, E]
  const cache = model.decoder.createCache();
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Uint8Array(B);
  let tok = new Int32Array(B).fill(vocab.bosId);
  for (let t = 0; t < maxLen; t++) {
    const logits = model.decode(new Tensor(tok, [B, 1], "int32"), memory, batch.srcPad, cache, t); // [B, 1, V]
    const next = yield argmax(logits, -1); // [B, 1]
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
}

/** Greedy decoding of a batch by a model on the host (reads each step's ids with `data`). */
export function greedyDecode(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): string[] {
  return noGrad(() => {
    const steps = decodeSteps(model, batch, vocab, maxLen);
    let r = steps.next();
    while (!r.done) r = steps.next(r.value.data as Int32Array);
    return r.value;
  });
}

/** Greedy decoding of a batch by a model on a device (or the host): each step's ids come back with `await read()`. */
export function greedyDecodeAsync(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): Promise<string[]> {
  return noGradAsync(async () => {
    const steps = decodeSteps(model, batch, vocab, maxLen);
    let r = steps.next();
    while (!r.done) r = steps.next((await r.value.read()) as Int32Array);
    return r.value;
  });
}
