/**
 * Self-attention over a packed projection: qkv [B, T, 3 * H * D], whose last dim holds the q, k and v
 * blocks of every token, each [H, D] (timm's `qkv` and torch MultiheadAttention's in_proj layout),
 * -> out [B, T, H * D]. The fused kernel reads q, k and v where the projection put them and writes
 * the output in [B, T, H, D] order, so neither the split into heads nor the merge back is a copy; the
 * backward writes the gradient of qkv [B, T, 3HD] directly. The numbers are those of
 * scaledDotProductAttention over the permuted q, k, v (the same kernel, the same dropout draws).
 * `headsAttention` does the same for separate projections, q [B, L, H * D], k and v [B, S, H * D]
 * (a cross-attention's), each head reading its columns of every row.
 *
 * ```ts
 * const qkv = linear(x, inProjWeight, inProjBias);                   // [B, T, 3E]
 * const out = packedSelfAttention(qkv, 8, { isCausal: true });        // [B, T, E]
 * const o2 = headsAttention(linear(x, wq), linear(mem, wk), linear(mem, wv), 8); // [B, L, E]
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { AttentionArgs, KernelArray, RowStrides } from "../backend/backend.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";
import { broadcastsTo } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { maskFor, type FusedMask } from "./attention.js";
import { fusedMask } from "./fused-mask.js";
import { arrayOf, checkDropoutP, emptyOn, floatOf, kernelsFor } from "./util.js";

export interface PackedAttentionOptions {
  /**
   * bool (true = may not attend) or float (added; no gradient flows to it), broadcastable to
   * [B, H, T, T].
   */
  attnMask?: Tensor | null;
  /** Query i may attend key j only when j <= i. */
  isCausal?: boolean;
  /** Score scale; default 1/sqrt(D). */
  scale?: number;
  /** Dropout on the attention weights (seeded by `generator`). */
  dropoutP?: number;
  generator?: Generator;
}

const OP = "packedSelfAttention";

/**
 * The options checked (for `op`, over [B, H, L, S] scores of D-wide heads) and made ready for the
 * kernels: the fused mask, the scale, the dropout probability and the generator's draw for it
 * (B * H * L * S counters, as scaledDotProductAttention takes them).
 */
function attentionOptions(op: string, opts: PackedAttentionOptions, B: number, H: number, L: number, S: number, D: number,
  dtype: "float32" | "float64"): { mask: FusedMask | null; scale: number; p: number; seed: { k0: number; k1: number; start: number } } {
  const m = opts.attnMask ?? null;
  if (m !== null) {
    expectTensor(m, "attnMask", op);
    if (m.dtype !== "bool" && m.dtype !== "float32" && m.dtype !== "float64") throw new DTypeError(op, "attnMask", "bool or float", m.dtype);
    if (!broadcastsTo(m.shape, [B, H, L, S])) throw new ShapeError(op, "attnMask", `a shape broadcastable to ${fmtShape([B, H, L, S])}`, fmtShape(m.shape));
    if (m.dtype !== "bool" && m.requiresGrad) throw new ValueError(op, "attnMask", "a mask that needs no gradient", "a float mask with requiresGrad");
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!(typeof scale === "number" && Number.isFinite(scale))) throw new ValueError(op, "scale", "a finite number", String(scale));
  const p = opts.dropoutP ?? 0;
  checkDropoutP(p, op, "dropoutP");
  const mask = m ? fusedMask(m, [B, H], L, S, dtype) : null;
  const seed = p > 0 ? (opts.generator ?? defaultGenerator).take(B * H * L * S) : { k0: 0, k1: 0, start: 0 };
  return { mask, scale, p, seed };
}

/**
 * qkv [B, T, 3 * heads * D] -> softmax(q k^T · scale + mask) v [B, T, heads * D], with q, k, v the
 * three [B, T, heads, D] blocks of qkv's last dim (see the file comment).
 */
