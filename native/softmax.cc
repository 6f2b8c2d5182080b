// Softmax / log-softmax over the last dim; rows are split over the thread pool.
#include <algorithm>
#include <cmath>
#include <limits>

#include "norm.h"
#include "pool.h"

namespace qkv {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per task
inline int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)); }
}  // namespace

void softmaxForward(float* out, const float* x, int64_t rows, int64_t cols, bool log) {
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < cols; j++) m = std::max(m, xr[j]);
      if (m == -std::numeric_limits<float>::infinity()) {
        const float fill = log ? m : 0.0f;
        for (int64_t j = 0; j < cols; j++) yr[j] = fill;
        continue;
      }
      float sum = 0.0f;
      for (int64_t j = 0; j < cols; j++) {
        const float e = std::exp(xr[j] - m);
        yr[j] = e;
        sum += e;
      }
      if (log) {
        const float shift = m + std::log(sum);
        for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] - shift;
      } else {
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
      }
    }
  });
}

void softmaxBackward(float* dx, const float* y, const float* dy, int64_t rows, int64_t cols, bool log) {
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* yr = y + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      float s = 0.0f;
      if (log) {
        for (int64_t j = 0; j < cols; j++) s += gr[j];
        for (int64_t j = 0; j < cols; j++) dr[j] = gr[j] - std::exp(yr[j]) * s;
      } else {
        for (int64_t j = 0; j < cols; j++) s += gr[j] * yr[j];
        for (int64_t j = 0; j < cols; j++) dr[j] = yr[j] * (gr[j] - s);
      }
    }
  });
}

}  // namespace qkv
