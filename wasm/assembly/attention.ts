/**
 * Fused attention on tiles (layouts and options: AttentionArgs in src/backend/backend.ts).
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], out [B, H, L, Dv], lse [B, H, L].
 *
 * Forward: per (b, h) and block of BR query rows, key tiles of BC columns: S = Q K^T (gemm), scale,
 * mask and causal limit, online softmax (running max m and sum l per row, the output rescaled by
 * exp(m_old - m_new)), out += P V (gemm); finally out /= l and lse = m + log l.
 * Backward recomputes P = exp(S - lse) per tile: dV += Pz^T dO, dP = (dO V^T) z,
 * dS = P (dP - rowsum(dO out)) scale, dQ += dS K, dK += dS^T Q (z: the dropout multipliers).
 * Scratch: a few BR x BC tiles, never L x S.
 *
 * Parts (threads): the forward splits into (b, h, block of BR query rows) units, dealt round-robin
 * (causal blocks differ in cost); the backward into kv heads (b, kv head): a part writes dK / dV of
 * its kv heads and dQ of the query heads that read them, summing in the single-threaded order.
 * Part p's scratch starts at work + p * attentionWorkBytes(D, Dv, backward).
 */
import { gemm, gemmWorkBytes } from "./gemm";
import { expShiftSum, rowMax, scaleRow } from "./softmax";
import { exps, hsum } from "./simd-math";
import { uniformAt } from "./rng";
import { partStart } from "./parts";

const BR: i32 = 64;
const BC: i32 = 256;
const TILE: usize = <usize>(BR * BC) << 2;

function gemmScratch(D: i32, Dv: i32): usize {
  const d = max(D, Dv);
  return gemmWorkBytes(max(BR, BC), max(BC, d), max(BC, d));
}

/** Bytes of `work` the forward (backward: true) needs. */
export function attentionWorkBytes(D: i32, Dv: i32, backward: bool): usize {
  return (backward ? 4 * TILE : TILE) + (<usize>(2 * BR) << 2) + gemmScratch(D, Dv) + 128;
}

/**
 * Scores of one tile row in place: row[c] = row[c] * scale + mask[c] for c < n, -Infinity for
 * n <= c < bc (the causal limit). Returns the row max.
 */
function scoreRow(row: usize, bc: i32, n: i32, scale: f32, mrow: usize): f32 {
  let c = 0;
  const vs = f32x4.splat(scale);
  if (mrow) {
    for (; c + 4 <= n; c += 4) {
      const o = <usize>c << 2;
      v128.store(row + o, f32x4.add(f32x4.mul(v128.load(row + o), vs), v128.load(mrow + o)));
    }
    for (; c < n; c++) {
      const o = <usize>c << 2;
      store<f32>(row + o, load<f32>(row + o) * scale + load<f32>(mrow + o));
    }
  } else {
    for (; c + 4 <= n; c += 4) {
      const o = <usize>c << 2;
      v128.store(row + o, f32x4.mul(v128.load(row + o), vs));
    }
    for (; c < n; c++) store<f32>(row + (<usize>c << 2), load<f32>(row + (<usize>c << 2)) * scale);
  }
  for (c = max(n, 0); c < bc; c++) store<f32>(row + (<usize>c << 2), -Infinity);
  return rowMax(row, bc);
}

/** z[c] (or row[c] *= z[c] when z is 0) for the dropout multipliers of row (bh, i), columns j0 + c. */
function dropoutRow(row: usize, z: usize, bc: i32, counter: u64, p: f64, k0: u32, k1: u32): void {
  const keep = <f32>(1 / (1 - p));
  for (let c = 0; c < bc; c++) {
    const f: f32 = uniformAt(k0, k1, counter + <u64>c) < p ? 0 : keep;
    if (z) store<f32>(z + (<usize>c << 2), f);
    else store<f32>(row + (<usize>c << 2), load<f32>(row + (<usize>c << 2)) * f);
  }
}

// @ts-ignore: decorator
@inline function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

