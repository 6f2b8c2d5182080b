// Elementwise kernels. Each op is a tight loop over contiguous runs, compiled per instruction set
// (elementwise_impl.h) so that it vectorizes for the widest one the CPU has; large arrays are split
// over the thread pool. exp, erf, gelu, gelu's derivative and sigmoid use the branch-free
// approximations below (a few ulp), which vectorize where libm's calls do not; they are forced
// inline (inline.h) so that the loops calling them do.
#include "elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention.h"
#include "cpu.h"
#include "inline.h"
#include "pool.h"

namespace qkv {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per task worth waking a thread for

// exp(v) with libm's overflow to +inf; expApprox elsewhere (0 below -88, where exp is subnormal).
QKV_ALWAYS_INLINE float expFast(float v) { return v > 88.7228394f ? std::numeric_limits<float>::infinity() : expApprox(v); }

// erf(v) for |v| <= 1 as v P(v^2) / Q(v^2) (v clamped to [-4, 4], where erf is +-1 in float).
QKV_ALWAYS_INLINE float erfRational(float v) {
  const float x = v > 4.0f ? 4.0f : (v < -4.0f ? -4.0f : v);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return x * p / q;
}

// erfc(z) for z >= 0 (z clamped to 10, where erfc underflows) as t exp(-z^2 + P(t)), t = 1 / (1 + z/2):
// the Chebyshev fit of Numerical Recipes' erfcc, relative error below 6e-6 in float.
QKV_ALWAYS_INLINE float erfcPositive(float z) {
  z = z > 10.0f ? 10.0f : z;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  return t * expApprox(p - z * z);
}

// erf(v): the rational form for |v| <= 1, 1 - erfc(|v|) with v's sign beyond; absolute error
// below 2.1e-7 (4 ulp) against erf in double, relative below 3e-7. NaN stays NaN.
QKV_ALWAYS_INLINE float erfApprox(float v) {
  const float a = v < 0.0f ? -v : v;
  const float tail = 1.0f - erfcPositive(a);
  return a > 1.0f ? (v < 0.0f ? -tail : tail) : erfRational(v);
}

// gelu(v) = v Phi(v) with Phi(v) = erfc(-v / sqrt 2) / 2 taken from erfc on the side where it is
// small, so that the tail v -> -inf keeps its relative accuracy (1 + erf there would cancel).
QKV_ALWAYS_INLINE float geluErf(float v) {
  const float c = 0.5f * erfcPositive((v < 0.0f ? -v : v) * 0.70710678118654752f);  // Phi(-|v|)
  return v * (v < 0.0f ? c : 1.0f - c);
}

// gelu'(v) = Phi(v) + v phi(v), phi(v) = exp(-v^2 / 2) / sqrt(2 pi): the exact GELU's derivative,
// branch-free. Phi from erfc on the side where it is small, as geluErf. v phi(v) is 0 in float past
// |v| = 14, so it takes v clamped to [-20, 20]: +-inf give the limits 1 and 0, not inf * 0 (NaN
// stays NaN). Each term is within about (8 + 2.3 v^2) 2^-24 relative: v^2 rounded in exp's
// argument turns into relative error (the bound is derived in test/backend/gelu-reference.ts).
QKV_ALWAYS_INLINE float geluErfDerivative(float v) {
  const float c = 0.5f * erfcPositive((v < 0.0f ? -v : v) * 0.70710678118654752f);  // Phi(-|v|)
  const float w = v > 20.0f ? 20.0f : (v < -20.0f ? -20.0f : v);
  const float xphi = w * 0.39894228040143268f * expApprox(-0.5f * w * w);
  return (v < 0.0f ? c : 1.0f - c) + xphi;
}

#define QKV_PER_ISA_IMPL "elementwise_impl.h"
#include "per_isa.h"

}  // namespace

bool parseUnaryOp(const char* name, UnaryOp* op) {
  static const struct { const char* name; UnaryOp op; } table[] = {
      {"neg", UnaryOp::Neg}, {"exp", UnaryOp::Exp}, {"log", UnaryOp::Log}, {"sqrt", UnaryOp::Sqrt},
      {"rsqrt", UnaryOp::Rsqrt}, {"tanh", UnaryOp::Tanh}, {"erf", UnaryOp::Erf}, {"abs", UnaryOp::Abs},
      {"relu", UnaryOp::Relu}, {"sigmoid", UnaryOp::Sigmoid}, {"geluErf", UnaryOp::GeluErf},
      {"geluTanh", UnaryOp::GeluTanh}, {"sin", UnaryOp::Sin}, {"cos", UnaryOp::Cos}, {"square", UnaryOp::Square},
      {"reciprocal", UnaryOp::Reciprocal}, {"sign", UnaryOp::Sign}, {"elu", UnaryOp::Elu}};
  for (const auto& e : table)
    if (std::strcmp(e.name, name) == 0) { *op = e.op; return true; }
  return false;
}

bool parseBinaryOp(const char* name, BinaryOp* op) {
  static const struct { const char* name; BinaryOp op; } table[] = {
      {"add", BinaryOp::Add}, {"sub", BinaryOp::Sub}, {"mul", BinaryOp::Mul}, {"div", BinaryOp::Div},
      {"pow", BinaryOp::Pow}, {"maximum", BinaryOp::Maximum}, {"minimum", BinaryOp::Minimum},
      {"geluErfGrad", BinaryOp::GeluErfGrad}, {"reluGrad", BinaryOp::ReluGrad}};
  for (const auto& e : table)
    if (std::strcmp(e.name, name) == 0) { *op = e.op; return true; }
  return false;
}

void unary(UnaryOp op, float* out, const float* x, int64_t n, float alpha) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, unaryOp)(op, out, x, n, alpha);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, unaryOp)(op, out, x, n, alpha);
    default: return isa_scalar::unaryOp(op, out, x, n, alpha);
  }
}

void binary(BinaryOp op, float* out, const float* a, const float* b, const int64_t* outShape, const int64_t* aStrides,
            const int64_t* bStrides, int ndim) {
  // Drop size-1 dims, then merge dims that are contiguous in out, a and b alike.
  std::vector<int64_t> shape, sa, sb;
  for (int d = 0; d < ndim; d++) {
    if (outShape[d] == 0) return;
    if (outShape[d] == 1) continue;
    if (!shape.empty() && sa.back() == aStrides[d] * outShape[d] && sb.back() == bStrides[d] * outShape[d]) {
      shape.back() *= outShape[d];
      sa.back() = aStrides[d];
      sb.back() = bStrides[d];
      continue;
    }
    shape.push_back(outShape[d]);
    sa.push_back(aStrides[d]);
    sb.push_back(bStrides[d]);
  }
  if (shape.empty()) { shape = {1}; sa = {0}; sb = {0}; }
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, binaryOp)(op, out, a, b, shape, sa, sb);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, binaryOp)(op, out, a, b, shape, sa, sb);
    default: return isa_scalar::binaryOp(op, out, a, b, shape, sa, sb);
  }
}

}  // namespace qkv
