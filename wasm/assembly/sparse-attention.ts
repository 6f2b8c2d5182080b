/**
 * Sparse attention over a pattern of allowed keys per query row (SparsePattern in
 * src/backend/backend.ts; the reference is src/backend/js/sparse-attention.ts).
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], out [B, H, L, Dv], lse [B, H, L];
 * rowLo, rowHi [L] and spans [3 * ranges] are i32: row i's keys are spans[3r] + t * spans[3r + 2]
 * < spans[3r + 1] over the ranges r in [rowLo[i], rowHi[i]).
 *
 * A row's keys are walked in pattern order in chunks of up to CH, their indices listed in `work`
 * (padded to a multiple of 4 with the last key), so no row length bounds the scratch: a global row
 * of every key costs no more memory than a window row. Contiguous and strided ranges take the same
 * path: four key (value) rows at a time, wherever they lie.
 *
 * Forward, per row and chunk: scores s_j = (q_i . k_j) scale, four keys at a time; online softmax
 * (running max m and sum l, the output rescaled by exp(m_old - m_new) when the max moves);
 * out_i += sum_j exp(s_j - m) v_j, four value rows per pass. Finally out_i /= l and
 * lse_i = m + log l; a row with no key gives out 0 and lse -Infinity.
 * Backward, per row (lse finite) and chunk: p_j = exp(s_j - lse) undoes the normalization;
 * dp_j = dout_i . v_j and ds_j = p_j (dp_j - Di) scale, Di = dout_i . out_i, undo the softmax;
 * dq_i += ds_j k_j, dk_j += ds_j q_i, dv_j += p_j dout_i undo the scores and out = sum_j p_j v_j.
 *
 * Parts (threads): the forward splits the (b, h, row) items, in that order, into contiguous
 * ranges of equal cost (a row costs its keys plus ROW_COST); the backward into kv heads (b, kv
 * head) dealt round-robin: a part writes dK / dV of its kv heads and dQ of the query heads that read
 * them, summing in the single-threaded order. Part p's scratch starts at
 * work + p * sparseAttentionWorkBytes().
 */
import { align64, axpy, dot, rowPtr } from "./rows";
import { expShiftSum, rowMax, scaleRow } from "./softmax";
import { expv, exps } from "./simd-math";

/** Keys per chunk of a row. */
const CH: i32 = 256;
/** What a row costs beyond its keys, in keys (the part split's balance). */
const ROW_COST: i64 = 8;
const LIST: usize = <usize>(CH + 4) << 2;

/** Bytes of `work` one part needs: the key list, two score rows and the walk's cursor. */
export function sparseAttentionWorkBytes(): usize {
  return 3 * LIST + 64 + 128;
}

/** Keys of row i. */
function rowKeys(rowLo: usize, rowHi: usize, spans: usize, i: i32): i32 {
  let n = 0;
  const hi = load<i32>(rowHi + (<usize>i << 2));
  for (let r = load<i32>(rowLo + (<usize>i << 2)); r < hi; r++) {
    const sp = rowPtr(spans, r, 3);
    const s = load<i32>(sp), e = load<i32>(sp, 4), st = load<i32>(sp, 8);
    if (e > s) n += (e - s + st - 1) / st;
  }
  return n;
}

/**
 * Starts the walk of row i's ranges [rowLo[i], rowHi[i]): the cursor (range, next key) at cur;
 * returns rowHi[i].
 */
function keysStart(cur: usize, rowLo: usize, rowHi: usize, spans: usize, i: i32): i32 {
  const lo = load<i32>(rowLo + (<usize>i << 2)), hi = load<i32>(rowHi + (<usize>i << 2));
  store<i32>(cur, lo);
  store<i32>(cur, lo < hi ? load<i32>(rowPtr(spans, lo, 3)) : 0, 4);
  return hi;
}

/**
 * Lists the walk's next keys (up to CH) at idx, padded to a multiple of 4 with the last one, and
 * moves the cursor past them; returns how many (0: the row is done).
 */
