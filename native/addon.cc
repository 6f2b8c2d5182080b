// The N-API entry points: argument checks (TypeError / RangeError, never a crash), then the kernels.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "allocator.h"
#include "attention.h"
#include "conv.h"
#include "cpu.h"
#include "dropout.h"
#include "efficient_attention.h"
#include "elementwise.h"
#include "gemm.h"
#include "norm.h"
#include "peak.h"
#include "pool.h"

namespace {

using qkv::AttentionParams;

constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1

struct Ctx {
  const Napi::CallbackInfo& info;
  const char* fn;

  [[noreturn]] void typeError(const std::string& msg) const {
    throw Napi::TypeError::New(info.Env(), std::string("qkv native ") + fn + ": " + msg);
  }
  [[noreturn]] void rangeError(const std::string& msg) const {
    throw Napi::RangeError::New(info.Env(), std::string("qkv native ") + fn + ": " + msg);
  }

  void argc(size_t n) const {
    if (info.Length() < n) typeError("expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
  }

  // A Float32Array of at least `need` elements.
  float* f32(const Napi::Value& v, const char* name, int64_t need) const {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      typeError(std::string(name) + " must be a Float32Array (float64 runs on the js backend)");
    auto arr = v.As<Napi::Float32Array>();
    if (static_cast<int64_t>(arr.ElementLength()) < need)
      rangeError(std::string(name) + " has " + std::to_string(arr.ElementLength()) + " elements, needs " +
                 std::to_string(need));
    return need == 0 ? nullptr : arr.Data();
  }
  float* f32(size_t i, const char* name, int64_t need) const { return f32(info[i], name, need); }

  // A Float32Array of at least `need` elements, or null / undefined.
  float* f32OrNull(size_t i, const char* name, int64_t need) const {
    if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
    float* p = f32(i, name, need);
    if (p == nullptr) p = info[i].As<Napi::Float32Array>().Data();
    return p;
  }

  int64_t size(const Napi::Value& v, const char* name) const {
    if (!v.IsNumber()) typeError(std::string(name) + " must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0.0) || d > kMaxSafe || std::floor(d) != d)
      rangeError(std::string(name) + " must be a non-negative integer, got " + std::to_string(d));
    return static_cast<int64_t>(d);
  }
  int64_t size(size_t i, const char* name) const { return size(info[i], name); }

  double number(const Napi::Value& v, const char* name) const {
    if (!v.IsNumber()) typeError(std::string(name) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }

  bool boolean(const Napi::Value& v, const char* name) const {
    if (!v.IsBoolean()) typeError(std::string(name) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  bool boolean(size_t i, const char* name) const { return boolean(info[i], name); }

  std::string string(size_t i, const char* name) const {
    if (!info[i].IsString()) typeError(std::string(name) + " must be a string");
    return info[i].As<Napi::String>().Utf8Value();
  }

  // a * b * ..., as a RangeError when it leaves the exactly representable range.
  int64_t product(std::initializer_list<int64_t> xs) const {
    double p = 1.0;
    int64_t r = 1;
    for (int64_t x : xs) {
      p *= static_cast<double>(x);
      if (p > kMaxSafe) rangeError("sizes too large");
      r *= x;
    }
    return r;
  }
};

// Runs a kernel entry point, turning C++ failures (out of memory, thread creation) into JS errors.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "qkv native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("qkv native: ") + e.what());
  }
}

// matmul(out, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "matmul"};
    c.argc(12);
    const int64_t batch = c.size(3, "batch"), M = c.size(4, "M"), N = c.size(5, "N"), K = c.size(6, "K");
    const bool transA = c.boolean(7, "transA"), transB = c.boolean(8, "transB");
    const int64_t strideA = c.size(9, "strideA"), strideB = c.size(10, "strideB");
    const bool accumulate = c.boolean(11, "accumulate");
    const int64_t mk = c.product({M, K}), kn = c.product({K, N});
    const int64_t needA = batch == 0 || mk == 0 ? 0 : c.product({batch - 1, strideA}) + mk;
    const int64_t needB = batch == 0 || kn == 0 ? 0 : c.product({batch - 1, strideB}) + kn;
    float* out = c.f32(0, "out", c.product({batch, M, N}));
    const float* a = c.f32(1, "a", needA);
    const float* b = c.f32(2, "b", needB);
    qkv::sgemmBatched(out, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
    return info.Env().Undefined();
  });
}

// packedMatmulBLength(N, K): floats of a B packed by packMatmulB for the instruction set in effect
Napi::Value PackedMatmulBLength(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "packedMatmulBLength"};
    c.argc(2);
    const int64_t N = c.size(0, "N"), K = c.size(1, "K");
    c.product({N, K});
    return Napi::Number::New(info.Env(), static_cast<double>(qkv::packedBLength(N, K)));
  });
}

