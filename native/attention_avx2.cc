// Fused attention with AVX2 + FMA tile products (compiled with function-level target options):
// C tiles of 6 rows x 16 columns held in registers, as the AVX-512 file does with 16-float vectors.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "attention.h"
#include "pool.h"
#include "scratch.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace qkv {
namespace avx2 {

#include "transpose_avx2.h"

// exp(x) for 8 floats as 2^(x log2(e)): expBase2's clamp, rounding and polynomial (attention.h,
// evaluated in the same order), 2^n built in the exponent bits. With kAtMostZero (x - the row's
// maximum, so x <= 0 or NaN) the upper clamp is left out: the same result.
template <bool kAtMostZero = false>
inline __m256 exp8(__m256 x) {
  __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(kLog2eF));
  t = _mm256_max_ps(t, _mm256_set1_ps(-126.0f));  // (a NaN gives -126: maxps returns its second operand)
  if (!kAtMostZero) t = _mm256_min_ps(t, _mm256_set1_ps(127.0f));
  const __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(t, n), f2 = _mm256_mul_ps(f, f);
  const __m256 a = _mm256_fmadd_ps(_mm256_set1_ps(kExp2C2), f, _mm256_set1_ps(kExp2C1));
  const __m256 b = _mm256_fmadd_ps(_mm256_set1_ps(kExp2C4), f, _mm256_set1_ps(kExp2C3));
  const __m256 c = _mm256_fmadd_ps(_mm256_set1_ps(kExp2C6), f, _mm256_set1_ps(kExp2C5));
  const __m256 y = _mm256_fmadd_ps(f, _mm256_fmadd_ps(f2, _mm256_fmadd_ps(f2, c, b), a), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// The largest / the sum of the 8 lanes, by halving (no branches: a row's maximum is data, so a
// compare-and-branch per lane mispredicts).
inline float lanesMax(__m256 v) {
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}
inline float lanesSum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

// Row operations on n a multiple of 8 (16 in rowMax and expShiftSum's paired loops, with one
// vector left over when n is an odd multiple of 8): the maximum; s = exp(s - m) with its sum, m
// the maximum of s (so s - m <= 0); s = exp(s - m) for any m. Two accumulators, so consecutive
// vectors do not wait on each other.
struct RowOps {
  static float rowMax(const float* s, int64_t n) {
    __m256 m0 = _mm256_set1_ps(-std::numeric_limits<float>::infinity()), m1 = m0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
      m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8));
    }
    if (j < n) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
    return lanesMax(_mm256_max_ps(m0, m1));
  }
  static float expShiftSum(float* s, int64_t n, float m) {
    const __m256 mv = _mm256_set1_ps(m);
    __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      const __m256 e0 = exp8<true>(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
      const __m256 e1 = exp8<true>(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), mv));
      _mm256_storeu_ps(s + j, e0);
      _mm256_storeu_ps(s + j + 8, e1);
      sum0 = _mm256_add_ps(sum0, e0);
      sum1 = _mm256_add_ps(sum1, e1);
    }
    if (j < n) {
      const __m256 e = exp8<true>(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
      _mm256_storeu_ps(s + j, e);
      sum0 = _mm256_add_ps(sum0, e);
    }
    return lanesSum(_mm256_add_ps(sum0, sum1));
  }
  static void expShift(float* s, int64_t n, float m) {
    const __m256 mv = _mm256_set1_ps(m);
    for (int64_t j = 0; j < n; j += 8) _mm256_storeu_ps(s + j, exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv)));
  }
  // dst[c * ldd + r] = scale * src[r * lds + c] (transpose_avx2.h)
  static void transposeScaled(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols,
                              float scale) {
    transposeScaled8(dst, ldd, src, lds, rows, cols, scale);
  }
};

