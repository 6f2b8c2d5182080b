// Fused attention with portable tile products, for the baseline instruction set (AVX2 has its
// own tile products in attention_avx2.cc).
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

namespace qkv {
namespace scalar {

// Row operations on n a multiple of 8: the maximum; s = exp(s - m) (expBase2) with its sum over 8
// lane accumulators added in lane order; s = exp(s - m).
struct RowOps {
  static float rowMax(const float* s, int64_t n) {
    float m[8];
    for (int t = 0; t < 8; t++) m[t] = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; j += 8)
      for (int t = 0; t < 8; t++) m[t] = s[j + t] > m[t] ? s[j + t] : m[t];
    float r = m[0];
    for (int t = 1; t < 8; t++) r = m[t] > r ? m[t] : r;
    return r;
  }
  static float expShiftSum(float* s, int64_t n, float m) {
    float acc[8] = {};
    for (int64_t j = 0; j < n; j += 8)
      for (int t = 0; t < 8; t++) {
        const float e = expBase2(s[j + t] - m);
        s[j + t] = e;
        acc[t] += e;
      }
    float r = 0.0f;
    for (int t = 0; t < 8; t++) r += acc[t];
    return r;
  }
  static void expShift(float* s, int64_t n, float m) {
    for (int64_t j = 0; j < n; j++) s[j] = expBase2(s[j] - m);
  }
};

// C[M, N] (=|+= rowScale *) A[M, K] @ B[K, N], one row of C at a time in a local accumulator.
template <bool kRowMajorA>
void tileGemm(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t M, int64_t N,
              int64_t K, bool accumulate, const float* rowScale) {
  constexpr int64_t kChunk = 64;
  float acc[kChunk];
  for (int64_t n0 = 0; n0 < N; n0 += kChunk) {
    const int64_t nc = std::min(kChunk, N - n0);
    for (int64_t r = 0; r < M; r++) {
      float* cr = c + r * ldc + n0;
      const float sc = rowScale != nullptr ? rowScale[r] : 1.0f;
      for (int64_t j = 0; j < nc; j++) acc[j] = accumulate ? cr[j] * sc : 0.0f;
      for (int64_t k = 0; k < K; k++) {
        const float av = kRowMajorA ? a[r * lda + k] : a[k * lda + r];
        const float* br = b + k * ldb + n0;
        for (int64_t j = 0; j < nc; j++) acc[j] += av * br[j];
      }
      for (int64_t j = 0; j < nc; j++) cr[j] = acc[j];
    }
  }
}

#include "attention_impl.h"

}  // namespace scalar
}  // namespace qkv
