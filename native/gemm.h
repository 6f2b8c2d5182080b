// Single-precision GEMM: BLIS-style blocking and packing around register-tile micro-kernels.
#pragma once

#include <cstdint>

#include "cpu.h"

namespace qkv {

// out[b] (=|+=) op(a[b]) @ op(bm[b]) for b < batch; out [batch, M, N] contiguous.
// a holds [M, K] (or [K, M] when transA) at offset b * strideA (0: shared); bm holds [K, N]
// (or [N, K] when transB) at offset b * strideB.
void sgemmBatched(float* out, const float* a, const float* bm, int64_t batch, int64_t M, int64_t N, int64_t K,
                  bool transA, bool transB, int64_t strideA, int64_t strideB, bool accumulate);

// B packed once for many products (a layer's weight at inference): B [K, N] (or [N, K] when
// transB) in the panel layout of the instruction set in effect, packedBLength(N, K) floats at
// dst. Returns that instruction set: the packed B is valid only while it is active.
int64_t packedBLength(int64_t N, int64_t K);
Isa packB(float* dst, const float* bm, int64_t N, int64_t K, bool transB);

// out [M, N] (=|+=) op(a) @ B (+ bias [N] on every row), B from packB (same N, K and instruction
// set). The bias is added to each tile after its product, so the bits are those of a separate add.
void sgemmPrepacked(float* out, const float* a, const float* packed, int64_t M, int64_t N, int64_t K, bool transA,
                    bool accumulate, const float* bias = nullptr);

// One GEMM with arbitrary element strides, on the calling thread only:
// C[i, j] (=|+=) sum_k A[i * rsA + k * csA] * B[k * rsB + j * csB], C row stride ldc.
void sgemmSerial(float* c, int64_t ldc, const float* a, int64_t rsA, int64_t csA, const float* b, int64_t rsB,
                 int64_t csB, int64_t M, int64_t N, int64_t K, bool accumulate);

// The micro-kernel of one instruction set: c[MR, NR] (=|+=) a-panel[kc, MR]^T @ b-panel[kc, NR].
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool overwrite);

// An edge micro-kernel: c[mr, nr] (=|+=) with mr fixed by the kernel (A still packed in MR-row
// panels) and nr <= NR.
using EdgeKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool overwrite,
                            int64_t nr);

// The micro-kernel reading A where it lies: c[MR, NR] (=|+=) A[MR, kc] @ b-panel[kc, NR], row r of A
// at a + r * lda with its kc elements contiguous (a row-major operand needs no packing).
using DirectKernel = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                              bool overwrite);

struct GemmKernel {
  MicroKernel kernel;
  int MR, NR;   // register tile
  int KC, MC, NC;  // cache blocks: a [MC, KC] block stays in L2, a [KC, NC] panel in L3
  const EdgeKernel* edge = nullptr;  // edge[mr] for 1 <= mr <= MR, or null: edges through a temporary tile
  DirectKernel direct = nullptr;     // or null: A is always packed
  // The micro-kernel reading a column-major A where it lies (element (r, k) at a[k * lda + r]), or
  // null: such an A is packed.
  DirectKernel directT = nullptr;
  // Packs a whole [kc, NR] panel of a column-major B (column c at b + c * ldb, its k contiguous),
  // or null: the portable loop.
  void (*packBColMajor)(float* dst, const float* b, int64_t ldb, int64_t kc) = nullptr;
};

// The micro-kernel of the instruction set in effect (activeIsa()).
const GemmKernel& gemmKernel();

// One [mr, nr] tile of C (mr <= MR, nr <= NR) (=|+=) a-panel[kc, MR]^T @ b-panel[kc, NR]: the
// full micro-kernel when the tile is whole, else the edge kernel or a temporary tile. The
// b-panel is 64-byte aligned; rows of the a-panel past mr are zero.
void gemmTile(const GemmKernel& g, int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr,
              int64_t nr, bool overwrite);

// Per instruction set (defined in kernels_*.cc).
const GemmKernel& gemmKernelScalar();
const GemmKernel& gemmKernelAvx2();
const GemmKernel& gemmKernelAvx512();

}  // namespace qkv