function keysNext(idx: usize, cur: usize, hi: i32, spans: usize): i32 {
  let r = load<i32>(cur), j = load<i32>(cur, 4);
  let n = 0;
  while (r < hi && n < CH) {
    const sp = rowPtr(spans, r, 3);
    const e = load<i32>(sp, 4), st = load<i32>(sp, 8);
    for (; j < e && n < CH; j += st) store<i32>(idx + (<usize>(n++) << 2), j);
    if (j >= e && ++r < hi) j = load<i32>(rowPtr(spans, r, 3));
  }
  store<i32>(cur, r);
  store<i32>(cur, j, 4);
  if (n > 0) {
    const last = load<i32>(idx + (<usize>(n - 1) << 2));
    for (let t = n; (t & 3) != 0; t++) store<i32>(idx + (<usize>t << 2), last);
  }
  return n;
}

/**
 * (x . y0, x . y1, x . y2, x . y3) over n floats. Each lane is summed alike (4 strided partial sums,
 * then pairs), so a key's score does not depend on its place among the four.
 */
function dot4(x: usize, y0: usize, y1: usize, y2: usize, y3: usize, n: i32): v128 {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    const o = <usize>d << 2;
    const x4 = v128.load(x + o);
    a0 = f32x4.add(a0, f32x4.mul(x4, v128.load(y0 + o)));
    a1 = f32x4.add(a1, f32x4.mul(x4, v128.load(y1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(x4, v128.load(y2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(x4, v128.load(y3 + o)));
  }
  // [a0.0 + a0.2, a1.0 + a1.2, a0.1 + a0.3, a1.1 + a1.3] and likewise for a2, a3; then the pairs
  const u0 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
  const u1 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  let r = f32x4.add(v128.shuffle<f32>(u0, u1, 0, 1, 4, 5), v128.shuffle<f32>(u0, u1, 2, 3, 6, 7));
  if (d < n) {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; d < n; d++) {
      const o = <usize>d << 2;
      const xd = load<f32>(x + o);
      s0 += xd * load<f32>(y0 + o);
      s1 += xd * load<f32>(y1 + o);
      s2 += xd * load<f32>(y2 + o);
      s3 += xd * load<f32>(y3 + o);
    }
    const t = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(s0), 1, s1), 2, s2), 3, s3);
    r = f32x4.add(r, t);
  }
  return r;
}

/** y[0, n) += (a.0 x0 + a.1 x1) + (a.2 x2 + a.3 x3). */
function axpy4(y: usize, a: v128, x0: usize, x1: usize, x2: usize, x3: usize, n: i32): void {
  const c0 = v128.shuffle<f32>(a, a, 0, 0, 0, 0), c1 = v128.shuffle<f32>(a, a, 1, 1, 1, 1);
  const c2 = v128.shuffle<f32>(a, a, 2, 2, 2, 2), c3 = v128.shuffle<f32>(a, a, 3, 3, 3, 3);
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    const o = <usize>d << 2;
    const s01 = f32x4.add(f32x4.mul(c0, v128.load(x0 + o)), f32x4.mul(c1, v128.load(x1 + o)));
    const s23 = f32x4.add(f32x4.mul(c2, v128.load(x2 + o)), f32x4.mul(c3, v128.load(x3 + o)));
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.add(s01, s23)));
  }
  if (d < n) {
    const a0 = f32x4.extract_lane(a, 0), a1 = f32x4.extract_lane(a, 1);
    const a2 = f32x4.extract_lane(a, 2), a3 = f32x4.extract_lane(a, 3);
    for (; d < n; d++) {
      const o = <usize>d << 2;
      const s = (a0 * load<f32>(x0 + o) + a1 * load<f32>(x1 + o)) + (a2 * load<f32>(x2 + o) + a3 * load<f32>(x3 + o));
      store<f32>(y + o, load<f32>(y + o) + s);
    }
  }
}

/** Byte address of row idx[t] of a [S, n] block at base. */
function rowAt(base: usize, idx: usize, t: i32, n: i32): usize {
  return base + (<usize>(load<i32>(idx + (<usize>t << 2)) * n) << 2);
}