// C[MR, 8 NV] (=|+= rowScale *) A[MR, K] @ B[K, 8 NV] in registers; with kMasked, `last` masks the
// final vector (masked stores are slow on some cores, so a full tile uses plain ones).
template <int MR, int NV, bool kRowMajorA, bool kMasked>
inline void tileKernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t K,
                       bool accumulate, const float* rowScale, __m256i last) {
  __m256 acc[MR][NV];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    const __m256 sc = _mm256_set1_ps(rowScale != nullptr ? rowScale[r] : 1.0f);
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      if (accumulate) {
        const __m256 old = kMasked && v == NV - 1 ? _mm256_maskload_ps(c + r * ldc + 8 * v, last) : _mm256_loadu_ps(c + r * ldc + 8 * v);
        acc[r][v] = _mm256_mul_ps(old, sc);
      } else {
        acc[r][v] = _mm256_setzero_ps();
      }
    }
  }
  const float* ar[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) ar[r] = a + r * lda;
  for (int64_t k = 0; k < K; k++) {
    __m256 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) bv[v] = kMasked && v == NV - 1 ? _mm256_maskload_ps(b + 8 * v, last) : _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      const __m256 av = _mm256_broadcast_ss(kRowMajorA ? ar[r] + k : a + r);
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
    b += ldb;
    if (!kRowMajorA) a += lda;
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      if (kMasked && v == NV - 1) _mm256_maskstore_ps(c + r * ldc + 8 * v, last, acc[r][v]);
      else _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
    }
  }
}

template <int MR, bool kRowMajorA>
inline void tileRows(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t K,
                     bool accumulate, const float* rowScale, int nv, __m256i last) {
  const bool masked = _mm256_movemask_ps(_mm256_castsi256_ps(last)) != 0xff;
  if (nv == 1) {
    if (masked) tileKernel<MR, 1, kRowMajorA, true>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
    else tileKernel<MR, 1, kRowMajorA, false>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
  } else {
    if (masked) tileKernel<MR, 2, kRowMajorA, true>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
    else tileKernel<MR, 2, kRowMajorA, false>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
  }
}

// C[M, N] (=|+= rowScale *) A[M, K] @ B[K, N] by 6 x 16 register tiles.
template <bool kRowMajorA>
void tileGemm(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t M, int64_t N,
              int64_t K, bool accumulate, const float* rowScale) {
  constexpr int MR = 6;
  for (int64_t n0 = 0; n0 < N; n0 += 16) {
    const int64_t nc = std::min<int64_t>(16, N - n0);
    const int nv = static_cast<int>((nc + 7) / 8);
    const int tail = static_cast<int>(nc - 8 * (nv - 1));
    alignas(32) int32_t lanes[8];
    for (int t = 0; t < 8; t++) lanes[t] = t < tail ? -1 : 0;
    const __m256i last = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    for (int64_t m0 = 0; m0 < M; m0 += MR) {
      const int mr = static_cast<int>(std::min<int64_t>(MR, M - m0));
      float* cm = c + m0 * ldc + n0;
      const float* am = kRowMajorA ? a + m0 * lda : a + m0;
      const float* rs = rowScale != nullptr ? rowScale + m0 : nullptr;
      switch (mr) {
        case 1: tileRows<1, kRowMajorA>(cm, ldc, am, lda, b + n0, ldb, K, accumulate, rs, nv, last); break;
        case 2: tileRows<2, kRowMajorA>(cm, ldc, am, lda, b + n0, ldb, K, accumulate, rs, nv, last); break;
        case 3: tileRows<3, kRowMajorA>(cm, ldc, am, lda, b + n0, ldb, K, accumulate, rs, nv, last); break;
        case 4: tileRows<4, kRowMajorA>(cm, ldc, am, lda, b + n0, ldb, K, accumulate, rs, nv, last); break;
        case 5: tileRows<5, kRowMajorA>(cm, ldc, am, lda, b + n0, ldb, K, accumulate, rs, nv, last); break;
        default: tileRows<6, kRowMajorA>(cm, ldc, am, lda, b + n0, ldb, K, accumulate, rs, nv, last); break;
      }
    }
  }
}

#include "attention_impl.h"

}  // namespace avx2
}  // namespace qkv

#pragma GCC pop_options
#else
namespace qkv {
namespace avx2 {
void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p) {
  scalar::attentionForward(out, lse, q, k, v, p);
}
void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p) {
  scalar::attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
}
}  // namespace avx2
}  // namespace qkv
#endif
