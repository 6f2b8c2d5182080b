/**
 * ALiBi (Press et al., "Train Short, Test Long"): no position embeddings; each head h adds
 * -m_h · distance to its attention scores. Slopes as the reference code and BLOOM: for a power of
 * two H, m_h = 2^(-8h/H), h = 1..H; otherwise, with P = 2^floor(log2 H), the P slopes
 * 2^(-8h/P) followed by 2^(-8h/(2P)) for h = 1, 3, 5, ... (H - P of them), unsorted.
 *
 * ```ts
 * const bias = alibiBias(6, 5, 5, { causal: true });     // [6, 5, 5], -Infinity above the diagonal
 * const { output } = scaledDotProductAttention(q, k, v, { attnMask: bias }); // q [B, 6, 5, D]
 * ```
 */
import type { FloatDType } from "../tensor/dtype.js";
import { ValueError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";

function positiveInt(v: number, arg: string, op: string): void {
  if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
}

function slopeList(H: number): number[] {
  const P = 2 ** Math.floor(Math.log2(H));
  const r: number[] = [];
  for (let h = 1; h <= P; h++) r.push(2 ** ((-8 * h) / P));
  for (let h = 1; r.length < H; h += 2) r.push(2 ** ((-8 * h) / (2 * P)));
  return r;
}

function make(values: ArrayLike<number>, shape: number[], dtype: FloatDType): Tensor {
  return dtype === "float64" ? new Tensor(Float64Array.from(values), shape, "float64") : new Tensor(Float32Array.from(values), shape, "float32");
}

/** The head slopes m_1..m_H as a tensor [H] (float32 unless `dtype`). */
export function alibiSlopes(numHeads: number, opts: { dtype?: FloatDType } = {}): Tensor {
  positiveInt(numHeads, "numHeads", "alibiSlopes");
  return make(slopeList(numHeads), [numHeads], opts.dtype ?? "float32");
}

export interface AlibiBiasOptions {
  /** Mask keys after the query (-Infinity) and use the distance i - j; default false: -m_h |i - j|. */
  causal?: boolean;
  /**
   * Position of query 0 among the keys; default S - L, so the last query lines up with the last
   * key (a step of incremental decoding: L new tokens after S - L cached ones).
   */
  offset?: number;
  dtype?: FloatDType;
}

/**
 * The additive bias [H, L, S] for numHeads heads, L queries and S keys (default S = L): query i
 * sits at position offset + i, key j at position j; bias = -m_h (pos_i - j) when causal (and
 * -Infinity for keys after the query), else -m_h |pos_i - j|.
 */
export function alibiBias(numHeads: number, L: number, S: number = L, opts: AlibiBiasOptions = {}): Tensor {
  const op = "alibiBias";
  positiveInt(numHeads, "numHeads", op);
  positiveInt(L, "L", op);
  positiveInt(S, "S", op);
  const offset = opts.offset ?? S - L;
  if (!Number.isInteger(offset)) throw new ValueError(op, "offset", "an integer", String(offset));
  const causal = opts.causal ?? false;
  const m = slopeList(numHeads);
  const d = new Float64Array(numHeads * L * S);
  for (let h = 0; h < numHeads; h++) {
    const mh = m[h]!;
    for (let i = 0; i < L; i++) {
      const p = offset + i;
      for (let j = 0; j < S; j++) {
        const at = (h * L + i) * S + j;
        if (causal) d[at] = j > p ? -Infinity : 0 - mh * (p - j);
        else d[at] = 0 - mh * Math.abs(p - j); // 0 - x: +0 on the diagonal
      }
    }
  }
  return make(d, [numHeads, L, S], opts.dtype ?? "float32");
}
