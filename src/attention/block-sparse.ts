/**
 * Block-sparse attention with a user-given block layout, exact: layout [ceil(L/bs), ceil(S/bs)]
 * bool, **true = the block is computed** (query block r may attend key block c); the last blocks
 * may be partial. Cost O(nnz blocks · bs² · D). Causal: a lower-triangular layout, and within the
 * diagonal blocks only keys j <= i.
 *
 * ```ts
 * const layout = tensor([[true, false], [true, true]], { dtype: "bool" });
 * const { output } = blockSparseAttention(q, k, v, { layout, blockSize: 4 }); // q [.., 8, D]
 * ```
 */
import type { SparsePattern } from "../backend/backend.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";
import { buildPattern, sparseAttention, type SparseAttentionOptions } from "./sparse.js";

export interface BlockSparseOptions extends SparseAttentionOptions {
  /** bool [ceil(L/blockSize), ceil(S/blockSize)]: true where a query block attends a key block. */
  layout: Tensor;
  blockSize: number;
  /** Only keys j <= i; the layout must then be lower-triangular (no block above the diagonal). */
  causal?: boolean;
}

/**
 * A pattern from a layout given as a row-major 0/1 array [nQb, nKb]; query i sits at position
 * p = offset + i (row block floor(p / blockSize)). Causal: each row's keys stop at p.
 */
export function layoutPattern(L: number, S: number, layout: ArrayLike<number>, nKb: number, blockSize: number,
  causal = false, offset = 0): SparsePattern {
  const bs = blockSize;
  return buildPattern(L, S, (i, add) => {
    const p = offset + i, rb = Math.floor(p / bs);
    for (let c = 0; c < nKb; c++) {
      if (!layout[rb * nKb + c]) continue;
      let e = c + 1;
      while (e < nKb && layout[rb * nKb + e]) e++; // merge a run of blocks into one range
      add(c * bs, causal ? Math.min(e * bs, p + 1) : e * bs);
      c = e;
    }
  }, causal ? undefined : (i) => Math.max(0, i - ((offset + i) % bs)));
}

/** Throws unless no block of layout [nQb, nKb] lies above the diagonal (c > r). */
export function checkLowerTriangular(op: string, arg: string, layout: Tensor): void {
  const nQb = layout.shape[0]!, nKb = layout.shape[1]!;
  for (let r = 0; r < nQb; r++) {
    for (let c = r + 1; c < nKb; c++) {
      if (layout.data[r * nKb + c]) throw new ValueError(op, arg, "a lower-triangular block layout for causal attention (no block c > r)", `block (${r}, ${c}) set`);
    }
  }
}

export function blockSparsePattern(L: number, S: number, layout: Tensor, blockSize: number, op = "blockSparsePattern", causal = false): SparsePattern {
  expectTensor(layout, "layout", op);
  if (layout.dtype !== "bool") throw new DTypeError(op, "layout", "bool", layout.dtype);
  const bs = intAtLeast(op, "blockSize", blockSize, 1);
  const nQb = Math.ceil(L / bs), nKb = Math.ceil(S / bs);
  if (layout.rank !== 2 || layout.shape[0] !== nQb || layout.shape[1] !== nKb) {
    throw new ShapeError(op, "layout", fmtShape([nQb, nKb]), fmtShape(layout.shape));
  }
  if (causal) checkLowerTriangular(op, "layout", layout);
  return layoutPattern(L, S, layout.data, nKb, bs, causal);
}

export function blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, opts: BlockSparseOptions): AttentionResult {
  const op = "blockSparseAttention";
  const c = canonQKV(op, q, k, v);
  return sparseAttention(q, k, v, blockSparsePattern(c.L, c.S, opts.layout, opts.blockSize, op, opts.causal ?? false), opts, op);
}
