// Dropout with the counter-based generator (see dropout.cc).
#pragma once

#include <cstdint>

namespace qkv {

// out[i] = 0 when uniformAt(k0, k1, start + i) < p, else x[i] / (1 - p).   out, x [n]
void dropout(float* out, const float* x, int64_t n, double p, uint32_t k0, uint32_t k1, uint64_t start);

}  // namespace qkv
