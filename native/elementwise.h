// Elementwise kernels: unary ops and binary ops with broadcasting strides.
#pragma once

#include <cstdint>

namespace qkv {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Erf, Abs, Relu, Sigmoid, GeluErf, GeluTanh, Sin, Cos, Square, Reciprocal, Sign, Elu
};
// GeluErfGrad: a * gelu'(b), the exact GELU's backward (a the incoming gradient, b the input).
// ReluGrad: a where b > 0, else +0 (relu's backward: a the incoming gradient, b its input or output).
enum class BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum, GeluErfGrad, ReluGrad };

// Parses the op names of the TypeScript Backend interface; false when unknown.
bool parseUnaryOp(const char* name, UnaryOp* op);
bool parseBinaryOp(const char* name, BinaryOp* op);

// out[i] = op(x[i]) for i < n; alpha parameterizes elu.   out, x [n]
void unary(UnaryOp op, float* out, const float* x, int64_t n, float alpha);

// out = a (op) b over outShape [ndim]; aStrides/bStrides are element strides per out dim (0 = broadcast).
void binary(BinaryOp op, float* out, const float* a, const float* b, const int64_t* outShape, const int64_t* aStrides,
            const int64_t* bStrides, int ndim);

}  // namespace qkv
