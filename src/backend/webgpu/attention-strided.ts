/**
 * Attention over operands at any strides (AttentionArgs' qStrides, kStrides, vStrides, oStrides):
 * an operand that is not dense is copied into a dense scratch array by the strided copy, the dense
 * kernels of attention.ts run, and outputs that are not dense are scattered back (writing only
 * their own elements, so dq, dk and dv may be interleaved views of one buffer). Dense operands go
 * straight through.
 *
 * ```ts
 * // q, k, v: views of a packed projection qkv [B, T, 3, H, D]
 * stridedAttentionForward(ctx, out, lse, q, k, v, { ...args, qStrides: [3 * T * E, D, 3 * E], ... });
 * ```
 */
import { contiguousLayouts } from "../backend.js";
import { isDense, rowsSize, type Rows } from "../rows.js";
import { attentionBackward, attentionForward, type GpuAttentionArgs } from "./attention.js";
import type { GpuArray, KernelContext } from "./context.js";
import { stridedCopy, stridedScatter } from "./copy.js";

/** The layouts of q, k, v and out (dq, dk, dv and dout share them). */
function layouts(a: GpuAttentionArgs): { q: Rows; k: Rows; v: Rows; o: Rows } {
  const { B, H, Hkv, L, S, D, Dv } = a;
  return {
    q: { st: a.qStrides, B, heads: H, rows: L, n: D }, k: { st: a.kStrides, B, heads: Hkv, rows: S, n: D },
    v: { st: a.vStrides, B, heads: Hkv, rows: S, n: Dv }, o: { st: a.oStrides, B, heads: H, rows: L, n: Dv },
  };
}

const shapeOf = (r: Rows): number[] => [r.B, r.heads, r.rows, r.n];
const stridesOf = (r: Rows): number[] => [...r.st, 1];

/** The dense stand-ins of one call's strided operands. */
class Staging {
  private readonly scratch: GpuArray[] = [];
  private readonly back: [GpuArray, GpuArray, Rows][] = [];
  constructor(private readonly ctx: KernelContext) {}

  /** An input as a dense array. */
  input(x: GpuArray, r: Rows): GpuArray {
    if (isDense(r)) return x;
    const c = this.ctx.scratch(rowsSize(r));
    stridedCopy(this.ctx, c, x, shapeOf(r), stridesOf(r));
    this.scratch.push(c);
    return c;
  }

  /** An output as a dense array, scattered into x by `finish`. */
  output(x: GpuArray, r: Rows): GpuArray {
    if (isDense(r)) return x;
    const c = this.ctx.scratch(rowsSize(r));
    this.scratch.push(c);
    this.back.push([c, x, r]);
    return c;
  }

  /** Scatters the outputs into place. */
  scatter(): void {
    for (const [c, x, r] of this.back) stridedScatter(this.ctx, x, c, shapeOf(r), stridesOf(r));
  }

  release(): void {
    for (const c of this.scratch) this.ctx.release(c);
  }
}

/** As attention.ts's attentionForward, over operands at a's strides. */
export function stridedAttentionForward(ctx: KernelContext, out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray,
  v: GpuArray, a: GpuAttentionArgs): void {
  const r = layouts(a), s = new Staging(ctx);
  const dense = { ...a, ...contiguousLayouts(a) };
  try {
    attentionForward(ctx, s.output(out, r.o), lse, s.input(q, r.q), s.input(k, r.k), s.input(v, r.v), dense);
    s.scatter();
  } finally {
    s.release();
  }
}

/** As attention.ts's attentionBackward, over operands at a's strides. */
export function stridedAttentionBackward(ctx: KernelContext, dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray,
  q: GpuArray, k: GpuArray, v: GpuArray, out: GpuArray, lse: GpuArray, a: GpuAttentionArgs): void {
  const r = layouts(a), s = new Staging(ctx);
  const dense = { ...a, ...contiguousLayouts(a) };
  try {
    attentionBackward(ctx, s.output(dq, r.q), s.output(dk, r.k), s.output(dv, r.v), s.input(dout, r.o), s.input(q, r.q),
      s.input(k, r.k), s.input(v, r.v), s.input(out, r.o), lse, dense);
    s.scatter();
  } finally {
    s.release();
  }
}
