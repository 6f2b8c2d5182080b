/**
 * Linear (kernelized) attention over feature-mapped queries and keys, on the GEMM
 * (LinearAttentionArgs in src/backend/backend.ts; the reference is src/backend/js/linear-attention.ts):
 * fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], den [B, H, L].
 *
 * Forward, non-causal: the kv head's state KV = fk^T v [M, Dv] and z = fk^T 1 [M], then per query
 * head out = fq KV (a GEMM), den_i = fq_i . z, out_i /= den_i.
 * Causal (query i sees keys j <= i), in chunks of C rows: with the state (KV, z) of the keys before
 * the chunk and A = tril(fq_c fk_c^T) over the chunk's own keys, out_c = fq_c KV + A v_c and
 * den_c = fq_c z + A 1; then KV += fk_c^T v_c, z += fk_c^T 1. The query heads of a kv head share the
 * state, so a chunk runs all of them before the state moves on.
 *
 * Backward, with dn_i = g_i / den_i and dd_i = -(g_i . out_i) / den_i (the division undone):
 * dfq_i = KV_i dn_i + dd_i z_i over the state before (and, causal, at) row i; dfk_j = R_j v_j + r_j and
 * dv_j = R_j^T fk_j with R_j = sum fq_i dn_i^T, r_j = sum dd_i fq_i over the rows i that see key j
 * (every row, or i >= j) of every query head of the kv head.
 * Non-causal: dfq = dn KV^T + dd z^T per chunk of rows while R, r sum; then dfk = v R^T + 1 r^T and
 * dv = fk R. Causal: a forward scan of chunks undoes out_c = fq_c KV + A v_c for dfq
 * (W = tril(dn_c v_c^T + dd_c 1^T): dfq_c = dn_c KV^T + dd_c z^T + W fk_c), then a reverse scan, with
 * R, r summed over the later chunks, undoes it for fk and v: dfk_c = v_c R^T + 1 r^T + W^T fq_c,
 * dv_c = fk_c R + A^T dn_c; then R += fq_c^T dn_c, r += fq_c^T dd_c.
 *
 * Parts (threads): kv heads (b, kv head) dealt round-robin; a part writes out / den (dfq) of the
 * query heads that read its kv heads and, backward, dfk / dv of its kv heads. Part p's scratch
 * starts at work + p * linearAttentionWorkBytes(M, Dv).
 */
import { gemm, gemmWorkBytes } from "./gemm";
import { align64, axpy, dot, rowPtr } from "./rows";
import { scaleRow } from "./softmax";

/** Rows per chunk of the causal scans (and of the non-causal backward's rows). */
const C: i32 = 64;

function bytes(n: i32): usize {
  return align64(<usize>n << 2);
}

/** Bytes of `work` one part needs: KV and R [M, Dv], z and r [M], dn [C, Dv], dd [C], A and W [C, C], the GEMM's. */
export function linearAttentionWorkBytes(M: i32, Dv: i32): usize {
  return 2 * bytes(M * Dv) + 2 * bytes(M) + bytes(C * Dv) + bytes(C) + 2 * bytes(C * C) + 64 +
    gemmWorkBytes(1 << 30, max(max(M, Dv), C), 1 << 30);
}

/** Keys of the causal chunk of rows [i0, i0 + cr) that are its own: [i0, i0 + cj), none past S. */
// @ts-ignore: decorator
@inline function ownKeys(i0: i32, cr: i32, S: i32): i32 {
  return max(0, min(cr, S - i0));
}

/** A state [M, Dv] and its vector [M] set to 0. */
// @ts-ignore: decorator
@inline function clearState(X: usize, x: usize, M: i32, Dv: i32): void {
  memory.fill(X, 0, <usize>(M * Dv) << 2);
  memory.fill(x, 0, <usize>M << 2);
}

