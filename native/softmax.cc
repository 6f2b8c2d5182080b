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

namespace isa_scalar {
#include "softmax_impl.h"
}  // namespace isa_scalar
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 {
#include "softmax_impl.h"
}  // namespace isa_avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace isa_avx512 {
#include "softmax_impl.h"
}  // namespace isa_avx512
#pragma GCC pop_options
#define QKV_SOFTMAX_ISA(isa, fn) isa::fn
#else
#define QKV_SOFTMAX_ISA(isa, fn) isa_scalar::fn
#endif
}  // namespace

void softmaxForward(float* out, const float* x, int64_t rows, int64_t cols, bool log) {
  const Isa isa = activeIsa();
  auto rowsFn = isa == Isa::Avx512 ? QKV_SOFTMAX_ISA(isa_avx512, softmaxRows) : isa == Isa::Avx2 ? QKV_SOFTMAX_ISA(isa_avx2, softmaxRows) : isa_scalar::softmaxRows;
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) { rowsFn(out, x, begin, end, cols, log); });
}

void softmaxBackward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols, bool log) {
  const Isa isa = activeIsa();
  auto rowsFn = isa == Isa::Avx512 ? QKV_SOFTMAX_ISA(isa_avx512, softmaxBackwardRows)
              : isa == Isa::Avx2   ? QKV_SOFTMAX_ISA(isa_avx2, softmaxBackwardRows)
                                   : isa_scalar::softmaxBackwardRows;
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) { rowsFn(dx, y, dy, begin, end, cols, log); });
}

}  // namespace qkv
