// The dropout kernel: the counter-based generator of src/tensor/rng.ts, one hash per element,
// split over the thread pool. Bit-identical to the js kernel: the same threshold test and the
// product computed in double, rounded once.
#include "dropout.h"

#include "attention.h"
#include "pool.h"

namespace qkv {

void dropout(float* out, const float* x, int64_t n, double p, uint32_t k0, uint32_t k1, uint64_t start) {
  const uint32_t threshold = dropThreshold(p);
  const double scale = 1.0 / (1.0 - p);
  parallelFor(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const uint32_t r = randomBits(k0, k1, start + static_cast<uint64_t>(i)) >> 8;
      out[i] = r < threshold ? 0.0f : static_cast<float>(static_cast<double>(x[i]) * scale);
    }
  });
}

}  // namespace qkv
