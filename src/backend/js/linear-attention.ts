/**
 * Reference linear (kernelized) attention over already feature-mapped queries and keys:
 *
 *   out_i = fq_i^T (sum_j fk_j v_j^T) / (fq_i^T sum_j fk_j)
 *
 * with j over all keys (non-causal) or j <= i (causal, L = S), in O(L·M·Dv) time and O(M·Dv)
 * state per head: the causal forward is a prefix scan; the backward recomputes the prefix state in
 * a forward scan (for dfq) and runs the reverse scan (for dfk, dv), so no per-position M x Dv
 * state is ever stored.
 *
 * fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], den [B, H, L].
 * Query head h reads kv head floor(h / (H / Hkv)). No epsilon: the features must be positive.
 *
 * ```ts
 * linearAttentionForward(out, den, fq, fk, v, { B: 1, H: 2, Hkv: 2, L: 5, S: 5, M: 3, Dv: 4, causal: true });
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { LinearAttentionArgs } from "../backend.js";

export type { LinearAttentionArgs } from "../backend.js";

/** kv[m, e] += fk_j[m] v_j[e]; z[m] += fk_j[m]. */
function addKey(kv: Float64Array, z: Float64Array, fk: FloatArray, fo: number, v: FloatArray, vo: number, M: number, Dv: number): void {
  for (let m = 0; m < M; m++) {
    const f = fk[fo + m]!;
    z[m]! += f;
    const r = m * Dv;
    for (let e = 0; e < Dv; e++) kv[r + e]! += f * v[vo + e]!;
  }
}

/** kv = sum_{j < n} fk_j v_j^T, z = sum_{j < n} fk_j over the kv head's keys at fk[fo], v[vo] (0 for n = 0). */
function sumKeys(kv: Float64Array, z: Float64Array, fk: FloatArray, fo: number, v: FloatArray, vo: number, n: number,
  M: number, Dv: number): void {
  kv.fill(0);
  z.fill(0);
  for (let j = 0; j < n; j++) addKey(kv, z, fk, fo + j * M, v, vo + j * Dv, M, Dv);
}

/** out_i = fq_i^T kv / fq_i^T z; returns the denominator. */
function readRow(out: FloatArray, oo: number, fq: FloatArray, qo: number, kv: Float64Array, z: Float64Array,
  num: Float64Array, M: number, Dv: number): number {
  num.fill(0);
  let den = 0;
  for (let m = 0; m < M; m++) {
    const f = fq[qo + m]!;
    den += f * z[m]!;
    const r = m * Dv;
    for (let e = 0; e < Dv; e++) num[e]! += f * kv[r + e]!;
  }
  const inv = 1 / den;
  for (let e = 0; e < Dv; e++) out[oo + e] = num[e]! * inv;
  return den;
}

export function linearAttentionForward(out: FloatArray, den: FloatArray, fq: FloatArray, fk: FloatArray, v: FloatArray,
  a: LinearAttentionArgs): void {
  const { B, H, Hkv, L, S, M, Dv, causal } = a;
  const G = H / Hkv;
  const kv = new Float64Array(M * Dv), z = new Float64Array(M), num = new Float64Array(Dv);
  for (let b = 0; b < B; b++) {
    for (let hk = 0; hk < Hkv; hk++) {
      const kvh = b * Hkv + hk;
      const ko = kvh * S * M, vo = kvh * S * Dv;
      if (!causal) sumKeys(kv, z, fk, ko, v, vo, S, M, Dv);
      for (let h = hk * G; h < (hk + 1) * G; h++) {
        const bh = b * H + h;
        if (causal) sumKeys(kv, z, fk, ko, v, vo, 0, M, Dv); // the prefix state starts empty
        for (let i = 0; i < L; i++) {
          if (causal && i < S) addKey(kv, z, fk, ko + i * M, v, vo + i * Dv, M, Dv);
          den[bh * L + i] = readRow(out, (bh * L + i) * Dv, fq, (bh * L + i) * M, kv, z, num, M, Dv);
        }
      }
    }
  }
}

/**
 * Writes (not accumulates) dfq, dfk, dv. With dn_i = g_i / den_i and dd_i = -(g_i · out_i) / den_i:
 * dfq_i = S_i dn_i + dd_i z_i (S_i, z_i the prefix state), dfk_j = R_j v_j + r_j and
 * dv_j = R_j^T fk_j with the suffix sums R_j = sum_{i>=j} fq_i dn_i^T, r_j = sum_{i>=j} dd_i fq_i.
 */