// packMatmulB(b, N, K, transB): B [K, N] (or [N, K] when transB) packed for the instruction set in
// effect, as { data: Float32Array over memory of its own, 64-byte aligned as the GEMM's panels
// must be (and never moved, unlike a buffer on V8's heap), isa }
Napi::Value PackMatmulB(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "packMatmulB"};
    c.argc(4);
    const int64_t N = c.size(1, "N"), K = c.size(2, "K");
    const bool transB = c.boolean(3, "transB");
    const float* b = c.f32(0, "b", c.product({N, K}));
    const int64_t length = std::max<int64_t>(1, qkv::packedBLength(N, K));
    const size_t bytes = (static_cast<size_t>(length) * sizeof(float) + 63) / 64 * 64;
    float* mem = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (mem == nullptr) throw std::bad_alloc();
    const char* isa;
    try {
      isa = qkv::isaName(qkv::packB(mem, b, N, K, transB));
    } catch (...) {
      std::free(mem);
      throw;
    }
    Napi::Env env = info.Env();
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
    auto release = [bytes](Napi::Env e, void* p) {
      std::free(p);
      Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(bytes));
    };
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, mem, static_cast<size_t>(length) * sizeof(float), release);
    Napi::Object r = Napi::Object::New(env);
    r.Set("data", Napi::Float32Array::New(env, static_cast<size_t>(length), ab, 0));
    r.Set("isa", Napi::String::New(env, isa));
    return r;
  });
}

// matmulPrepacked(out, a, packed, M, N, K, transA, accumulate, isa[, bias]): out [M, N] (+)= op(a) @ B
// (+ bias [N] on every row)
Napi::Value MatmulPrepacked(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "matmulPrepacked"};
    c.argc(9);
    const int64_t M = c.size(3, "M"), N = c.size(4, "N"), K = c.size(5, "K");
    const bool transA = c.boolean(6, "transA"), accumulate = c.boolean(7, "accumulate");
    const std::string isa = c.string(8, "isa");
    if (isa != qkv::isaName(qkv::activeIsa())) {
      c.rangeError("packed for " + isa + ", but the instruction set in effect is " + qkv::isaName(qkv::activeIsa()));
    }
    float* out = c.f32(0, "out", c.product({M, N}));
    const float* a = c.f32(1, "a", c.product({M, K}));
    const float* packed = c.f32(2, "packed", qkv::packedBLength(N, K));
    if (reinterpret_cast<uintptr_t>(packed) % 64 != 0) c.rangeError("packed must be the data packMatmulB returned (64-byte aligned)");
    const float* bias = info.Length() > 9 ? c.f32OrNull(9, "bias", N) : nullptr;
    qkv::sgemmPrepacked(out, a, packed, M, N, K, transA, accumulate, bias);
    return info.Env().Undefined();
  });
}

// unary(op, out, x, n, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "unary"};
    c.argc(5);
    qkv::UnaryOp op;
    const std::string name = c.string(0, "op");
    if (!qkv::parseUnaryOp(name.c_str(), &op)) c.rangeError("unknown unary op '" + name + "'");
    const int64_t n = c.size(3, "n");
    float* out = c.f32(1, "out", n);
    const float* x = c.f32(2, "x", n);
    const double alpha = c.number(info[4], "alpha");
    qkv::unary(op, out, x, n, static_cast<float>(alpha));
    return info.Env().Undefined();
  });
}

// dropout(out, x, n, p, k0, k1, start)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "dropout"};
    c.argc(7);
    const int64_t n = c.size(2, "n");
    float* out = c.f32(0, "out", n);
    const float* x = c.f32(1, "x", n);
    const double p = c.number(info[3], "p");
    if (!(p >= 0.0 && p < 1.0)) c.rangeError("p must be in [0, 1)");
    const double k0 = c.number(info[4], "k0"), k1 = c.number(info[5], "k1"), start = c.number(info[6], "start");
    if (!(k0 >= 0 && k0 <= 4294967295.0 && k1 >= 0 && k1 <= 4294967295.0)) c.rangeError("k0, k1 must be 32-bit unsigned integers");
    if (!(start >= 0 && start <= 9007199254740991.0)) c.rangeError("start must be a safe non-negative integer");
    qkv::dropout(out, x, n, p, static_cast<uint32_t>(k0), static_cast<uint32_t>(k1), static_cast<uint64_t>(start));
    return info.Env().Undefined();
  });
}

