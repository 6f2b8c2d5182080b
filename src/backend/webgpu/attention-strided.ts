/**
 * Attention over operands at any row strides (AttentionArgs' qStrides, kStrides, vStrides,
 * oStrides): the kernels of attention.ts read and write them where they lie. dk and dv written by
 * one dispatch into overlapping windows of one buffer (the interleaved gradients of a packed
 * projection, dqkv [B, T, 3, H, D]), which WebGPU does not bind as two arrays, are written through
 * one binding of the whole buffer at their offsets; a buffer larger than a binding may be takes a
 * stand-in: dv is computed into a dense scratch array and scattered into place (its own elements
 * only), dk and dq written where they lie.
 *
 * ```ts
 * // q, k, v: views of a packed projection qkv [B, T, 3, H, D]
 * stridedAttentionForward(ctx, out, lse, q, k, v, { ...args, qStrides: [3 * T * E, D, 3 * E], ... });
 * ```
 */
import { rowsSize, type Rows } from "../rows.js";
import { attentionBackward, attentionForward, type GpuAttentionArgs } from "./attention.js";
import type { GpuArray, KernelContext } from "./context.js";
import { stridedScatter } from "./copy.js";
import { bufferBytes, wholeBuffer } from "./shared-bindings.js";

/** As attention.ts's attentionForward: q, k, v and out at a's strides. */
export function stridedAttentionForward(ctx: KernelContext, out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray,
  v: GpuArray, a: GpuAttentionArgs): void {
  attentionForward(ctx, out, lse, q, k, v, a);
}

/** The bytes [start, end) of a's elements in its buffer. */
const extent = (x: GpuArray): [number, number] => [x.offset * 4, (x.offset + x.length) * 4];

function overlapping(x: GpuArray, y: GpuArray): boolean {
  const [a0, a1] = extent(x), [b0, b1] = extent(y);
  return x.buffer === y.buffer && a0 < b1 && b0 < a1;
}

/** As attention.ts's attentionBackward, over operands at a's strides. */
export function stridedAttentionBackward(ctx: KernelContext, dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray,
  q: GpuArray, k: GpuArray, v: GpuArray, out: GpuArray, lse: GpuArray, a: GpuAttentionArgs): void {
  if (!overlapping(dk, dv)) {
    attentionBackward(ctx, dq, dk, dv, dout, q, k, v, out, lse, a);
    return;
  }
  if (bufferBytes(dk.buffer) <= ctx.maxBindingBytes) {
    // the buffer bound whole, once, and dk and dv written at their offsets in it
    attentionBackward(ctx, dq, dk, dv, dout, q, k, v, out, lse, a, undefined, wholeBuffer(dk));
    return;
  }
  const r: Rows = { st: a.vStrides, B: a.B, heads: a.Hkv, rows: a.S, n: a.Dv };
  const dense = ctx.scratch(rowsSize(r));
  try {
    attentionBackward(ctx, dq, dk, dense, dout, q, k, v, out, lse, a, { dq: a.qStrides, dk: a.kStrides, dv: [r.heads * r.rows * r.n, r.rows * r.n, r.n] });
    stridedScatter(ctx, dv, dense, [r.B, r.heads, r.rows, r.n], [...r.st, 1]);
  } finally {
    ctx.release(dense);
  }
}
