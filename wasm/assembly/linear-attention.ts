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
import { scaleRow } from "./softmax";

/** Rows per chunk of the causal scans (and of the non-causal backward's rows). */
const C: i32 = 64;

function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

function bytes(n: i32): usize {
  return align64(<usize>n << 2);
}

/** Bytes of `work` one part needs: KV and R [M, Dv], z and r [M], dn [C, Dv], dd [C], A and W [C, C], the GEMM's. */
export function linearAttentionWorkBytes(M: i32, Dv: i32): usize {
  return 2 * bytes(M * Dv) + 2 * bytes(M) + bytes(C * Dv) + bytes(C) + 2 * bytes(C * C) + 64 +
    gemmWorkBytes(1 << 30, max(max(M, Dv), C), 1 << 30);
}

/** sum_d x[d] y[d] */
function dot(x: usize, y: usize, n: i32): f32 {
  let d = 0;
  let vs = f32x4.splat(0);
  for (; d + 4 <= n; d += 4) vs = f32x4.add(vs, f32x4.mul(v128.load(x + (<usize>d << 2)), v128.load(y + (<usize>d << 2))));
  let r = f32x4.extract_lane(vs, 0) + f32x4.extract_lane(vs, 1) + f32x4.extract_lane(vs, 2) + f32x4.extract_lane(vs, 3);
  for (; d < n; d++) r += load<f32>(x + (<usize>d << 2)) * load<f32>(y + (<usize>d << 2));
  return r;
}

