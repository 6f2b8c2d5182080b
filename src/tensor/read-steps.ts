/**
 * A computation that reads results back as it goes (a decoding loop that needs each step's ids, a
 * scoring loop that needs each batch's outputs), written once as a generator: it yields the
 * tensors it needs on the host and is given their arrays back, in order. `runReadSteps` gives them
 * with `data` (host tensors); `runReadStepsAsync` with one `readAll` per yield (device tensors: one
 * batched read for all of a step's tensors), so both runs take the same path through the same
 * code. Nested loops compose with `yield*`.
 *
 * ```ts
 * function* decode(): ReadSteps<number[]> {
 *   const [ids] = yield [argmax(logits, -1)]; // the [B] ids on the host
 *   return Array.from(ids!);
 * }
 * runReadSteps(decode());             // a host model
 * await runReadStepsAsync(decode());  // a model on a device
 * ```
 */
import { ValueError } from "./errors.js";
import { readAll } from "./read-all.js";
import type { Tensor } from "./tensor.js";

/** Yields the tensors to read at each step, is given their host arrays (in order), returns R. */
export type ReadSteps<R> = Generator<Tensor[], R, ArrayLike<number>[]>;

function checkSteps(steps: unknown, op: string): void {
  const s = steps as { next?: unknown; [Symbol.iterator]?: unknown } | null | undefined;
  if (typeof s?.next !== "function" || typeof s[Symbol.iterator] !== "function") {
    throw new ValueError(op, "steps", "a generator (ReadSteps)", steps === null ? "null" : typeof steps);
  }
}

/**
 * How many decoding steps to record before the next read, for a loop that feeds each step's ids to
 * the next where they are and reads them only to learn where to stop: every step on the host
 * (reading costs nothing there, and steps past the end would be wasted), else 1, 2, 4, then 8
 * steps (`reads` made so far): a device then records several steps without waiting for it, at the
 * cost of at most 7 steps computed past the last row's end.
 */
export function stepsPerRead(onDevice: boolean, reads: number): number {
  return onDevice ? Math.min(8, 2 ** reads) : 1;
}

/**
 * The reads of a greedy decoding loop, for B rows of at most `maxLen` steps each (`maxLens[b]`
 * where given): `step(t)` records step t and gives its ids ([B] or [B, 1] int32, where the model
 * is; it feeds them to step t + 1 itself). The ids are read in windows of `stepsPerRead` steps;
 * a row ends at its first `eosId` (not kept) or its length. Returns each row's ids; stops at the
 * read that shows every row ended.
 */
export function* greedyReads(B: number, maxLen: number, eosId: number, step: (t: number) => Tensor, maxLens?: readonly number[]): ReadSteps<number[][]> {
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Uint8Array(B);
  let pending: Tensor[] = [], first = 0, reads = 0;
  for (let t = 0; t < maxLen; t++) {
    const ids = step(t);
    pending.push(ids);
    if (pending.length < stepsPerRead(ids.device !== null, reads) && t + 1 < maxLen) continue;
    const read = yield pending; // steps first .. t
    reads++;
    read.forEach((row, k) => {
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const id = row[b]!;
        if (id === eosId) done[b] = 1;
        else out[b]!.push(id);
        if (first + k + 1 >= (maxLens?.[b] ?? maxLen)) done[b] = 1;
      }
    });
    first = t + 1;
    pending = [];
    if (done.every((d) => d === 1)) break;
  }
  return out;
}

/** Runs `steps` with host tensors: each yielded tensor's `data` (a device tensor without a current copy throws DeviceSyncError). */
export function runReadSteps<R>(steps: ReadSteps<R>): R {
  checkSteps(steps, "runReadSteps");
  let r = steps.next();
  while (!r.done) r = steps.next(r.value.map((t) => t.data));
  return r.value;
}

/** Runs `steps` on any tensors: each yield's tensors read back together (`readAll`: one batched read per device store). */
export async function runReadStepsAsync<R>(steps: ReadSteps<R>): Promise<R> {
  checkSteps(steps, "runReadStepsAsync");
  let r = steps.next();
  while (!r.done) r = steps.next(await readAll(r.value));
  return r.value;
}
