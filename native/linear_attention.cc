// Linear attention: the kernels of linear_attention_impl.h compiled for AVX-512, AVX2 + FMA
// (function-level target options) and the baseline instruction set, dispatched at run time.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "attention.h"
#include "cpu.h"
#include "efficient_attention.h"
#include "pool.h"
#include "scratch.h"

namespace qkv {
namespace scalar {
#include "efficient_vec.h"
#include "linear_attention_impl.h"
}  // namespace scalar
}  // namespace qkv

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace qkv {
namespace avx2 {
#include "efficient_vec.h"
#include "linear_attention_impl.h"
}  // namespace avx2
}  // namespace qkv
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace qkv {
namespace avx512 {
#include "efficient_vec.h"
#include "linear_attention_impl.h"
}  // namespace avx512
}  // namespace qkv
#pragma GCC pop_options
#define QKV_LINEAR_ISA(isa, call) isa::call
#else
#define QKV_LINEAR_ISA(isa, call) scalar::call
#endif

namespace qkv {

void linearAttentionForward(float* out, float* den, const float* fq, const float* fk, const float* v,
                            const LinearParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_LINEAR_ISA(avx512, linearAttentionForward(out, den, fq, fk, v, p));
    case Isa::Avx2: return QKV_LINEAR_ISA(avx2, linearAttentionForward(out, den, fq, fk, v, p));
    default: return scalar::linearAttentionForward(out, den, fq, fk, v, p);
  }
}

void linearAttentionBackward(float* dfq, float* dfk, float* dv, const float* dout, const float* fq, const float* fk,
                             const float* v, const float* out, const float* den, const LinearParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_LINEAR_ISA(avx512, linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, p));
    case Isa::Avx2: return QKV_LINEAR_ISA(avx2, linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, p));
    default: return scalar::linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, p);
  }
}

}  // namespace qkv
