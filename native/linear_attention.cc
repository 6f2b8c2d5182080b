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

namespace {
#define QKV_PER_ISA_IMPL "linear_attention_impl.h"
#include "per_isa.h"
}  // namespace

void linearAttentionForward(float* out, float* den, const float* fq, const float* fk, const float* v,
                            const LinearParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, linearAttentionForward)(out, den, fq, fk, v, p);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, linearAttentionForward)(out, den, fq, fk, v, p);
    default: return isa_scalar::linearAttentionForward(out, den, fq, fk, v, p);
  }
}

void linearAttentionBackward(float* dfq, float* dfk, float* dv, const float* dout, const float* fq, const float* fk,
                             const float* v, const float* out, const float* den, const LinearParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return QKV_ISA_FN(isa_avx512, linearAttentionBackward)(dfq, dfk, dv, dout, fq, fk, v, out, den, p);
    case Isa::Avx2: return QKV_ISA_FN(isa_avx2, linearAttentionBackward)(dfq, dfk, dv, dout, fq, fk, v, out, den, p);
    default: return isa_scalar::linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, p);
  }
}

}  // namespace qkv
