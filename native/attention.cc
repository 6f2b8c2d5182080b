// Fused attention: dispatch to the kernels of the active instruction set.
#include "attention.h"

#include "cpu.h"

namespace qkv {

void attentionForward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return avx512::attentionForward(out, lse, q, k, v, p);
    case Isa::Avx2: return avx2::attentionForward(out, lse, q, k, v, p);
    default: return scalar::attentionForward(out, lse, q, k, v, p);
  }
}

void attentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const AttentionParams& p) {
  switch (activeIsa()) {
    case Isa::Avx512: return avx512::attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
    case Isa::Avx2: return avx2::attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
    default: return scalar::attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, p);
  }
}

}  // namespace qkv
