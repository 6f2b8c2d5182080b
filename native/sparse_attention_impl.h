// The sparse attention kernels, written once and compiled per instruction set: included in a
// namespace per instruction set (per_isa.h), with the row helpers of efficient_vec.h. No include
// guard on purpose.
//
// Forward, per kv unit (b, kv head): the unit's keys are packed transposed (kt [D, ld]) so that a
// row's scores over a contiguous key range are a vectorized product over key columns; strided
// ranges take one dot product per key. Then, per query row of the unit's heads (tasks of kRows
// rows over the pool): scores into a row buffer, max, exp and sum, out = sum_j p_j v_j / sum.
// Backward recomputes p_j = exp(s_j - lse) per row; dk/dv are summed per kv unit by one task
// (whole units per task), or, with fewer units than threads, rows are split over the pool in fixed
// ranges and each thread sums into its own dk/dv buffer (reduced after each unit, in thread order:
// the same bits for the same thread count, not across thread counts).
//
// Wide rows (kWideKeys keys or more, such as Longformer's and BigBird's global rows, which attend
// every key) leave the row tasks: they go in groups of up to kWideGroup rows over chunks of
// kWideChunk keys, so a chunk's keys and values (and dk / dv rows) are read once per group while
// they sit in cache, instead of once per row from memory. The forward runs the chunks over the
// pool, each chunk keeping a partial (max, sum, sum_j p_j v_j) per row, merged after as the online
// softmax does; the backward gives each chunk its own dk / dv rows, and dq is summed over chunks.

#include "efficient_vec.h"

constexpr int64_t kSparseRows = 16;  // query rows per task

constexpr int64_t kWideKeys = 1024;   // a row with at least this many keys is a wide row
constexpr int64_t kWideChunk = 256;   // keys per chunk of the wide rows
constexpr int64_t kWideGroup = 64;    // wide (row, head) items per group

inline int64_t sparseLd(int64_t S) { return ((S + 15) / 16) * 16 + 64; }

// The wide rows of the pattern (ascending) and a per-row flag (empty when there are none).
struct WideRows {
  std::vector<int64_t> rows;
  std::vector<uint8_t> flag;
  const uint8_t* flags() const { return rows.empty() ? nullptr : flag.data(); }
};

inline WideRows findWideRows(const SparseParams& p) {
  WideRows w;
  if (p.maxRow < kWideKeys) return w;
  w.flag.assign(static_cast<size_t>(p.L), 0);
  for (int64_t i = 0; i < p.L; i++) {
    int64_t n = 0;
    for (int64_t r = p.rowLo[i]; r < p.rowHi[i]; r++) {
      const int64_t s0 = p.spans[3 * r], e = p.spans[3 * r + 1], st = p.spans[3 * r + 2];
      if (e > s0) n += (e - s0 + st - 1) / st;
    }
    if (n >= kWideKeys) {
      w.rows.push_back(i);
      w.flag[static_cast<size_t>(i)] = 1;
    }
  }
  return w;
}

// Calls fn(j0, cnt, st) for each piece of row i's ranges inside the keys [c0, c1): the keys
// j0, j0 + st, ... (cnt of them), in pattern order.
template <class Fn>
inline void chunkPieces(const SparseParams& p, int64_t i, int64_t c0, int64_t c1, Fn&& fn) {
  for (int64_t r = p.rowLo[i]; r < p.rowHi[i]; r++) {
    const int64_t s0 = p.spans[3 * r], e = std::min<int64_t>(p.spans[3 * r + 1], c1), st = p.spans[3 * r + 2];
    const int64_t lo = s0 >= c0 ? s0 : s0 + ((c0 - s0 + st - 1) / st) * st;
    if (lo < e) fn(lo, (e - lo + st - 1) / st, st);
  }
}

