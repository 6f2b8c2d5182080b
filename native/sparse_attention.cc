// Sparse attention: the kernels of sparse_attention_impl.h compiled for AVX-512, AVX2 + FMA
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
#include "sparse_attention_impl.h"
}  // namespace scalar
}  // namespace qkv

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace qkv {
namespace avx2 {
#include "efficient_vec.h"
#include "sparse_attention_impl.h"
}  // namespace avx2
}  // namespace qkv
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace qkv {
namespace avx512 {
#include "efficient_vec.h"
#include "sparse_attention_impl.h"
}  // namespace avx512
}  // namespace qkv
#pragma GCC pop_options
#define QKV_SPARSE_ISA(isa, call) isa::call
#else
#define QKV_SPARSE_ISA(isa, call) scalar::call
#endif

namespace qkv {

void sparseAttentionForward(float* out, float* lse, const float* q, const float* k, const float* v,
                            const SparseParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_SPARSE_ISA(avx512, sparseAttentionForward(out, lse, q, k, v, p));
    case Isa::Avx2: return QKV_SPARSE_ISA(avx2, sparseAttentionForward(out, lse, q, k, v, p));
    default: return scalar::sparseAttentionForward(out, lse, q, k, v, p);
  }
}

void sparseAttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                             const float* v, const float* out, const float* lse, const SparseParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_SPARSE_ISA(avx512, sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p));
    case Isa::Avx2: return QKV_SPARSE_ISA(avx2, sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p));
    default: return scalar::sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
  }
}

}  // namespace qkv
