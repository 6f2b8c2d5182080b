// LayerNorm over the last dim, compiled per instruction set (layernorm_impl.h). Statistics
// accumulate in double; rows are split over the pool (each row by one task, so the bits do not
// depend on the thread count).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu.h"
#include "norm.h"
#include "pool.h"

namespace qkv {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per task
inline int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)); }

#define QKV_PER_ISA_IMPL "layernorm_impl.h"
#include "per_isa.h"
}  // namespace

void layerNormForward(float* out, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                      int64_t rows, int64_t cols, float eps) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, layerNormForward)(out, mean, rstd, x, weight, bias, rows, cols, eps);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, layerNormForward)(out, mean, rstd, x, weight, bias, rows, cols, eps);
    default: return isa_scalar::layerNormForward(out, mean, rstd, x, weight, bias, rows, cols, eps);
  }
}

void layerNormBackward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* mean,
                       const float* rstd, const float* weight, int64_t rows, int64_t cols) {
  switch (activeIsa()) {
    case Isa::Avx512:
      return QKV_ISA_FN(isa_avx512, layerNormBackward)(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
    case Isa::Avx2:
      return QKV_ISA_FN(isa_avx2, layerNormBackward)(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
    default: return isa_scalar::layerNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
  }
}

}  // namespace qkv