// s[0:n) = x . (key j) over row i's keys in [c0, c1) (chunkPieces order); returns n.
inline int64_t chunkScores(float* s, const float* x, const float* kt, int64_t ld, const float* kr, int64_t D,
                           const SparseParams& p, int64_t i, int64_t c0, int64_t c1) {
  int64_t n = 0;
  chunkPieces(p, i, c0, c1, [&](int64_t j0, int64_t cnt, int64_t st) {
    if (st == 1) gemvColumns(s + n, x, kt + j0, ld, D, cnt);
    else
      for (int64_t t = 0; t < cnt; t++) s[n + t] = dotLanes(x, kr + (j0 + t * st) * D, D);
    n += cnt;
  });
  return n;
}

// kt[d * ld + j] = x[j * D + d] for j < S, zero for S <= j < ld.
inline void packColumns(float* kt, int64_t ld, const float* x, int64_t S, int64_t D, bool parallel) {
  constexpr int64_t kBlock = 256;
  const int64_t nb = (S + kBlock - 1) / kBlock;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; blk++) {
      const int64_t j0 = blk * kBlock;
      transposeInto(kt + j0, ld, x + j0 * D, std::min(kBlock, S - j0), D);
    }
  };
  if (parallel) parallelFor(nb, std::max<int64_t>(1, 65536 / std::max<int64_t>(kBlock * D, 1)), body);
  else body(0, nb);
  for (int64_t d = 0; d < D; d++)
    for (int64_t j = S; j < ld; j++) kt[d * ld + j] = 0.0f;
}

// s[0:n) = x . (key j) over row i's allowed keys in pattern order; returns n. kt is the [D, ld]
// transposed block of the unit's keys, kr the same keys row-major [S, D]. s needs n + 64 floats.
inline int64_t rowScores(float* s, const float* x, const float* kt, int64_t ld, const float* kr, int64_t D,
                         const SparseParams& p, int64_t i) {
  int64_t n = 0;
  for (int64_t r = p.rowLo[i]; r < p.rowHi[i]; r++) {
    const int64_t s0 = p.spans[3 * r], e = p.spans[3 * r + 1], st = p.spans[3 * r + 2];
    if (e <= s0) continue;
    const int64_t cnt = (e - s0 + st - 1) / st;
    if (st == 1) {
      gemvColumns(s + n, x, kt + s0, ld, D, cnt);
    } else {
      for (int64_t t = 0; t < cnt; t++) s[n + t] = dotLanes(x, kr + (s0 + t * st) * D, D);
    }
    n += cnt;
  }
  return n;
}

