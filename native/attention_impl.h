// The fused attention driver, written once and compiled per instruction set: it is included inside
// namespace qkv::<isa> after that namespace's RowOps and tileGemm (so plain loops here vectorize for the
// instruction set of the including file). No include guard on purpose.
//
// TileOps::rowMax(s, n), TileOps::expShiftSum(s, n, m) (s = exp(s - m), returns the sum) and
// TileOps::expShift(s, n, m) (s = exp(s - m)) work on n a multiple of 16. TileOps::gemmK / gemmR compute  C[M, N] = (accumulate ? rowScale * C : 0) + A[M, K] @ B[K, N]
// with B rows at b + k * ldb and A "k-major" (element (r, k) at a[k * lda + r]) or "row-major"
// (at a[r * lda + k]); rowScale may be null (1).
//
// Forward (per batch b, head h, tile of kBr queries, or group of 4 tiles over each key block when the
// keys and values pass 512 KB; FlashAttention-2 loop order; the keys and values of a kv head are
// packed, K transposed by blocks and V as dense rows, by the task that first needs them):
//   Qs = scale * Q_tile, m = -inf, l = 0, O = 0
//   for each block of kBc keys (stopping at the diagonal when causal):
//     S = Qs @ K_blk^T (+ mask, -inf where causal/out of range)            [kBr, kBc]
//     m' = max(m, rowmax S); P = exp(S - m'); alpha = exp(m - m') (for the tile's rows at once); l = alpha l + rowsum P
//     O = alpha O + dropout(P) @ V_blk
//   O /= l, lse = m + log l
// Backward (per batch b, kv head, range of query tiles whose packed Q and dO fit in L2, block of kBc
// keys; dK, dV of the block stay hot):
//   for each query head sharing the kv head, each query tile of the range (from the diagonal when causal):
//     P = exp(S - lse), dPd = dO @ V_blk^T, dS = P * (dropout'(dPd) - Di) * scale, Di = rowsum(dO * O)
//     dV += dropout(P)^T @ dO, dK += dS^T @ Q, dQ += dS @ K_blk
//   With fewer kv heads than threads: dK, dV by key blocks over the pool, then dQ by query tiles,
//   each tile recomputed and its key blocks summed in the same order. Either way every output
//   element is summed by one task in one order, so the bits do not depend on the thread count.

// dst[c * ldd + r] = scale * src[r * lds + c] for r < rows, c < cols: the portable loop, for a RowOps
// without its own transposeScaled.
inline void transposeScaledLoop(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols,
                                float scale) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = scale * src[r * lds + c];
}
template <class T, class = void>
struct HasTransposeScaled : std::false_type {};
template <class T>
struct HasTransposeScaled<T, std::void_t<decltype(&T::transposeScaled)>> : std::true_type {};

// The tile products of the including file's tileGemm<kRowMajorA>, and its RowOps.
struct TileOps : RowOps {
  // dst[c * ldd + r] = scale * src[r * lds + c]: RowOps's vector transposes where it has them.
  template <class R = RowOps>
  static void transpose(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols, float scale) {
    if constexpr (HasTransposeScaled<R>::value) R::transposeScaled(dst, ldd, src, lds, rows, cols, scale);
    else transposeScaledLoop(dst, ldd, src, lds, rows, cols, scale);
  }
  static void gemmK(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t M,
                    int64_t N, int64_t K, bool accumulate, const float* rowScale) {
    tileGemm<false>(c, ldc, a, lda, b, ldb, M, N, K, accumulate, rowScale);
  }
  static void gemmR(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t M,
                    int64_t N, int64_t K, bool accumulate, const float* rowScale) {
    tileGemm<true>(c, ldc, a, lda, b, ldb, M, N, K, accumulate, rowScale);
  }
};

#ifndef QKV_BR
#define QKV_BR 96
#define QKV_BC 128
#endif
constexpr int64_t kBr = QKV_BR;  // queries per tile
constexpr int64_t kBc = QKV_BC;  // keys per block

