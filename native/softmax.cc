// Softmax / log-softmax over the last dim; rows are split over the thread pool.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attention.h"
#include "norm.h"
#include "pool.h"

namespace qkv {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per task
inline int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)); }

// Eight independent lanes so the compiler can vectorize the reductions without reassociating.
inline float rowMax(const float* x, int64_t n) {
  float m[8];
  for (float& v : m) v = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) m[t] = x[j + t] > m[t] ? x[j + t] : m[t];
  for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
  float r = m[0];
  for (int t = 1; t < 8; t++) r = m[t] > r ? m[t] : r;
  return r;
}

inline float rowSum(const float* x, int64_t n) {
  float s[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) s[t] += x[j + t];
  for (; j < n; j++) s[0] += x[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}
}  // namespace

void softmaxForward(float* out, const float* x, int64_t rows, int64_t cols, bool log) {
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      const float m = rowMax(xr, cols);
      if (m == -std::numeric_limits<float>::infinity()) {
        const float fill = log ? m : 0.0f;
        for (int64_t j = 0; j < cols; j++) yr[j] = fill;
        continue;
      }
      for (int64_t j = 0; j < cols; j++) yr[j] = expApprox(xr[j] - m);
      const float sum = rowSum(yr, cols);
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