// The wide rows of kv unit (b, hk), keys packed in kt: per group of (head, row) items, the chunks
// of kWideChunk keys over the pool, each writing a partial (max m, sum l, acc = sum_j e^(s_j - m) v_j)
// per item; then per item the partials merged: M = max m_c, l = sum_c l_c e^(m_c - M),
// out = sum_c acc_c e^(m_c - M) / l, lse = M + log l.
inline void wideForward(float* out, float* lse, const float* q, const float* kt, int64_t ld, const float* ku,
                        const float* vu, int64_t b, int64_t hk, const std::vector<int64_t>& rows,
                        const SparseParams& p, std::atomic<bool>& failed) {
  const int64_t H = p.H, G = p.H / p.Hkv, L = p.L, S = p.S, D = p.D, Dv = p.Dv;
  const int64_t nW = static_cast<int64_t>(rows.size());
  const int64_t R = std::max<int64_t>(1, kWideGroup / G);  // rows per group
  const int64_t nChunks = (S + kWideChunk - 1) / kWideChunk, stride = Dv + 2;
  std::vector<float> part(static_cast<size_t>(nChunks * G * std::min(R, nW) * stride));
  const size_t bufSize = static_cast<size_t>(kWideChunk + 64 + D);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int64_t g0 = 0; g0 < nW; g0 += R) {
    const int64_t nr = std::min(R, nW - g0), items = G * nr;
    parallelFor(nChunks, 1, [&](int64_t begin, int64_t end) {
      float* s = scratch(ScratchSlot::AttnC, bufSize);
      if (s == nullptr) { failed = true; return; }
      float* xs = s + kWideChunk + 64;
      for (int64_t c = begin; c < end; c++) {
        const int64_t c0 = c * kWideChunk, c1 = std::min(S, c0 + kWideChunk);
        for (int64_t it = 0; it < items; it++) {
          const int64_t i = rows[static_cast<size_t>(g0 + it % nr)], bh = b * H + hk * G + it / nr;
          float* pt = part.data() + (c * items + it) * stride;
          const float* qi = q + (bh * L + i) * D;
          for (int64_t d = 0; d < D; d++) xs[d] = qi[d] * p.scale;
          const int64_t n = chunkScores(s, xs, kt, ld, ku, D, p, i, c0, c1);
          const float m = n > 0 ? maxLanes(s, n) : kNegInf;
          pt[0] = m;
          float* acc = pt + 2;
          for (int64_t x = 0; x < Dv; x++) acc[x] = 0.0f;
          if (m == kNegInf) { pt[1] = 0.0f; continue; }
          pt[1] = expShiftSum(s, n, m);
          int64_t t = 0;
          chunkPieces(p, i, c0, c1, [&](int64_t j0, int64_t cnt, int64_t st) {
            axpyRows(acc, s + t, vu + j0 * Dv, st * Dv, cnt, Dv);
            t += cnt;
          });
        }
      }
    });
    parallelFor(items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t it = begin; it < end; it++) {
        const int64_t i = rows[static_cast<size_t>(g0 + it % nr)], bh = b * H + hk * G + it / nr;
        float* o = out + (bh * L + i) * Dv;
        float M = kNegInf;
        for (int64_t c = 0; c < nChunks; c++) M = std::max(M, part[static_cast<size_t>((c * items + it) * stride)]);
        for (int64_t x = 0; x < Dv; x++) o[x] = 0.0f;
        if (M == kNegInf) { lse[bh * L + i] = M; continue; }
        float l = 0.0f;
        for (int64_t c = 0; c < nChunks; c++) {
          const float* pt = part.data() + (c * items + it) * stride;
          if (pt[0] == kNegInf) continue;
          const float w = std::exp(pt[0] - M);
          l += pt[1] * w;
          axpy(o, w, pt + 2, Dv);
        }
        const float inv = 1.0f / l;
        for (int64_t x = 0; x < Dv; x++) o[x] *= inv;
        lse[bh * L + i] = M + std::log(l);
      }
    });
  }
}

void sparseAttentionForward(float* out, float* lse, const float* q, const float* k, const float* v,
                            const SparseParams& p) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, L = p.L, S = p.S, D = p.D, Dv = p.Dv;
  if (B == 0 || H == 0 || L == 0) return;
  const int64_t G = H / Hkv, ld = sparseLd(S), nblk = (L + kSparseRows - 1) / kSparseRows;
  float* kt = scratch(ScratchSlot::AttnA, static_cast<size_t>(D * ld));
  if (kt == nullptr) throw std::bad_alloc();
  const double rowFlops = 2.0 * static_cast<double>(p.nnz) / static_cast<double>(L) * static_cast<double>(D + Dv) + 64.0;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(2e5 / (rowFlops * kSparseRows)));
  const size_t bufSize = static_cast<size_t>(p.maxRow + 64 + D + Dv);
  std::atomic<bool> failed{false};
  const WideRows wide = findWideRows(p);
  const uint8_t* isWide = wide.flags();
  for (int64_t unit = 0; unit < B * Hkv; unit++) {
    const int64_t b = unit / Hkv, hk = unit % Hkv;
    const float* ku = k + unit * S * D;
    const float* vu = v + unit * S * Dv;
    packColumns(kt, ld, ku, S, D, true);
    parallelFor(G * nblk, grain, [&](int64_t begin, int64_t end) {
      float* s = scratch(ScratchSlot::AttnB, bufSize);
      if (s == nullptr) { failed = true; return; }
      float* xs = s + p.maxRow + 64;
      float* acc = xs + D;
      for (int64_t item = begin; item < end; item++) {
        const int64_t bh = b * H + hk * G + item / nblk, i0 = (item % nblk) * kSparseRows;
        for (int64_t i = i0; i < std::min(L, i0 + kSparseRows); i++) {
          if (isWide != nullptr && isWide[i]) continue;
          const float* qi = q + (bh * L + i) * D;
          float* o = out + (bh * L + i) * Dv;
          for (int64_t d = 0; d < D; d++) xs[d] = qi[d] * p.scale;
          const int64_t n = rowScores(s, xs, kt, ld, ku, D, p, i);
          const float m = n > 0 ? maxLanes(s, n) : -std::numeric_limits<float>::infinity();
          if (m == -std::numeric_limits<float>::infinity()) {
            lse[bh * L + i] = m;
            for (int64_t c = 0; c < Dv; c++) o[c] = 0.0f;
            continue;
          }
          const float sum = expShiftSum(s, n, m);
          for (int64_t c = 0; c < Dv; c++) acc[c] = 0.0f;
          int64_t t = 0;
          for (int64_t r = p.rowLo[i]; r < p.rowHi[i]; r++) {
            const int64_t s0 = p.spans[3 * r], e = p.spans[3 * r + 1], st = p.spans[3 * r + 2];
            if (e <= s0) continue;
            const int64_t cnt = (e - s0 + st - 1) / st;
            axpyRows(acc, s + t, vu + s0 * Dv, st * Dv, cnt, Dv);
            t += cnt;
          }
          const float inv = 1.0f / sum;
          for (int64_t c = 0; c < Dv; c++) o[c] = acc[c] * inv;
          lse[bh * L + i] = m + std::log(sum);
        }
      }
    });
    if (!wide.rows.empty()) wideForward(out, lse, q, kt, ld, ku, vu, b, hk, wide.rows, p, failed);
  }
  if (failed) throw std::bad_alloc();
}