export function linearAttentionBackward(dfq: FloatArray, dfk: FloatArray, dv: FloatArray, dout: FloatArray, fq: FloatArray,
  fk: FloatArray, v: FloatArray, out: FloatArray, den: FloatArray, a: LinearAttentionArgs): void {
  const { B, H, Hkv, L, S, M, Dv, causal } = a;
  const G = H / Hkv;
  const kv = new Float64Array(M * Dv), z = new Float64Array(M);
  const R = new Float64Array(M * Dv), r = new Float64Array(M);
  const dn = new Float64Array(Dv);
  const dk64 = new Float64Array(S * M), dv64 = new Float64Array(S * Dv);
  for (let b = 0; b < B; b++) {
    for (let hk = 0; hk < Hkv; hk++) {
      const kvh = b * Hkv + hk;
      const ko = kvh * S * M, vo = kvh * S * Dv;
      dk64.fill(0);
      dv64.fill(0);
      if (!causal) sumKeys(kv, z, fk, ko, v, vo, S, M, Dv);
      for (let h = hk * G; h < (hk + 1) * G; h++) {
        const bh = b * H + h;
        if (causal) sumKeys(kv, z, fk, ko, v, vo, 0, M, Dv); // the prefix state starts empty
        R.fill(0);
        r.fill(0);
        // forward scan: dfq_i from the (recomputed) prefix state; non-causal also sums R, r
        for (let i = 0; i < L; i++) {
          const qo = (bh * L + i) * M, oo = (bh * L + i) * Dv;
          if (causal && i < S) addKey(kv, z, fk, ko + i * M, v, vo + i * Dv, M, Dv);
          const dd = rowGrads(dn, dout, out, oo, den[bh * L + i]!, Dv);
          for (let m = 0; m < M; m++) {
            const o = m * Dv;
            let s = dd * z[m]!;
            for (let e = 0; e < Dv; e++) s += kv[o + e]! * dn[e]!;
            dfq[qo + m] = s;
          }
          if (!causal) accumulateR(R, r, fq, qo, dn, dd, M, Dv);
        }
        if (!causal) {
          for (let j = 0; j < S; j++) keyGrads(dk64, dv64, j, R, r, fk, ko + j * M, v, vo + j * Dv, M, Dv);
          continue;
        }
        // reverse scan: R_j, r_j over i >= j
        for (let j = L - 1; j >= 0; j--) {
          const qo = (bh * L + j) * M, oo = (bh * L + j) * Dv;
          const dd = rowGrads(dn, dout, out, oo, den[bh * L + j]!, Dv);
          accumulateR(R, r, fq, qo, dn, dd, M, Dv);
          if (j < S) keyGrads(dk64, dv64, j, R, r, fk, ko + j * M, v, vo + j * Dv, M, Dv);
        }
      }
      for (let x = 0; x < S * M; x++) dfk[ko + x] = dk64[x]!;
      for (let x = 0; x < S * Dv; x++) dv[vo + x] = dv64[x]!;
    }
  }
}

/** dn = g / den; returns dd = -(g · out) / den. */
function rowGrads(dn: Float64Array, dout: FloatArray, out: FloatArray, oo: number, den: number, Dv: number): number {
  const inv = 1 / den;
  let go = 0;
  for (let e = 0; e < Dv; e++) {
    const g = dout[oo + e]!;
    dn[e] = g * inv;
    go += g * out[oo + e]!;
  }
  return -go * inv;
}

/** R += fq_i dn^T; r += dd fq_i. */
function accumulateR(R: Float64Array, r: Float64Array, fq: FloatArray, qo: number, dn: Float64Array, dd: number, M: number, Dv: number): void {
  for (let m = 0; m < M; m++) {
    const f = fq[qo + m]!;
    r[m]! += dd * f;
    const o = m * Dv;
    for (let e = 0; e < Dv; e++) R[o + e]! += f * dn[e]!;
  }
}

/** dfk_j += R v_j + r; dv_j += R^T fk_j. */
function keyGrads(dk: Float64Array, dv: Float64Array, j: number, R: Float64Array, r: Float64Array, fk: FloatArray, fo: number,
  v: FloatArray, vo: number, M: number, Dv: number): void {
  const dko = j * M, dvo = j * Dv;
  for (let m = 0; m < M; m++) {
    const o = m * Dv;
    const f = fk[fo + m]!;
    let s = r[m]!;
    for (let e = 0; e < Dv; e++) {
      s += R[o + e]! * v[vo + e]!;
      dv[dvo + e]! += R[o + e]! * f;
    }
    dk[dko + m]! += s;
  }
}
