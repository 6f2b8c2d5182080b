/**
 * BigBird attention, exact over its block pattern: with blocks of `blockSize` tokens, query block
 * r attends key block c iff |r - c| <= window (in blocks), or r < numGlobal, or c < numGlobal
 * (global blocks attend everywhere and are attended by all), or c is one of the `numRandom`
 * random blocks of row r — drawn without repetition from the blocks not already attended, seeded
 * by `seed` (the same seed gives the same layout everywhere).
 *
 * ```ts
 * const { output } = bigbirdAttention(q, k, v, { window: 1, numGlobal: 1, numRandom: 2, blockSize: 64, seed: 0 });
 * ```
 */
import { Generator, uniformAt } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";
import { layoutPattern } from "./block-sparse.js";
import { sparseAttention, type SparseAttentionOptions } from "./sparse.js";

export interface BigBirdOptions extends SparseAttentionOptions {
  /** Neighbouring blocks on each side. */
  window: number;
  /** The first numGlobal blocks are global. */
  numGlobal: number;
  /** Random key blocks per query block. */
  numRandom: number;
  blockSize: number;
  seed: number;
}

/** The block layout bool [ceil(L/bs), ceil(S/bs)] (true = attended). */
export function bigbirdLayout(L: number, S: number, o: Omit<BigBirdOptions, "scale" | "needWeights">): Tensor {
  const op = "bigbirdLayout";
  const bs = intAtLeast(op, "blockSize", o.blockSize, 1);
  const w = intAtLeast(op, "window", o.window, 0), g = intAtLeast(op, "numGlobal", o.numGlobal, 0);
  const nr = intAtLeast(op, "numRandom", o.numRandom, 0);
  const nQb = Math.ceil(L / bs), nKb = Math.ceil(S / bs);
  const lay = new Uint8Array(nQb * nKb);
  const { k0, k1, start } = new Generator(intAtLeast(op, "seed", o.seed, 0)).take(nQb * nKb);
  const cand = new Int32Array(nKb);
  for (let r = 0; r < nQb; r++) {
    const row = r * nKb;
    for (let c = 0; c < nKb; c++) lay[row + c] = r < g || c < g || Math.abs(r - c) <= w ? 1 : 0;
    let n = 0;
    for (let c = 0; c < nKb; c++) if (!lay[row + c]) cand[n++] = c;
    // partial Fisher-Yates: the first numRandom of a seeded shuffle of the candidates
    for (let t = 0; t < Math.min(nr, n); t++) {
      const pick = t + Math.floor(uniformAt(k0, k1, start + row + t) * (n - t));
      const c = cand[pick]!;
      cand[pick] = cand[t]!;
      cand[t] = c;
      lay[row + c] = 1;
    }
  }
  return new Tensor(lay, [nQb, nKb], "bool");
}

export function bigbirdAttention(q: Tensor, k: Tensor, v: Tensor, opts: BigBirdOptions): AttentionResult {
  const op = "bigbirdAttention";
  const c = canonQKV(op, q, k, v);
  const lay = bigbirdLayout(c.L, c.S, opts);
  const bs = opts.blockSize;
  return sparseAttention(q, k, v, layoutPattern(c.L, c.S, lay.data, lay.shape[1]!, bs), opts, op);
}