// Rows [i0, i1) of query head bh (but the wide ones) against kv unit ku / vu (row-major) and kt / vt
// (transposed, [D, ld] and [Dv, ld]): writes the dq rows, accumulates into dku [S, D] and dvu [S, Dv].
// buf holds 2 * (maxRow + 64) + 2 D floats.
inline void sparseBackwardRows(float* dq, float* dku, float* dvu, const float* dout, const float* q, const float* ku,
                               const float* vu, const float* kt, const float* vt, int64_t ld, const float* out,
                               const float* lse, int64_t bh, int64_t i0, int64_t i1, float* buf,
                               const SparseParams& p, const uint8_t* isWide) {
  const int64_t L = p.L, D = p.D, Dv = p.Dv;
  float* s = buf;
  float* dp = s + p.maxRow + 64;
  float* dqi = dp + p.maxRow + 64;
  float* xs = dqi + D;
  for (int64_t i = i0; i < i1; i++) {
    if (isWide != nullptr && isWide[i]) continue;
    const float* qi = q + (bh * L + i) * D;
    const float* gi = dout + (bh * L + i) * Dv;
    float* dqr = dq + (bh * L + i) * D;
    const float l = lse[bh * L + i];
    if (l == -std::numeric_limits<float>::infinity()) {
      for (int64_t d = 0; d < D; d++) dqr[d] = 0.0f;
      continue;
    }
    const float di = dotLanes(gi, out + (bh * L + i) * Dv, Dv);
    // the scores as the forward made them (the query scaled first), so s - lse <= 0 whatever their size
    for (int64_t d = 0; d < D; d++) xs[d] = qi[d] * p.scale;
    const int64_t n = rowScores(s, xs, kt, ld, ku, D, p, i);
    rowScores(dp, gi, vt, ld, vu, Dv, p, i);
    // p = exp(s - lse) undoes the forward's normalization; ds = p (dp - Di) scale undoes the softmax
    for (int64_t t = 0; t < n; t++) {
      const float pr = expApprox(s[t] - l);
      s[t] = pr;
      dp[t] = pr * (dp[t] - di) * p.scale;
    }
    for (int64_t d = 0; d < D; d++) dqi[d] = 0.0f;
    int64_t t = 0;
    for (int64_t r = p.rowLo[i]; r < p.rowHi[i]; r++) {
      const int64_t s0 = p.spans[3 * r], e = p.spans[3 * r + 1], st = p.spans[3 * r + 2];
      if (e <= s0) continue;
      const int64_t cnt = (e - s0 + st - 1) / st;
      axpyRows(dqi, dp + t, ku + s0 * D, st * D, cnt, D);
      for (int64_t j = s0; j < e; j += st, t++) {
        axpy(dvu + j * Dv, s[t], gi, Dv);
        axpy(dku + j * D, dp[t], qi, D);
      }
    }
    for (int64_t d = 0; d < D; d++) dqr[d] = dqi[d];
  }
}

