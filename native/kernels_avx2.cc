// AVX2 + FMA kernels (compiled with function-level target options, chosen at run time).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#include "gemm.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define QKV_HAVE_X86 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace qkv {
namespace avx2 {

#include "transpose_avx2.h"

constexpr int kMR = 6, kNR = 16;

// Where the micro-kernel reads A: a packed panel (element (r, k) at a[k * 6 + r]), a row-major A
// where it lies (row r at a + r * lda, its k contiguous), or a column-major A where it lies
// (element (r, k) at a[k * lda + r]: the transposed operand of a weight gradient).
enum class ALayout { Packed, RowMajor, ColMajor };

// c[6, 16] (=|+=) A[6, kc] @ b[kc, 0:16] in 12 ymm accumulators, A read as kLayout says.
template <ALayout kLayout>
inline void microTile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                      bool overwrite) {
  __m256 acc0[kMR], acc1[kMR];
  const float* ar[kMR];
  const int64_t step = kLayout == ALayout::Packed ? kMR : lda;  // from one k to the next (k-major A)
#pragma GCC unroll 6
  for (int r = 0; r < kMR; r++) {
    acc0[r] = acc1[r] = _mm256_setzero_ps();
    ar[r] = a + r * lda;
  }
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMR; r++) {
      const __m256 av = _mm256_broadcast_ss(kLayout == ALayout::RowMajor ? ar[r] + k : a + r);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
    if (kLayout != ALayout::RowMajor) a += step;
    b += kNR;
  }
#pragma GCC unroll 6
  for (int r = 0; r < kMR; r++) {
    float* cr = c + r * ldc;
    if (overwrite) {
      _mm256_storeu_ps(cr, acc0[r]);
      _mm256_storeu_ps(cr + 8, acc1[r]);
    } else {
      _mm256_storeu_ps(cr, _mm256_add_ps(acc0[r], _mm256_loadu_ps(cr)));
      _mm256_storeu_ps(cr + 8, _mm256_add_ps(acc1[r], _mm256_loadu_ps(cr + 8)));
    }
  }
}

// c[6, 16] (=|+=) sum_k a[k, 0:6]^T b[k, 0:16] over a packed A panel.
void gemmMicroKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool overwrite) {
  microTile<ALayout::Packed>(kc, a, kMR, b, c, ldc, overwrite);
}

// c[6, 16] (=|+=) A[6, kc] @ b[kc, 0:16] with A's rows at a + r * lda (not packed).
void gemmMicroKernelDirect(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                           bool overwrite) {
  microTile<ALayout::RowMajor>(kc, a, lda, b, c, ldc, overwrite);
}

// c[6, 16] (=|+=) A[6, kc] @ b[kc, 0:16] with A's element (r, k) at a[k * lda + r] (not packed).
void gemmMicroKernelDirectT(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                            bool overwrite) {
  microTile<ALayout::ColMajor>(kc, a, lda, b, c, ldc, overwrite);
}

// dst[k * 16 + c] = b[c * ldb + k] for k < kc, c < 16: a whole panel of a column-major B (a
// linear layer's weight, each column's k contiguous) by 8 x 8 transposes.
void packBPanelColMajor(float* dst, const float* b, int64_t ldb, int64_t kc) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int c0 = 0; c0 < kNR; c0 += 8) {
      __m256 r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(b + (c0 + i) * ldb + k);
      transpose8(r);
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (k + i) * kNR + c0, r[i]);
    }
  }
  for (; k < kc; k++)
    for (int c = 0; c < kNR; c++) dst[k * kNR + c] = b[c * ldb + k];
}

}  // namespace avx2
}  // namespace qkv

#pragma GCC pop_options
#endif

namespace qkv {

const GemmKernel& gemmKernelAvx2() {
#if QKV_HAVE_X86
  static const bool packA = std::getenv("QKV_GEMM_PACK_A") != nullptr;
  // k blocks of 512 (K = 512, a model's width, in one block): measured on Zen 2 (512 KiB L2), 2 threads,
  // 6-22% faster than 256 for M x {512, 1536} x 512 and level on a ViT step's shapes
  static const GemmKernel k{avx2::gemmMicroKernel, avx2::kMR, avx2::kNR, envInt("QKV_GEMM_KC", 512), envInt("QKV_GEMM_MC", 144),
                            envInt("QKV_GEMM_NC", 3072), nullptr,
                            packA ? nullptr : avx2::gemmMicroKernelDirect, packA ? nullptr : avx2::gemmMicroKernelDirectT,
                            avx2::packBPanelColMajor};
  return k;
#else
  return gemmKernelScalar();
#endif
}

}  // namespace qkv