// The columns of a key block that are computed: its bc keys rounded up to 16 (the row ops' step),
// so short sequences do not pay for a whole kBc-wide block. Columns past bc are masked to -inf.
inline int64_t blockWidth(int64_t bc) { return std::min(kBc, (bc + 15) / 16 * 16); }

// The additive mask, causal limit and key range of one row of scores s[0:blockWidth(bc)] (keys j0 + j).
inline void maskRow(float* s, const AttentionParams& p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t bc) {
  int64_t jmax = bc;
  if (p.causal) jmax = std::min<int64_t>(bc, std::max<int64_t>(0, i - j0 + 1));
  if (p.mask != nullptr) {
    const float* mrow = p.mask + b * p.maskStrideB + h * p.maskStrideH + i * p.maskStrideL + j0;
    for (int64_t j = 0; j < jmax; j++) s[j] += mrow[j];
  }
  for (int64_t j = jmax, bw = blockWidth(bc); j < bw; j++) s[j] = -std::numeric_limits<float>::infinity();
}

// keep[j] = the dropout keep factor (0 or 1 / (1 - p)) of counters base + j.
inline void dropoutRow(float* keep, uint32_t k0, uint32_t k1, uint64_t base, int64_t n, uint32_t threshold,
                       float keepScale) {
  for (int64_t j = 0; j < n; j++) {
    const uint32_t r = randomBits(k0, k1, base + static_cast<uint64_t>(j)) >> 8;
    keep[j] = r < threshold ? 0.0f : keepScale;
  }
}

// The keys of one kv head transposed by blocks: kt[kb * D * kBc + d * kBc + j] = x[kb * kBc + j][d] (rows
// ld apart), zero past S to the block's computed width (blockWidth); columns past that are never read.
inline void packTransposedBlocks(float* kt, const float* x, int64_t ld, int64_t S, int64_t D) {
  for (int64_t j0 = 0; j0 < S; j0 += kBc) {
    const int64_t bc = std::min(kBc, S - j0);
    float* dst = kt + (j0 / kBc) * D * kBc;
    TileOps::transpose(dst, kBc, x + j0 * ld, ld, bc, D, 1.0f);
    for (int64_t d = 0, bw = blockWidth(bc); d < D; d++)
      for (int64_t j = bc; j < bw; j++) dst[d * kBc + j] = 0.0f;
  }
}

// qt[(unit * nqt + t) * D * kBr + d * kBr + r] = scale * x[unit][t * kBr + r][d] for rows before L
// (unit = b * heads + h, x at strides st; the tile products read only a tile's rows, so rows past L
// are left unwritten).
inline void packQueryTiles(float* qt, const float* x, const RowStrides& st, int64_t units, int64_t heads, int64_t L,
                           int64_t D, float scale) {
  const int64_t nqt = (L + kBr - 1) / kBr;
  parallelFor(units * nqt, std::max<int64_t>(1, 16384 / std::max<int64_t>(D * kBr, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; it++) {
      const int64_t unit = it / nqt, t = it % nqt, i0 = t * kBr, rows = std::min(kBr, L - i0);
      float* dst = qt + it * D * kBr;
      TileOps::transpose(dst, kBr, x + st.at(unit / heads, unit % heads, i0), st.sL, rows, D, scale);
    }
  });
}

// One query tile: qp[d * kBr + r] = scale * x[r * ld + d] for r < rows (rows past it are never read).
inline void packQueryTile(float* qp, const float* x, int64_t rows, int64_t ld, int64_t D, float scale) {
  TileOps::transpose(qp, kBr, x, ld, rows, D, scale);
}

// Zeroes the elements of x [B, heads, rows, n] at strides st (and nothing between them).
inline void zeroRows(float* x, const RowStrides& st, int64_t B, int64_t heads, int64_t rows, int64_t n) {
  parallelFor(B * heads * rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(n, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; it++) {
      const int64_t bh = it / rows;
      std::memset(x + st.at(bh / heads, bh % heads, it % rows), 0, sizeof(float) * static_cast<size_t>(n));
    }
  });
}

