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
import type { SparsePattern } from "../backend/backend.js";
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
  /**
   * Only keys j <= i: the layout keeps the blocks c <= r, the random blocks are drawn among the
   * earlier blocks not already attended, and the diagonal blocks stop at the query.
   */
  causal?: boolean;
}

/**
 * The block layout bool [ceil(L/bs), ceil(S/bs)] (true = attended). Causal: row r depends only on
 * r (its random draws use counters r·numRandom + t), so a longer sequence keeps the earlier rows.
 */
export function bigbirdLayout(L: number, S: number, o: Omit<BigBirdOptions, "scale" | "needWeights">): Tensor {
  const op = "bigbirdLayout";
  const bs = intAtLeast(op, "blockSize", o.blockSize, 1);
  const w = intAtLeast(op, "window", o.window, 0), g = intAtLeast(op, "numGlobal", o.numGlobal, 0);
  const nr = intAtLeast(op, "numRandom", o.numRandom, 0);
  const causal = o.causal ?? false;
  const nQb = Math.ceil(L / bs), nKb = Math.ceil(S / bs);
  const lay = new Uint8Array(nQb * nKb);
  const { k0, k1, start } = new Generator(intAtLeast(op, "seed", o.seed, 0)).take(causal ? nQb * nr : nQb * nKb);
  const cand = new Int32Array(nKb);
  for (let r = 0; r < nQb; r++) {
    const row = r * nKb;
    const cEnd = causal ? Math.min(nKb, r + 1) : nKb;
    for (let c = 0; c < cEnd; c++) lay[row + c] = r < g || c < g || Math.abs(r - c) <= w ? 1 : 0;
    let n = 0;
    for (let c = 0; c < cEnd; c++) if (!lay[row + c]) cand[n++] = c;
    // partial Fisher-Yates: the first numRandom of a seeded shuffle of the candidates
    const counter = start + (causal ? r * nr : row);
    for (let t = 0; t < Math.min(nr, n); t++) {
      const pick = t + Math.floor(uniformAt(k0, k1, counter + t) * (n - t));
      const c = cand[pick]!;
      cand[pick] = cand[t]!;
      cand[t] = c;
      lay[row + c] = 1;
    }
  }
  return new Tensor(lay, [nQb, nKb], "bool");
}

/** The BigBird pattern of L queries at positions offset + i over S keys (offset > 0 only when causal). */
export function bigbirdPattern(L: number, S: number, o: Omit<BigBirdOptions, "scale" | "needWeights">, offset = 0): SparsePattern {
  const causal = o.causal ?? false;
  const lay = bigbirdLayout(causal ? offset + L : L, S, o);
  return layoutPattern(L, S, lay.data, lay.shape[1]!, o.blockSize, causal, offset);
}

export function bigbirdAttention(q: Tensor, k: Tensor, v: Tensor, opts: BigBirdOptions): AttentionResult {
  const op = "bigbirdAttention";
  const c = canonQKV(op, q, k, v);
  return sparseAttention(q, k, v, bigbirdPattern(c.L, c.S, opts), opts, op);
}
