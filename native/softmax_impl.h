// Row-wise softmax kernels, included once per instruction set (softmax.cc). No include guard on purpose.
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

// sum_j a[j] b[j] in eight lanes.
inline float rowDot(const float* a, const float* b, int64_t n) {
  float s[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; t++) s[t] += a[j + t] * b[j + t];
  for (; j < n; j++) s[0] += a[j] * b[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Rows [begin, end) of the forward.   out, x [rows, cols]
void softmaxRows(float* out, const float* x, int64_t begin, int64_t end, int64_t cols, bool log) {
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
}

// Rows [begin, end) of the backward.   dx, y, dy [rows, cols]
void softmaxBackwardRows(float* dx, const float* y, const float* dy, int64_t begin, int64_t end, int64_t cols, bool log) {
  for (int64_t r = begin; r < end; r++) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    if (log) {
      const float s = rowSum(gr, cols);
      for (int64_t j = 0; j < cols; j++) dr[j] = gr[j] - expApprox(yr[j]) * s;
    } else {
      const float s = rowDot(gr, yr, cols);
      for (int64_t j = 0; j < cols; j++) dr[j] = yr[j] * (gr[j] - s);
    }
  }
}
