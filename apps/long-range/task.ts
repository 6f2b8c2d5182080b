/**
 * The synthetic long-range task: retrieve the flagged token. A sequence of N random values in
 * [0, V); one position p per sequence carries a learned "flag" marker; every position must output
 * the value at p. With `where: "random"` (the default) p is uniform over the sequence, so a
 * position i solves it only if its attention reaches key p, up to N - 1 positions away, and
 * neither a local window nor a fixed set of global tokens covers p; with `where: "first"`, p = 0
 * (copy the first token, which global tokens at the start reach). Chance accuracy is 1/V.
 *
 * ```ts
 * const b = makeBatch(new Generator(0), 2, 2048, 8); // ids, flags [2, 2048] int32; targets [4096]; flagAt [2]
 * ```
 */
import type { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";

export type FlagPosition = "random" | "first";

export interface Batch {
  /** [B, N] int32 values. */
  ids: Tensor;
  /** [B, N] int32: 1 at the flagged position, else 0. */
  flags: Tensor;
  /** [B * N] int32: the value at the flagged position of the row, everywhere. */
  targets: Tensor;
  /** The flagged position of each row. */
  flagAt: Int32Array;
}

export function makeBatch(gen: Generator, B: number, N: number, V: number, where: FlagPosition = "random"): Batch {
  const ids = new Int32Array(B * N), flags = new Int32Array(B * N), targets = new Int32Array(B * N);
  const flagAt = new Int32Array(B);
  gen.fillInt(ids, 0, V);
  if (where === "random") gen.fillInt(flagAt, 0, N);
  for (let b = 0; b < B; b++) {
    const p = flagAt[b]!;
    flags[b * N + p] = 1;
    targets.fill(ids[b * N + p]!, b * N, (b + 1) * N);
  }
  return {
    ids: new Tensor(ids, [B, N], "int32"), flags: new Tensor(flags, [B, N], "int32"),
    targets: new Tensor(targets, [B * N], "int32"), flagAt,
  };
}