void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v,
                      const AttentionParams& p) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, L = p.L, S = p.S, D = p.D, Dv = p.Dv;
  if (B == 0 || H == 0 || L == 0) return;
  if (S == 0) {
    zeroRows(out, p.os, B, H, L, Dv);
    for (int64_t i = 0; i < B * H * L; i++) lse[i] = -std::numeric_limits<float>::infinity();
    return;
  }
  const int64_t group = H / Hkv, nqt = (L + kBr - 1) / kBr, nkb = (S + kBc - 1) / kBc;
  const uint32_t threshold = dropThreshold(p.dropoutP);
  const float keepScale = p.dropoutP < 1.0 ? static_cast<float>(1.0 / (1.0 - p.dropoutP)) : 0.0f;
  const double tileFlops = 2.0 * static_cast<double>(kBr * std::min(S, kBc * 4) * (D + Dv));
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(2e6 / tileFlops));

  std::atomic<bool> failed{false};

  // Query tiles per item: one while a kv head's packed keys and values fit in 512 KB (every tile
  // then reads them from the core's L2), else kGroup consecutive tiles of one head go over the key
  // blocks together, so each block is brought in once for the group. A tile's sums are the same
  // either way.
  constexpr int64_t kGroup = 4;
  const int64_t per = S * (D + Dv) * 4 > (int64_t{512} << 10) ? std::min(kGroup, nqt) : 1;
  const int64_t ngr = (nqt + per - 1) / per;

  parallelFor(B * H * ngr, std::max<int64_t>(1, grain / per), [&](int64_t begin, int64_t end) {
    // the keys (transposed by blocks) and values (dense rows) of the kv head of the items at hand,
    // packed when it changes (the items of one kv head are consecutive), so the tile products read
    // them from cache and from dense rows whatever the operands' strides
    float* kt = scratch(ScratchSlot::AttnA, static_cast<size_t>(nkb * D * kBc + S * Dv));
    // per tile of the item: the query tile, then the tile's output rows, dense (the output itself
    // may be a strided view, e.g. into a [L, E] row of heads, whose rows 2 KB apart would share a
    // few L1 sets)
    const int64_t tileFloats = D * kBr + kBr * Dv;
    float* qps = scratch(ScratchSlot::AttnB, static_cast<size_t>(per * tileFloats));
    float* sbuf = scratch(ScratchSlot::AttnC, static_cast<size_t>(kBr * kBc + kBc));
    if (kt == nullptr || qps == nullptr || sbuf == nullptr) { failed = true; return; }
    float* keep = sbuf + kBr * kBc;
    // per tile: each row's running maximum m and sum l; for the block at hand: the rows' new
    // maxima mx, alpha, each row's rescaling exp(m_old - m_new), exponentiated for the whole tile at
    // once (rows past `rows` padded to the row ops' step of 16), and sums, each row's block sum of P
    float ms[kGroup][kBr], ls[kGroup][kBr], mx[kBr], alpha[(kBr + 15) / 16 * 16], sums[kBr];
    bool firsts[kGroup];
    int64_t packed = -1;
    for (int64_t item = begin; item < end; item++) {
      const int64_t bh = item / ngr, qt0 = (item % ngr) * per, qt1 = std::min(nqt, qt0 + per);
      const int64_t b = bh / H, h = bh % H, hk = h / group, bk = b * Hkv + hk;
      float* vd = kt + nkb * D * kBc;
      if (bk != packed) {
        packTransposedBlocks(kt, k + p.ks.at(b, hk, 0), p.ks.sL, S, D);
        const float* vsrc = v + p.vs.at(b, hk, 0);
        for (int64_t j = 0; j < S; j++) std::memcpy(vd + j * Dv, vsrc + j * p.vs.sL, sizeof(float) * static_cast<size_t>(Dv));
        packed = bk;
      }
      // the key blocks tile qt reads
      auto blocksOf = [&](int64_t qt) -> int64_t {
        return p.causal ? std::min(nkb, (std::min(S, std::min(L, (qt + 1) * kBr)) + kBc - 1) / kBc) : nkb;
      };
      for (int64_t qt = qt0; qt < qt1; qt++) {
        const int64_t i0 = qt * kBr, rows = std::min(kBr, L - i0), t = qt - qt0;
        packQueryTile(qps + t * tileFloats, q + p.qs.at(b, h, i0), rows, p.qs.sL, D, p.scale);
        for (int64_t r = 0; r < rows; r++) { ms[t][r] = -std::numeric_limits<float>::infinity(); ls[t][r] = 0.0f; }
        firsts[t] = true;
      }
      for (int64_t kb = 0, kbEnd = blocksOf(qt1 - 1); kb < kbEnd; kb++) {
        const int64_t j0 = kb * kBc, bc = std::min(kBc, S - j0), bw = blockWidth(bc);
        for (int64_t qt = qt0; qt < qt1; qt++) {
          if (kb >= blocksOf(qt)) continue;
          const int64_t i0 = qt * kBr, rows = std::min(kBr, L - i0), t = qt - qt0;
          float *m = ms[t], *l = ls[t], *qp = qps + t * tileFloats, *o = qp + D * kBr;  // o [rows, Dv]
          TileOps::gemmK(sbuf, kBc, qp, kBr, kt + kb * D * kBc, kBc, rows, bw, D, false, nullptr);
          // the rows' new maxima first, then their exponentials: a row's exponentials do not wait
          // for its own maximum's reduction (computed a tile's worth of independent work earlier)
          for (int64_t r = 0; r < rows; r++) {
            float* s = sbuf + r * kBc;
            maskRow(s, p, b, h, i0 + r, j0, bc);
            mx[r] = std::max(m[r], TileOps::rowMax(s, bw));
          }
          for (int64_t r = 0; r < rows; r++) {
            const int64_t i = i0 + r;
            float* s = sbuf + r * kBc;
            const float mnew = mx[r];
            if (mnew == -std::numeric_limits<float>::infinity()) {
              for (int64_t j = 0; j < bw; j++) s[j] = 0.0f;
              alpha[r] = 0.0f;  // exp(0) = 1
              sums[r] = 0.0f;
              continue;
            }
            alpha[r] = m[r] - mnew;  // -inf on the first block that has a key: exp gives 0
            sums[r] = TileOps::expShiftSum(s, bw, mnew);
            m[r] = mnew;
            if (threshold > 0) {
              dropoutRow(keep, p.seedK0, p.seedK1, p.seedStart + static_cast<uint64_t>((bh * L + i) * S + j0), bc,
                         threshold, keepScale);
              for (int64_t j = 0; j < bc; j++) s[j] *= keep[j];
            }
          }
          const int64_t rows16 = (rows + 15) / 16 * 16;
          for (int64_t r = rows; r < rows16; r++) alpha[r] = 0.0f;
          TileOps::expShift(alpha, rows16, 0.0f);
          for (int64_t r = 0; r < rows; r++) l[r] = l[r] * alpha[r] + sums[r];
          TileOps::gemmR(o, Dv, sbuf, kBc, vd + j0 * Dv, Dv, rows, Dv, bc, !firsts[t], alpha);
          firsts[t] = false;
        }
      }
      for (int64_t qt = qt0; qt < qt1; qt++) {
        const int64_t i0 = qt * kBr, rows = std::min(kBr, L - i0), t = qt - qt0;
        const float *m = ms[t], *l = ls[t], *o = qps + t * tileFloats + D * kBr;
        float* lrow = lse + bh * L + i0;
        for (int64_t r = 0; r < rows; r++) {
          float* orow = out + p.os.at(b, h, i0 + r);
          if (firsts[t] || !(l[r] > 0.0f)) {
            for (int64_t c = 0; c < Dv; c++) orow[c] = 0.0f;
            lrow[r] = -std::numeric_limits<float>::infinity();
            continue;
          }
          const float inv = 1.0f / l[r];
          for (int64_t c = 0; c < Dv; c++) orow[c] = o[r * Dv + c] * inv;
          lrow[r] = m[r] + std::log(l[r]);
        }
      }
    }
  });
  if (failed) throw std::bad_alloc();
}

