// LayerNorm's loops, written once and compiled per instruction set: included inside
// namespace qkv::<anonymous>::isa_<name> (so the plain loops vectorize for that instruction set).
// Needs kGrain, rowGrain and parallelFor in scope. No include guard on purpose.
//
// Row statistics accumulate in double over 8 lanes (element j into lane j % 8, the lanes summed
// in order at the end): independent lanes vectorize where one running sum cannot.

// sum_j x[j] in double.   x [n]
inline double laneSum(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) acc[t] += static_cast<double>(x[j + t]);
  double s = 0.0;
  for (int t = 0; t < 8; t++) s += acc[t];
  for (; j < n; j++) s += static_cast<double>(x[j]);
  return s;
}

// sum_j (x[j] - mu)^2 in double.   x [n]
inline double laneSquares(const float* x, int64_t n, double mu) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) {
      const double d = static_cast<double>(x[j + t]) - mu;
      acc[t] += d * d;
    }
  double s = 0.0;
  for (int t = 0; t < 8; t++) s += acc[t];
  for (; j < n; j++) {
    const double d = static_cast<double>(x[j]) - mu;
    s += d * d;
  }
  return s;
}

// g[j] = dy[j] * weight[j] (or dy[j]); returns sum_j g[j] and sum_j g[j] xhat[j] in double,
// xhat[j] = (x[j] - m) * rs.   g, dy, x [n]
inline void gradSums(float* g, const float* dy, const float* x, const float* weight, float m, float rs, int64_t n,
                     double* sg, double* sgx) {
  if (weight != nullptr) {
    for (int64_t j = 0; j < n; j++) g[j] = dy[j] * weight[j];
  } else {
    std::memcpy(g, dy, sizeof(float) * static_cast<size_t>(n));
  }
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) {
      a[t] += static_cast<double>(g[j + t]);
      b[t] += static_cast<double>(g[j + t]) * static_cast<double>((x[j + t] - m) * rs);
    }
  double s = 0.0, sx = 0.0;
  for (int t = 0; t < 8; t++) { s += a[t]; sx += b[t]; }
  for (; j < n; j++) {
    s += static_cast<double>(g[j]);
    sx += static_cast<double>(g[j]) * static_cast<double>((x[j] - m) * rs);
  }
  *sg = s;
  *sgx = sx;
}

void layerNormForward(float* out, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                      int64_t rows, int64_t cols, float eps) {
  parallelFor(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      const double mu = cols > 0 ? laneSum(xr, cols) / static_cast<double>(cols) : 0.0;
      const double var = cols > 0 ? laneSquares(xr, cols, mu) / static_cast<double>(cols) : 0.0;
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
  // dweight = sum over rows of dy * xhat, dbias = sum of dy: per chunk of kChunkRows rows in float
  // (vectorized), the chunks then summed in order in double. The chunks do not depend on the thread
  // count, so neither do the bits.
  constexpr int64_t kChunkRows = 64;
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  const bool colSums = dweight != nullptr || dbias != nullptr;
  std::vector<float> partial(colSums ? static_cast<size_t>(chunks * 2 * cols) : 0);
  parallelFor(chunks, std::max<int64_t>(1, rowGrain(cols) / kChunkRows), [&](int64_t begin, int64_t end) {
    std::vector<float> gbuf(static_cast<size_t>(cols));
    float* g = gbuf.data();
    for (int64_t c = begin; c < end; c++) {
      float* pw = colSums ? partial.data() + c * 2 * cols : nullptr;
      float* pb = colSums ? pw + cols : nullptr;
      if (colSums) std::fill(pw, pw + 2 * cols, 0.0f);
      for (int64_t r = c * kChunkRows, rEnd = std::min(rows, r + kChunkRows); r < rEnd; r++) {
        const float* xr = x + r * cols;
        const float* gr = dy + r * cols;
        float* dr = dx + r * cols;
        const float m = mean[r], rs = rstd[r];
        double sg = 0.0, sgx = 0.0;
        gradSums(g, gr, xr, weight, m, rs, cols, &sg, &sgx);
        const float mg = cols > 0 ? static_cast<float>(sg / static_cast<double>(cols)) : 0.0f;
        const float mgx = cols > 0 ? static_cast<float>(sgx / static_cast<double>(cols)) : 0.0f;
        for (int64_t j = 0; j < cols; j++) dr[j] = rs * (g[j] - mg - (xr[j] - m) * rs * mgx);
        if (colSums) {
          for (int64_t j = 0; j < cols; j++) {
            pw[j] += gr[j] * ((xr[j] - m) * rs);
            pb[j] += gr[j];
          }
        }
      }
    }
  });
  if (!colSums) return;
  parallelFor(cols, std::max<int64_t>(1, kGrain / std::max<int64_t>(chunks, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; j++) {
      double sw = 0.0, sb = 0.0;
      for (int64_t c = 0; c < chunks; c++) {
        sw += static_cast<double>(partial[static_cast<size_t>(c * 2 * cols + j)]);
        sb += static_cast<double>(partial[static_cast<size_t>(c * 2 * cols + cols + j)]);
      }
      if (dweight != nullptr) dweight[j] = static_cast<float>(sw);
      if (dbias != nullptr) dbias[j] = static_cast<float>(sb);
    }
  });
}
