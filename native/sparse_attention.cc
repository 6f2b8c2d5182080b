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

namespace {
#define QKV_PER_ISA_IMPL "sparse_attention_impl.h"
#include "per_isa.h"
}  // namespace

void sparseAttentionForward(float* out, float* lse, const float* q, const float* k, const float* v,
                            const SparseParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, sparseAttentionForward)(out, lse, q, k, v, p);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, sparseAttentionForward)(out, lse, q, k, v, p);
    default: return isa_scalar::sparseAttentionForward(out, lse, q, k, v, p);
  }
}

void sparseAttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                             const float* v, const float* out, const float* lse, const SparseParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, sparseAttentionBackward)(dq, dk, dv, dout, q, k, v, out, lse, p);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, sparseAttentionBackward)(dq, dk, dv, dout, q, k, v, out, lse, p);
    default: return isa_scalar::sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
  }
}

}  // namespace qkv
