// Portable kernels (plain C++; the compiler vectorizes them for the baseline instruction set).
#include <cstdint>

#include "gemm.h"

namespace qkv {
namespace scalar {

constexpr int kMR = 4, kNR = 8;

// c[4, 8] (=|+=) sum_k a[k, 0:4]^T b[k, 0:8].
void gemmMicroKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool overwrite) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; k++) {
    for (int r = 0; r < kMR; r++)
      for (int j = 0; j < kNR; j++) acc[r][j] += a[r] * b[j];
    a += kMR;
    b += kNR;
  }
  for (int r = 0; r < kMR; r++)
    for (int j = 0; j < kNR; j++) c[r * ldc + j] = overwrite ? acc[r][j] : c[r * ldc + j] + acc[r][j];
}

}  // namespace scalar

const GemmKernel& gemmKernelScalar() {
  static const GemmKernel k{scalar::gemmMicroKernel, scalar::kMR, scalar::kNR, 256, 64, 2048};
  return k;
}

}  // namespace qkv