/**
 * Over `rows` rows of a [rows, M], b [rows, Dv] and w [rows] (w 0: ones): X (+)= a^T b [M, Dv] and
 * x (+)= a^T w [M], row by row in order.
 */
// @ts-ignore: decorator
@inline function addState(X: usize, x: usize, a: usize, b: usize, w: usize, rows: i32, M: i32, Dv: i32, accumulate: bool,
  gw: usize): void {
  gemm(X, Dv, a, M, true, b, Dv, false, M, Dv, rows, accumulate, gw);
  if (!accumulate) memory.fill(x, 0, <usize>M << 2);
  for (let t = 0; t < rows; t++) axpy(x, w ? load<f32>(w + (<usize>t << 2)) : 1, rowPtr(a, t, M), M);
}

/**
 * t [cr, cj] (row stride C) = x y^T over n columns (x [cr, n], y [cj, n]) with its upper triangle
 * (column > row) zeroed; with `rowAdd`, rowAdd[r] added first to each row's kept entries.
 */
function lowerTriangle(t: usize, x: usize, y: usize, n: i32, cr: i32, cj: i32, rowAdd: usize, gw: usize): void {
  gemm(t, C, x, n, false, y, n, true, cr, cj, n, false, gw);
  for (let r = 0; r < cr; r++) {
    const tr = rowPtr(t, r, C);
    const keep = min(r + 1, cj);
    if (rowAdd) {
      const a = load<f32>(rowAdd + (<usize>r << 2));
      for (let c = 0; c < keep; c++) store<f32>(tr + (<usize>c << 2), load<f32>(tr + (<usize>c << 2)) + a);
    }
    if (keep < cj) memory.fill(tr + (<usize>keep << 2), 0, <usize>(cj - keep) << 2);
  }
}

/** out rows [cr, Dv] /= den (written to den), den_r = fq_r . z (+ sum_t a[r, t] when a). */
function divideRows(out: usize, den: usize, fq: usize, z: usize, a: usize, cr: i32, cj: i32, M: i32, Dv: i32): void {
  for (let r = 0; r < cr; r++) {
    let d = dot(rowPtr(fq, r, M), z, M);
    if (a) {
      const ar = rowPtr(a, r, C);
      let s: f32 = 0;
      for (let t = 0; t < cj; t++) s += load<f32>(ar + (<usize>t << 2));
      d += s;
    }
    store<f32>(den + (<usize>r << 2), d);
    scaleRow(rowPtr(out, r, Dv), Dv, <f32>(1 / <f64>d));
  }
}

export function linearAttentionForward(out: usize, den: usize, fq: usize, fk: usize, v: usize,
  B: i32, H: i32, Hkv: i32, L: i32, S: i32, M: i32, Dv: i32, causal: bool, work: usize, part: i32, parts: i32): void {
  const G = H / Hkv;
  const KV = align64(work + <usize>part * linearAttentionWorkBytes(M, Dv));
  const z = KV + 2 * bytes(M * Dv), A = z + 2 * bytes(M) + bytes(C * Dv) + bytes(C);
  const gw = A + 2 * bytes(C * C);
  for (let u = part; u < B * Hkv; u += parts) {
    const b = u / Hkv, h0 = (u % Hkv) * G;
    const fku = rowPtr(fk, u * S, M), vu = rowPtr(v, u * S, Dv);
    if (!causal) {
      addState(KV, z, fku, vu, 0, S, M, Dv, false, gw);
      for (let h = h0; h < h0 + G; h++) {
        const bh = b * H + h;
        const oh = rowPtr(out, bh * L, Dv), qh = rowPtr(fq, bh * L, M);
        gemm(oh, Dv, qh, M, false, KV, Dv, false, L, Dv, M, false, gw);
        divideRows(oh, den + (<usize>(bh * L) << 2), qh, z, 0, L, 0, M, Dv);
      }
      continue;
    }
    clearState(KV, z, M, Dv);
    for (let i0 = 0; i0 < L; i0 += C) {
      // rows [i0, i0 + cr) and their own keys [i0, i0 + cj)
      const cr = min(C, L - i0), cj = ownKeys(i0, cr, S);
      const kc = rowPtr(fku, i0, M), vc = rowPtr(vu, i0, Dv);
      for (let h = h0; h < h0 + G; h++) {
        const row = (b * H + h) * L + i0;
        const oc = rowPtr(out, row, Dv), qc = rowPtr(fq, row, M);
        gemm(oc, Dv, qc, M, false, KV, Dv, false, cr, Dv, M, false, gw);
        if (cj > 0) {
          lowerTriangle(A, qc, kc, M, cr, cj, 0, gw);
          gemm(oc, Dv, A, C, false, vc, Dv, false, cr, Dv, cj, true, gw);
        }
        divideRows(oc, den + (<usize>row << 2), qc, z, cj > 0 ? A : 0, cr, cj, M, Dv);
      }
      if (cj > 0) addState(KV, z, kc, vc, 0, cj, M, Dv, true, gw);
    }
  }
}