export function attentionForward(out: usize, lse: usize, q: usize, k: usize, v: usize,
  B: i32, H: i32, Hkv: i32, L: i32, S: i32, D: i32, Dv: i32, scale: f32, causal: bool,
  mask: usize, msB: i32, msH: i32, msL: i32, dropoutP: f64, k0: u32, k1: u32, seedStart: f64, work: usize,
  part: i32, parts: i32): void {
  const G = H / Hkv;
  const St = align64(work + <usize>part * attentionWorkBytes(D, Dv, false));
  const mrow = St + TILE, lrow = mrow + (<usize>BR << 2);
  const gw = align64(lrow + (<usize>BR << 2));
  const seed = <u64>seedStart;
  const blocks = (L + BR - 1) / BR;
  const units = B * H * blocks;
  for (let u = part; u < units; u += parts) {
    const bh = u / blocks, i0 = (u % blocks) * BR;
    const b = bh / H, h = bh % H;
    const kvh = b * Hkv + h / G;
    const qh = q + (<usize>(bh * L * D) << 2), oh = out + (<usize>(bh * L * Dv) << 2);
    const kh = k + (<usize>(kvh * S * D) << 2), vh = v + (<usize>(kvh * S * Dv) << 2);
    const br = min(BR, L - i0);
    const ob = oh + (<usize>(i0 * Dv) << 2);
    memory.fill(ob, 0, <usize>(br * Dv) << 2);
    for (let r = 0; r < br; r++) {
      store<f32>(mrow + (<usize>r << 2), -Infinity);
      store<f32>(lrow + (<usize>r << 2), 0);
    }
    const jEnd = causal ? min(S, i0 + br) : S;
    for (let j0 = 0; j0 < jEnd; j0 += BC) {
      const bc = min(BC, jEnd - j0);
      gemm(St, bc, qh + (<usize>(i0 * D) << 2), D, false, kh + (<usize>(j0 * D) << 2), D, true, br, bc, D, false, gw);
      for (let r = 0; r < br; r++) {
        const i = i0 + r;
        const row = St + (<usize>(r * bc) << 2);
        const n = causal ? min(bc, i - j0 + 1) : bc;
        const mp = mask ? mask + (<usize>(b * msB + h * msH + i * msL + j0) << 2) : 0;
        const tmax = scoreRow(row, bc, n, scale, mp);
        const mold = load<f32>(mrow + (<usize>r << 2));
        const mnew = max(mold, tmax);
        if (mnew == -Infinity) {
          memory.fill(row, 0, <usize>bc << 2);
          continue;
        }
        const alpha = exps(mold - mnew);
        const sum = expShiftSum(row, row, bc, mnew);
        store<f32>(lrow + (<usize>r << 2), load<f32>(lrow + (<usize>r << 2)) * alpha + sum);
        store<f32>(mrow + (<usize>r << 2), mnew);
        if (alpha != 1) scaleRow(ob + (<usize>(r * Dv) << 2), Dv, alpha);
        if (dropoutP > 0) dropoutRow(row, 0, bc, seed + (<u64>(bh * L + i)) * <u64>S + <u64>j0, dropoutP, k0, k1);
      }
      gemm(ob, Dv, St, bc, false, vh + (<usize>(j0 * Dv) << 2), Dv, false, br, Dv, bc, true, gw);
    }
    for (let r = 0; r < br; r++) {
      const m = load<f32>(mrow + (<usize>r << 2));
      const lp = lse + (<usize>(bh * L + i0 + r) << 2);
      if (m == -Infinity) {
        // every key masked: output 0 (nothing was added), lse -Infinity
        store<f32>(lp, -Infinity);
        continue;
      }
      const l = load<f32>(lrow + (<usize>r << 2));
      scaleRow(ob + (<usize>(r * Dv) << 2), Dv, <f32>(1 / <f64>l));
      store<f32>(lp, <f32>(<f64>m + Math.log(<f64>l)));
    }
  }
}

/** sum_d x[d] y[d] */
function dot(x: usize, y: usize, n: i32): f32 {
  let d = 0;
  let vs = f32x4.splat(0);
  for (; d + 4 <= n; d += 4) vs = f32x4.add(vs, f32x4.mul(v128.load(x + (<usize>d << 2)), v128.load(y + (<usize>d << 2))));
  let s = hsum(vs);
  for (; d < n; d++) s += load<f32>(x + (<usize>d << 2)) * load<f32>(y + (<usize>d << 2));
  return s;
}

