/**
 * Shared validation of the efficient attention variants: q [..., L, D], k [..., S, D],
 * v [..., S, Dv] (k/v may have fewer heads on dim -3 that divide q's: grouped-query attention),
 * viewed as [B, H, L, D] / [B, Hkv, S, D] for the kernels.
 *
 * ```ts
 * const c = canonQKV("windowAttention", q, k, v);
 * const [q4, k4, v4] = to4d(q, k, v, c);
 * ```
 */
import { indexSelect, reshape } from "../ops/shape.js";
import { floatOf } from "../ops/util.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { sameShape } from "../tensor/shape.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";

export interface Canon {
  /** Leading dims of q (everything before L, D). */
  lead: number[];
  B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number;
}

export function canonQKV(op: string, q: Tensor, k: Tensor, v: Tensor): Canon {
  expectTensor(q, "q", op);
  expectTensor(k, "k", op);
  expectTensor(v, "v", op);
  const dtype = floatOf(q, "q", op);
  for (const [n, t] of [["k", k], ["v", v]] as const) if (t.dtype !== dtype) throw new DTypeError(op, n, dtype, t.dtype);
  if (q.rank < 2) throw new ShapeError(op, "q", "[..., L, D]", fmtShape(q.shape));
  const r = q.rank;
  const lead = q.shape.slice(0, -2);
  const L = q.shape[r - 2]!, D = q.shape[r - 1]!;
  const H = r >= 3 ? lead[lead.length - 1]! : 1;
  const B = lead.slice(0, -1).reduce((a, b) => a * b, 1);
  const kExp = `[${[...lead.map(String), "S", String(D)].join(", ")}]`;
  if (k.rank !== r || k.shape[r - 1] !== D) throw new ShapeError(op, "k", kExp, fmtShape(k.shape));
  const kLead = k.shape.slice(0, -2);
  let Hkv = H;
  if (!sameShape(kLead, lead)) {
    const kh = r >= 3 ? kLead[kLead.length - 1]! : -1;
    const gqa = r >= 3 && sameShape(kLead.slice(0, -1), lead.slice(0, -1)) && kh > 0 && H % kh === 0;
    if (!gqa) throw new ShapeError(op, "k", kExp, fmtShape(k.shape));
    Hkv = kh;
  }
  const S = k.shape[r - 2]!;
  const Dv = v.shape[r - 1] ?? 0;
  if (v.rank !== r || !sameShape(v.shape, [...k.shape.slice(0, -1), Dv])) {
    throw new ShapeError(op, "v", `[${[...kLead.map(String), String(S), "Dv"].join(", ")}]`, fmtShape(v.shape));
  }
  return { lead, B, H, Hkv, L, S, D, Dv };
}

/** q, k, v as [B, H, L, D], [B, Hkv, S, D], [B, Hkv, S, Dv] (views). */
export function to4d(q: Tensor, k: Tensor, v: Tensor, c: Canon): [Tensor, Tensor, Tensor] {
  return [reshape(q, [c.B, c.H, c.L, c.D]), reshape(k, [c.B, c.Hkv, c.S, c.D]), reshape(v, [c.B, c.Hkv, c.S, c.Dv])];
}

/** The score scale: `scale` when given (finite), else 1/sqrt(D). */
export function scaleOf(op: string, scale: number | undefined, D: number): number {
  if (scale === undefined) return 1 / Math.sqrt(D);
  if (typeof scale !== "number" || !Number.isFinite(scale)) throw new ValueError(op, "scale", "a finite number", String(scale));
  return scale;
}

/** Throws unless v is an integer >= min. */
export function intAtLeast(op: string, arg: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ValueError(op, arg, `an integer >= ${min}`, String(v));
  return v;
}

/** Repeats each kv head G times along dim -3 (torch's repeat_interleave): k / v of grouped-query attention for a plain composition. */
export function repeatKv(t: Tensor, G: number): Tensor {
  if (G === 1) return t;
  const Hkv = t.shape[t.rank - 3]!;
  const idx: number[] = [];
  for (let h = 0; h < Hkv * G; h++) idx.push(Math.floor(h / G));
  return indexSelect(t, t.rank - 3, idx);
}
