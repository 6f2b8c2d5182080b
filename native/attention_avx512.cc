// Fused attention with AVX-512 tile products (compiled with function-level target options).
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
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi,bmi2")

namespace qkv {
namespace avx512 {

#include "transpose_avx2.h"

// C[MR, 16 NV] (=|+= rowScale *) A[MR, K] @ B[K, 16 NV] in registers; `last` masks the final vector.
template <int MR, int NV, bool kRowMajorA>
inline void tileKernel(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t K,
                       bool accumulate, const float* rowScale, __mmask16 last) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    const __m512 sc = rowScale != nullptr ? _mm512_set1_ps(rowScale[r]) : _mm512_set1_ps(1.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      if (accumulate) {
        const __m512 old = v == NV - 1 ? _mm512_maskz_loadu_ps(last, c + r * ldc + 16 * v)
                                       : _mm512_loadu_ps(c + r * ldc + 16 * v);
        acc[r][v] = _mm512_mul_ps(old, sc);
      } else {
        acc[r][v] = _mm512_setzero_ps();
      }
    }
  }
  const float* ar[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) ar[r] = a + r * lda;
  for (int64_t k = 0; k < K; k++) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      const __m512 av = _mm512_set1_ps(kRowMajorA ? ar[r][k] : a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
    b += ldb;
    if (!kRowMajorA) a += lda;
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      if (v == NV - 1) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, last, acc[r][v]);
      else _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
    }
  }
}

template <int MR, bool kRowMajorA>
inline void tileRows(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t K,
                     bool accumulate, const float* rowScale, int nv, __mmask16 last) {
  switch (nv) {
    case 1: return tileKernel<MR, 1, kRowMajorA>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
    case 2: return tileKernel<MR, 2, kRowMajorA>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
    case 3: return tileKernel<MR, 3, kRowMajorA>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
    default: return tileKernel<MR, 4, kRowMajorA>(c, ldc, a, lda, b, ldb, K, accumulate, rowScale, last);
  }
}

template <bool kRowMajorA>
void tileGemm(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t M, int64_t N,
              int64_t K, bool accumulate, const float* rowScale) {
  constexpr int MR = 6;
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    const int64_t nc = std::min<int64_t>(64, N - n0);
    const int nv = static_cast<int>((nc + 15) / 16);
    const int tail = static_cast<int>(nc - 16 * (nv - 1));
    const __mmask16 last = static_cast<__mmask16>(tail == 16 ? 0xffff : (1u << tail) - 1);
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

// exp(x) for 16 floats as 2^(x log2(e)): expBase2's clamp, rounding and polynomial (attention.h,
// evaluated in the same order), scaled by 2^n with vscalefps. With kAtMostZero (x - the row's
// maximum, so x <= 0 or NaN) the upper clamp is left out: the same result.
template <bool kAtMostZero = false>
inline __m512 exp16(__m512 x) {
  __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(kLog2eF));
  t = _mm512_max_ps(t, _mm512_set1_ps(-126.0f));  // (a NaN gives -126: maxps returns its second operand)
  if (!kAtMostZero) t = _mm512_min_ps(t, _mm512_set1_ps(127.0f));
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, n), f2 = _mm512_mul_ps(f, f);
  const __m512 a = _mm512_fmadd_ps(_mm512_set1_ps(kExp2C2), f, _mm512_set1_ps(kExp2C1));
  const __m512 b = _mm512_fmadd_ps(_mm512_set1_ps(kExp2C4), f, _mm512_set1_ps(kExp2C3));
  const __m512 c = _mm512_fmadd_ps(_mm512_set1_ps(kExp2C6), f, _mm512_set1_ps(kExp2C5));
  const __m512 y = _mm512_fmadd_ps(f, _mm512_fmadd_ps(f2, _mm512_fmadd_ps(f2, c, b), a), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

// Row operations on n a multiple of 16 (32 in the paired loops, with one vector left over when n
// is an odd multiple of 16): the maximum; s = exp(s - m) with its sum, m the maximum of s (so
// s - m <= 0); s = exp(s - m) for any m. Two accumulators, so consecutive vectors do not wait on
// each other.
struct RowOps {
  static float rowMax(const float* s, int64_t n) {
    __m512 m0 = _mm512_set1_ps(-std::numeric_limits<float>::infinity()), m1 = m0;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
      m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
      m1 = _mm512_max_ps(m1, _mm512_loadu_ps(s + j + 16));
    }
    if (j < n) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  }
  static float expShiftSum(float* s, int64_t n, float m) {
    const __m512 mv = _mm512_set1_ps(m);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
      const __m512 e0 = exp16<true>(_mm512_sub_ps(_mm512_loadu_ps(s + j), mv));
      const __m512 e1 = exp16<true>(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), mv));
      _mm512_storeu_ps(s + j, e0);
      _mm512_storeu_ps(s + j + 16, e1);
      sum0 = _mm512_add_ps(sum0, e0);
      sum1 = _mm512_add_ps(sum1, e1);
    }
    if (j < n) {
      const __m512 e = exp16<true>(_mm512_sub_ps(_mm512_loadu_ps(s + j), mv));
      _mm512_storeu_ps(s + j, e);
      sum0 = _mm512_add_ps(sum0, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
  }
  static void expShift(float* s, int64_t n, float m) {
    const __m512 mv = _mm512_set1_ps(m);
    for (int64_t j = 0; j < n; j += 16) _mm512_storeu_ps(s + j, exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), mv)));
  }
  // dst[c * ldd + r] = scale * src[r * lds + c] (transpose_avx2.h)
  static void transposeScaled(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols,
                              float scale) {
    transposeScaled8(dst, ldd, src, lds, rows, cols, scale);
  }
};

#include "attention_impl.h"

}  // namespace avx512
}  // namespace qkv

#pragma GCC pop_options
#else
namespace qkv {
namespace avx512 {
void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p) {
  scalar::attentionForward(out, lse, q, k, v, p);
}
void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p) {
  scalar::attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
}
}  // namespace avx512
}  // namespace qkv
#endif