std::vector<int64_t> sizeList(const Ctx& c, const Napi::Value& v, const char* name) {
  if (!v.IsArray()) c.typeError(std::string(name) + " must be an array of integers");
  auto arr = v.As<Napi::Array>();
  if (arr.Length() > 64) c.rangeError(std::string(name) + " has too many dims");
  std::vector<int64_t> r(arr.Length());
  for (uint32_t d = 0; d < arr.Length(); d++) r[d] = c.size(arr.Get(d), name);
  return r;
}
std::vector<int64_t> sizeList(const Ctx& c, size_t i, const char* name) { return sizeList(c, c.info[i], name); }

// binary(op, out, a, b, outShape, aStrides, bStrides)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "binary"};
    c.argc(7);
    qkv::BinaryOp op;
    const std::string name = c.string(0, "op");
    if (!qkv::parseBinaryOp(name.c_str(), &op)) c.rangeError("unknown binary op '" + name + "'");
    const std::vector<int64_t> shape = sizeList(c, 4, "outShape"), sa = sizeList(c, 5, "aStrides"),
                               sb = sizeList(c, 6, "bStrides");
    if (sa.size() != shape.size() || sb.size() != shape.size())
      c.rangeError("outShape, aStrides and bStrides must have the same length");
    int64_t n = 1, lastA = 0, lastB = 0;
    for (size_t d = 0; d < shape.size(); d++) {
      n = c.product({n, shape[d]});
      if (shape[d] > 0) {
        lastA += c.product({shape[d] - 1, sa[d]});
        lastB += c.product({shape[d] - 1, sb[d]});
      }
    }
    float* out = c.f32(1, "out", n);
    const float* a = c.f32(2, "a", n == 0 ? 0 : lastA + 1);
    const float* b = c.f32(3, "b", n == 0 ? 0 : lastB + 1);
    if (n == 0) return info.Env().Undefined();
    qkv::binary(op, out, a, b, shape.data(), sa.data(), sb.data(), static_cast<int>(shape.size()));
    return info.Env().Undefined();
  });
}

// softmax(out, x, rows, cols, log)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "softmax"};
    c.argc(5);
    const int64_t rows = c.size(2, "rows"), cols = c.size(3, "cols"), n = c.product({rows, cols});
    float* out = c.f32(0, "out", n);
    const float* x = c.f32(1, "x", n);
    qkv::softmaxForward(out, x, rows, cols, c.boolean(4, "log"));
    return info.Env().Undefined();
  });
}

// softmaxBackward(dx, y, dy, rows, cols, log)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "softmaxBackward"};
    c.argc(6);
    const int64_t rows = c.size(3, "rows"), cols = c.size(4, "cols"), n = c.product({rows, cols});
    float* dx = c.f32(0, "dx", n);
    const float* y = c.f32(1, "y", n);
    const float* dy = c.f32(2, "dy", n);
    qkv::softmaxBackward(dx, y, dy, rows, cols, c.boolean(5, "log"));
    return info.Env().Undefined();
  });
}

// layerNorm(out, mean, rstd, x, weight, bias, rows, cols, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "layerNorm"};
    c.argc(9);
    const int64_t rows = c.size(6, "rows"), cols = c.size(7, "cols"), n = c.product({rows, cols});
    float* out = c.f32(0, "out", n);
    float* mean = c.f32(1, "mean", rows);
    float* rstd = c.f32(2, "rstd", rows);
    const float* x = c.f32(3, "x", n);
    const float* weight = c.f32OrNull(4, "weight", cols);
    const float* bias = c.f32OrNull(5, "bias", cols);
    const double eps = c.number(info[8], "eps");
    qkv::layerNormForward(out, mean, rstd, x, weight, bias, rows, cols, static_cast<float>(eps));
    return info.Env().Undefined();
  });
}

// layerNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "layerNormBackward"};
    c.argc(10);
    const int64_t rows = c.size(8, "rows"), cols = c.size(9, "cols"), n = c.product({rows, cols});
    float* dx = c.f32(0, "dx", n);
    float* dweight = c.f32OrNull(1, "dweight", cols);
    float* dbias = c.f32OrNull(2, "dbias", cols);
    const float* dy = c.f32(3, "dy", n);
    const float* x = c.f32(4, "x", n);
    const float* mean = c.f32(5, "mean", rows);
    const float* rstd = c.f32(6, "rstd", rows);
    const float* weight = c.f32OrNull(7, "weight", cols);
    qkv::layerNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
    return info.Env().Undefined();
  });
}

AttentionParams attentionParams(const Ctx& c, const Napi::Value& v) {
  if (!v.IsObject()) c.typeError("args must be an object");
  Napi::Object o = v.As<Napi::Object>();
  AttentionParams p{};
  p.B = c.size(o.Get("B"), "args.B");
  p.H = c.size(o.Get("H"), "args.H");
  p.Hkv = c.size(o.Get("Hkv"), "args.Hkv");
  p.L = c.size(o.Get("L"), "args.L");
  p.S = c.size(o.Get("S"), "args.S");
  p.D = c.size(o.Get("D"), "args.D");
  p.Dv = c.size(o.Get("Dv"), "args.Dv");
  if (p.Hkv == 0 ? p.H != 0 : p.H % p.Hkv != 0) c.rangeError("args.H must be a multiple of args.Hkv");
  p.scale = static_cast<float>(c.number(o.Get("scale"), "args.scale"));
  p.causal = c.boolean(o.Get("causal"), "args.causal");
  const auto strides = [&](const char* key, const char* name) {
    const std::vector<int64_t> s = sizeList(c, o.Get(key), name);
    if (s.size() != 3) c.rangeError(std::string(name) + " must hold 3 strides [sB, sH, sL]");
    return qkv::RowStrides{s[0], s[1], s[2]};
  };
  p.qs = strides("qStrides", "args.qStrides");
  p.ks = strides("kStrides", "args.kStrides");
  p.vs = strides("vStrides", "args.vStrides");
  p.os = strides("oStrides", "args.oStrides");
  p.maskStrideB = c.size(o.Get("maskStrideB"), "args.maskStrideB");
  p.maskStrideH = c.size(o.Get("maskStrideH"), "args.maskStrideH");
  p.maskStrideL = c.size(o.Get("maskStrideL"), "args.maskStrideL");
  const Napi::Value mask = o.Get("mask");
  if (!mask.IsNull() && !mask.IsUndefined()) {
    int64_t need = 0;
    if (p.B > 0 && p.H > 0 && p.L > 0 && p.S > 0)
      need = c.product({p.B - 1, p.maskStrideB}) + c.product({p.H - 1, p.maskStrideH}) +
             c.product({p.L - 1, p.maskStrideL}) + p.S;
    p.mask = c.f32(mask, "args.mask", need);
  }
  p.dropoutP = c.number(o.Get("dropoutP"), "args.dropoutP");
  if (!(p.dropoutP >= 0.0 && p.dropoutP <= 1.0)) c.rangeError("args.dropoutP must be in [0, 1]");
  const double k0 = c.number(o.Get("seedK0"), "args.seedK0"), k1 = c.number(o.Get("seedK1"), "args.seedK1");
  if (!std::isfinite(k0) || !std::isfinite(k1)) c.rangeError("args.seedK0 / seedK1 must be finite");
  // As JS `x >>> 0` does.
  p.seedK0 = static_cast<uint32_t>(static_cast<int64_t>(std::fmod(std::trunc(k0), 4294967296.0)));
  p.seedK1 = static_cast<uint32_t>(static_cast<int64_t>(std::fmod(std::trunc(k1), 4294967296.0)));
  p.seedStart = static_cast<uint64_t>(c.size(o.Get("seedStart"), "args.seedStart"));
  c.product({p.B, p.H, p.L, p.S});
  return p;
}

// The floats an operand [B, heads, rows, n] at strides st spans (0 when it has no element).
int64_t extent(const Ctx& c, const qkv::RowStrides& st, int64_t B, int64_t heads, int64_t rows, int64_t n) {
  if (B == 0 || heads == 0 || rows == 0 || n == 0) return 0;
  return c.product({B - 1, st.sB}) + c.product({heads - 1, st.sH}) + c.product({rows - 1, st.sL}) + n;
}

