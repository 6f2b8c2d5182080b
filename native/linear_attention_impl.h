// The linear attention kernels, written once and compiled per instruction set: included in a
// namespace per instruction set (per_isa.h), with the row helpers of efficient_vec.h. No include
// guard on purpose.
//
// The js reference (src/backend/js/linear-attention.ts) in float32: the forward runs one task per
// query head (its M x Dv state built from the whole kv head, or a prefix scan when causal); the
// backward runs one task per kv unit, so dfk / dv of a unit have a single writer.

#include "efficient_vec.h"

// kv[m, e] += fk[m] v[e]; z[m] += fk[m].
inline void linAddKey(float* kv, float* z, const float* fk, const float* v, int64_t M, int64_t Dv) {
  for (int64_t m = 0; m < M; m++) {
    z[m] += fk[m];
    axpy(kv + m * Dv, fk[m], v, Dv);
  }
}

// out = fq^T kv / fq^T z; returns the denominator.
inline float linReadRow(float* out, const float* fq, const float* kv, const float* z, float* num, int64_t M, int64_t Dv) {
  for (int64_t e = 0; e < Dv; e++) num[e] = 0.0f;
  for (int64_t m = 0; m < M; m++) axpy(num, fq[m], kv + m * Dv, Dv);
  const float den = dotLanes(fq, z, M);
  const float inv = 1.0f / den;
  for (int64_t e = 0; e < Dv; e++) out[e] = num[e] * inv;
  return den;
}

// dn = g / den; returns dd = -(g . out) / den.
inline float linRowGrads(float* dn, const float* g, const float* out, float den, int64_t Dv) {
  const float inv = 1.0f / den;
  for (int64_t e = 0; e < Dv; e++) dn[e] = g[e] * inv;
  return -dotLanes(g, out, Dv) * inv;
}

// R += fq dn^T; r += dd fq.
inline void linAccumulateR(float* R, float* r, const float* fq, const float* dn, float dd, int64_t M, int64_t Dv) {
  for (int64_t m = 0; m < M; m++) {
    r[m] += dd * fq[m];
    axpy(R + m * Dv, fq[m], dn, Dv);
  }
}

// dfk += R v + r; dv += R^T fk.
inline void linKeyGrads(float* dfk, float* dv, const float* R, const float* r, const float* fk, const float* v, int64_t M,
                        int64_t Dv) {
  for (int64_t m = 0; m < M; m++) {
    dfk[m] += r[m] + dotLanes(R + m * Dv, v, Dv);
    axpy(dv, fk[m], R + m * Dv, Dv);
  }
}

void linearAttentionForward(float* out, float* den, const float* fq, const float* fk, const float* v,
                            const LinearParams& p) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, L = p.L, S = p.S, M = p.M, Dv = p.Dv;
  if (B == 0 || H == 0 || L == 0) return;
  const int64_t G = H / Hkv;
  std::atomic<bool> failed{false};
  parallelFor(B * H, 1, [&](int64_t begin, int64_t end) {
    float* kv = scratch(ScratchSlot::AttnB, static_cast<size_t>(M * Dv + M + Dv));
    if (kv == nullptr) { failed = true; return; }
    float* z = kv + M * Dv;
    float* num = z + M;
    for (int64_t bh = begin; bh < end; bh++) {
      const int64_t unit = (bh / H) * Hkv + (bh % H) / G;
      const float* fku = fk + unit * S * M;
      const float* vu = v + unit * S * Dv;
      std::fill(kv, kv + M * Dv + M, 0.0f);
      if (!p.causal)
        for (int64_t j = 0; j < S; j++) linAddKey(kv, z, fku + j * M, vu + j * Dv, M, Dv);
      for (int64_t i = 0; i < L; i++) {
        if (p.causal && i < S) linAddKey(kv, z, fku + i * M, vu + i * Dv, M, Dv);
        den[bh * L + i] = linReadRow(out + (bh * L + i) * Dv, fq + (bh * L + i) * M, kv, z, num, M, Dv);
      }
    }
  });
  if (failed) throw std::bad_alloc();
}

void linearAttentionBackward(float* dfq, float* dfk, float* dv, const float* dout, const float* fq, const float* fk,
                             const float* v, const float* out, const float* den, const LinearParams& p) {
  const int64_t B = p.B, H = p.H, Hkv = p.Hkv, L = p.L, S = p.S, M = p.M, Dv = p.Dv;
  const int64_t G = Hkv == 0 ? 0 : H / Hkv;
  std::atomic<bool> failed{false};
  parallelFor(B * Hkv, 1, [&](int64_t begin, int64_t end) {
    float* kv = scratch(ScratchSlot::AttnB, static_cast<size_t>(2 * (M * Dv + M) + Dv));
    if (kv == nullptr) { failed = true; return; }
    float* z = kv + M * Dv;
    float* R = z + M;
    float* r = R + M * Dv;
    float* dn = r + M;
    for (int64_t unit = begin; unit < end; unit++) {
      const float* fku = fk + unit * S * M;
      const float* vu = v + unit * S * Dv;
      float* dku = dfk + unit * S * M;
      float* dvu = dv + unit * S * Dv;
      std::fill(dku, dku + S * M, 0.0f);
      std::fill(dvu, dvu + S * Dv, 0.0f);
      if (!p.causal) {
        std::fill(kv, kv + M * Dv + M, 0.0f);
        for (int64_t j = 0; j < S; j++) linAddKey(kv, z, fku + j * M, vu + j * Dv, M, Dv);
      }
      for (int64_t h = (unit % Hkv) * G; h < (unit % Hkv + 1) * G; h++) {
        const int64_t bh = (unit / Hkv) * H + h;
        if (p.causal) std::fill(kv, kv + M * Dv + M, 0.0f);
        std::fill(R, R + M * Dv + M, 0.0f);
        // forward scan: dfq_i from the (recomputed) prefix state; non-causal also sums R, r
        for (int64_t i = 0; i < L; i++) {
          const float* fqi = fq + (bh * L + i) * M;
          if (p.causal && i < S) linAddKey(kv, z, fku + i * M, vu + i * Dv, M, Dv);
          const float dd = linRowGrads(dn, dout + (bh * L + i) * Dv, out + (bh * L + i) * Dv, den[bh * L + i], Dv);
          float* dq = dfq + (bh * L + i) * M;
          for (int64_t m = 0; m < M; m++) dq[m] = dd * z[m] + dotLanes(kv + m * Dv, dn, Dv);
          if (!p.causal) linAccumulateR(R, r, fqi, dn, dd, M, Dv);
        }
        if (!p.causal) {
          for (int64_t j = 0; j < S; j++) linKeyGrads(dku + j * M, dvu + j * Dv, R, r, fku + j * M, vu + j * Dv, M, Dv);
          continue;
        }
        // reverse scan: R_j, r_j over i >= j
        for (int64_t j = L - 1; j >= 0; j--) {
          const float dd = linRowGrads(dn, dout + (bh * L + j) * Dv, out + (bh * L + j) * Dv, den[bh * L + j], Dv);
          linAccumulateR(R, r, fq + (bh * L + j) * M, dn, dd, M, Dv);
          if (j < S) linKeyGrads(dku + j * M, dvu + j * Dv, R, r, fku + j * M, vu + j * Dv, M, Dv);
        }
      }
    }
  });
  if (failed) throw std::bad_alloc();
}