export function packedSelfAttention(qkv: Tensor, heads: number, opts: PackedAttentionOptions = {}): Tensor {
  expectTensor(qkv, "qkv", OP);
  floatOf(qkv, "qkv", OP);
  checkHeads(OP, heads);
  if (qkv.rank !== 3 || qkv.shape[2]! % (3 * heads) !== 0 || qkv.shape[2] === 0) {
    throw new ShapeError(OP, "qkv", `[B, T, 3 * ${heads} * D] (the last dim a positive multiple of ${3 * heads})`, fmtShape(qkv.shape));
  }
  const [, T, W] = qkv.shape as [number, number, number];
  const E = W / 3, D = E / heads;
  // q, k, v at columns 0, E, 2E of each [3E] row; out [B, T, H, D]
  return rowsAttention(OP, [qkv], [0, 0, 0], [0, E, 2 * E], heads, T, D, D, opts);
}

const HEADS_OP = "headsAttention";
const HEADS_KV_OP = "headsAttentionKV";

/**
 * q [B, L, heads * D], k [B, S, heads * D], v [B, S, heads * Dv] -> out [B, L, heads * Dv]: head h
 * reads columns [h D, (h + 1) D) of q's and k's rows and [h Dv, (h + 1) Dv) of v's, and writes its
 * output at its columns of out's rows; the backward writes dq, dk and dv in the same layouts. The
 * numbers of scaledDotProductAttention over the heads permuted out ([B, heads, n, D]), with the same
 * dropout draws. `attnMask` broadcastable to [B, heads, L, S].
 */
export function headsAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, opts: PackedAttentionOptions = {}): Tensor {
  for (const [t, name] of [[q, "q"], [k, "k"], [v, "v"]] as const) expectTensor(t, name, HEADS_OP);
  const dtype = floatOf(q, "q", HEADS_OP);
  checkHeads(HEADS_OP, heads);
  for (const [t, name] of [[k, "k"], [v, "v"]] as const) if (t.dtype !== dtype) throw new DTypeError(HEADS_OP, name, dtype, t.dtype);
  const [B, , E] = checkQ(HEADS_OP, q, heads);
  if (!rowsOfHeads(k, heads) || k.shape[0] !== B || k.shape[2] !== E) throw new ShapeError(HEADS_OP, "k", `[${B}, S, ${E}]`, fmtShape(k.shape));
  const S = k.shape[1]!;
  if (!rowsOfHeads(v, heads) || v.shape[0] !== B || v.shape[1] !== S) throw new ShapeError(HEADS_OP, "v", `[${B}, ${S}, ${heads} * Dv]`, fmtShape(v.shape));
  return rowsAttention(HEADS_OP, [q, k, v], [0, 1, 2], [0, 0, 0], heads, S, E / heads, v.shape[2]! / heads, opts);
}

/**
 * headsAttention with k and v from one projection: kv [B, S, 2 * heads * D], k's columns then v's
 * (a cross-attention's key and value projected together from its memory) -> out [B, L, heads * D].
 * The backward writes dkv in the same layout.
 */
export function headsAttentionKV(q: Tensor, kv: Tensor, heads: number, opts: PackedAttentionOptions = {}): Tensor {
  for (const [t, name] of [[q, "q"], [kv, "kv"]] as const) expectTensor(t, name, HEADS_KV_OP);
  const dtype = floatOf(q, "q", HEADS_KV_OP);
  checkHeads(HEADS_KV_OP, heads);
  if (kv.dtype !== dtype) throw new DTypeError(HEADS_KV_OP, "kv", dtype, kv.dtype);
  const [B, , E] = checkQ(HEADS_KV_OP, q, heads);
  if (kv.rank !== 3 || kv.shape[0] !== B || kv.shape[2] !== 2 * E) throw new ShapeError(HEADS_KV_OP, "kv", `[${B}, S, ${2 * E}]`, fmtShape(kv.shape));
  return rowsAttention(HEADS_KV_OP, [q, kv], [0, 1, 1], [0, 0, E], heads, kv.shape[1]!, E / heads, E / heads, opts);
}