/** dn [cr, Dv] = g / den and dd [cr] = -(g . out) / den for rows [row, row + cr) of dout (g), out and den. */
function rowGrads(dn: usize, dd: usize, dout: usize, out: usize, den: usize, row: i32, cr: i32, Dv: i32): void {
  const g = rowPtr(dout, row, Dv), y = rowPtr(out, row, Dv), dr = den + (<usize>row << 2);
  for (let r = 0; r < cr; r++) {
    const o = <usize>(r * Dv) << 2;
    const inv = <f32>(1 / <f64>load<f32>(dr + (<usize>r << 2)));
    memory.copy(dn + o, g + o, <usize>Dv << 2);
    scaleRow(dn + o, Dv, inv);
    store<f32>(dd + (<usize>r << 2), -dot(g + o, y + o, Dv) * inv);
  }
}

/** dq [rows, M] = dn KV^T + dd z^T (dn [rows, Dv], dd [rows]). */
// @ts-ignore: decorator
@inline function queryGrads(dq: usize, dn: usize, dd: usize, KV: usize, z: usize, rows: i32, M: i32, Dv: i32, gw: usize): void {
  gemm(dq, M, dn, Dv, false, KV, Dv, true, rows, M, Dv, false, gw);
  for (let t = 0; t < rows; t++) axpy(rowPtr(dq, t, M), load<f32>(dd + (<usize>t << 2)), z, M);
}

/** dk [rows, M] = v R^T + 1 r^T and dv [rows, Dv] = k R. */
// @ts-ignore: decorator
@inline function keyGrads(dk: usize, dv: usize, k: usize, v: usize, R: usize, r: usize, rows: i32, M: i32, Dv: i32,
  gw: usize): void {
  gemm(dk, M, v, Dv, false, R, Dv, true, rows, M, Dv, false, gw);
  for (let t = 0; t < rows; t++) axpy(rowPtr(dk, t, M), 1, r, M);
  gemm(dv, Dv, k, M, false, R, Dv, false, rows, Dv, M, false, gw);
}

