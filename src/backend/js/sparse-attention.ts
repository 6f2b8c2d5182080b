/**
 * Reference sparse attention: softmax over a fixed set of allowed keys per query row, never the
 * L x S matrix; cost O(B·H·nnz·D) where nnz is the number of allowed (query, key) pairs.
 * Forward saves the log-sum-exp per row; backward recomputes the scores and their log-sum-exp (in
 * float64: the saved one is float32) and the probabilities from them.
 *
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], lse [B, H, L].
 * Query head h reads kv head floor(h / (H / Hkv)). A row with no allowed key gives output 0,
 * lse -Infinity and zero gradients.
 *
 * ```ts
 * const pattern = windowPattern(L, S, w);           // attention/window.ts
 * sparseAttentionForward(out, lse, q, k, v, { B, H, Hkv, D, Dv, scale, pattern });
 * sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, { B, H, Hkv, D, Dv, scale, pattern });
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { SparseAttentionArgs } from "../backend.js";
import { rowLogSumExp } from "./attention.js";

export type { SparseAttentionArgs, SparsePattern } from "../backend.js";

/** Number of keys in range r of `spans`. */
export function spanCount(spans: Int32Array, r: number): number {
  const s = spans[3 * r]!, e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
  return e > s ? Math.floor((e - s + st - 1) / st) : 0;
}

/** q[qo..qo+D) · k[ko..ko+D), unrolled by 4. */
function dot(q: FloatArray, qo: number, k: FloatArray, ko: number, D: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, d = 0;
  for (; d + 3 < D; d += 4) {
    s0 += q[qo + d]! * k[ko + d]!;
    s1 += q[qo + d + 1]! * k[ko + d + 1]!;
    s2 += q[qo + d + 2]! * k[ko + d + 2]!;
    s3 += q[qo + d + 3]! * k[ko + d + 3]!;
  }
  for (; d < D; d++) s0 += q[qo + d]! * k[ko + d]!;
  return s0 + s1 + s2 + s3;
}

/** y[yo..yo+n) += a · x[xo..xo+n), unrolled by 4. */
function axpy(y: Float64Array, yo: number, a: number, x: FloatArray, xo: number, n: number): void {
  let d = 0;
  for (; d + 3 < n; d += 4) {
    y[yo + d]! += a * x[xo + d]!;
    y[yo + d + 1]! += a * x[xo + d + 1]!;
    y[yo + d + 2]! += a * x[xo + d + 2]!;
    y[yo + d + 3]! += a * x[xo + d + 3]!;
  }
  for (; d < n; d++) y[yo + d]! += a * x[xo + d]!;
}

export function sparseAttentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray,
  a: SparseAttentionArgs): void {
  const { B, H, Hkv, D, Dv, scale, pattern } = a;
  const { L, S, rowLo, rowHi, spans } = pattern;
  const G = H / Hkv;
  const row = new Float64Array(Math.max(1, pattern.maxRow));
  const acc = new Float64Array(Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const kvh = b * Hkv + Math.floor(h / G);
      const ko = kvh * S * D, vo = kvh * S * Dv;
      for (let i = 0; i < L; i++) {
        const qo = (bh * L + i) * D, oo = (bh * L + i) * Dv;
        const lo = rowLo[i]!, hi = rowHi[i]!;
        // pass 1: scores of the allowed keys and their max
        let n = 0, m = -Infinity;
        for (let r = lo; r < hi; r++) {
          const e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
          for (let j = spans[3 * r]!; j < e; j += st) {
            const s = dot(q, qo, k, ko + j * D, D) * scale;
            row[n++] = s;
            if (s > m) m = s;
          }
        }
        if (n === 0 || m === -Infinity) {
          lse[bh * L + i] = -Infinity;
          for (let d = 0; d < Dv; d++) out[oo + d] = 0;
          continue;
        }
        // pass 2: exponentials, their sum, the weighted sum of values
        let sum = 0;
        acc.fill(0);
        n = 0;
        for (let r = lo; r < hi; r++) {
          const e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
          for (let j = spans[3 * r]!; j < e; j += st) {
            const p = Math.exp(row[n++]! - m);
            sum += p;
            axpy(acc, 0, p, v, vo + j * Dv, Dv);
          }
        }
        const inv = 1 / sum;
        for (let d = 0; d < Dv; d++) out[oo + d] = acc[d]! * inv;
        lse[bh * L + i] = m + Math.log(sum);
      }
    }
  }
}

/** Writes (not accumulates) dq, dk, dv. dk/dv are summed in float64 per kv head. */
export function sparseAttentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray,
  k: FloatArray, v: FloatArray, out: FloatArray, lse: FloatArray, a: SparseAttentionArgs): void {
  const { B, H, Hkv, D, Dv, scale, pattern } = a;
  const { L, S, rowLo, rowHi, spans } = pattern;
  const G = H / Hkv;
  const dqi = new Float64Array(D);
  const row = new Float64Array(S);
  const dk64 = new Float64Array(S * D), dv64 = new Float64Array(S * Dv);
  for (let b = 0; b < B; b++) {
    for (let hk = 0; hk < Hkv; hk++) {
      const kvh = b * Hkv + hk;
      const ko = kvh * S * D, vo = kvh * S * Dv;
      dk64.fill(0);
      dv64.fill(0);
      for (let h = hk * G; h < (hk + 1) * G; h++) {
        const bh = b * H + h;
        for (let i = 0; i < L; i++) {
          const qo = (bh * L + i) * D, oo = (bh * L + i) * Dv;
          dqi.fill(0);
          if (lse[bh * L + i] !== -Infinity) {
            // the row's scores and their log-sum-exp again, in float64 (the saved lse is float32)
            let n = 0, m = -Infinity;
            for (let r = rowLo[i]!, hi = rowHi[i]!; r < hi; r++) {
              const e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
              for (let j = spans[3 * r]!; j < e; j += st) {
                const s = dot(q, qo, k, ko + j * D, D) * scale;
                row[n++] = s;
                if (s > m) m = s;
              }
            }
            const l = rowLogSumExp(row, n, m);
            // Di = dout_i · out_i (= sum_j p_j dp_j)
            let Di = 0;
            for (let d = 0; d < Dv; d++) Di += dout[oo + d]! * out[oo + d]!;
            n = 0;
            for (let r = rowLo[i]!, hi = rowHi[i]!; r < hi; r++) {
              const e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
              for (let j = spans[3 * r]!; j < e; j += st) {
                const kj = ko + j * D, vj = vo + j * Dv;
                const p = Math.exp(row[n++]! - l); // undoes the forward's normalization
                // undo out = sum_j p_j v_j
                const dp = dot(dout, oo, v, vj, Dv);
                axpy(dv64, j * Dv, p, dout, oo, Dv);
                // undo the softmax, then the scaled dot product
                const ds = p * (dp - Di) * scale;
                if (ds === 0) continue;
                axpy(dqi, 0, ds, k, kj, D);
                axpy(dk64, j * D, ds, q, qo, D);
              }
            }
          }
          for (let d = 0; d < D; d++) dq[qo + d] = dqi[d]!;
        }
      }
      for (let x = 0; x < S * D; x++) dk[ko + x] = dk64[x]!;
      for (let x = 0; x < S * Dv; x++) dv[vo + x] = dv64[x]!;
    }
  }
}
