// An 8 x 8 float transpose in AVX registers, and a scaled transpose of a whole block by it, for the
// AVX2 and AVX-512 files (include it inside their `#pragma GCC target(...)` region, within their
// namespace). No include guard: each including file gets its own inline copy under its own target
// options.
//
//   __m256 r[8];  // r[i] = row i
//   transpose8(r);  // r[i] = column i

// Transposes the 8 x 8 block in r[0..7] (r[i] = row i) in place.
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// dst[c * ldd + r] = scale * src[r * lds + c] for r < rows, c < cols: 8 x 8 blocks through
// registers (the keys' and queries' packing, from rows that may be strided views), the edges
// element by element.
inline void transposeScaled8(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols,
                             float scale) {
  const __m256 sc = _mm256_set1_ps(scale);
  const int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (int64_t r0 = 0; r0 < rows8; r0 += 8) {
    for (int64_t c0 = 0; c0 < cols8; c0 += 8) {
      const float* s = src + r0 * lds + c0;
      __m256 t[8];
      for (int i = 0; i < 8; i++) t[i] = _mm256_mul_ps(_mm256_loadu_ps(s + i * lds), sc);
      transpose8(t);
      float* d = dst + c0 * ldd + r0;
      for (int i = 0; i < 8; i++) _mm256_storeu_ps(d + i * ldd, t[i]);
    }
    for (int64_t r = r0; r < r0 + 8; r++)
      for (int64_t c = cols8; c < cols; c++) dst[c * ldd + r] = scale * src[r * lds + c];
  }
  for (int64_t r = rows8; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = scale * src[r * lds + c];
}
