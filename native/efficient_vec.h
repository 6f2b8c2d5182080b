// Row helpers of the sparse and linear attention kernels, written as plain fixed-width loops the
// compiler vectorizes for the instruction set of the including namespace (per_isa.h, with its
// function-level target options). No include guard on purpose: included once per instruction set.

// s[0:W] = sum_d x[d] * t[d * ld + 0:W]: W columns of a transposed [D, ld] matrix against x.
template <int W>
inline void gemvChunk(float* s, const float* x, const float* t, int64_t ld, int64_t D) {
  float acc[W];
  for (int c = 0; c < W; c++) acc[c] = 0.0f;
  for (int64_t d = 0; d < D; d++) {
    const float xd = x[d];
    const float* tr = t + d * ld;
    for (int c = 0; c < W; c++) acc[c] += xd * tr[c];
  }
  for (int c = 0; c < W; c++) s[c] = acc[c];
}

// s[0:n) = x . columns 0..n of t (writes up to 63 more, and reads up to 63 more columns).
inline void gemvColumns(float* s, const float* x, const float* t, int64_t ld, int64_t D, int64_t n) {
  int64_t c = 0;
  for (; c + 64 <= n; c += 64) gemvChunk<64>(s + c, x, t + c, ld, D);
  const int64_t rest = n - c;
  if (rest > 32) gemvChunk<64>(s + c, x, t + c, ld, D);
  else if (rest > 16) gemvChunk<32>(s + c, x, t + c, ld, D);
  else if (rest > 0) gemvChunk<16>(s + c, x, t + c, ld, D);
}

// a[0:n) . b[0:n) in 16 independent lanes.
inline float dotLanes(const float* a, const float* b, int64_t n) {
  float acc[16];
  for (int t = 0; t < 16; t++) acc[t] = 0.0f;
  int64_t d = 0;
  for (; d + 16 <= n; d += 16)
    for (int t = 0; t < 16; t++) acc[t] += a[d + t] * b[d + t];
  float tail = 0.0f;
  for (; d < n; d++) tail += a[d] * b[d];
  for (int w = 8; w >= 1; w /= 2)
    for (int t = 0; t < w; t++) acc[t] += acc[t + w];
  return acc[0] + tail;
}

// y[0:n) += a * x[0:n).
inline void axpy(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

// y[0:n) += sum_t a[t] * x[t * step + 0:n) over t < cnt, four rows of x per pass over y.
inline void axpyRows(float* y, const float* a, const float* x, int64_t step, int64_t cnt, int64_t n) {
  int64_t t = 0;
  for (; t + 4 <= cnt; t += 4) {
    const float a0 = a[t], a1 = a[t + 1], a2 = a[t + 2], a3 = a[t + 3];
    const float* x0 = x + t * step;
    const float* x1 = x0 + step;
    const float* x2 = x1 + step;
    const float* x3 = x2 + step;
    for (int64_t i = 0; i < n; i++) y[i] += (a0 * x0[i] + a1 * x1[i]) + (a2 * x2[i] + a3 * x3[i]);
  }
  for (; t < cnt; t++) axpy(y, a[t], x + t * step, n);
}

inline float maxLanes(const float* x, int64_t n) {
  float m[16];
  for (int t = 0; t < 16; t++) m[t] = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int t = 0; t < 16; t++) m[t] = x[j + t] > m[t] ? x[j + t] : m[t];
  for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
  float r = m[0];
  for (int t = 1; t < 16; t++) r = m[t] > r ? m[t] : r;
  return r;
}

// x = exp(x - m) over [0, n); returns the sum.
inline float expShiftSum(float* x, int64_t n, float m) {
  float acc[16];
  for (int t = 0; t < 16; t++) acc[t] = 0.0f;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int t = 0; t < 16; t++) {
      const float e = expApprox(x[j + t] - m);
      x[j + t] = e;
      acc[t] += e;
    }
  float tail = 0.0f;
  for (; j < n; j++) {
    x[j] = expApprox(x[j] - m);
    tail += x[j];
  }
  for (int w = 8; w >= 1; w /= 2)
    for (int t = 0; t < w; t++) acc[t] += acc[t + w];
  return acc[0] + tail;
}

// dst[d * ld + j] = src[j * D + d] for j < n (a [n, D] row-major block into columns of [D, ld]).
inline void transposeInto(float* dst, int64_t ld, const float* src, int64_t n, int64_t D) {
  constexpr int64_t kTile = 16;
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    const int64_t jn = std::min(kTile, n - j0);
    for (int64_t d = 0; d < D; d++) {
      float* o = dst + d * ld + j0;
      const float* s = src + j0 * D + d;
      for (int64_t j = 0; j < jn; j++) o[j] = s[j * D];
    }
  }
}