/** dot4 of x with the listed rows idx[t, t + 4) of y [S, n]. */
// @ts-ignore: decorator
@inline function dot4At(x: usize, y: usize, idx: usize, t: i32, n: i32): v128 {
  return dot4(x, rowAt(y, idx, t, n), rowAt(y, idx, t + 1, n), rowAt(y, idx, t + 2, n), rowAt(y, idx, t + 3, n), n);
}

/** s[0, n) = (x . y_j) scale over the listed rows j = idx[t] of y [S, nx], four at a time (n padded to 4). */
// @ts-ignore: decorator
@inline function scores(s: usize, x: usize, y: usize, idx: usize, n: i32, nx: i32, scale: v128): void {
  for (let t = 0; t < n; t += 4) v128.store(s + (<usize>t << 2), f32x4.mul(dot4At(x, y, idx, t, nx), scale));
}

/**
 * o[0, no) += sum_t a[t] x_j over the listed rows j = idx[t] of x [S, no], four at a time; a[n, pad)
 * (to a multiple of 4) is set to 0 first.
 */
// @ts-ignore: decorator
@inline function addRows(o: usize, a: usize, x: usize, idx: usize, n: i32, no: i32): void {
  for (let t = n; (t & 3) != 0; t++) store<f32>(a + (<usize>t << 2), 0);
  for (let t = 0; t < n; t += 4) {
    axpy4(o, v128.load(a + (<usize>t << 2)), rowAt(x, idx, t, no), rowAt(x, idx, t + 1, no), rowAt(x, idx, t + 2, no),
      rowAt(x, idx, t + 3, no), no);
  }
}

/** out / lse of query row i of head bh (see the file comment). */
function forwardRow(out: usize, lse: usize, q: usize, kh: usize, vh: usize, rowLo: usize, rowHi: usize, spans: usize,
  bh: i32, i: i32, L: i32, D: i32, Dv: i32, scale: f32, idx: usize, s: usize, cur: usize): void {
  const row = bh * L + i;
  const qi = rowPtr(q, row, D), o = rowPtr(out, row, Dv);
  memory.fill(o, 0, <usize>Dv << 2);
  const hi = keysStart(cur, rowLo, rowHi, spans, i);
  const vs = f32x4.splat(scale);
  let m: f32 = -Infinity, l: f32 = 0;
  for (;;) {
    const n = keysNext(idx, cur, hi, spans);
    if (n == 0) break;
    scores(s, qi, kh, idx, n, D, vs);
    const mnew = max(m, rowMax(s, n));
    if (mnew == -Infinity) continue;
    if (m != -Infinity && mnew != m) {
      const alpha = exps(m - mnew);
      l *= alpha;
      scaleRow(o, Dv, alpha);
    }
    l += expShiftSum(s, s, n, mnew);
    m = mnew;
    addRows(o, s, vh, idx, n, Dv);
  }
  const lp = lse + (<usize>row << 2);
  if (m == -Infinity) {
    // no key (or none with a finite score): out stays 0
    store<f32>(lp, -Infinity);
    return;
  }
  scaleRow(o, Dv, <f32>(1 / <f64>l));
  store<f32>(lp, <f32>(<f64>m + Math.log(<f64>l)));
}

