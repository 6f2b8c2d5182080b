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
import { maskFor } from "./attention.js";
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
 * qkv [B, T, 3 * heads * D] -> softmax(q k^T · scale + mask) v [B, T, heads * D], with q, k, v the
 * three [B, T, heads, D] blocks of qkv's last dim (see the file comment).
 */
export function packedSelfAttention(qkv: Tensor, heads: number, opts: PackedAttentionOptions = {}): Tensor {
  expectTensor(qkv, "qkv", OP);
  const dtype = floatOf(qkv, "qkv", OP);
  if (!Number.isInteger(heads) || heads < 1) throw new ValueError(OP, "heads", "a positive integer", String(heads));
  if (qkv.rank !== 3 || qkv.shape[2]! % (3 * heads) !== 0 || qkv.shape[2] === 0) {
    throw new ShapeError(OP, "qkv", `[B, T, 3 * ${heads} * D] (the last dim a positive multiple of ${3 * heads})`, fmtShape(qkv.shape));
  }
  const [B, T, W] = qkv.shape as [number, number, number];
  const H = heads, E = W / 3, D = E / H;
  const m = opts.attnMask ?? null;
  if (m !== null) {
    expectTensor(m, "attnMask", OP);
    if (m.dtype !== "bool" && m.dtype !== "float32" && m.dtype !== "float64") throw new DTypeError(OP, "attnMask", "bool or float", m.dtype);
    if (!broadcastsTo(m.shape, [B, H, T, T])) throw new ShapeError(OP, "attnMask", `a shape broadcastable to ${fmtShape([B, H, T, T])}`, fmtShape(m.shape));
    if (m.dtype !== "bool" && m.requiresGrad) throw new ValueError(OP, "attnMask", "a mask that needs no gradient", "a float mask with requiresGrad");
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!(typeof scale === "number" && Number.isFinite(scale))) throw new ValueError(OP, "scale", "a finite number", String(scale));
  const p = opts.dropoutP ?? 0;
  checkDropoutP(p, OP, "dropoutP");

  const mask = m ? fusedMask(m, [B, H], T, T, dtype) : null;
  const seed = p > 0 ? (opts.generator ?? defaultGenerator).take(B * H * T * T) : { k0: 0, k1: 0, start: 0 };
  // q, k, v at offsets 0, E, 2E of each [3E] row; out [B, T, H, D]
  const inRows: RowStrides = [T * W, D, W], outRows: RowStrides = [T * E, D, E];
  const be = kernelsFor(dtype);
  const saved: Tensor[] = []; // what only the backward reads: lse, and on a device the mask
  const maskArr = maskFor(be, mask, saved);
  const args: AttentionArgs<KernelArray> = {
    B, H, Hkv: H, L: T, S: T, D, Dv: D, scale, causal: opts.isCausal ?? false,
    qStrides: inRows, kStrides: inRows, vStrides: inRows, oStrides: outRows,
    mask: maskArr,
    maskStrideB: mask?.strideB ?? 0, maskStrideH: mask?.strideH ?? 0, maskStrideL: mask?.strideL ?? 0,
    dropoutP: p, seedK0: seed.k0, seedK1: seed.k1, seedStart: seed.start,
  };
  // the q, k and v blocks of a [B, T, 3E] array as views from their first element
  const blocks = (t: Tensor): [KernelArray, KernelArray, KernelArray] => {
    const x = arrayOf(t, be), n = t.size;
    return [be.view(x, 0, n), be.view(x, E, n - E), be.view(x, 2 * E, n - 2 * E)];
  };
  const out = emptyOn(be, [B, T, E], dtype);
  const lse = emptyOn(be, [B, H, T], dtype);
  be.attentionForward(arrayOf(out, be), arrayOf(lse, be), ...blocks(qkv), args);
  return attach(out, OP, [qkv], (g) => {
    // dq, dk and dv interleave in dqkv as q, k and v do in qkv, and together cover it
    const dqkv = emptyOn(be, qkv.shape, dtype);
    be.attentionBackward(...blocks(dqkv), arrayOf(g, be), ...blocks(qkv), arrayOf(out, be), arrayOf(lse, be), args);
    return [dqkv];
  }, [lse, ...saved]);
}

