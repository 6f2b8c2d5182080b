/**
 * Sliding-window attention, exact and O(N·w): query i attends key j iff |i - j| <= w (symmetric),
 * or i - w <= j <= i (causal); the dilated window attends j = i + t·dilation for |t| <= w
 * (t <= 0 when causal). Identical to scaledDotProductAttention with the bool mask of the pattern.
 *
 * ```ts
 * const q = randn([1, 2, 6, 4]), k = randn([1, 2, 6, 4]), v = randn([1, 2, 6, 4]);
 * const { output } = windowAttention(q, k, v, { window: 1 });                 // [1, 2, 6, 4]
 * const { output: o2 } = dilatedWindowAttention(q, k, v, { window: 1, dilation: 2 });
 * ```
 */
import type { SparsePattern } from "../backend/backend.js";
import type { Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";
import { buildPattern, sparseAttention, type SparseAttentionOptions } from "./sparse.js";

export interface WindowOptions extends SparseAttentionOptions {
  /** Keys within `window` positions on each side (only before, when causal). */
  window: number;
  causal?: boolean;
}

export interface DilatedWindowOptions extends WindowOptions {
  /** Distance between attended keys (1 = a plain window). */
  dilation: number;
}

/**
 * Pattern of the (causal) sliding window over L queries and S keys; query i sits at position
 * offset + i (offset > 0: the new rows of a decoder step after `offset` cached tokens).
 */
export function windowPattern(L: number, S: number, window: number, causal = false, offset = 0): SparsePattern {
  return buildPattern(L, S, (i, add) => {
    const p = offset + i;
    add(p - window, causal ? p + 1 : p + window + 1);
  });
}

/** Pattern of the dilated window: keys p + t·dilation, |t| <= window (t <= 0 when causal), p = offset + i. */
export function dilatedWindowPattern(L: number, S: number, window: number, dilation: number, causal = false, offset = 0): SparsePattern {
  return buildPattern(L, S, (i, add) => {
    const p = offset + i;
    const tMin = Math.max(-window, -Math.floor(p / dilation));
    const tMax = causal ? 0 : Math.min(window, Math.floor((S - 1 - p) / dilation));
    if (tMax >= tMin) add(p + tMin * dilation, p + tMax * dilation + 1, dilation);
  });
}

export function windowAttention(q: Tensor, k: Tensor, v: Tensor, opts: WindowOptions): AttentionResult {
  const op = "windowAttention";
  const c = canonQKV(op, q, k, v);
  const w = intAtLeast(op, "window", opts.window, 0);
  return sparseAttention(q, k, v, windowPattern(c.L, c.S, w, opts.causal ?? false), opts, op);
}

export function dilatedWindowAttention(q: Tensor, k: Tensor, v: Tensor, opts: DilatedWindowOptions): AttentionResult {
  const op = "dilatedWindowAttention";
  const c = canonQKV(op, q, k, v);
  const w = intAtLeast(op, "window", opts.window, 0);
  const d = intAtLeast(op, "dilation", opts.dilation, 1);
  return sparseAttention(q, k, v, dilatedWindowPattern(c.L, c.S, w, d, opts.causal ?? false), opts, op);
}