// attentionForward(out, lse, q, k, v, args)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "attentionForward"};
    c.argc(6);
    const AttentionParams p = attentionParams(c, info[5]);
    float* out = c.f32(0, "out", extent(c, p.os, p.B, p.H, p.L, p.Dv));
    float* lse = c.f32(1, "lse", c.product({p.B, p.H, p.L}));
    const float* q = c.f32(2, "q", extent(c, p.qs, p.B, p.H, p.L, p.D));
    const float* k = c.f32(3, "k", extent(c, p.ks, p.B, p.Hkv, p.S, p.D));
    const float* v = c.f32(4, "v", extent(c, p.vs, p.B, p.Hkv, p.S, p.Dv));
    qkv::attentionForward(out, lse, q, k, v, p);
    return info.Env().Undefined();
  });
}

// attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "attentionBackward"};
    c.argc(10);
    const AttentionParams p = attentionParams(c, info[9]);
    const int64_t nq = extent(c, p.qs, p.B, p.H, p.L, p.D), nk = extent(c, p.ks, p.B, p.Hkv, p.S, p.D);
    const int64_t nv = extent(c, p.vs, p.B, p.Hkv, p.S, p.Dv), no = extent(c, p.os, p.B, p.H, p.L, p.Dv);
    float* dq = c.f32(0, "dq", nq);
    float* dk = c.f32(1, "dk", nk);
    float* dv = c.f32(2, "dv", nv);
    const float* dout = c.f32(3, "dout", no);
    const float* q = c.f32(4, "q", nq);
    const float* k = c.f32(5, "k", nk);
    const float* v = c.f32(6, "v", nv);
    const float* out = c.f32(7, "out", no);
    const float* lse = c.f32(8, "lse", c.product({p.B, p.H, p.L}));
    qkv::attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
    return info.Env().Undefined();
  });
}

// An Int32Array (its elements and length).
const int32_t* i32(const Ctx& c, const Napi::Value& v, const char* name, int64_t* length) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    c.typeError(std::string(name) + " must be an Int32Array");
  auto arr = v.As<Napi::Int32Array>();
  *length = static_cast<int64_t>(arr.ElementLength());
  return arr.ElementLength() == 0 ? nullptr : arr.Data();
}

// args: { B, H, Hkv, D, Dv, scale, pattern: { L, S, rowLo, rowHi, spans } }. Checks that every row's
// ranges exist and every range lies in [0, S] with a positive step; maxRow and nnz are recounted.
qkv::SparseParams sparseParams(const Ctx& c, const Napi::Value& v) {
  if (!v.IsObject()) c.typeError("args must be an object");
  Napi::Object o = v.As<Napi::Object>();
  qkv::SparseParams p{};
  p.B = c.size(o.Get("B"), "args.B");
  p.H = c.size(o.Get("H"), "args.H");
  p.Hkv = c.size(o.Get("Hkv"), "args.Hkv");
  p.D = c.size(o.Get("D"), "args.D");
  p.Dv = c.size(o.Get("Dv"), "args.Dv");
  if (p.Hkv == 0 ? p.H != 0 : p.H % p.Hkv != 0) c.rangeError("args.H must be a multiple of args.Hkv");
  p.scale = static_cast<float>(c.number(o.Get("scale"), "args.scale"));
  const Napi::Value pv = o.Get("pattern");
  if (!pv.IsObject()) c.typeError("args.pattern must be an object");
  Napi::Object pat = pv.As<Napi::Object>();
  p.L = c.size(pat.Get("L"), "args.pattern.L");
  p.S = c.size(pat.Get("S"), "args.pattern.S");
  if (p.S > 2147483647) c.rangeError("args.pattern.S must fit an int32");
  int64_t nLo = 0, nHi = 0, nSpans = 0;
  p.rowLo = i32(c, pat.Get("rowLo"), "args.pattern.rowLo", &nLo);
  p.rowHi = i32(c, pat.Get("rowHi"), "args.pattern.rowHi", &nHi);
  p.spans = i32(c, pat.Get("spans"), "args.pattern.spans", &nSpans);
  if (nLo < p.L || nHi < p.L) c.rangeError("args.pattern.rowLo / rowHi need L elements");
  const int64_t ranges = nSpans / 3;
  for (int64_t r = 0; r < ranges; r++) {
    const int64_t s = p.spans[3 * r], e = p.spans[3 * r + 1], st = p.spans[3 * r + 2];
    if (st < 1 || s < 0 || (e > s && e > p.S)) c.rangeError("args.pattern.spans: range " + std::to_string(r) + " is outside [0, S) or has a step < 1");
  }
  double nnz = 0.0;
  for (int64_t i = 0; i < p.L; i++) {
    const int64_t lo = p.rowLo[i], hi = p.rowHi[i];
    if (lo < 0 || hi < lo || hi > ranges) c.rangeError("args.pattern: row " + std::to_string(i) + " has ranges outside spans");
    int64_t n = 0;
    for (int64_t r = lo; r < hi; r++) {
      const int64_t s = p.spans[3 * r], e = p.spans[3 * r + 1], st = p.spans[3 * r + 2];
      if (e > s) n += (e - s + st - 1) / st;
    }
    p.maxRow = std::max(p.maxRow, n);
    nnz += static_cast<double>(n);
  }
  p.nnz = static_cast<int64_t>(nnz);
  c.product({p.B, p.H, p.L, std::max<int64_t>(p.D, p.Dv)});
  return p;
}

