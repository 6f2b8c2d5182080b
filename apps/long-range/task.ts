/**
 * The synthetic long-range task: copy the first token. A sequence of N random values in [0, V);
 * position 0 carries a learned "first" marker; every position must output the value of position 0.
 * A position i can only solve it if its attention reaches key 0 — N - 1 positions away at the end.
 * Chance accuracy is 1/V.
 *
 * ```ts
 * const b = makeBatch(new Generator(0), 2, 2048, 8); // ids, flags [2, 2048] int32; targets [4096]
 * ```
 */
import type { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";

export interface Batch {
  /** [B, N] int32 values. */
  ids: Tensor;
  /** [B, N] int32: 1 at position 0, else 0. */
  flags: Tensor;
  /** [B * N] int32: the value of position 0 of the row, everywhere. */
  targets: Tensor;
}

export function makeBatch(gen: Generator, B: number, N: number, V: number): Batch {
  const ids = new Int32Array(B * N), flags = new Int32Array(B * N), targets = new Int32Array(B * N);
  gen.fillInt(ids, 0, V);
  for (let b = 0; b < B; b++) {
    flags[b * N] = 1;
    targets.fill(ids[b * N]!, b * N, (b + 1) * N);
  }
  return { ids: new Tensor(ids, [B, N], "int32"), flags: new Tensor(flags, [B, N], "int32"), targets: new Tensor(targets, [B * N], "int32") };
}
