// LayerNorm over the last dim. Statistics accumulate in double; rows are split over the pool.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "norm.h"
#include "pool.h"

namespace qkv {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per task
inline int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)); }
}  // namespace

void layerNormForward(float* out, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                      int64_t rows, int64_t cols, float eps) {
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      double s = 0.0;
      for (int64_t j = 0; j < cols; j++) s += xr[j];
      const double mu = cols > 0 ? s / static_cast<double>(cols) : 0.0;
      double v = 0.0;
      for (int64_t j = 0; j < cols; j++) {
        const double d = xr[j] - mu;
        v += d * d;
      }
      const double var = cols > 0 ? v / static_cast<double>(cols) : 0.0;
      const float rs = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
      const float m = static_cast<float>(mu);
      mean[r] = m;
      rstd[r] = rs;
      if (weight != nullptr && bias != nullptr) {
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) * rs * weight[j] + bias[j];
      } else if (weight != nullptr) {
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) * rs * weight[j];
      } else if (bias != nullptr) {
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) * rs + bias[j];
      } else {
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) * rs;
      }
    }
  });
}

void layerNormBackward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* mean,
                       const float* rstd, const float* weight, int64_t rows, int64_t cols) {
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * weight, xhat = (x - mean) * rstd.
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      const float m = mean[r], rs = rstd[r];
      double sg = 0.0, sgx = 0.0;
      for (int64_t j = 0; j < cols; j++) {
        const float g = weight != nullptr ? gr[j] * weight[j] : gr[j];
        sg += g;
        sgx += static_cast<double>(g) * ((xr[j] - m) * rs);
      }
      const float mg = cols > 0 ? static_cast<float>(sg / static_cast<double>(cols)) : 0.0f;
      const float mgx = cols > 0 ? static_cast<float>(sgx / static_cast<double>(cols)) : 0.0f;
      for (int64_t j = 0; j < cols; j++) {
        const float g = weight != nullptr ? gr[j] * weight[j] : gr[j];
        dr[j] = rs * (g - mg - (xr[j] - m) * rs * mgx);
      }
    }
  });
  if (dweight == nullptr && dbias == nullptr) return;
  // Column sums, in blocks of columns so each task reads rows of contiguous floats.
  constexpr int64_t kCols = 256;
  const int64_t blocks = (cols + kCols - 1) / kCols;
  parallelFor(blocks, std::max<int64_t>(1, kGrain / std::max<int64_t>(rows * kCols, 1)), [&](int64_t begin, int64_t end) {
    std::vector<double> sw(kCols), sb(kCols);
    for (int64_t blk = begin; blk < end; blk++) {
      const int64_t j0 = blk * kCols, nj = std::min(kCols, cols - j0);
      std::fill(sw.begin(), sw.end(), 0.0);
      std::fill(sb.begin(), sb.end(), 0.0);
      for (int64_t r = 0; r < rows; r++) {
        const float* xr = x + r * cols + j0;
        const float* gr = dy + r * cols + j0;
        const float m = mean[r], rs = rstd[r];
        for (int64_t j = 0; j < nj; j++) {
          sw[j] += static_cast<double>(gr[j]) * ((xr[j] - m) * rs);
          sb[j] += gr[j];
        }
      }
      for (int64_t j = 0; j < nj; j++) {
        if (dweight != nullptr) dweight[j0 + j] = static_cast<float>(sw[j]);
        if (dbias != nullptr) dbias[j0 + j] = static_cast<float>(sb[j]);
      }
    }
  });
}

}  // namespace qkv