// The items of one wide-row group (item it = head it / nr of the unit, row rows[it % nr]) against the
// keys [c0, c1): adds each item's dq part into dqAcc [items, D] and the chunk's dk / dv rows into
// dku / dvu. The same passes as sparseBackwardRows, restricted to the chunk. buf holds
// 2 * (kWideChunk + 64) + D floats.
inline void wideBackwardChunk(float* dqAcc, float* dku, float* dvu, const float* dout, const float* q, const float* ku,
                              const float* vu, const float* kt, const float* vt, int64_t ld, const float* out,
                              const float* lse, int64_t bh0, const int64_t* rows, int64_t nr, int64_t items,
                              int64_t c0, int64_t c1, float* buf, const SparseParams& p) {
  const int64_t L = p.L, D = p.D, Dv = p.Dv;
  float* s = buf;
  float* dp = s + kWideChunk + 64;
  float* xs = dp + kWideChunk + 64;
  for (int64_t it = 0; it < items; it++) {
    const int64_t i = rows[it % nr], bh = bh0 + it / nr;
    const float l = lse[bh * L + i];
    if (l == -std::numeric_limits<float>::infinity()) continue;
    const float* qi = q + (bh * L + i) * D;
    const float* gi = dout + (bh * L + i) * Dv;
    const float di = dotLanes(gi, out + (bh * L + i) * Dv, Dv);
    for (int64_t d = 0; d < D; d++) xs[d] = qi[d] * p.scale;  // as the forward scores
    const int64_t n = chunkScores(s, xs, kt, ld, ku, D, p, i, c0, c1);
    if (n == 0) continue;
    chunkScores(dp, gi, vt, ld, vu, Dv, p, i, c0, c1);
    for (int64_t t = 0; t < n; t++) {
      const float pr = expApprox(s[t] - l);
      s[t] = pr;
      dp[t] = pr * (dp[t] - di) * p.scale;
    }
    float* dqi = dqAcc + it * D;
    int64_t t = 0;
    chunkPieces(p, i, c0, c1, [&](int64_t j0, int64_t cnt, int64_t st) {
      axpyRows(dqi, dp + t, ku + j0 * D, st * D, cnt, D);
      for (int64_t x = 0; x < cnt; x++, t++) {
        const int64_t j = j0 + x * st;
        axpy(dvu + j * Dv, s[t], gi, Dv);
        axpy(dku + j * D, dp[t], qi, D);
      }
    });
  }
}

// The wide rows of kv unit `unit` in the calling task, chunk after chunk (dq summed in dqAcc,
// [kWideGroup + G, D] floats; buf as wideBackwardChunk).
inline void wideBackwardUnit(float* dq, float* dku, float* dvu, const float* dout, const float* q, const float* ku,
                             const float* vu, const float* kt, const float* vt, int64_t ld, const float* out,
                             const float* lse, int64_t unit, const std::vector<int64_t>& rows, float* dqAcc,
                             float* buf, const SparseParams& p) {
  const int64_t G = p.H / p.Hkv, L = p.L, S = p.S, D = p.D;
  const int64_t bh0 = (unit / p.Hkv) * p.H + (unit % p.Hkv) * G;
  const int64_t nW = static_cast<int64_t>(rows.size()), R = std::max<int64_t>(1, kWideGroup / G);
  for (int64_t g0 = 0; g0 < nW; g0 += R) {
    const int64_t nr = std::min(R, nW - g0), items = G * nr;
    for (int64_t x = 0; x < items * D; x++) dqAcc[x] = 0.0f;
    for (int64_t c0 = 0; c0 < S; c0 += kWideChunk)
      wideBackwardChunk(dqAcc, dku, dvu, dout, q, ku, vu, kt, vt, ld, out, lse, bh0, rows.data() + g0, nr, items,
                        c0, std::min(S, c0 + kWideChunk), buf, p);
    for (int64_t it = 0; it < items; it++) {
      float* dqr = dq + ((bh0 + it / nr) * L + rows[static_cast<size_t>(g0 + it % nr)]) * D;
      for (int64_t d = 0; d < D; d++) dqr[d] = dqAcc[it * D + d];
    }
  }
}