// sparseAttentionForward(out, lse, q, k, v, args)
Napi::Value SparseAttentionForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "sparseAttentionForward"};
    c.argc(6);
    const qkv::SparseParams p = sparseParams(c, info[5]);
    float* out = c.f32(0, "out", c.product({p.B, p.H, p.L, p.Dv}));
    float* lse = c.f32(1, "lse", c.product({p.B, p.H, p.L}));
    const float* q = c.f32(2, "q", c.product({p.B, p.H, p.L, p.D}));
    const float* k = c.f32(3, "k", c.product({p.B, p.Hkv, p.S, p.D}));
    const float* v = c.f32(4, "v", c.product({p.B, p.Hkv, p.S, p.Dv}));
    qkv::sparseAttentionForward(out, lse, q, k, v, p);
    return info.Env().Undefined();
  });
}

// sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args)
Napi::Value SparseAttentionBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "sparseAttentionBackward"};
    c.argc(10);
    const qkv::SparseParams p = sparseParams(c, info[9]);
    const int64_t nq = c.product({p.B, p.H, p.L, p.D}), nk = c.product({p.B, p.Hkv, p.S, p.D});
    const int64_t nv = c.product({p.B, p.Hkv, p.S, p.Dv}), no = c.product({p.B, p.H, p.L, p.Dv});
    float* dq = c.f32(0, "dq", nq);
    float* dk = c.f32(1, "dk", nk);
    float* dv = c.f32(2, "dv", nv);
    const float* dout = c.f32(3, "dout", no);
    const float* q = c.f32(4, "q", nq);
    const float* k = c.f32(5, "k", nk);
    const float* v = c.f32(6, "v", nv);
    const float* out = c.f32(7, "out", no);
    const float* lse = c.f32(8, "lse", c.product({p.B, p.H, p.L}));
    qkv::sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
    return info.Env().Undefined();
  });
}

// args: { B, H, Hkv, L, S, M, Dv, causal }
qkv::LinearParams linearParams(const Ctx& c, const Napi::Value& v) {
  if (!v.IsObject()) c.typeError("args must be an object");
  Napi::Object o = v.As<Napi::Object>();
  qkv::LinearParams p{};
  p.B = c.size(o.Get("B"), "args.B");
  p.H = c.size(o.Get("H"), "args.H");
  p.Hkv = c.size(o.Get("Hkv"), "args.Hkv");
  p.L = c.size(o.Get("L"), "args.L");
  p.S = c.size(o.Get("S"), "args.S");
  p.M = c.size(o.Get("M"), "args.M");
  p.Dv = c.size(o.Get("Dv"), "args.Dv");
  p.causal = c.boolean(o.Get("causal"), "args.causal");
  if (p.Hkv == 0 ? p.H != 0 : p.H % p.Hkv != 0) c.rangeError("args.H must be a multiple of args.Hkv");
  if (p.causal && p.L != p.S) c.rangeError("args.causal needs L = S");
  c.product({p.B, p.H, std::max(p.L, p.S), std::max(p.M, p.Dv)});
  return p;
}

// linearAttentionForward(out, den, fq, fk, v, args)
Napi::Value LinearAttentionForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "linearAttentionForward"};
    c.argc(6);
    const qkv::LinearParams p = linearParams(c, info[5]);
    float* out = c.f32(0, "out", c.product({p.B, p.H, p.L, p.Dv}));
    float* den = c.f32(1, "den", c.product({p.B, p.H, p.L}));
    const float* fq = c.f32(2, "fq", c.product({p.B, p.H, p.L, p.M}));
    const float* fk = c.f32(3, "fk", c.product({p.B, p.Hkv, p.S, p.M}));
    const float* v = c.f32(4, "v", c.product({p.B, p.Hkv, p.S, p.Dv}));
    qkv::linearAttentionForward(out, den, fq, fk, v, p);
    return info.Env().Undefined();
  });
}

// linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, args)
Napi::Value LinearAttentionBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "linearAttentionBackward"};
    c.argc(10);
    const qkv::LinearParams p = linearParams(c, info[9]);
    const int64_t nq = c.product({p.B, p.H, p.L, p.M}), nk = c.product({p.B, p.Hkv, p.S, p.M});
    const int64_t nv = c.product({p.B, p.Hkv, p.S, p.Dv}), no = c.product({p.B, p.H, p.L, p.Dv});
    float* dfq = c.f32(0, "dfq", nq);
    float* dfk = c.f32(1, "dfk", nk);
    float* dv = c.f32(2, "dv", nv);
    const float* dout = c.f32(3, "dout", no);
    const float* fq = c.f32(4, "fq", nq);
    const float* fk = c.f32(5, "fk", nk);
    const float* v = c.f32(6, "v", nv);
    const float* out = c.f32(7, "out", no);
    const float* den = c.f32(8, "den", c.product({p.B, p.H, p.L}));
    qkv::linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, p);
    return info.Env().Undefined();
  });
}

// args: { B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW, G }. Any sizes are safe
// (the kernels read x only inside the image); kernel sizes, strides, dilations and G must be positive.
qkv::ConvShape convShape(const Ctx& c, const Napi::Value& v) {
  if (!v.IsObject()) c.typeError("args must be an object");
  Napi::Object o = v.As<Napi::Object>();
  qkv::ConvShape s{};
  s.B = c.size(o.Get("B"), "args.B");
  s.C = c.size(o.Get("C"), "args.C");
  s.H = c.size(o.Get("H"), "args.H");
  s.W = c.size(o.Get("W"), "args.W");
  s.O = c.size(o.Get("O"), "args.O");
  s.kH = c.size(o.Get("kH"), "args.kH");
  s.kW = c.size(o.Get("kW"), "args.kW");
  s.oH = c.size(o.Get("oH"), "args.oH");
  s.oW = c.size(o.Get("oW"), "args.oW");
  s.sH = c.size(o.Get("sH"), "args.sH");
  s.sW = c.size(o.Get("sW"), "args.sW");
  s.padTop = c.size(o.Get("padTop"), "args.padTop");
  s.padLeft = c.size(o.Get("padLeft"), "args.padLeft");
  s.dH = c.size(o.Get("dH"), "args.dH");
  s.dW = c.size(o.Get("dW"), "args.dW");
  s.G = c.size(o.Get("G"), "args.G");
  if (s.kH < 1 || s.kW < 1 || s.sH < 1 || s.sW < 1 || s.dH < 1 || s.dW < 1)
    c.rangeError("args: kernel sizes, strides and dilations must be >= 1");
  if (s.G < 1 || s.C % s.G != 0 || s.O % s.G != 0) c.rangeError("args.G must be >= 1 and divide args.C and args.O");
  // every index the kernels form stays exactly representable
  c.product({s.B, std::max<int64_t>(s.C, s.O), std::max<int64_t>(s.H, s.oH) + s.padTop, std::max<int64_t>(s.W, s.oW) + s.padLeft});
  c.product({std::max<int64_t>(s.H, s.oH), s.sH + s.dH, s.kH + 1});
  c.product({std::max<int64_t>(s.W, s.oW), s.sW + s.dW, s.kW + 1});
  c.product({s.O, s.C, s.kH, s.kW});
  return s;
}

// conv2dForward(out, x, weight, bias, args)
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "conv2dForward"};
    c.argc(5);
    const qkv::ConvShape s = convShape(c, info[4]);
    float* out = c.f32(0, "out", c.product({s.B, s.O, s.oH, s.oW}));
    const float* x = c.f32(1, "x", c.product({s.B, s.C, s.H, s.W}));
    const float* w = c.f32(2, "weight", c.product({s.O, s.C / s.G, s.kH, s.kW}));
    const float* bias = c.f32OrNull(3, "bias", s.O);
    qkv::conv2dForward(out, x, w, bias, s);
    return info.Env().Undefined();
  });
}