export function sparseAttentionForward(out: usize, lse: usize, q: usize, k: usize, v: usize,
  rowLo: usize, rowHi: usize, spans: usize, B: i32, H: i32, Hkv: i32, L: i32, S: i32, D: i32, Dv: i32, scale: f32,
  work: usize, part: i32, parts: i32): void {
  const G = H / Hkv;
  const idx = align64(work + <usize>part * sparseAttentionWorkBytes());
  const s = idx + LIST, cur = s + LIST;
  // this part's items: those whose cost so far (over the (b, h, row) order) lies in [c0, c1)
  let perHead: i64 = 0;
  for (let i = 0; i < L; i++) perHead += ROW_COST + <i64>rowKeys(rowLo, rowHi, spans, i);
  if (perHead == 0) return;
  const total = perHead * <i64>(B * H);
  const c0 = total * <i64>part / <i64>parts, c1 = total * <i64>(part + 1) / <i64>parts;
  for (let bh = <i32>(c0 / perHead); bh < B * H; bh++) {
    let c = <i64>bh * perHead;
    if (c >= c1) break;
    const kvh = (bh / H) * Hkv + (bh % H) / G;
    const kh = rowPtr(k, kvh * S, D), vh = rowPtr(v, kvh * S, Dv);
    for (let i = 0; i < L && c < c1; i++) {
      if (c >= c0) forwardRow(out, lse, q, kh, vh, rowLo, rowHi, spans, bh, i, L, D, Dv, scale, idx, s, cur);
      c += ROW_COST + <i64>rowKeys(rowLo, rowHi, spans, i);
    }
  }
}

export function sparseAttentionBackward(dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize,
  out: usize, lse: usize, rowLo: usize, rowHi: usize, spans: usize, B: i32, H: i32, Hkv: i32, L: i32, S: i32, D: i32,
  Dv: i32, scale: f32, work: usize, part: i32, parts: i32): void {
  const G = H / Hkv;
  const idx = align64(work + <usize>part * sparseAttentionWorkBytes());
  const ps = idx + LIST, ds = ps + LIST, cur = ds + LIST;
  const vsc = f32x4.splat(scale);
  for (let kvh = part; kvh < B * Hkv; kvh += parts) {
    // kv head (b, kvh % Hkv) and its query heads h in [h0, h0 + G), in the single-threaded order
    const b = kvh / Hkv, h0 = (kvh % Hkv) * G;
    const kh = rowPtr(k, kvh * S, D), vh = rowPtr(v, kvh * S, Dv);
    const dkh = rowPtr(dk, kvh * S, D), dvh = rowPtr(dv, kvh * S, Dv);
    memory.fill(dkh, 0, <usize>(S * D) << 2);
    memory.fill(dvh, 0, <usize>(S * Dv) << 2);
    for (let h = h0; h < h0 + G; h++) {
      const bh = b * H + h;
      for (let i = 0; i < L; i++) {
        const row = bh * L + i;
        const qi = rowPtr(q, row, D), dqi = rowPtr(dq, row, D);
        const gi = rowPtr(dout, row, Dv);
        memory.fill(dqi, 0, <usize>D << 2);
        const l = load<f32>(lse + (<usize>row << 2));
        if (l == -Infinity) continue; // no key: no gradient
        const vl = f32x4.splat(l), vdi = f32x4.splat(dot(gi, rowPtr(out, row, Dv), Dv));
        const hi = keysStart(cur, rowLo, rowHi, spans, i);
        for (;;) {
          const n = keysNext(idx, cur, hi, spans);
          if (n == 0) break;
          scores(ps, qi, kh, idx, n, D, vsc);
          for (let t = 0; t < n; t += 4) {
            const o = <usize>t << 2;
            // p = exp(s - lse) undoes the forward's normalization
            const p = expv(f32x4.sub(v128.load(ps + o), vl));
            // undo out = sum_j p_j v_j (dp), then the softmax (ds)
            const dp = dot4At(gi, vh, idx, t, Dv);
            v128.store(ps + o, p);
            v128.store(ds + o, f32x4.mul(f32x4.mul(p, f32x4.sub(dp, vdi)), vsc));
          }
          // undo the scaled dot product: dq_i += ds_j k_j; dk_j += ds_j q_i; and dv_j += p_j dout_i
          addRows(dqi, ds, kh, idx, n, D);
          for (let t = 0; t < n; t++) {
            const o = <usize>t << 2;
            axpy(rowAt(dvh, idx, t, Dv), load<f32>(ps + o), gi, Dv);
            axpy(rowAt(dkh, idx, t, D), load<f32>(ds + o), qi, D);
          }
        }
      }
    }
  }
}
