// Sparse (fixed pattern of allowed keys per query row) and linear (kernelized, prefix-scan)
// attention, forward and backward; see src/backend/js/{sparse,linear}-attention.ts for the math.
#pragma once

#include <cstdint>

namespace qkv {

// The allowed keys of each query row, shared by every batch and head (SparsePattern in
// src/backend/backend.ts): row i holds the ranges r in [rowLo[i], rowHi[i]), range r the keys
// spans[3r] + t * spans[3r+2] < spans[3r+1]. The addon checks every range lies in [0, S].
struct SparseParams {
  int64_t B, H, Hkv, L, S, D, Dv;
  float scale;
  const int32_t* rowLo;
  const int32_t* rowHi;
  const int32_t* spans;
  int64_t maxRow;  // the largest number of keys of a row (checked by the addon)
  int64_t nnz;     // allowed (query, key) pairs (checked by the addon)
};

// fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], den [B, H, L].
struct LinearParams {
  int64_t B, H, Hkv, L, S, M, Dv;
  bool causal;  // requires L = S (checked by the addon)
};

// q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], lse [B, H, L].
void sparseAttentionForward(float* out, float* lse, const float* q, const float* k, const float* v,
                            const SparseParams& p);
// Writes (not accumulates) dq, dk, dv.
void sparseAttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                             const float* v, const float* out, const float* lse, const SparseParams& p);

void linearAttentionForward(float* out, float* den, const float* fq, const float* fk, const float* v,
                            const LinearParams& p);
// Writes (not accumulates) dfq, dfk, dv.
void linearAttentionBackward(float* dfq, float* dfk, float* dv, const float* dout, const float* fq, const float* fk,
                             const float* v, const float* out, const float* den, const LinearParams& p);

}  // namespace qkv
