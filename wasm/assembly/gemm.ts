/**
 * Blocked single-precision GEMM over linear memory (byte pointers, element leading dims):
 * C [M, N] (+)= op(A) [M, K] @ op(B) [K, N], with op(A)(i, k) = transA ? A[k * lda + i] : A[i * lda + k]
 * and op(B)(k, n) = transB ? B[n * ldb + k] : B[k * ldb + n]; C(i, n) = C[i * ldc + n].
 *
 * Goto-style blocking: a KC x NC block of B is packed into NR-wide panels, an MC x KC block of A into
 * MR-tall panels, and a 5 x 8 register tile runs over KC: 10 f32x4 accumulators, 2 B vectors, a
 * broadcast A value and a product, 14 of the 15 vector registers V8 allocates on x64 (6 x 8 spills).
 * Edge tiles compute into a zero-padded scratch tile and copy the valid part.
 */

export const MR: i32 = 5;
export const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = MR * 20;
const NC: i32 = 1024;

/** Bytes of scratch `gemm` needs for these sizes. */
export function gemmWorkBytes(M: i32, N: i32, K: i32): usize {
  const kc = min(K, KC);
  const nc = (min(N, NC) + NR - 1) / NR * NR;
  const mc = (min(M, MC) + MR - 1) / MR * MR;
  return (<usize>(kc * nc + kc * mc + MR * NR) << 2) + 64;
}

/** Packs op(A) rows [i0, i0 + mc), cols [k0, k0 + kc) into MR-row panels: dst[p][k][r], zero padded. */
function packA(dst: usize, A: usize, lda: i32, transA: bool, i0: i32, mc: i32, k0: i32, kc: i32): void {
  for (let p = 0; p < mc; p += MR) {
    const rows = min(MR, mc - p);
    const panel = dst + (<usize>(p * kc) << 2);
    if (transA) {
      // A(i, k) = A[k * lda + i]: MR contiguous values per k
      for (let k = 0; k < kc; k++) {
        const src = A + (<usize>((k0 + k) * lda + i0 + p) << 2);
        const d = panel + (<usize>(k * MR) << 2);
        if (rows == MR) {
          v128.store(d, v128.load(src));
          store<f32>(d, load<f32>(src, 16), 16);
        } else {
          for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) : 0);
        }
      }
    } else {
      for (let r = 0; r < MR; r++) {
        const d = panel + (<usize>r << 2);
        if (r < rows) {
          const src = A + (<usize>((i0 + p + r) * lda + k0) << 2);
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>(k * MR) << 2), load<f32>(src + (<usize>k << 2)));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>(k * MR) << 2), 0);
        }
      }
    }
  }
}

/** Packs op(B) rows [k0, k0 + kc), cols [n0, n0 + nc) into NR-col panels: dst[q][k][c], zero padded. */
function packB(dst: usize, B: usize, ldb: i32, transB: bool, k0: i32, kc: i32, n0: i32, nc: i32): void {
  for (let q = 0; q < nc; q += NR) {
    const cols = min(NR, nc - q);
    const panel = dst + (<usize>(q * kc) << 2);
    if (!transB) {
      for (let k = 0; k < kc; k++) {
        const src = B + (<usize>((k0 + k) * ldb + n0 + q) << 2);
        const d = panel + (<usize>(k * NR) << 2);
        if (cols == NR) {
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
        } else {
          for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(src + (<usize>c << 2)) : 0);
        }
      }
    } else {
      for (let c = 0; c < NR; c++) {
        const d = panel + (<usize>c << 2);
        if (c < cols) {
          const src = B + (<usize>((n0 + q + c) * ldb + k0) << 2);
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>(k * NR) << 2), load<f32>(src + (<usize>k << 2)));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(d + (<usize>(k * NR) << 2), 0);
        }
      }
    }
  }
}

/** C tile [5, 8] at c (row stride ldc elements) (+)= Apanel [kc][5] @ Bpanel [kc][8]. */
export function kernel5x8(a: usize, b: usize, kc: i32, c: usize, ldc: i32, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 16);
    c40 = f32x4.add(c40, f32x4.mul(x, b0)); c41 = f32x4.add(c41, f32x4.mul(x, b1));
    a += 20;
    b += 32;
  }
  const s = <usize>ldc << 2;
  if (accumulate) {
    v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += s;
    v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += s;
    v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += s;
    v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16); c += s;
    v128.store(c, f32x4.add(v128.load(c), c40)); v128.store(c, f32x4.add(v128.load(c, 16), c41), 16);
  } else {
    v128.store(c, c00); v128.store(c, c01, 16); c += s;
    v128.store(c, c10); v128.store(c, c11, 16); c += s;
    v128.store(c, c20); v128.store(c, c21, 16); c += s;
    v128.store(c, c30); v128.store(c, c31, 16); c += s;
    v128.store(c, c40); v128.store(c, c41, 16);
  }
}

/** See the file comment; `work` holds gemmWorkBytes(M, N, K) bytes. */
export function gemm(C: usize, ldc: i32, A: usize, lda: i32, transA: bool, B: usize, ldb: i32, transB: bool,
  M: i32, N: i32, K: i32, accumulate: bool, work: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(C + (<usize>(i * ldc) << 2), 0, <usize>N << 2);
    return;
  }
  work = (work + 63) & ~(<usize>63);
  const kcMax = min(K, KC);
  const ncMax = (min(N, NC) + NR - 1) / NR * NR;
  const pb = work;
  const pa = pb + (<usize>(kcMax * ncMax) << 2);
  const mcMax = (min(M, MC) + MR - 1) / MR * MR;
  const tile = pa + (<usize>(kcMax * mcMax) << 2);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const acc = accumulate || pc > 0;
      packB(pb, B, ldb, transB, pc, kc, jc, nc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(pa, A, lda, transA, ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = pb + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const ap = pa + (<usize>(ir * kc) << 2);
            const cp = C + (<usize>((ic + ir) * ldc + jc + jr) << 2);
            if (mr == MR && nr == NR) {
              kernel5x8(ap, bp, kc, cp, ldc, acc);
            } else {
              kernel5x8(ap, bp, kc, tile, NR, false);
              for (let r = 0; r < mr; r++) {
                const crow = cp + (<usize>(r * ldc) << 2), trow = tile + (<usize>(r * NR) << 2);
                for (let q = 0; q < nr; q++) {
                  const t = load<f32>(trow + (<usize>q << 2));
                  const o = crow + (<usize>q << 2);
                  store<f32>(o, acc ? load<f32>(o) + t : t);
                }
              }
            }
          }
        }
      }
    }
  }
}
