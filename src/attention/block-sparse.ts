/**
 * Block-sparse attention with a user-given block layout, exact: layout [ceil(L/bs), ceil(S/bs)]
 * bool, **true = the block is computed** (query block r may attend key block c); the last blocks
 * may be partial. Cost O(nnz blocks · bs² · D).
 *
 * ```ts
 * const layout = tensor([[true, false], [true, true]], { dtype: "bool" });
 * const { output } = blockSparseAttention(q, k, v, { layout, blockSize: 4 }); // q [.., 8, D]
 * ```
 */
import type { SparsePattern } from "../backend/backend.js";
import { DTypeError, ShapeError, fmtShape } from "../tensor/errors.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast } from "./canon.js";
import type { AttentionResult } from "./sdpa.js";
import { buildPattern, sparseAttention, type SparseAttentionOptions } from "./sparse.js";

export interface BlockSparseOptions extends SparseAttentionOptions {
  /** bool [ceil(L/blockSize), ceil(S/blockSize)]: true where a query block attends a key block. */
  layout: Tensor;
  blockSize: number;
}

/** A pattern from a layout given as a row-major 0/1 array [nQb, nKb]. */
export function layoutPattern(L: number, S: number, layout: ArrayLike<number>, nKb: number, blockSize: number): SparsePattern {
  const bs = blockSize;
  return buildPattern(L, S, (i, add) => {
    const rb = Math.floor(i / bs);
    for (let c = 0; c < nKb; c++) {
      if (!layout[rb * nKb + c]) continue;
      let e = c + 1;
      while (e < nKb && layout[rb * nKb + e]) e++; // merge a run of blocks into one range
      add(c * bs, e * bs);
      c = e;
    }
  }, (i) => i - (i % bs));
}

export function blockSparsePattern(L: number, S: number, layout: Tensor, blockSize: number, op = "blockSparsePattern"): SparsePattern {
  expectTensor(layout, "layout", op);
  if (layout.dtype !== "bool") throw new DTypeError(op, "layout", "bool", layout.dtype);
  const bs = intAtLeast(op, "blockSize", blockSize, 1);
  const nQb = Math.ceil(L / bs), nKb = Math.ceil(S / bs);
  if (layout.rank !== 2 || layout.shape[0] !== nQb || layout.shape[1] !== nKb) {
    throw new ShapeError(op, "layout", fmtShape([nQb, nKb]), fmtShape(layout.shape));
  }
  return layoutPattern(L, S, layout.data, nKb, bs);
}

export function blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, opts: BlockSparseOptions): AttentionResult {
  const op = "blockSparseAttention";
  const c = canonQKV(op, q, k, v);
  return sparseAttention(q, k, v, blockSparsePattern(c.L, c.S, opts.layout, opts.blockSize, op), opts, op);
}
