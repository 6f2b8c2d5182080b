/**
 * Greedy decoding through the decoder's KV cache: one new token per step, each step computing
 * only that token's row. The loop is written once as read steps (`greedyDecodeSteps`: each step's
 * argmax [B, 1] taken where the model is, yielded and given its ids back); `greedyDecode` runs it
 * with `runReadSteps` (a host model: the ids' `data`), `greedyDecodeAsync` with `runReadStepsAsync`
 * (a model on a device, whose tensors have no synchronous `data`: one batched read per few steps,
 * the ids fed from step to step on the device), so both give the same strings from the same logits.
 *
 * ```ts
 * const outs = greedyDecode(model, batch, vocab, 12); // ["1999-03-03", ...]
 * const same = await greedyDecodeAsync(deviceModel, batch, vocab, 12); // one batched read per 1, 2, 4, 8 steps
 * ```
 */
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import type { CharVocab } from "../../data/dates.js";
import { argmax } from "../../ops/reduce.js";
import { ValueError } from "../../tensor/errors.js";
import { greedyReads, runReadSteps, runReadStepsAsync, type ReadSteps } from "../../tensor/read-steps.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Batch } from "./batches.js";
import type { DateModel } from "./model.js";

/** maxLen within the model's positions (each step t reads position t). */
function checkMaxLen(op: string, model: DateModel, maxLen: number): void {
  const positions = model.config.maxLen ?? 64;
  if (!Number.isInteger(maxLen) || maxLen < 1 || maxLen > positions) throw new ValueError(op, "maxLen", `an integer in [1, ${positions}] (the model's positions)`, String(maxLen));
}

/**
 * The greedy decoding of `batch` as read steps: yields the next ids [B, 1] of one or more steps
 * (int32 tensors, on the model's device or the host) and is given them back; returns the strings
 * (up to <eos>, at most `maxLen` characters). Each step's ids feed the next step where they are,
 * so on a device several steps go by between reads (`stepsPerRead`: 1, 2, 4, then 8); stops at the
 * read that shows every row has written <eos>.
 */
export function* greedyDecodeSteps(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): ReadSteps<string[]> {
  checkMaxLen("greedyDecodeSteps", model, maxLen);
  const B = batch.src.shape[0]!;
  const memory = model.encode(batch.src, batch.srcPad); // [B, S, E]
  const cache = model.decoder.createCache();
  let tok: Tensor = new Tensor(new Int32Array(B).fill(vocab.bosId), [B, 1], "int32");
  const out = yield* greedyReads(B, maxLen, vocab.eosId, (t) => {
    tok = argmax(model.decode(tok, memory, batch.srcPad, cache, t), -1); // [B, 1, V] -> [B, 1]
    return tok;
  });
  return out.map((ids) => vocab.decode(ids));
}

/** Greedy decoding of a batch by a model on the host (each step's ids read with `data`). */
export function greedyDecode(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): string[] {
  checkMaxLen("greedyDecode", model, maxLen);
  return noGrad(() => runReadSteps(greedyDecodeSteps(model, batch, vocab, maxLen)));
}

/** Greedy decoding of a batch by a model on a device (or the host), decoded there: the ids [B, 1] of 1, 2, 4, then 8 steps come back in one batched read, nothing else. */
export function greedyDecodeAsync(model: DateModel, batch: Batch, vocab: CharVocab, maxLen: number): Promise<string[]> {
  checkMaxLen("greedyDecodeAsync", model, maxLen);
  return noGradAsync(() => runReadStepsAsync(greedyDecodeSteps(model, batch, vocab, maxLen)));
}