export function linearAttentionBackward(dfq: usize, dfk: usize, dv: usize, dout: usize, fq: usize, fk: usize, v: usize,
  out: usize, den: usize, B: i32, H: i32, Hkv: i32, L: i32, S: i32, M: i32, Dv: i32, causal: bool, work: usize,
  part: i32, parts: i32): void {
  const G = H / Hkv;
  const KV = align64(work + <usize>part * linearAttentionWorkBytes(M, Dv));
  const R = KV + bytes(M * Dv), z = R + bytes(M * Dv), r = z + bytes(M);
  const dn = r + bytes(M), dd = dn + bytes(C * Dv), A = dd + bytes(C), W = A + bytes(C * C);
  const gw = W + bytes(C * C);
  for (let u = part; u < B * Hkv; u += parts) {
    const b = u / Hkv, h0 = (u % Hkv) * G;
    const fku = rowPtr(fk, u * S, M), vu = rowPtr(v, u * S, Dv);
    const dku = rowPtr(dfk, u * S, M), dvu = rowPtr(dv, u * S, Dv);
    clearState(R, r, M, Dv);
    if (!causal) {
      addState(KV, z, fku, vu, 0, S, M, Dv, false, gw);
      for (let h = h0; h < h0 + G; h++) {
        for (let i0 = 0; i0 < L; i0 += C) {
          const cr = min(C, L - i0), row = (b * H + h) * L + i0;
          const qc = rowPtr(fq, row, M);
          rowGrads(dn, dd, dout, out, den, row, cr, Dv);
          queryGrads(rowPtr(dfq, row, M), dn, dd, KV, z, cr, M, Dv, gw);
          // R += fq^T dn, r += fq^T dd
          addState(R, r, qc, dn, dd, cr, M, Dv, true, gw);
        }
      }
      keyGrads(dku, dvu, fku, vu, R, r, S, M, Dv, gw);
      continue;
    }
    // keys no row sees (past L): no gradient
    if (S > L) {
      memory.fill(rowPtr(dku, L, M), 0, <usize>((S - L) * M) << 2);
      memory.fill(rowPtr(dvu, L, Dv), 0, <usize>((S - L) * Dv) << 2);
    }
    // forward scan: dfq from the state of the keys before each chunk and the chunk's own
    clearState(KV, z, M, Dv);
    for (let i0 = 0; i0 < L; i0 += C) {
      const cr = min(C, L - i0), cj = ownKeys(i0, cr, S);
      const kc = rowPtr(fku, i0, M), vc = rowPtr(vu, i0, Dv);
      for (let h = h0; h < h0 + G; h++) {
        const row = (b * H + h) * L + i0;
        const dqc = rowPtr(dfq, row, M);
        rowGrads(dn, dd, dout, out, den, row, cr, Dv);
        // dfq_c = dn KV^T + dd z^T + W fk_c
        queryGrads(dqc, dn, dd, KV, z, cr, M, Dv, gw);
        if (cj > 0) {
          lowerTriangle(W, dn, vc, Dv, cr, cj, dd, gw);
          gemm(dqc, M, W, C, false, kc, M, false, cr, M, cj, true, gw);
        }
      }
      if (cj > 0) addState(KV, z, kc, vc, 0, cj, M, Dv, true, gw);
    }
    // reverse scan: dfk, dv of each chunk's keys from R, r of the later rows and the chunk's own
    for (let i0 = (L - 1) / C * C; i0 >= 0; i0 -= C) {
      const cr = min(C, L - i0), cj = ownKeys(i0, cr, S);
      const kc = rowPtr(fku, i0, M), vc = rowPtr(vu, i0, Dv);
      const dkc = rowPtr(dku, i0, M), dvc = rowPtr(dvu, i0, Dv);
      if (cj > 0) keyGrads(dkc, dvc, kc, vc, R, r, cj, M, Dv, gw);
      for (let h = h0; h < h0 + G; h++) {
        const row = (b * H + h) * L + i0;
        const qc = rowPtr(fq, row, M);
        rowGrads(dn, dd, dout, out, den, row, cr, Dv);
        if (cj > 0) {
          // dfk_c += W^T fq_c; dv_c += A^T dn
          lowerTriangle(W, dn, vc, Dv, cr, cj, dd, gw);
          gemm(dkc, M, W, C, true, qc, M, false, cj, M, cr, true, gw);
          lowerTriangle(A, qc, kc, M, cr, cj, 0, gw);
          gemm(dvc, Dv, A, C, true, dn, Dv, false, cj, Dv, cr, true, gw);
        }
        // R += fq_c^T dn, r += fq_c^T dd
        addState(R, r, qc, dn, dd, cr, M, Dv, true, gw);
      }
    }
  }
}