// conv2dBackwardInput(dx, dy, weight, args)
Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "conv2dBackwardInput"};
    c.argc(4);
    const qkv::ConvShape s = convShape(c, info[3]);
    float* dx = c.f32(0, "dx", c.product({s.B, s.C, s.H, s.W}));
    const float* dy = c.f32(1, "dy", c.product({s.B, s.O, s.oH, s.oW}));
    const float* w = c.f32(2, "weight", c.product({s.O, s.C / s.G, s.kH, s.kW}));
    qkv::conv2dBackwardInput(dx, dy, w, s);
    return info.Env().Undefined();
  });
}

// conv2dBackwardWeight(dweight, dy, x, args)
Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "conv2dBackwardWeight"};
    c.argc(4);
    const qkv::ConvShape s = convShape(c, info[3]);
    float* dw = c.f32(0, "dweight", c.product({s.O, s.C / s.G, s.kH, s.kW}));
    const float* dy = c.f32(1, "dy", c.product({s.B, s.O, s.oH, s.oW}));
    const float* x = c.f32(2, "x", c.product({s.B, s.C, s.H, s.W}));
    qkv::conv2dBackwardWeight(dw, dy, x, s);
    return info.Env().Undefined();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "setNumThreads"};
    c.argc(1);
    const int64_t n = c.size(0, "n");
    if (n < 1 || n > 256) c.rangeError("n must be in [1, 256]");
    qkv::setNumThreads(static_cast<int>(n));
    return Napi::Number::New(info.Env(), qkv::numThreads());
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), qkv::numThreads()); }

// fmaPeak(threads, iters): runs the FMA chains of peak.h; returns { flops, threads } (time it around the call).
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "fmaPeak"};
    c.argc(2);
    const int64_t threads = c.size(0, "threads"), iters = c.size(1, "iters");
    if (threads < 1 || threads > 256) c.rangeError("threads must be in [1, 256]");
    int used = 0;
    const double flops = qkv::fmaPeakFlops(static_cast<int>(threads), iters, &used);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("flops", Napi::Number::New(info.Env(), flops));
    out.Set("threads", Napi::Number::New(info.Env(), used));
    return out;
  });
}

Napi::Value GetIsa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), qkv::isaName(qkv::activeIsa()));
}

// setIsa("avx512" | "avx2" | "scalar"): caps the kernels' instruction set; returns the one in effect.
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Ctx c{info, "setIsa"};
    c.argc(1);
    const std::string name = c.string(0, "isa");
    qkv::Isa isa;
    if (name == "avx512") isa = qkv::Isa::Avx512;
    else if (name == "avx2") isa = qkv::Isa::Avx2;
    else if (name == "scalar") isa = qkv::Isa::Scalar;
    else c.rangeError("unknown isa '" + name + "'");
    return Napi::String::New(info.Env(), qkv::isaName(qkv::setIsa(isa)));
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  qkv::tuneAllocator();  // once, when the addon loads (see allocator.h)
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("packedMatmulBLength", Napi::Function::New(env, PackedMatmulBLength, "packedMatmulBLength"));
  exports.Set("packMatmulB", Napi::Function::New(env, PackMatmulB, "packMatmulB"));
  exports.Set("matmulPrepacked", Napi::Function::New(env, MatmulPrepacked, "matmulPrepacked"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("dropout", Napi::Function::New(env, Dropout, "dropout"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward, "softmaxBackward"));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm, "layerNorm"));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward, "layerNormBackward"));
  exports.Set("attentionForward", Napi::Function::New(env, AttentionForward, "attentionForward"));
  exports.Set("attentionBackward", Napi::Function::New(env, AttentionBackward, "attentionBackward"));
  exports.Set("sparseAttentionForward", Napi::Function::New(env, SparseAttentionForward, "sparseAttentionForward"));
  exports.Set("sparseAttentionBackward", Napi::Function::New(env, SparseAttentionBackward, "sparseAttentionBackward"));
  exports.Set("linearAttentionForward", Napi::Function::New(env, LinearAttentionForward, "linearAttentionForward"));
  exports.Set("linearAttentionBackward", Napi::Function::New(env, LinearAttentionBackward, "linearAttentionBackward"));
  exports.Set("conv2dForward", Napi::Function::New(env, Conv2dForward, "conv2dForward"));
  exports.Set("conv2dBackwardInput", Napi::Function::New(env, Conv2dBackwardInput, "conv2dBackwardInput"));
  exports.Set("conv2dBackwardWeight", Napi::Function::New(env, Conv2dBackwardWeight, "conv2dBackwardWeight"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("getIsa", Napi::Function::New(env, GetIsa, "getIsa"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
  return exports;
}

}  // namespace

NODE_API_MODULE(qkv_native, Init)
