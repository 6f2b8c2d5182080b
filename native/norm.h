// Row-wise normalizations: softmax / log-softmax and LayerNorm, forward and backward.
#pragma once

#include <cstdint>

namespace qkv {

// out, x [rows, cols]. Rows of only -Infinity give 0 (softmax) or -Infinity (log-softmax).
void softmaxForward(float* out, const float* x, int64_t rows, int64_t cols, bool log);
// dx, y, dy [rows, cols]; y is the forward output.
void softmaxBackward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols, bool log);

// out, x [rows, cols]; mean, rstd [rows]; weight, bias [cols] or null.
void layerNormForward(float* out, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                      int64_t rows, int64_t cols, float eps);
// dx, dy, x [rows, cols]; dweight, dbias [cols] or null (written, not accumulated).
void layerNormBackward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* mean,
                       const float* rstd, const float* weight, int64_t rows, int64_t cols);

}  // namespace qkv
