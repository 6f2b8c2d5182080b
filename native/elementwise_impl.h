// The elementwise loops, written once and compiled per instruction set: included inside
// namespace qkv::<anonymous>::isa_<name> (so the plain loops vectorize for that instruction set).
// Needs kGrain, parallelFor, expFast, erfApprox, geluErf and geluErfDerivative in scope. No include guard on purpose.

template <typename F>
void mapUnary(float* out, const float* x, int64_t n, F f) {
  parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) out[i] = f(x[i]);
  });
}

QKV_ALWAYS_INLINE float sigmoidf(float v) { return 1.0f / (1.0f + expFast(-v)); }

inline float maxNan(float a, float b) { return a != a ? a : (b != b ? b : (a > b ? a : b)); }
inline float minNan(float a, float b) { return a != a ? a : (b != b ? b : (a < b ? a : b)); }

// One contiguous run of the innermost dimension: out[0:n] = a[i * sa] (op) b[i * sb].
template <typename F>
inline void binaryRun(float* out, const float* a, const float* b, int64_t n, int64_t sa, int64_t sb, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; i++) out[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i * sa], b[i * sb]);
  }
}

template <typename F>
void mapBinary(float* out, const float* a, const float* b, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, F f) {
  const int nd = static_cast<int>(shape.size());
  const int64_t inner = shape[nd - 1];
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; d++) outer *= shape[d];
  const int64_t grainRows = std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
  parallelFor(outer, grainRows, [&](int64_t begin, int64_t end) {
    // Odometer over the outer dims, starting at row `begin`.
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    int64_t rem = begin, offA = 0, offB = 0;
    for (int d = nd - 2; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      offA += idx[d] * sa[d];
      offB += idx[d] * sb[d];
    }
    for (int64_t row = begin; row < end; row++) {
      binaryRun(out + row * inner, a + offA, b + offB, inner, sa[nd - 1], sb[nd - 1], f);
      for (int d = nd - 2; d >= 0; d--) {
        offA += sa[d];
        offB += sb[d];
        if (++idx[d] < shape[d]) break;
        offA -= sa[d] * shape[d];
        offB -= sb[d] * shape[d];
        idx[d] = 0;
      }
    }
  });
}


// out[i] = op(x[i]) for i < n.   out, x [n]
void unaryOp(UnaryOp op, float* out, const float* x, int64_t n, float alpha) {
  switch (op) {
    case UnaryOp::Neg: return mapUnary(out, x, n, [](float v) { return -v; });
    case UnaryOp::Exp: return mapUnary(out, x, n, [](float v) { return expFast(v); });
    case UnaryOp::Log: return mapUnary(out, x, n, [](float v) { return std::log(v); });
    case UnaryOp::Sqrt: return mapUnary(out, x, n, [](float v) { return std::sqrt(v); });
    case UnaryOp::Rsqrt: return mapUnary(out, x, n, [](float v) { return 1.0f / std::sqrt(v); });
    case UnaryOp::Tanh: return mapUnary(out, x, n, [](float v) { return std::tanh(v); });
    case UnaryOp::Erf: return mapUnary(out, x, n, [](float v) { return erfApprox(v); });
    case UnaryOp::Abs: return mapUnary(out, x, n, [](float v) { return std::fabs(v); });
    case UnaryOp::Relu: return mapUnary(out, x, n, [](float v) { return v > 0.0f ? v : 0.0f; });
    case UnaryOp::Sigmoid: return mapUnary(out, x, n, [](float v) { return sigmoidf(v); });
    case UnaryOp::GeluErf:
      return mapUnary(out, x, n, [](float v) { return geluErf(v); });
    case UnaryOp::GeluTanh:
      return mapUnary(out, x, n, [](float v) {
        return 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
      });
    case UnaryOp::Sin: return mapUnary(out, x, n, [](float v) { return std::sin(v); });
    case UnaryOp::Cos: return mapUnary(out, x, n, [](float v) { return std::cos(v); });
    case UnaryOp::Square: return mapUnary(out, x, n, [](float v) { return v * v; });
    case UnaryOp::Reciprocal: return mapUnary(out, x, n, [](float v) { return 1.0f / v; });
    case UnaryOp::Sign:
      return mapUnary(out, x, n, [](float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v); });
    case UnaryOp::Elu:
      return mapUnary(out, x, n, [alpha](float v) { return v > 0.0f ? v : alpha * std::expm1(v); });
  }
}

// out = a (op) b over a merged shape [nd] with element strides sa, sb.
void binaryOp(BinaryOp op, float* out, const float* a, const float* b, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& sa, const std::vector<int64_t>& sb) {
  switch (op) {
    case BinaryOp::Add: return mapBinary(out, a, b, shape, sa, sb, [](float x, float y) { return x + y; });
    case BinaryOp::Sub: return mapBinary(out, a, b, shape, sa, sb, [](float x, float y) { return x - y; });
    case BinaryOp::Mul: return mapBinary(out, a, b, shape, sa, sb, [](float x, float y) { return x * y; });
    case BinaryOp::Div: return mapBinary(out, a, b, shape, sa, sb, [](float x, float y) { return x / y; });
    case BinaryOp::Pow: return mapBinary(out, a, b, shape, sa, sb, [](float x, float y) { return std::pow(x, y); });
    case BinaryOp::Maximum: return mapBinary(out, a, b, shape, sa, sb, maxNan);
    case BinaryOp::Minimum: return mapBinary(out, a, b, shape, sa, sb, minNan);
    case BinaryOp::GeluErfGrad:
      return mapBinary(out, a, b, shape, sa, sb, [](float g, float x) { return g * geluErfDerivative(x); });
    case BinaryOp::ReluGrad:
      return mapBinary(out, a, b, shape, sa, sb, [](float g, float y) { return y > 0.0f ? g : 0.0f; });
  }
}
