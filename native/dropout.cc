// The dropout kernel: the counter-based generator of src/tensor/rng.ts, one hash per element,
// split over the thread pool. Bit-identical to the js kernel: the same threshold test and the
// product computed in double, rounded once. The loop is compiled for AVX-512, AVX2 and the
// baseline instruction set (function-level target options) and chosen at run time: the hash is
// 32-bit integer arithmetic, so every lane count gives the same bits.
#include "dropout.h"

#include <algorithm>
#include <cstring>

#include "attention.h"
#include "cpu.h"
#include "pool.h"

namespace qkv {

namespace {

// out[i] = drop(x[i]) for the counters start + i, i in [begin, end), in runs where the counter's
// high word is constant so that the loop over the low word vectorizes.
#define QKV_DROPOUT_RANGE                                                                          \
  void dropoutRange(float* out, const float* x, int64_t begin, int64_t end, uint32_t threshold,   \
                    double scale, uint32_t k0, uint32_t k1, uint64_t start) {                     \
    int64_t i = begin;                                                                            \
    while (i < end) {                                                                             \
      const uint64_t c0 = start + static_cast<uint64_t>(i);                                       \
      const uint32_t hi = static_cast<uint32_t>(c0 >> 32), lo0 = static_cast<uint32_t>(c0);       \
      const int64_t run = std::min<int64_t>(end - i, static_cast<int64_t>(0x100000000ull - lo0)); \
      const uint32_t kh = k1 ^ (hi * 0x9e3779b9u);                                                \
      float* o = out + i;                                                                         \
      const float* xi = x + i;                                                                    \
      for (int64_t j = 0; j < run; j++) {                                                         \
        uint32_t h = mix32((lo0 + static_cast<uint32_t>(j)) ^ k0);                                \
        h = mix32(h + kh);                                                                        \
        const uint32_t r = mix32(h ^ k0 ^ 0x5bd1e995u) >> 8;                                      \
        const float kept = static_cast<float>(static_cast<double>(xi[j]) * scale);               \
        uint32_t bits; /* kept, or +0 when dropped: a mask, so the loop has no branch */          \
        std::memcpy(&bits, &kept, sizeof bits);                                                   \
        bits &= 0u - static_cast<uint32_t>(r >= threshold);                                       \
        std::memcpy(o + j, &bits, sizeof bits);                                                   \
      }                                                                                           \
      i += run;                                                                                   \
    }                                                                                             \
  }

namespace isa_scalar {
QKV_DROPOUT_RANGE
}  // namespace isa_scalar

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 {
QKV_DROPOUT_RANGE
}  // namespace isa_avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace isa_avx512 {
QKV_DROPOUT_RANGE
}  // namespace isa_avx512
#pragma GCC pop_options
#define QKV_DROPOUT_ISA(isa) isa::dropoutRange
#else
#define QKV_DROPOUT_ISA(isa) isa_scalar::dropoutRange
#endif

}  // namespace

void dropout(float* out, const float* x, int64_t n, double p, uint32_t k0, uint32_t k1, uint64_t start) {
  const uint32_t threshold = dropThreshold(p);
  const double scale = 1.0 / (1.0 - p);
  const Isa isa = activeIsa();
  auto range = isa == Isa::Avx512 ? QKV_DROPOUT_ISA(isa_avx512) : isa == Isa::Avx2 ? QKV_DROPOUT_ISA(isa_avx2) : isa_scalar::dropoutRange;
  parallelFor(n, 1 << 14, [&](int64_t begin, int64_t end) { range(out, x, begin, end, threshold, scale, k0, k1, start); });
}

}  // namespace qkv