function checkHeads(op: string, heads: number): void {
  if (!Number.isInteger(heads) || heads < 1) throw new ValueError(op, "heads", "a positive integer", String(heads));
}

/** [B, n, heads * W] with W > 0. */
const rowsOfHeads = (t: Tensor, heads: number): boolean => t.rank === 3 && t.shape[2]! % heads === 0 && t.shape[2]! > 0;

function checkQ(op: string, q: Tensor, heads: number): [number, number, number] {
  if (!rowsOfHeads(q, heads)) throw new ShapeError(op, "q", `[B, L, ${heads} * D] (the last dim a positive multiple of ${heads})`, fmtShape(q.shape));
  return q.shape as [number, number, number];
}

/**
 * The attention of the three ops, the shapes checked: q, k and v are column blocks of the source
 * tensors [B, n, width] (`from[i]` the source of q, k, v; `col[i]` its first column), head h at
 * column h D (h Dv for v) of its block; out [B, L, heads * Dv]. The backward writes each source's
 * gradient in the same layout.
 */
function rowsAttention(op: string, srcs: Tensor[], from: readonly [number, number, number], col: readonly [number, number, number], heads: number,
  S: number, D: number, Dv: number, opts: PackedAttentionOptions): Tensor {
  const q = srcs[from[0]]!;
  const dtype = q.dtype as "float32" | "float64";
  const [B, L] = q.shape as [number, number];
  const H = heads;
  const { mask, scale, p, seed } = attentionOptions(op, opts, B, H, L, S, D, dtype);
  // element (b, h, i, d) of a block of the source from[i]: rows `width` wide, n to a batch, head h at column h w
  const rowsOf = (i: number, n: number, w: number): RowStrides => {
    const width = srcs[from[i]!]!.shape[2]!;
    return [n * width, w, width];
  };
  const be = kernelsFor(dtype);
  const saved: Tensor[] = []; // what only the backward reads: lse, and on a device the mask
  const maskArr = maskFor(be, mask, saved);
  const args: AttentionArgs<KernelArray> = {
    B, H, Hkv: H, L, S, D, Dv, scale, causal: opts.isCausal ?? false,
    qStrides: rowsOf(0, L, D), kStrides: rowsOf(1, S, D), vStrides: rowsOf(2, S, Dv), oStrides: [L * H * Dv, Dv, H * Dv],
    mask: maskArr,
    maskStrideB: mask?.strideB ?? 0, maskStrideH: mask?.strideH ?? 0, maskStrideL: mask?.strideL ?? 0,
    dropoutP: p, seedK0: seed.k0, seedK1: seed.k1, seedStart: seed.start,
  };
  // q, k and v as views of their sources from their first element
  const blocks = (ts: Tensor[]): [KernelArray, KernelArray, KernelArray] => {
    const arrs = ts.map((t) => arrayOf(t, be));
    const view = (i: number): KernelArray => be.view(arrs[from[i]!]!, col[i]!, ts[from[i]!]!.size - col[i]!);
    return [view(0), view(1), view(2)];
  };
  const out = emptyOn(be, [B, L, H * Dv], dtype);
  const lse = emptyOn(be, [B, H, L], dtype);
  be.attentionForward(arrayOf(out, be), arrayOf(lse, be), ...blocks(srcs), args);
  return attach(out, op, srcs, (g) => {
    // the gradients' blocks interleave in each source's gradient as q, k and v do in the sources
    const dsrcs = srcs.map((t) => emptyOn(be, t.shape, dtype));
    be.attentionBackward(...blocks(dsrcs), arrayOf(g, be), ...blocks(srcs), arrayOf(out, be), arrayOf(lse, be), args);
    return dsrcs;
  }, [lse, ...saved]);
}
