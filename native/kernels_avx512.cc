// AVX-512 kernels (compiled for AVX-512 with function-level target options, chosen at run time).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#include "gemm.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define QKV_HAVE_X86 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi,bmi2")

namespace qkv {
namespace avx512 {

constexpr int kMR = 14, kNR = 32;

// c[R, 32] (=|+=) sum_k a[k, 0:R]^T b[k, 0:32] with A packed in panels of kMR rows: 2R zmm
// accumulators, B rows loaded, A broadcast. R = kMR is the main kernel; R < kMR and nr < 32 (masked
// stores) serve the edges of C without a temporary tile.
template <int R>
void rowsKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool overwrite, int64_t nr) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 14
  for (int r = 0; r < R; r++) {
    acc0[r] = acc1[r] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 31), _MM_HINT_T0);
  }
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMR;
    b += kNR;
  }
  if (nr == kNR) {
    if (overwrite) {
#pragma GCC unroll 14
      for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(c + r * ldc, acc0[r]);
        _mm512_storeu_ps(c + r * ldc + 16, acc1[r]);
      }
    } else {
#pragma GCC unroll 14
      for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(c + r * ldc, _mm512_add_ps(acc0[r], _mm512_loadu_ps(c + r * ldc)));
        _mm512_storeu_ps(c + r * ldc + 16, _mm512_add_ps(acc1[r], _mm512_loadu_ps(c + r * ldc + 16)));
      }
    }
    return;
  }
  const __mmask16 m0 = nr >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << nr) - 1u);
  const __mmask16 m1 = nr <= 16 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << (nr - 16)) - 1u);
  for (int r = 0; r < R; r++) {
    float* cr = c + r * ldc;
    if (overwrite) {
      _mm512_mask_storeu_ps(cr, m0, acc0[r]);
      _mm512_mask_storeu_ps(cr + 16, m1, acc1[r]);
    } else {
      _mm512_mask_storeu_ps(cr, m0, _mm512_add_ps(acc0[r], _mm512_maskz_loadu_ps(m0, cr)));
      _mm512_mask_storeu_ps(cr + 16, m1, _mm512_add_ps(acc1[r], _mm512_maskz_loadu_ps(m1, cr + 16)));
    }
  }
}

void gemmMicroKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool overwrite) {
  rowsKernel<kMR>(kc, a, b, c, ldc, overwrite, kNR);
}

// edgeKernels[mr] computes an [mr, nr] tile (mr <= kMR, nr <= kNR).
const EdgeKernel edgeKernels[kMR + 1] = {nullptr, rowsKernel<1>, rowsKernel<2>, rowsKernel<3>, rowsKernel<4>,
                                         rowsKernel<5>, rowsKernel<6>, rowsKernel<7>, rowsKernel<8>, rowsKernel<9>,
                                         rowsKernel<10>, rowsKernel<11>, rowsKernel<12>, rowsKernel<13>,
                                         rowsKernel<14>};

}  // namespace avx512
}  // namespace qkv

#pragma GCC pop_options
#endif

namespace qkv {

// Blocks tuned on Zen 4 (1 MiB L2 per core, 32 MiB L3): long k blocks amortize the C tile updates;
// QKV_GEMM_KC / QKV_GEMM_MC / QKV_GEMM_NC override them for tuning on other CPUs.
const GemmKernel& gemmKernelAvx512() {
#if QKV_HAVE_X86
  static const GemmKernel k{avx512::gemmMicroKernel, avx512::kMR, avx512::kNR, envInt("QKV_GEMM_KC", 1024),
                            envInt("QKV_GEMM_MC", 168), envInt("QKV_GEMM_NC", 2048), avx512::edgeKernels};
  return k;
#else
  return gemmKernelScalar();
#endif
}

}  // namespace qkv