void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, L = p.L, S = p.S, D = p.D, Dv = p.Dv;
  if (B == 0 || H == 0 || L == 0 || S == 0) {
    zeroRows(dq, p.qs, B, H, L, D);
    zeroRows(dk, p.ks, B, Hkv, S, D);
    zeroRows(dv, p.vs, B, Hkv, S, Dv);
    return;
  }
  // No zero-fill: the first product into each dQ tile (key block 0, which every query tile reads)
  // and into each dK / dV block overwrites; a key block no query reads is zeroed. Only the operands'
  // own elements are written (dq, dk and dv may be interleaved views of one buffer).
  const int64_t group = H / Hkv, nqt = (L + kBr - 1) / kBr, nkb = (S + kBc - 1) / kBc;
  // Every output element is summed by one task in a fixed order, so the result does not depend on
  // the thread count (or on which thread ran which task).
  const int threads = numThreads();
  const int64_t units = B * Hkv;
  const double work = static_cast<double>(L) * static_cast<double>(S) * static_cast<double>(group) * static_cast<double>(D + Dv) * 4.0;
  const bool wholeHeads = threads == 1 || units % threads == 0 || units >= 4 * threads || work * static_cast<double>(units) < 4e6;
  // The scaled queries and dO by k-major tiles (Tiles): with whole kv heads per task, each task
  // packs the tiles of its kv head's query heads just before it reads them (they stay in cache);
  // otherwise every head's up front, for the two passes.
  std::unique_ptr<float[]> diStore(new (std::nothrow) float[static_cast<size_t>(B * H * L)]);
  float* di = diStore.get();
  if (di == nullptr) throw std::bad_alloc();
  struct Tiles {
    const float* q;   // tile (bh, qt) at q + ((bh - bh0) * perHead + qt - qt0) * D * kBr
    const float* dO;  // and at dO + ((bh - bh0) * perHead + qt - qt0) * Dv * kBr
    int64_t bh0;
    int64_t qt0, qt1;  // the query tiles held: [qt0, qt1) of each head
    int64_t perHead;   // tiles per head in the store
    int64_t at(int64_t bh, int64_t qt) const { return (bh - bh0) * perHead + qt - qt0; }
  };
  Tiles all{nullptr, nullptr, 0, 0, nqt, nqt};
  if (!wholeHeads) {
    const size_t qtSize = static_cast<size_t>(B * H * nqt * kBr);
    float* qT = scratch(ScratchSlot::AttnA, qtSize * static_cast<size_t>(D + Dv));
    if (qT == nullptr) throw std::bad_alloc();
    float* doT = qT + qtSize * static_cast<size_t>(D);
    packQueryTiles(qT, q, p.qs, B * H, H, L, D, p.scale);
    packQueryTiles(doT, dout, p.os, B * H, H, L, Dv, 1.0f);
    all = Tiles{qT, doT, 0, 0, nqt, nqt};
  }
  parallelFor(B * H * L, std::max<int64_t>(1, 16384 / std::max<int64_t>(Dv, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const int64_t bh = i / L, at = p.os.at(bh / H, bh % H, i % L);
      const float* a = dout + at;
      const float* o = out + at;
      float s = 0.0f;
      for (int64_t c = 0; c < Dv; c++) s += a[c] * o[c];
      di[i] = s;
    }
  });
  const uint32_t threshold = dropThreshold(p.dropoutP);
  const float keepScale = p.dropoutP < 1.0 ? static_cast<float>(1.0 / (1.0 - p.dropoutP)) : 0.0f;
  std::atomic<bool> failed{false};

  // kT [D, kBc], vT [Dv, kBc]: key block kb of kv unit bk transposed, zero past S to blockWidth.
  auto packKeyBlock = [&](float* kT, float* vT, int64_t bk, int64_t j0, int64_t bc) {
    const float* kblk = k + p.ks.at(bk / Hkv, bk % Hkv, j0);
    const float* vblk = v + p.vs.at(bk / Hkv, bk % Hkv, j0);
    TileOps::transpose(kT, kBc, kblk, p.ks.sL, bc, D, 1.0f);
    TileOps::transpose(vT, kBc, vblk, p.vs.sL, bc, Dv, 1.0f);
    for (int64_t d = 0, bw = blockWidth(bc); d < D + Dv; d++)
      for (int64_t j = bc; j < bw; j++) kT[d * kBc + j] = 0.0f;
  };

  // Query tile qt of head bh (its tiles in t) against key block kb (packed in kT / vT):
  // sbuf = dropout(P), dsbuf = dS, both [rows, kBc].
  auto tileGrads = [&](float* sbuf, float* dsbuf, float* keep, const float* kT, const float* vT, const Tiles& t,
                       int64_t bh, int64_t qt, int64_t kb) {
    const int64_t b = bh / H, h = bh % H, i0 = qt * kBr, rows = std::min(kBr, L - i0);
    const int64_t j0 = kb * kBc, bc = std::min(kBc, S - j0), bw = blockWidth(bc);
    const int64_t tile = t.at(bh, qt);
    TileOps::gemmK(sbuf, kBc, t.q + tile * D * kBr, kBr, kT, kBc, rows, bw, D, false, nullptr);
    TileOps::gemmK(dsbuf, kBc, t.dO + tile * Dv * kBr, kBr, vT, kBc, rows, bw, Dv, false, nullptr);
    for (int64_t r = 0; r < rows; r++) {
      const int64_t i = i0 + r;
      float* s = sbuf + r * kBc;
      float* ds = dsbuf + r * kBc;
      const float li = lse[bh * L + i];
      if (li == -std::numeric_limits<float>::infinity()) {
        for (int64_t j = 0; j < bw; j++) s[j] = ds[j] = 0.0f;
        continue;
      }
      maskRow(s, p, b, h, i, j0, bc);
      TileOps::expShift(s, bw, li);
      const float dii = di[bh * L + i];
      if (threshold > 0) {
        dropoutRow(keep, p.seedK0, p.seedK1, p.seedStart + static_cast<uint64_t>((bh * L + i) * S + j0), bc,
                   threshold, keepScale);
        for (int64_t j = bc; j < bw; j++) keep[j] = 0.0f;
        for (int64_t j = 0; j < bw; j++) {
          ds[j] = s[j] * (ds[j] * keep[j] - dii) * p.scale;
          s[j] *= keep[j];
        }
      } else {
        for (int64_t j = 0; j < bw; j++) ds[j] = s[j] * (ds[j] - dii) * p.scale;
      }
    }
  };
  // The first query tile that reads key block kb (the causal diagonal).
  auto firstTile = [&](int64_t kb) -> int64_t { return p.causal ? std::min(nqt, kb * kBc / kBr) : 0; };

  // The dS tiles of the few-heads path, kept from its dK / dV pass for its dQ pass when they fit in
  // kDsStoreFloats (else that pass computes them again): tile (bh, qt, kb) at dsTile(bh, qt, kb).
  constexpr int64_t kDsStoreFloats = int64_t{1} << 24;
  std::unique_ptr<float[]> dsStore;
  auto dsTile = [&](int64_t bh, int64_t qt, int64_t kb) -> float* {
    return dsStore.get() + ((bh * nqt + qt) * nkb + kb) * kBr * kBc;
  };

  // One key block of one kv head, over the queries of t's tiles [qt0, qt1) that read it; with dqOut,
  // its dQ terms are added too (dQ tiles of the block's queries have no other writer while this
  // runs); else the dS tiles go to dsStore when there is one. dK / dV of the block are overwritten,
  // or added to with accumulateKv (an earlier range of query tiles wrote them); a block that no
  // query reads is zeroed with the last range. Returns whether it wrote dK / dV.
  auto keyBlock = [&](const Tiles& t, int64_t bk, int64_t kb, float* dqOut, bool accumulateKv) -> bool {
    const int64_t qtBegin = std::max(firstTile(kb), t.qt0);
    if (qtBegin >= t.qt1 && t.qt1 < nqt) return false;
    float* kT = scratch(ScratchSlot::AttnB, static_cast<size_t>((D + Dv) * kBc));
    float* sbuf = scratch(ScratchSlot::AttnC, static_cast<size_t>(2 * kBr * kBc + kBc));
    if (kT == nullptr || sbuf == nullptr) { failed = true; return false; }
    float* vT = kT + D * kBc;
    float* keep = sbuf + 2 * kBr * kBc;
    const int64_t b = bk / Hkv, hk = bk % Hkv, j0 = kb * kBc, bc = std::min(kBc, S - j0);
    packKeyBlock(kT, vT, bk, j0, bc);
    const float* kblk = k + p.ks.at(b, hk, j0);
    float* dkBlk = dk + p.ks.at(b, hk, j0);
    float* dvBlk = dv + p.vs.at(b, hk, j0);
    bool firstKv = !accumulateKv;
    for (int64_t h = hk * group; h < (hk + 1) * group; h++) {
      const int64_t bh = b * H + h;
      for (int64_t qt = qtBegin; qt < t.qt1; qt++) {
        const int64_t i0 = qt * kBr, rows = std::min(kBr, L - i0);
        float* dsbuf = dqOut == nullptr && dsStore ? dsTile(bh, qt, kb) : sbuf + kBr * kBc;
        tileGrads(sbuf, dsbuf, keep, kT, vT, t, bh, qt, kb);
        // dV[bc, Dv] += Pd^T @ dO;  dK[bc, D] += dS^T @ Q;  dQ[rows, D] += dS @ K_blk
        TileOps::gemmK(dvBlk, p.vs.sL, sbuf, kBc, dout + p.os.at(b, h, i0), p.os.sL, bc, Dv, rows, !firstKv, nullptr);
        TileOps::gemmK(dkBlk, p.ks.sL, dsbuf, kBc, q + p.qs.at(b, h, i0), p.qs.sL, bc, D, rows, !firstKv, nullptr);
        firstKv = false;
        if (dqOut != nullptr)
          TileOps::gemmR(dqOut + p.qs.at(b, h, i0), p.qs.sL, dsbuf, kBc, kblk, p.ks.sL, rows, D, bc, kb > 0, nullptr);
      }
    }
    if (firstKv && t.qt1 == nqt) {
      for (int64_t j = 0; j < bc; j++) {
        std::memset(dkBlk + j * p.ks.sL, 0, sizeof(float) * static_cast<size_t>(D));
        std::memset(dvBlk + j * p.vs.sL, 0, sizeof(float) * static_cast<size_t>(Dv));
      }
    }
    return !firstKv;
  };

  // dQ of query tile qt of head bh: the dS tiles of keyBlock (kept, or computed again the same way)
  // over its key blocks in keyBlock's order, so the sums are those of the whole-head path bit for bit.
  auto queryTile = [&](int64_t bh, int64_t qt) {
    const int64_t b = bh / H, hk = (bh % H) / group, bk = b * Hkv + hk, i0 = qt * kBr, rows = std::min(kBr, L - i0);
    float* dqTile = dq + p.qs.at(b, bh % H, i0);
    if (dsStore) {
      for (int64_t kb = 0; kb < nkb; kb++) {
        if (firstTile(kb) > qt) continue;
        const int64_t j0 = kb * kBc, bc = std::min(kBc, S - j0);
        TileOps::gemmR(dqTile, p.qs.sL, dsTile(bh, qt, kb), kBc, k + p.ks.at(b, hk, j0), p.ks.sL, rows, D, bc, kb > 0, nullptr);
      }
      return;
    }
    float* kT = scratch(ScratchSlot::AttnB, static_cast<size_t>((D + Dv) * kBc));
    float* sbuf = scratch(ScratchSlot::AttnC, static_cast<size_t>(2 * kBr * kBc + kBc));
    if (kT == nullptr || sbuf == nullptr) { failed = true; return; }
    float* vT = kT + D * kBc;
    float* dsbuf = sbuf + kBr * kBc;
    float* keep = dsbuf + kBr * kBc;
    for (int64_t kb = 0; kb < nkb; kb++) {
      if (firstTile(kb) > qt) continue;
      const int64_t j0 = kb * kBc, bc = std::min(kBc, S - j0);
      packKeyBlock(kT, vT, bk, j0, bc);
      tileGrads(sbuf, dsbuf, keep, kT, vT, all, bh, qt, kb);
      TileOps::gemmR(dqTile, p.qs.sL, dsbuf, kBc, k + p.ks.at(b, hk, j0), p.ks.sL, rows, D, bc, kb > 0, nullptr);
    }
  };

  if (wholeHeads) {
    // Whole kv heads per task: every dQ row has a single writer. The query tiles go in ranges whose
    // packed Q and dO fit kRangeBytes, each range swept by every key block, so a long sequence's
    // tiles stay in the core's L2 cache over the sweep (one range when they fit, as for N <= 768
    // at D = 64): dK / dV are summed over the ranges in order, dQ within its range.
    constexpr int64_t kRangeBytes = int64_t{384} << 10;
    const int64_t range = std::min(nqt, std::max<int64_t>(1, kRangeBytes / (group * kBr * (D + Dv) * 4)));
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(4e6 / std::max(work, 1.0)));
    parallelFor(units, grain, [&](int64_t begin, int64_t end) {
      const size_t tiles = static_cast<size_t>(group * range * kBr);
      float* local = scratch(ScratchSlot::AttnA, tiles * static_cast<size_t>(D + Dv));
      std::unique_ptr<bool[]> written(new (std::nothrow) bool[static_cast<size_t>(nkb)]);
      if (local == nullptr || written == nullptr) { failed = true; return; }
      for (int64_t bk = begin; bk < end; bk++) {
        const int64_t b = bk / Hkv, h0 = (bk % Hkv) * group;
        std::fill(written.get(), written.get() + nkb, false);
        for (int64_t qt0 = 0; qt0 < nqt; qt0 += range) {
          const int64_t qt1 = std::min(nqt, qt0 + range), per = qt1 - qt0;
          const Tiles t{local, local + tiles * static_cast<size_t>(D), b * H + h0, qt0, qt1, per};
          for (int64_t g = 0; g < group; g++)
            for (int64_t qt = qt0; qt < qt1; qt++) {
              const int64_t i0 = qt * kBr, rows = std::min(kBr, L - i0), tile = g * per + qt - qt0;
              packQueryTile(local + tile * D * kBr, q + p.qs.at(b, h0 + g, i0), rows, p.qs.sL, D, p.scale);
              packQueryTile(local + tiles * D + tile * Dv * kBr, dout + p.os.at(b, h0 + g, i0), rows, p.os.sL, Dv, 1.0f);
            }
          for (int64_t kb = 0; kb < nkb; kb++) written[kb] = keyBlock(t, bk, kb, dq, written[kb]) || written[kb];
        }
      }
    });
  } else {
    // Few kv heads for the threads: dK, dV by key blocks over the pool, then dQ by query tiles
    // (FlashAttention-2's deterministic backward).
    const int64_t storeFloats = B * H * nqt * nkb * kBr * kBc;
    if (storeFloats <= kDsStoreFloats) dsStore.reset(new (std::nothrow) float[static_cast<size_t>(storeFloats)]);
    parallelFor(units * nkb, 1, [&](int64_t begin, int64_t end) {
      for (int64_t it = begin; it < end; it++) keyBlock(all, it / nkb, it % nkb, nullptr, false);
    });
    parallelFor(B * H * nqt, 1, [&](int64_t begin, int64_t end) {
      for (int64_t it = begin; it < end; it++) queryTile(it / nqt, it % nqt);
    });
  }
  if (failed) throw std::bad_alloc();
}
