/**
 * Sliding window + global tokens (Longformer), exact and O(N·(w + g)) plus O(g·N) for the global
 * rows: query i attends key j iff |i - j| <= w OR i < g OR j < g — the first g tokens attend
 * everywhere and are attended by all. Causal: the same pairs with j <= i.
 *
 * ```ts
 * const q = randn([1, 2, 6, 4]), k = randn([1, 2, 6, 4]), v = randn([1, 2, 6, 4]);
 * const { output } = longformerAttention(q, k, v, { window: 1, numGlobal: 1 }); // [1, 2, 6, 4]
 * ```
 */
import type { SparsePattern } from "../backend/backend.js";
import type { Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";
import { buildPattern, sparseAttention, type SparseAttentionOptions } from "./sparse.js";

export interface LongformerOptions extends SparseAttentionOptions {
  window: number;
  /** The first numGlobal tokens are global. */
  numGlobal: number;
  /** Only keys j <= i (the pattern above intersected with the causal mask). */
  causal?: boolean;
}

/** The Longformer pattern (causal: keys j <= p only), query i at position p = offset + i. */
export function longformerPattern(L: number, S: number, window: number, numGlobal: number, causal = false, offset = 0): SparsePattern {
  const g = numGlobal;
  return buildPattern(L, S, (i, add) => {
    const p = offset + i;
    const hi = causal ? p + 1 : p + window + 1;
    if (p < g) { add(0, causal ? p + 1 : S); return; }
    const lo = Math.max(0, p - window);
    if (lo <= g) { add(0, hi); return; }
    add(0, g);
    add(lo, hi);
  });
}

export function longformerAttention(q: Tensor, k: Tensor, v: Tensor, opts: LongformerOptions): AttentionResult {
  const op = "longformerAttention";
  const c = canonQKV(op, q, k, v);
  const w = intAtLeast(op, "window", opts.window, 0);
  const g = intAtLeast(op, "numGlobal", opts.numGlobal, 0);
  return sparseAttention(q, k, v, longformerPattern(c.L, c.S, w, g, opts.causal ?? false), opts, op);
}