/** y[0, n) += a x[0, n). */
function axpy(y: usize, a: f32, x: usize, n: i32): void {
  const va = f32x4.splat(a);
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    const o = <usize>d << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; d < n; d++) {
    const o = <usize>d << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

/** z (+)= sum of the `rows` rows of x [rows, n]. */
function columnSums(z: usize, x: usize, rows: i32, n: i32, accumulate: bool): void {
  if (!accumulate) memory.fill(z, 0, <usize>n << 2);
  for (let j = 0; j < rows; j++) axpy(z, 1, x + (<usize>(j * n) << 2), n);
}

/**
 * The chunk's [cr, cj] block at a (row stride C) with its upper triangle (t > r) zeroed; with
 * `rowAdd`, rowAdd[r] added first to each row's kept entries.
 */
function lowerTriangle(a: usize, cr: i32, cj: i32, rowAdd: usize): void {
  for (let r = 0; r < cr; r++) {
    const ar = a + (<usize>(r * C) << 2);
    const keep = min(r + 1, cj);
    if (rowAdd) {
      const x = load<f32>(rowAdd + (<usize>r << 2));
      for (let t = 0; t < keep; t++) store<f32>(ar + (<usize>t << 2), load<f32>(ar + (<usize>t << 2)) + x);
    }
    if (keep < cj) memory.fill(ar + (<usize>keep << 2), 0, <usize>(cj - keep) << 2);
  }
}

/** out rows [cr, Dv] /= den (written to den), den_r = fq_r . z (+ sum_t a[r, t] when a). */
function divideRows(out: usize, den: usize, fq: usize, z: usize, a: usize, cr: i32, cj: i32, M: i32, Dv: i32): void {
  for (let r = 0; r < cr; r++) {
    let d = dot(fq + (<usize>(r * M) << 2), z, M);
    if (a) {
      const ar = a + (<usize>(r * C) << 2);
      let s: f32 = 0;
      for (let t = 0; t < cj; t++) s += load<f32>(ar + (<usize>t << 2));
      d += s;
    }
    store<f32>(den + (<usize>r << 2), d);
    scaleRow(out + (<usize>(r * Dv) << 2), Dv, <f32>(1 / <f64>d));
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
    const fku = fk + (<usize>(u * S * M) << 2), vu = v + (<usize>(u * S * Dv) << 2);
    if (!causal) {
      gemm(KV, Dv, fku, M, true, vu, Dv, false, M, Dv, S, false, gw);
      columnSums(z, fku, S, M, false);
      for (let h = h0; h < h0 + G; h++) {
        const bh = b * H + h;
        const oh = out + (<usize>(bh * L * Dv) << 2), qh = fq + (<usize>(bh * L * M) << 2);
        gemm(oh, Dv, qh, M, false, KV, Dv, false, L, Dv, M, false, gw);
        divideRows(oh, den + (<usize>(bh * L) << 2), qh, z, 0, L, 0, M, Dv);
      }
      continue;
    }
    memory.fill(KV, 0, <usize>(M * Dv) << 2);
    memory.fill(z, 0, <usize>M << 2);
    for (let i0 = 0; i0 < L; i0 += C) {
      // rows [i0, i0 + cr) and their own keys [i0, i0 + cj) (none past S)
      const cr = min(C, L - i0), cj = max(0, min(cr, S - i0));
      const kc = fku + (<usize>(i0 * M) << 2), vc = vu + (<usize>(i0 * Dv) << 2);
      for (let h = h0; h < h0 + G; h++) {
        const row = (b * H + h) * L + i0;
        const oc = out + (<usize>(row * Dv) << 2), qc = fq + (<usize>(row * M) << 2);
        gemm(oc, Dv, qc, M, false, KV, Dv, false, cr, Dv, M, false, gw);
        if (cj > 0) {
          gemm(A, C, qc, M, false, kc, M, true, cr, cj, M, false, gw);
          lowerTriangle(A, cr, cj, 0);
          gemm(oc, Dv, A, C, false, vc, Dv, false, cr, Dv, cj, true, gw);
        }
        divideRows(oc, den + (<usize>row << 2), qc, z, cj > 0 ? A : 0, cr, cj, M, Dv);
      }
      if (cj > 0) {
        gemm(KV, Dv, kc, M, true, vc, Dv, false, M, Dv, cj, true, gw);
        columnSums(z, kc, cj, M, true);
      }
    }
  }
}

/** dn [cr, Dv] = g / den and dd [cr] = -(g . out) / den for the chunk's rows. */
function rowGrads(dn: usize, dd: usize, g: usize, out: usize, den: usize, cr: i32, Dv: i32): void {
  for (let r = 0; r < cr; r++) {
    const o = <usize>(r * Dv) << 2;
    const inv = <f32>(1 / <f64>load<f32>(den + (<usize>r << 2)));
    memory.copy(dn + o, g + o, <usize>Dv << 2);
    scaleRow(dn + o, Dv, inv);
    store<f32>(dd + (<usize>r << 2), -dot(g + o, out + o, Dv) * inv);
  }
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
    const fku = fk + (<usize>(u * S * M) << 2), vu = v + (<usize>(u * S * Dv) << 2);
    const dku = dfk + (<usize>(u * S * M) << 2), dvu = dv + (<usize>(u * S * Dv) << 2);
    memory.fill(R, 0, <usize>(M * Dv) << 2);
    memory.fill(r, 0, <usize>M << 2);
    if (!causal) {
      gemm(KV, Dv, fku, M, true, vu, Dv, false, M, Dv, S, false, gw);
      columnSums(z, fku, S, M, false);
      for (let h = h0; h < h0 + G; h++) {
        for (let i0 = 0; i0 < L; i0 += C) {
          const cr = min(C, L - i0), row = (b * H + h) * L + i0;
          const qc = fq + (<usize>(row * M) << 2), dqc = dfq + (<usize>(row * M) << 2);
          rowGrads(dn, dd, dout + (<usize>(row * Dv) << 2), out + (<usize>(row * Dv) << 2), den + (<usize>row << 2), cr, Dv);
          // dfq = dn KV^T + dd z^T
          gemm(dqc, M, dn, Dv, false, KV, Dv, true, cr, M, Dv, false, gw);
          for (let t = 0; t < cr; t++) axpy(dqc + (<usize>(t * M) << 2), load<f32>(dd + (<usize>t << 2)), z, M);
          // R += fq^T dn, r += fq^T dd
          gemm(R, Dv, qc, M, true, dn, Dv, false, M, Dv, cr, true, gw);
          for (let t = 0; t < cr; t++) axpy(r, load<f32>(dd + (<usize>t << 2)), qc + (<usize>(t * M) << 2), M);
        }
      }
      // dfk = v R^T + 1 r^T, dv = fk R
      gemm(dku, M, vu, Dv, false, R, Dv, true, S, M, Dv, false, gw);
      for (let j = 0; j < S; j++) axpy(dku + (<usize>(j * M) << 2), 1, r, M);
      gemm(dvu, Dv, fku, M, false, R, Dv, false, S, Dv, M, false, gw);
      continue;
    }
    // keys no row sees (past L): no gradient
    if (S > L) {
      memory.fill(dku + (<usize>(L * M) << 2), 0, <usize>((S - L) * M) << 2);
      memory.fill(dvu + (<usize>(L * Dv) << 2), 0, <usize>((S - L) * Dv) << 2);
    }
    // forward scan: dfq from the state of the keys before each chunk and the chunk's own
    memory.fill(KV, 0, <usize>(M * Dv) << 2);
    memory.fill(z, 0, <usize>M << 2);
    for (let i0 = 0; i0 < L; i0 += C) {
      const cr = min(C, L - i0), cj = max(0, min(cr, S - i0));
      const kc = fku + (<usize>(i0 * M) << 2), vc = vu + (<usize>(i0 * Dv) << 2);
      for (let h = h0; h < h0 + G; h++) {
        const row = (b * H + h) * L + i0;
        const dqc = dfq + (<usize>(row * M) << 2);
        rowGrads(dn, dd, dout + (<usize>(row * Dv) << 2), out + (<usize>(row * Dv) << 2), den + (<usize>row << 2), cr, Dv);
        // dfq_c = dn KV^T + dd z^T + W fk_c
        gemm(dqc, M, dn, Dv, false, KV, Dv, true, cr, M, Dv, false, gw);
        for (let t = 0; t < cr; t++) axpy(dqc + (<usize>(t * M) << 2), load<f32>(dd + (<usize>t << 2)), z, M);
        if (cj > 0) {
          gemm(W, C, dn, Dv, false, vc, Dv, true, cr, cj, Dv, false, gw);
          lowerTriangle(W, cr, cj, dd);
          gemm(dqc, M, W, C, false, kc, M, false, cr, M, cj, true, gw);
        }
      }
      if (cj > 0) {
        gemm(KV, Dv, kc, M, true, vc, Dv, false, M, Dv, cj, true, gw);
        columnSums(z, kc, cj, M, true);
      }
    }
    // reverse scan: dfk, dv of each chunk's keys from R, r of the later rows and the chunk's own
    for (let i0 = (L - 1) / C * C; i0 >= 0; i0 -= C) {
      const cr = min(C, L - i0), cj = max(0, min(cr, S - i0));
      const kc = fku + (<usize>(i0 * M) << 2), vc = vu + (<usize>(i0 * Dv) << 2);
      const dkc = dku + (<usize>(i0 * M) << 2), dvc = dvu + (<usize>(i0 * Dv) << 2);
      if (cj > 0) {
        gemm(dkc, M, vc, Dv, false, R, Dv, true, cj, M, Dv, false, gw);
        for (let t = 0; t < cj; t++) axpy(dkc + (<usize>(t * M) << 2), 1, r, M);
        gemm(dvc, Dv, kc, M, false, R, Dv, false, cj, Dv, M, false, gw);
      }
      for (let h = h0; h < h0 + G; h++) {
        const row = (b * H + h) * L + i0;
        const qc = fq + (<usize>(row * M) << 2);
        rowGrads(dn, dd, dout + (<usize>(row * Dv) << 2), out + (<usize>(row * Dv) << 2), den + (<usize>row << 2), cr, Dv);
        if (cj > 0) {
          // dfk_c += W^T fq_c; dv_c += A^T dn
          gemm(W, C, dn, Dv, false, vc, Dv, true, cr, cj, Dv, false, gw);
          lowerTriangle(W, cr, cj, dd);
          gemm(dkc, M, W, C, true, qc, M, false, cj, M, cr, true, gw);
          gemm(A, C, qc, M, false, kc, M, true, cr, cj, M, false, gw);
          lowerTriangle(A, cr, cj, 0);
          gemm(dvc, Dv, A, C, true, dn, Dv, false, cj, Dv, cr, true, gw);
        }
        // R += fq_c^T dn, r += fq_c^T dd
        gemm(R, Dv, qc, M, true, dn, Dv, false, M, Dv, cr, true, gw);
        for (let t = 0; t < cr; t++) axpy(r, load<f32>(dd + (<usize>t << 2)), qc + (<usize>(t * M) << 2), M);
      }
    }
  }
}