const HEADS_OP = "headsAttention";

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
  if (!Number.isInteger(heads) || heads < 1) throw new ValueError(HEADS_OP, "heads", "a positive integer", String(heads));
  for (const [t, name] of [[k, "k"], [v, "v"]] as const) if (t.dtype !== dtype) throw new DTypeError(HEADS_OP, name, dtype, t.dtype);
  const rows = (t: Tensor): boolean => t.rank === 3 && t.shape[2]! % heads === 0 && t.shape[2]! > 0;
  if (!rows(q)) throw new ShapeError(HEADS_OP, "q", `[B, L, ${heads} * D] (the last dim a positive multiple of ${heads})`, fmtShape(q.shape));
  const [B, L, E] = q.shape as [number, number, number];
  if (!rows(k) || k.shape[0] !== B || k.shape[2] !== E) throw new ShapeError(HEADS_OP, "k", `[${B}, S, ${E}]`, fmtShape(k.shape));
  const S = k.shape[1]!;
  if (!rows(v) || v.shape[0] !== B || v.shape[1] !== S) throw new ShapeError(HEADS_OP, "v", `[${B}, ${S}, ${heads} * Dv]`, fmtShape(v.shape));
  const H = heads, D = E / H, Ev = v.shape[2]!, Dv = Ev / H;
  const m = opts.attnMask ?? null;
  if (m !== null) {
    expectTensor(m, "attnMask", HEADS_OP);
    if (m.dtype !== "bool" && m.dtype !== "float32" && m.dtype !== "float64") throw new DTypeError(HEADS_OP, "attnMask", "bool or float", m.dtype);
    if (!broadcastsTo(m.shape, [B, H, L, S])) throw new ShapeError(HEADS_OP, "attnMask", `a shape broadcastable to ${fmtShape([B, H, L, S])}`, fmtShape(m.shape));
    if (m.dtype !== "bool" && m.requiresGrad) throw new ValueError(HEADS_OP, "attnMask", "a mask that needs no gradient", "a float mask with requiresGrad");
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!(typeof scale === "number" && Number.isFinite(scale))) throw new ValueError(HEADS_OP, "scale", "a finite number", String(scale));
  const p = opts.dropoutP ?? 0;
  checkDropoutP(p, HEADS_OP, "dropoutP");

  const mask = m ? fusedMask(m, [B, H], L, S, dtype) : null;
  const seed = p > 0 ? (opts.generator ?? defaultGenerator).take(B * H * L * S) : { k0: 0, k1: 0, start: 0 };
  // element (b, h, i, d) of a [B, n, H * W] operand at b n H W + h W + i H W + d
  const rowsOf = (n: number, w: number): RowStrides => [n * H * w, w, H * w];
  const be = kernelsFor(dtype);
  const saved: Tensor[] = []; // what only the backward reads: lse, and on a device the mask
  const maskArr = maskFor(be, mask, saved);
  const args: AttentionArgs<KernelArray> = {
    B, H, Hkv: H, L, S, D, Dv, scale, causal: opts.isCausal ?? false,
    qStrides: rowsOf(L, D), kStrides: rowsOf(S, D), vStrides: rowsOf(S, Dv), oStrides: rowsOf(L, Dv),
    mask: maskArr,
    maskStrideB: mask?.strideB ?? 0, maskStrideH: mask?.strideH ?? 0, maskStrideL: mask?.strideL ?? 0,
    dropoutP: p, seedK0: seed.k0, seedK1: seed.k1, seedStart: seed.start,
  };
  const out = emptyOn(be, [B, L, Ev], dtype);
  const lse = emptyOn(be, [B, H, L], dtype);
  be.attentionForward(arrayOf(out, be), arrayOf(lse, be), arrayOf(q, be), arrayOf(k, be), arrayOf(v, be), args);
  return attach(out, HEADS_OP, [q, k, v], (g) => {
    const dq = emptyOn(be, q.shape, dtype), dk = emptyOn(be, k.shape, dtype), dv = emptyOn(be, v.shape, dtype);
    be.attentionBackward(arrayOf(dq, be), arrayOf(dk, be), arrayOf(dv, be), arrayOf(g, be), arrayOf(q, be), arrayOf(k, be),
      arrayOf(v, be), arrayOf(out, be), arrayOf(lse, be), args);
    return [dq, dk, dv];
  }, [lse, ...saved]);
}