// The wide rows of kv unit `unit` with the chunks over the pool: each chunk owns its dk / dv rows
// and writes its dq parts apart; the parts are summed after.
inline void wideBackwardPooled(float* dq, float* dku, float* dvu, const float* dout, const float* q, const float* ku,
                               const float* vu, const float* kt, const float* vt, int64_t ld, const float* out,
                               const float* lse, int64_t unit, const std::vector<int64_t>& rows,
                               const SparseParams& p, std::atomic<bool>& failed) {
  const int64_t G = p.H / p.Hkv, L = p.L, S = p.S, D = p.D;
  const int64_t bh0 = (unit / p.Hkv) * p.H + (unit % p.Hkv) * G;
  const int64_t nW = static_cast<int64_t>(rows.size()), R = std::max<int64_t>(1, kWideGroup / G);
  const int64_t nChunks = (S + kWideChunk - 1) / kWideChunk;
  std::vector<float> parts(static_cast<size_t>(nChunks * G * std::min(R, nW) * D));
  for (int64_t g0 = 0; g0 < nW; g0 += R) {
    const int64_t nr = std::min(R, nW - g0), items = G * nr;
    parallelFor(nChunks, 1, [&](int64_t begin, int64_t end) {
      float* buf = scratch(ScratchSlot::AttnC, static_cast<size_t>(2 * (kWideChunk + 64) + D));
      if (buf == nullptr) { failed = true; return; }
      for (int64_t c = begin; c < end; c++) {
        float* dqAcc = parts.data() + c * items * D;
        for (int64_t x = 0; x < items * D; x++) dqAcc[x] = 0.0f;
        const int64_t c0 = c * kWideChunk;
        wideBackwardChunk(dqAcc, dku, dvu, dout, q, ku, vu, kt, vt, ld, out, lse, bh0, rows.data() + g0, nr, items,
                          c0, std::min(S, c0 + kWideChunk), buf, p);
      }
    });
    parallelFor(items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t it = begin; it < end; it++) {
        float* dqr = dq + ((bh0 + it / nr) * L + rows[static_cast<size_t>(g0 + it % nr)]) * D;
        for (int64_t d = 0; d < D; d++) dqr[d] = 0.0f;
        for (int64_t c = 0; c < nChunks; c++) axpy(dqr, 1.0f, parts.data() + (c * items + it) * D, D);
      }
    });
  }
}

void sparseAttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                             const float* v, const float* out, const float* lse, const SparseParams& p) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, L = p.L, S = p.S, D = p.D, Dv = p.Dv;
  const int64_t units = B * Hkv;
  parallelFor(units * S, std::max<int64_t>(1, 65536 / std::max<int64_t>(D + Dv, 1)), [&](int64_t begin, int64_t end) {
    std::memset(dk + begin * D, 0, sizeof(float) * static_cast<size_t>((end - begin) * D));
    std::memset(dv + begin * Dv, 0, sizeof(float) * static_cast<size_t>((end - begin) * Dv));
  });
  if (B == 0 || H == 0 || L == 0) return;
  const int64_t G = H / Hkv, ld = sparseLd(S), nblk = (L + kSparseRows - 1) / kSparseRows;
  const size_t packSize = static_cast<size_t>((D + Dv) * ld);
  const size_t bufSize = static_cast<size_t>(2 * (p.maxRow + 64) + 2 * D);
  std::atomic<bool> failed{false};
  const WideRows wide = findWideRows(p);
  const uint8_t* isWide = wide.flags();
  const int threads = numThreads();
  if (threads == 1 || units % threads == 0 || units >= 4 * threads) {
    // Whole kv units per task: the unit's dk / dv rows have a single writer.
    const size_t wideSize = wide.rows.empty() ? 0 : static_cast<size_t>((kWideGroup + G) * D + 2 * (kWideChunk + 64) + D);
    parallelFor(units, 1, [&](int64_t begin, int64_t end) {
      float* kt = scratch(ScratchSlot::AttnA, packSize);
      float* buf = scratch(ScratchSlot::AttnB, std::max(bufSize, wideSize));
      if (kt == nullptr || buf == nullptr) { failed = true; return; }
      float* vt = kt + D * ld;
      for (int64_t unit = begin; unit < end; unit++) {
        const float* ku = k + unit * S * D;
        const float* vu = v + unit * S * Dv;
        packColumns(kt, ld, ku, S, D, false);
        packColumns(vt, ld, vu, S, Dv, false);
        for (int64_t h = (unit % Hkv) * G; h < (unit % Hkv + 1) * G; h++)
          sparseBackwardRows(dq, dk + unit * S * D, dv + unit * S * Dv, dout, q, ku, vu, kt, vt, ld, out, lse,
                             (unit / Hkv) * H + h, 0, L, buf, p, isWide);
        if (isWide != nullptr)
          wideBackwardUnit(dq, dk + unit * S * D, dv + unit * S * Dv, dout, q, ku, vu, kt, vt, ld, out, lse, unit,
                           wide.rows, buf + 2 * (kWideChunk + 64) + D, buf, p);
      }
    });
    if (failed) throw std::bad_alloc();
    return;
  }
  // Few kv units: one unit at a time, its rows over the pool, dk / dv summed per thread.
  float* kt = scratch(ScratchSlot::AttnA, packSize);
  if (kt == nullptr) throw std::bad_alloc();
  float* vt = kt + D * ld;
  const size_t unitSize = static_cast<size_t>(S * (D + Dv));
  std::vector<float> partial(unitSize * static_cast<size_t>(threads - 1));
  for (int64_t unit = 0; unit < units; unit++) {
    const float* ku = k + unit * S * D;
    const float* vu = v + unit * S * Dv;
    float* dku = dk + unit * S * D;
    float* dvu = dv + unit * S * Dv;
    packColumns(kt, ld, ku, S, D, true);
    packColumns(vt, ld, vu, S, Dv, true);
    std::fill(partial.begin(), partial.end(), 0.0f);
    int used = 1;
    parallelRun(threads, [&](int tid, int nth) {
      if (tid == 0) used = nth;
      float* buf = scratch(ScratchSlot::AttnB, bufSize);
      if (buf == nullptr) { failed = true; return; }
      float* tk = tid == 0 ? dku : partial.data() + static_cast<size_t>(tid - 1) * unitSize;
      float* tv = tid == 0 ? dvu : tk + S * D;
      // A fixed range of row items per thread (not first come, first served): each thread's dk / dv
      // sum, and so the result, then depends on the thread count only.
      const int64_t items = G * nblk;
      for (int64_t item = items * tid / nth; item < items * (tid + 1) / nth; item++) {
        const int64_t i0 = (item % nblk) * kSparseRows;
        sparseBackwardRows(dq, tk, tv, dout, q, ku, vu, kt, vt, ld, out, lse,
                           (unit / Hkv) * H + (unit % Hkv) * G + item / nblk, i0, std::min(L, i0 + kSparseRows), buf, p,
                           isWide);
      }
    });
    if (failed) throw std::bad_alloc();
    parallelFor(S, std::max<int64_t>(1, 16384 / std::max<int64_t>(D + Dv, 1)), [&](int64_t begin, int64_t end) {
      for (int t = 1; t < used; t++) {
        const float* pk = partial.data() + static_cast<size_t>(t - 1) * unitSize;
        const float* pv = pk + S * D;
        for (int64_t x = begin * D; x < end * D; x++) dku[x] += pk[x];
        for (int64_t x = begin * Dv; x < end * Dv; x++) dvu[x] += pv[x];
      }
    });
    if (isWide != nullptr) wideBackwardPooled(dq, dku, dvu, dout, q, ku, vu, kt, vt, ld, out, lse, unit, wide.rows, p, failed);
    if (failed) throw std::bad_alloc();
  }
}
