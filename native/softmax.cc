// Softmax / log-softmax over the last dim; rows are split over the thread pool. The row loops
// (softmax_impl.h) are compiled for AVX-512, AVX2 and the baseline instruction set (function-level
// target options) and chosen at run time.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attention.h"
#include "cpu.h"
#include "norm.h"
#include "pool.h"

namespace qkv {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per task
inline int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)); }

#define QKV_PER_ISA_IMPL "softmax_impl.h"
#include "per_isa.h"
}  // namespace

void softmaxForward(float* out, const float* x, int64_t rows, int64_t cols, bool log) {
  const Isa isa = activeIsa();
  auto rowsFn = isa == Isa::Avx512 ? QKV_ISA_FN(isa_avx512, softmaxRows) : isa == Isa::Avx2 ? QKV_ISA_FN(isa_avx2, softmaxRows) : isa_scalar::softmaxRows;
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) { rowsFn(out, x, begin, end, cols, log); });
}

void softmaxBackward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols, bool log) {
  const Isa isa = activeIsa();
  auto rowsFn = isa == Isa::Avx512 ? QKV_ISA_FN(isa_avx512, softmaxBackwardRows)
              : isa == Isa::Avx2   ? QKV_ISA_FN(isa_avx2, softmaxBackwardRows)
                                   : isa_scalar::softmaxBackwardRows;
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) { rowsFn(dx, y, dy, begin, end, cols, log); });
}

}  // namespace qkv