export function attentionBackward(dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize, out: usize, lse: usize,
  B: i32, H: i32, Hkv: i32, L: i32, S: i32, D: i32, Dv: i32, scale: f32, causal: bool,
  mask: usize, msB: i32, msH: i32, msL: i32, dropoutP: f64, k0: u32, k1: u32, seedStart: f64, work: usize,
  part: i32, parts: i32): void {
  const G = H / Hkv;
  const P = align64(work + <usize>part * attentionWorkBytes(D, Dv, true));
  const Pz = P + TILE, Z = Pz + TILE, dP = Z + TILE;
  const Di = dP + TILE;
  const gw = align64(Di + (<usize>BR << 2));
  const seed = <u64>seedStart;
  const drop = dropoutP > 0;
  for (let kvh = part; kvh < B * Hkv; kvh += parts) {
    // kv head (b, kvh % Hkv) and its query heads h in [h0, h0 + G), in the single-threaded order
    const b = kvh / Hkv, h0 = (kvh % Hkv) * G;
    memory.fill(dk + (<usize>(kvh * S * D) << 2), 0, <usize>(S * D) << 2);
    memory.fill(dv + (<usize>(kvh * S * Dv) << 2), 0, <usize>(S * Dv) << 2);
    memory.fill(dq + (<usize>((b * H + h0) * L * D) << 2), 0, <usize>(G * L * D) << 2);
    for (let h = h0; h < h0 + G; h++) {
      const bh = b * H + h;
      const qo = <usize>(bh * L * D) << 2, oo = <usize>(bh * L * Dv) << 2;
      const ko = <usize>(kvh * S * D) << 2, vo = <usize>(kvh * S * Dv) << 2;
      for (let i0 = 0; i0 < L; i0 += BR) {
        const br = min(BR, L - i0);
        const qb = q + qo + (<usize>(i0 * D) << 2), dqb = dq + qo + (<usize>(i0 * D) << 2);
        const gb = dout + oo + (<usize>(i0 * Dv) << 2), ob = out + oo + (<usize>(i0 * Dv) << 2);
        for (let r = 0; r < br; r++) {
          store<f32>(Di + (<usize>r << 2), dot(gb + (<usize>(r * Dv) << 2), ob + (<usize>(r * Dv) << 2), Dv));
        }
        const jEnd = causal ? min(S, i0 + br) : S;
        for (let j0 = 0; j0 < jEnd; j0 += BC) {
          const bc = min(BC, jEnd - j0);
          const kt = k + ko + (<usize>(j0 * D) << 2), vt = v + vo + (<usize>(j0 * Dv) << 2);
          gemm(P, bc, qb, D, false, kt, D, true, br, bc, D, false, gw);
          for (let r = 0; r < br; r++) {
            const i = i0 + r;
            const row = P + (<usize>(r * bc) << 2);
            const l = load<f32>(lse + (<usize>(bh * L + i) << 2));
            if (l == -Infinity) {
              // fully masked row: no gradient
              memory.fill(row, 0, <usize>bc << 2);
              if (drop) {
                memory.fill(Z + (<usize>(r * bc) << 2), 0, <usize>bc << 2);
                memory.fill(Pz + (<usize>(r * bc) << 2), 0, <usize>bc << 2);
              }
              continue;
            }
            const n = causal ? min(bc, i - j0 + 1) : bc;
            const mp = mask ? mask + (<usize>(b * msB + h * msH + i * msL + j0) << 2) : 0;
            scoreRow(row, bc, n, scale, mp);
            expShiftSum(row, row, bc, l);
            if (drop) {
              const zr = Z + (<usize>(r * bc) << 2), pzr = Pz + (<usize>(r * bc) << 2);
              dropoutRow(row, zr, bc, seed + (<u64>(bh * L + i)) * <u64>S + <u64>j0, dropoutP, k0, k1);
              for (let c = 0; c < bc; c++) {
                const o = <usize>c << 2;
                store<f32>(pzr + o, load<f32>(row + o) * load<f32>(zr + o));
              }
            }
          }
          const pz = drop ? Pz : P;
          // dV[j0:] += Pz^T dO
          gemm(dv + vo + (<usize>(j0 * Dv) << 2), Dv, pz, bc, true, gb, Dv, false, bc, Dv, br, true, gw);
          // dP = dO V^T
          gemm(dP, bc, gb, Dv, false, vt, Dv, true, br, bc, Dv, false, gw);
          // dS = P (dP z - Di) scale, into dP
          for (let r = 0; r < br; r++) {
            const o = <usize>(r * bc) << 2;
            const di = load<f32>(Di + (<usize>r << 2));
            const pr = P + o, dr = dP + o, zr = Z + o;
            let c = 0;
            const vdi = f32x4.splat(di), vsc = f32x4.splat(scale);
            if (drop) {
              for (; c + 4 <= bc; c += 4) {
                const e = <usize>c << 2;
                const g = f32x4.sub(f32x4.mul(v128.load(dr + e), v128.load(zr + e)), vdi);
                v128.store(dr + e, f32x4.mul(f32x4.mul(v128.load(pr + e), g), vsc));
              }
              for (; c < bc; c++) {
                const e = <usize>c << 2;
                store<f32>(dr + e, load<f32>(pr + e) * (load<f32>(dr + e) * load<f32>(zr + e) - di) * scale);
              }
            } else {
              for (; c + 4 <= bc; c += 4) {
                const e = <usize>c << 2;
                const g = f32x4.sub(v128.load(dr + e), vdi);
                v128.store(dr + e, f32x4.mul(f32x4.mul(v128.load(pr + e), g), vsc));
              }
              for (; c < bc; c++) {
                const e = <usize>c << 2;
                store<f32>(dr + e, load<f32>(pr + e) * (load<f32>(dr + e) - di) * scale);
              }
            }
          }
          // dQ += dS K; dK[j0:] += dS^T Q
          gemm(dqb, D, dP, bc, false, kt, D, false, br, D, bc, true, gw);
          gemm(dk + ko + (<usize>(j0 * D) << 2), D, dP, bc, true, qb, D, false, bc, D, br, true, gw);
        }
      }
    }
  }
}
