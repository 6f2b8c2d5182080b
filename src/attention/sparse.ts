/**
 * Sparse attention over a fixed pattern of allowed (query, key) pairs, exact: the same numbers as
 * scaledDotProductAttention with the equivalent bool mask (patternMask), at O(nnz·D) cost and
 * O(L + S) memory per head. The pattern builders live in window.ts, global.ts, bigbird.ts and
 * block-sparse.ts; this file holds the pattern type, its builder and the shared entry point.
 *
 * ```ts
 * const p = buildPattern(6, 6, (i, add) => add(Math.max(0, i - 1), Math.min(6, i + 2)));
 * const { output } = sparseAttention(q, k, v, p);            // = sdpa with attnMask: patternMask(p)
 * ```
 */
import type { SparsePattern } from "../backend/backend.js";
import { sparseAttentionOp } from "../ops/sparse-attention.js";
import { reshape } from "../ops/shape.js";
import { ShapeError, fmtShape } from "../tensor/errors.js";
import type { DType } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { canonQKV, scaleOf, to4d } from "./canon.js";
import { scaledDotProductAttention, type AttentionResult } from "./sdpa.js";

export type { SparsePattern } from "../backend/backend.js";

export interface SparseAttentionOptions {
  /** Score scale; default 1/sqrt(D). */
  scale?: number;
  /** Also return the weights [..., L, S] (exact zeros outside the pattern; O(L·S) memory). */
  needWeights?: boolean;
}

/** Adds the keys start, start + step, ... < end (a range disjoint from the row's others). */
export type AddRange = (start: number, end: number, step?: number) => void;

/**
 * A pattern from a function listing each row's key ranges. Rows for which `shareWith(i)` returns
 * an earlier row reuse that row's ranges (block patterns).
 */
export function buildPattern(L: number, S: number, rowRanges: (i: number, add: AddRange) => void,
  shareWith?: (i: number) => number): SparsePattern {
  const rowLo = new Int32Array(L), rowHi = new Int32Array(L);
  let spans = new Int32Array(3 * Math.max(4, L));
  let n = 0, nnz = 0, maxRow = 0, rowCount = 0;
  const add: AddRange = (start, end, step = 1) => {
    const s = Math.max(0, start), e = Math.min(S, end);
    if (e <= s) return;
    if (3 * n + 3 > spans.length) {
      const bigger = new Int32Array(spans.length * 2);
      bigger.set(spans);
      spans = bigger;
    }
    spans[3 * n] = s;
    spans[3 * n + 1] = e;
    spans[3 * n + 2] = step;
    n++;
    rowCount += Math.floor((e - s + step - 1) / step);
  };
  for (let i = 0; i < L; i++) {
    const src = shareWith ? shareWith(i) : i;
    if (src !== i) {
      rowLo[i] = rowLo[src]!;
      rowHi[i] = rowHi[src]!;
      let c = 0;
      for (let r = rowLo[i]!; r < rowHi[i]!; r++) c += Math.floor((spans[3 * r + 1]! - spans[3 * r]! + spans[3 * r + 2]! - 1) / spans[3 * r + 2]!);
      nnz += c;
      continue;
    }
    rowLo[i] = n;
    rowCount = 0;
    rowRanges(i, add);
    rowHi[i] = n;
    nnz += rowCount;
    if (rowCount > maxRow) maxRow = rowCount;
  }
  return { L, S, rowLo, rowHi, spans: spans.slice(0, 3 * n), maxRow, nnz };
}

/** The bool mask [L, S] of a pattern: true where a query may NOT attend (O(L·S); for checks and weights). */
export function patternMask(p: SparsePattern): Tensor {
  const m = new Uint8Array(p.L * p.S).fill(1);
  for (let i = 0; i < p.L; i++) {
    for (let r = p.rowLo[i]!; r < p.rowHi[i]!; r++) {
      const e = p.spans[3 * r + 1]!, st = p.spans[3 * r + 2]!;
      for (let j = p.spans[3 * r]!; j < e; j += st) m[i * p.S + j] = 0;
    }
  }
  return new Tensor(m, [p.L, p.S], "bool");
}

/**
 * The additive mask [L, S] of a pattern in `dtype`: 0 where a query may attend, -Infinity elsewhere
 * (the same scores as patternMask's bool mask, added instead of filled, so it also serves device
 * tensors).
 */
function patternScoreMask(p: SparsePattern, dtype: DType): Tensor {
  const m = (dtype === "float64" ? new Float64Array(p.L * p.S) : new Float32Array(p.L * p.S)).fill(-Infinity);
  for (let i = 0; i < p.L; i++) {
    for (let r = p.rowLo[i]!; r < p.rowHi[i]!; r++) {
      const e = p.spans[3 * r + 1]!, st = p.spans[3 * r + 2]!;
      for (let j = p.spans[3 * r]!; j < e; j += st) m[i * p.S + j] = 0;
    }
  }
  return new Tensor(m, [p.L, p.S], dtype === "float64" ? "float64" : "float32");
}

/**
 * Attention restricted to a pattern. q [..., L, D], k [..., S, D] (or fewer kv heads on dim -3),
 * v [..., S, Dv] -> output [..., L, Dv]. With needWeights the weights come from the plain
 * composition with the pattern's mask (the output still from the sparse kernel).
 */
export function sparseAttention(q: Tensor, k: Tensor, v: Tensor, pattern: SparsePattern, opts: SparseAttentionOptions = {},
  op = "sparseAttention"): AttentionResult {
  const c = canonQKV(op, q, k, v);
  if (pattern.L !== c.L || pattern.S !== c.S) {
    throw new ShapeError(op, "pattern", `a pattern for L=${c.L}, S=${c.S}`, fmtShape([pattern.L, pattern.S]));
  }
  const scale = scaleOf(op, opts.scale, c.D);
  const [q4, k4, v4] = to4d(q, k, v, c);
  const output = reshape(sparseAttentionOp(q4, k4, v4, pattern, scale), [...c.lead, c.L, c.Dv]);
  const weights = opts.needWeights
    ? scaledDotProductAttention(q, k, v, { attnMask: patternScoreMask(pattern, q.dtype), scale, needWeights: true }).weights
    : null;
  return { output, weights };
}
