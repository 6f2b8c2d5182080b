// The sparse attention kernels, written once and compiled per instruction set: included inside
// namespace qkv::<isa> after efficient_vec.h. No include guard on purpose.
//
// Forward, per kv unit (b, kv head): the unit's keys are packed transposed (kt [D, ld]) so that a
// row's scores over a contiguous key range are a vectorized product over key columns; strided
// ranges take one dot product per key. Then, per query row of the unit's heads (tasks of kRows
// rows over the pool): scores into a row buffer, max, exp and sum, out = sum_j p_j v_j / sum.
// Backward recomputes p_j = exp(s_j - lse) per row; dk/dv are summed per kv unit by one task
// (whole units per task), or, with fewer units than threads, rows are split over the pool and
// each thread sums into its own dk/dv buffer (reduced after each unit).

constexpr int64_t kSparseRows = 16;  // query rows per task

inline int64_t sparseLd(int64_t S) { return ((S + 15) / 16) * 16 + 64; }

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
  }
  if (failed) throw std::bad_alloc();
}

// Rows [i0, i1) of query head bh against kv unit ku / vu (row-major) and kt / vt (transposed,
// [D, ld] and [Dv, ld]): writes the dq rows, accumulates into dku [S, D] and dvu [S, Dv].
// buf holds 2 * (maxRow + 64) + D floats.
inline void sparseBackwardRows(float* dq, float* dku, float* dvu, const float* dout, const float* q, const float* ku,
                               const float* vu, const float* kt, const float* vt, int64_t ld, const float* out,
                               const float* lse, int64_t bh, int64_t i0, int64_t i1, float* buf,
                               const SparseParams& p) {
  const int64_t L = p.L, D = p.D, Dv = p.Dv;
  float* s = buf;
  float* dp = s + p.maxRow + 64;
  float* dqi = dp + p.maxRow + 64;
  for (int64_t i = i0; i < i1; i++) {
    const float* qi = q + (bh * L + i) * D;
    const float* gi = dout + (bh * L + i) * Dv;
    float* dqr = dq + (bh * L + i) * D;
    const float l = lse[bh * L + i];
    if (l == -std::numeric_limits<float>::infinity()) {
      for (int64_t d = 0; d < D; d++) dqr[d] = 0.0f;
      continue;
    }
    const float di = dotLanes(gi, out + (bh * L + i) * Dv, Dv);
    const int64_t n = rowScores(s, qi, kt, ld, ku, D, p, i);
    rowScores(dp, gi, vt, ld, vu, Dv, p, i);
    // p = exp(s - lse) undoes the forward's normalization; ds = p (dp - Di) scale undoes the softmax
    for (int64_t t = 0; t < n; t++) {
      const float pr = expApprox(s[t] * p.scale - l);
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
  const size_t bufSize = static_cast<size_t>(2 * (p.maxRow + 64) + D);
  std::atomic<bool> failed{false};
  const int threads = numThreads();
  if (threads == 1 || units % threads == 0 || units >= 4 * threads) {
    // Whole kv units per task: the unit's dk / dv rows have a single writer.
    parallelFor(units, 1, [&](int64_t begin, int64_t end) {
      float* kt = scratch(ScratchSlot::AttnA, packSize);
      float* buf = scratch(ScratchSlot::AttnB, bufSize);
      if (kt == nullptr || buf == nullptr) { failed = true; return; }
      float* vt = kt + D * ld;
      for (int64_t unit = begin; unit < end; unit++) {
        const float* ku = k + unit * S * D;
        const float* vu = v + unit * S * Dv;
        packColumns(kt, ld, ku, S, D, false);
        packColumns(vt, ld, vu, S, Dv, false);
        for (int64_t h = (unit % Hkv) * G; h < (unit % Hkv + 1) * G; h++)
          sparseBackwardRows(dq, dk + unit * S * D, dv + unit * S * Dv, dout, q, ku, vu, kt, vt, ld, out, lse,
                             (unit / Hkv) * H + h, 0, L, buf, p);
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
    std::atomic<int64_t> next{0};
    int used = 1;
    parallelRun(threads, [&](int tid, int nth) {
      if (tid == 0) used = nth;
      float* buf = scratch(ScratchSlot::AttnB, bufSize);
      if (buf == nullptr) { failed = true; return; }
      float* tk = tid == 0 ? dku : partial.data() + static_cast<size_t>(tid - 1) * unitSize;
      float* tv = tid == 0 ? dvu : tk + S * D;
      for (;;) {
        const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
        if (item >= G * nblk) break;
        const int64_t i0 = (item % nblk) * kSparseRows;
        sparseBackwardRows(dq, tk, tv, dout, q, ku, vu, kt, vt, ld, out, lse,
                           (unit / Hkv) * H + (unit % Hkv) * G + item / nblk, i0, std::min(L, i0 + kSparseRows), buf, p);
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
  }
}
