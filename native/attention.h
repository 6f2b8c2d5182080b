// Fused scaled-dot-product attention (FlashAttention-2 style), forward and backward.
#pragma once

#include <cstdint>
#include <type_traits>
#include <cstring>

#include "inline.h"

namespace qkv {

// Element strides of one [B, heads, rows, n] operand: element (b, h, i, c) at b * sB + h * sH + i * sL + c.
struct RowStrides {
  int64_t sB, sH, sL;
  // Offset of row i of head h of batch b.
  int64_t at(int64_t b, int64_t h, int64_t i) const { return b * sB + h * sH + i * sL; }
};

// The sizes and options of one attention call (see AttentionArgs in src/backend/backend.ts).
// q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], out [B, H, L, Dv] at their strides (dq, dk, dv
// at those of q, k, v; dout at out's), lse [B, H, L] contiguous. Operands may be interleaved views of
// one buffer: the kernels write only their outputs' own elements.
struct AttentionParams {
  int64_t B, H, Hkv, L, S, D, Dv;
  RowStrides qs, ks, vs, os;
  float scale;
  bool causal;
  const float* mask;  // additive, at b * maskStrideB + h * maskStrideH + i * maskStrideL + j; may be null
  int64_t maskStrideB, maskStrideH, maskStrideL;
  double dropoutP;
  uint32_t seedK0, seedK1;
  uint64_t seedStart;
};

// The counter-based generator of src/tensor/rng.ts (randomBits), bit for bit.
inline uint32_t mix32(uint32_t x) {
  x = (x ^ (x >> 16)) * 0x7feb352du;
  x = (x ^ (x >> 15)) * 0x846ca68bu;
  return x ^ (x >> 16);
}
inline uint32_t randomBits(uint32_t k0, uint32_t k1, uint64_t counter) {
  const uint32_t c = static_cast<uint32_t>(counter), hi = static_cast<uint32_t>(counter >> 32);
  uint32_t x = mix32(c ^ k0);
  x = mix32(x + (k1 ^ (hi * 0x9e3779b9u)));
  return mix32(x ^ k0 ^ 0x5bd1e995u);
}
// Dropout drops an element when uniformAt(...) < p, i.e. when (randomBits >> 8) < dropThreshold(p).
inline uint32_t dropThreshold(double p) {
  if (!(p > 0.0)) return 0;
  if (p >= 1.0) return 1u << 24;
  // uniformAt = (r + 0.5) * 2^-24 < p  <=>  r < p * 2^24 - 0.5  <=>  r < ceil(p * 2^24 - 0.5).
  double t = p * 16777216.0 - 0.5;
  double c = static_cast<double>(static_cast<int64_t>(t));
  if (c < t) c += 1.0;
  return static_cast<uint32_t>(c < 0.0 ? 0.0 : c);
}

// exp(x) in float (Cephes polynomial, ~1 ulp), branch-free so loops over it vectorize; 0 for x <= -88.
QKV_ALWAYS_INLINE float expApprox(float x) {
  x = x < -88.0f ? -88.0f : (x > 88.5f ? 88.5f : x);
  const float t = x * 1.44269504088896341f + 12582912.0f;  // round(x / ln 2) in the low mantissa bits
  const float n = t - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scaleBits;
  std::memcpy(&scaleBits, &e, sizeof(float));
  return y * scaleBits;
}

// exp(x) in float for the fused attention's row work, as 2^t with t = x log2(e) rounded to float:
// t clamped to [-126, 127] (2^-126 for -inf and NaN), n = round(t), f = t - n in [-1/2, 1/2], 2^f
// by a degree-6 polynomial fitted for relative error (1.98e-9 in exact arithmetic; at most 1.42
// ulp evaluated in float as below, by pairs), 2^n in the exponent bits. t's rounding adds a
// relative error of at most |x| 2^-24 (|t| 2^-24 in the exponent, times ln 2): for the x <= 0 of
// softmax an absolute error of at most e^-1 2^-24 = 2.2e-8, the scores themselves exact. Against
// expApprox (Cody-Waite in base e, degree 7) it takes two operations fewer. The vector kernels use
// the same constants and order.
constexpr float kLog2eF = 1.44269504088896341f;
constexpr float kExp2C1 = 0.693147182464599609f, kExp2C2 = 0.240226477384567261f, kExp2C3 = 0.0555033236742019653f,
                kExp2C4 = 0.00961843691766262054f, kExp2C5 = 0.00133988750167191029f, kExp2C6 = 0.000153533619595691562f;
QKV_ALWAYS_INLINE float expBase2(float x) {
  float t = x * kLog2eF;
  t = t > -126.0f ? (t < 127.0f ? t : 127.0f) : -126.0f;
  const float r = t + 12582912.0f;  // round(t) in the low mantissa bits
  const float n = r - 12582912.0f;
  const float f = t - n, f2 = f * f;
  const float a = kExp2C1 + kExp2C2 * f, b = kExp2C3 + kExp2C4 * f, c = kExp2C5 + kExp2C6 * f;
  const float y = 1.0f + f * (a + f2 * (b + f2 * c));
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scaleBits;
  std::memcpy(&scaleBits, &e, sizeof(float));
  return y * scaleBits;
}

// out [B, H, L, Dv], lse [B, H, L].
void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p);
// Writes dq [B, H, L, D], dk [B, Hkv, S, D], dv [B, Hkv, S, Dv].
void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p);

// Per instruction set (attention_avx512.cc, attention_avx2.cc, attention_portable.cc).
namespace avx512 {
void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p);
void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p);
}  // namespace avx512
namespace avx2 {
void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p);
void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p);
}  // namespace avx2
namespace scalar {
void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p);
void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p);
}  // namespace scalar

}  // namespace qkv
