/**
 * Synthetic sequence tasks whose answer sits at a known place: the flagged-token task (the answer
 * is the value of the one flagged token, exactly D positions before the query at the end) and the
 * pair-recall task (two differently flagged tokens anywhere; the answer is the pair of their values). Seeded through the counter-based Generator: the same seed gives the same batches everywhere.
 *
 * Token ids, with K values: 0..K-1 plain values (noise), K..2K-1 a flagged value (pair recall: kind A),
 * 2K..3K-1 pair recall's kind B flags, and the last id the query token, always at position L-1.
 *
 * ```ts
 * const task = flaggedTokenTask({ length: 40, distance: 32, values: 8 });
 * const b = task.batch(64, new Generator(0)); // b.ids int32 [64, 40], b.labels int32 [64]
 * // b.ids[n, 39 - 32] is the flagged token K + b.labels[n]; position 39 holds the query
 * ```
 */
import { ValueError } from "../../tensor/errors.js";
import type { Generator } from "../../tensor/rng.js";
import { Tensor } from "../../tensor/tensor.js";

/** One batch: ids int32 [B, L], labels int32 [B], and where the answer came from. */
export interface TaskBatch {
  ids: Tensor;
  labels: Tensor;
  /** Per example, the positions of the tokens the answer depends on. */
  sources: number[][];
}

export interface SequenceTask {
  name: string;
  /** Sequence length L (the query included). */
  length: number;
  vocabSize: number;
  classes: number;
  batch(size: number, gen: Generator): TaskBatch;
}

export interface FlaggedTokenOptions {
  /** Sequence length L, the query token included; at least distance + 1. */
  length: number;
  /** How far before the query the flagged token sits: one D, or a range [min, max] drawn per example. */
  distance: number | readonly [number, number];
  /** Number of values K (and of classes; chance is 1/K). Default 8. */
  values?: number;
}

function checkInt(op: string, arg: string, v: unknown, min: number): asserts v is number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ValueError(op, arg, `an integer >= ${min}`, String(v));
}

/** Integers in [low, high), n of them. */
function ints(gen: Generator, n: number, low: number, high: number): Int32Array {
  const out = new Int32Array(n);
  gen.fillInt(out, low, high);
  return out;
}

/**
 * The flagged-token task: L-1 random plain values with one of them flagged, then the query; the
 * label is the flagged token's value. The flag sits D positions before the query (position L-1-D),
 * so the answer depends on the token D positions back and on no other.
 */
export function flaggedTokenTask(o: FlaggedTokenOptions): SequenceTask {
  const op = "flaggedTokenTask";
  const K = o.values ?? 8;
  checkInt(op, "values", K, 2);
  checkInt(op, "length", o.length, 2);
  const [dMin, dMax] = typeof o.distance === "number" ? [o.distance, o.distance] : o.distance;
  checkInt(op, "distance", dMin, 1);
  checkInt(op, "distance", dMax, dMin);
  if (dMax > o.length - 1) throw new ValueError(op, "distance", `at most length - 1 (${o.length - 1})`, String(dMax));
  const L = o.length, query = 2 * K;
  return {
    name: "flagged token",
    length: L,
    vocabSize: 2 * K + 1,
    classes: K,
    batch(B, gen) {
      checkInt(op, "batch size", B, 1);
      const ids = ints(gen, B * L, 0, K);
      const labels = ints(gen, B, 0, K);
      const dist = dMin === dMax ? new Int32Array(B).fill(dMin) : ints(gen, B, dMin, dMax + 1);
      const sources: number[][] = [];
      for (let b = 0; b < B; b++) {
        const p = L - 1 - dist[b]!;
        ids[b * L + p] = K + labels[b]!;
        ids[b * L + L - 1] = query;
        sources.push([p]);
      }
      return { ids: new Tensor(ids, [B, L], "int32"), labels: new Tensor(labels, [B], "int32"), sources };
    },
  };
}

export interface PairRecallOptions {
  /** Sequence length L, the query included; at least 3. */
  length: number;
  /** Number of values K (default 4; K * K classes). */
  values?: number;
}

/**
 * The pair-recall task: L-1 random plain values among which one A-flagged value a and one B-flagged
 * value b, at two different random positions, then the query; the label is the pair, a * K + b
 * (K * K classes). The answer needs both tokens at once (one attention head can fetch one, or
 * average both).
 */
export function pairRecallTask(o: PairRecallOptions): SequenceTask {
  const op = "pairRecallTask";
  const K = o.values ?? 4;
  checkInt(op, "values", K, 2);
  checkInt(op, "length", o.length, 3);
  const L = o.length, query = 3 * K;
  return {
    name: "pair recall",
    length: L,
    vocabSize: 3 * K + 1,
    classes: K * K,
    batch(B, gen) {
      checkInt(op, "batch size", B, 1);
      const ids = ints(gen, B * L, 0, K);
      const a = ints(gen, B, 0, K), c = ints(gen, B, 0, K);
      const pa = ints(gen, B, 0, L - 1), pb = ints(gen, B, 0, L - 2);
      const labels = new Int32Array(B);
      const sources: number[][] = [];
      for (let n = 0; n < B; n++) {
        const p = pa[n]!, q = pb[n]! >= p ? pb[n]! + 1 : pb[n]!; // q != p, both < L-1
        ids[n * L + p] = K + a[n]!;
        ids[n * L + q] = 2 * K + c[n]!;
        ids[n * L + L - 1] = query;
        labels[n] = a[n]! * K + c[n]!;
        sources.push([p, q]);
      }
      return { ids: new Tensor(ids, [B, L], "int32"), labels: new Tensor(labels, [B], "int32"), sources };
    },
  };
}
