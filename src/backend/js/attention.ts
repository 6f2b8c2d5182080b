/**
 * Reference fused attention: one query row at a time, scores kept in an O(S) row buffer, never the
 * L x S matrix. Forward saves the log-sum-exp per row; backward recomputes the scores and their
 * log-sum-exp (in float64: the saved one is float32) and the probabilities from them.
 * Layouts and options: see AttentionArgs in ../backend.ts; every [B, heads, rows, D] operand is read
 * and written at its strides, element (b, h, i, d) at b * sB + h * sH + i * sL + d.
 */
import type { FloatArray } from "../../tensor/dtype.js";
import { uniformAt } from "../../tensor/rng.js";
import type { AttentionArgs, RowStrides } from "../backend.js";

/** The offset of row i of head h of batch b of an operand at `st`. */
function at(st: RowStrides, b: number, h: number, i: number): number {
  return b * st[0] + h * st[1] + i * st[2];
}

/** Fills row[j] with the masked, scaled score of query row (b, h, i) (at qo) against key j (rows of kv head
 * hk); returns the row max. */
function scoreRow(row: Float64Array, q: FloatArray, k: FloatArray, qo: number, hk: number, b: number, h: number, i: number,
  a: AttentionArgs): number {
  const { S, D, scale, mask, causal } = a;
  const mo = mask ? b * a.maskStrideB + h * a.maskStrideH + i * a.maskStrideL : 0;
  let m = -Infinity;
  for (let j = 0; j < S; j++) {
    if (causal && j > i) { row[j] = -Infinity; continue; }
    let s = 0;
    const kj = at(a.kStrides, b, hk, j);
    for (let d = 0; d < D; d++) s += q[qo + d]! * k[kj + d]!;
    s *= scale;
    if (mask) s += mask[mo + j]!;
    row[j] = s;
    if (s > m) m = s;
  }
  return m;
}

/**
 * log(sum_j exp(row[j])) over row[0:n] (-Infinity entries adding nothing), m the row's maximum
 * (finite): the forward's lse, in float64. The backward recomputes it instead of reading the lse
 * the forward stored, which is rounded to float32: for scores of large magnitude (a scale of 1e9)
 * the float64 scores recomputed may stand hundreds above that rounded value, and exp(s - lse)
 * would overflow.
 */
export function rowLogSumExp(row: Float64Array, n: number, m: number): number {
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(row[j]! - m);
  return m + Math.log(sum);
}

/** Zeroes the elements of a [B, heads, rows, n] operand at `st`. */
function fillRows(x: FloatArray, st: RowStrides, B: number, heads: number, rows: number, n: number): void {
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < rows; i++) {
        const o = at(st, b, h, i);
        x.fill(0, o, o + n);
      }
    }
  }
}

/** Dropout multiplier of element (bh, i, j): 0 or 1 / (1 - p). */
function keepScale(a: AttentionArgs, bh: number, i: number, j: number): number {
  if (a.dropoutP === 0) return 1;
  const u = uniformAt(a.seedK0, a.seedK1, a.seedStart + (bh * a.L + i) * a.S + j);
  return u < a.dropoutP ? 0 : 1 / (1 - a.dropoutP);
}

export function attentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, a: AttentionArgs): void {
  const { B, H, Hkv, L, S, Dv } = a;
  const G = H / Hkv;
  const row = new Float64Array(S);
  const acc = new Float64Array(Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const hk = Math.floor(h / G);
      for (let i = 0; i < L; i++) {
        const qo = at(a.qStrides, b, h, i), oo = at(a.oStrides, b, h, i);
        // pass 1: scores and their max
        const m = scoreRow(row, q, k, qo, hk, b, h, i, a);
        if (m === -Infinity) {
          lse[bh * L + i] = -Infinity;
          for (let d = 0; d < Dv; d++) out[oo + d] = 0;
          continue;
        }
        // pass 2: exponentials, their sum, and the weighted sum of values
        let sum = 0;
        acc.fill(0);
        for (let j = 0; j < S; j++) {
          const p = Math.exp(row[j]! - m);
          sum += p;
          const w = p * keepScale(a, bh, i, j);
          if (w === 0) continue;
          const vj = at(a.vStrides, b, hk, j);
          for (let d = 0; d < Dv; d++) acc[d]! += w * v[vj + d]!;
        }
        const inv = 1 / sum;
        for (let d = 0; d < Dv; d++) out[oo + d] = acc[d]! * inv;
        lse[bh * L + i] = m + Math.log(sum);
      }
    }
  }
}

export function attentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray, k: FloatArray,
  v: FloatArray, out: FloatArray, lse: FloatArray, a: AttentionArgs): void {
  const { B, H, Hkv, L, S, D, Dv, scale } = a;
  const G = H / Hkv;
  // zero only the operands' own elements: dq, dk and dv may be interleaved views of one buffer
  fillRows(dq, a.qStrides, B, H, L, D);
  fillRows(dk, a.kStrides, B, Hkv, S, D);
  fillRows(dv, a.vStrides, B, Hkv, S, Dv);
  const row = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const hk = Math.floor(h / G);
      for (let i = 0; i < L; i++) {
        if (lse[bh * L + i] === -Infinity) continue; // fully masked row: zero gradients (undoes the forward's early exit)
        const qo = at(a.qStrides, b, h, i), oo = at(a.oStrides, b, h, i);
        const l = rowLogSumExp(row, S, scoreRow(row, q, k, qo, hk, b, h, i, a));
        // Di = dout_i . out_i  (= sum_j p_j dp_j, also with dropout)
        let Di = 0;
        for (let d = 0; d < Dv; d++) Di += dout[oo + d]! * out[oo + d]!;
        for (let j = 0; j < S; j++) {
          const s = row[j]!;
          if (s === -Infinity) continue;
          const p = Math.exp(s - l); // undoes pass 2's normalization
          const z = keepScale(a, bh, i, j);
          const vj = at(a.vStrides, b, hk, j);
          // undo out = sum_j p_j z_j v_j
          let dp = 0;
          if (z !== 0) {
            for (let d = 0; d < Dv; d++) {
              dv[vj + d]! += p * z * dout[oo + d]!;
              dp += dout[oo + d]! * v[vj + d]!;
            }
            dp *= z;
          }
          // undo softmax, then the scaled dot product of pass 1
          const ds = p * (dp - Di) * scale;
          if (ds === 0) continue;
          const kj = at(a.kStrides, b, hk, j);
          for (let d = 0; d < D; d++) {
            dq[qo + d]! += ds * k[kj + d]!;
            dk[kj + d]! += ds * q[qo + d]!;
          }
        }
      }
    }
  }
}
