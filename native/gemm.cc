// GEMM driver (GotoBLAS/BLIS loop structure):
//   for jc in N step NC:            [KC, NC] panel of B packed once, shared by all threads (L3)
//     for pc in K step KC:
//       for ic in M step MC:        [MC, KC] block of A packed per thread (L2)
//         for jr in NC step NR:     [KC, NR] micro-panel of B (L1)
//           for ir in MC step MR:   micro-kernel: an [MR, NR] tile of C in registers
// Threads split C into a tm x tn grid of row panels x column micro-panels.
#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "cpu.h"
#include "pool.h"
#include "scratch.h"

namespace qkv {

const GemmKernel& gemmKernel() {
  switch (activeIsa()) {
    case Isa::Avx512: return gemmKernelAvx512();
    case Isa::Avx2: return gemmKernelAvx2();
    default: return gemmKernelScalar();
  }
}

// c[mr, nr] (=|+=) the top-left corner of a whole tile computed into tmp (row stride ldt).
static void keepTile(float* c, int64_t ldc, const float* tmp, int64_t ldt, int64_t mr, int64_t nr, bool overwrite) {
  for (int64_t r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    const float* tr = tmp + r * ldt;
    if (overwrite)
      for (int64_t j = 0; j < nr; j++) cr[j] = tr[j];
    else
      for (int64_t j = 0; j < nr; j++) cr[j] += tr[j];
  }
}

void gemmTile(const GemmKernel& g, int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr,
              int64_t nr, bool overwrite) {
  if (mr == g.MR && nr == g.NR) {
    g.kernel(kc, ap, bp, c, ldc, overwrite);
    return;
  }
  if (g.edge != nullptr) {
    g.edge[mr](kc, ap, bp, c, ldc, overwrite, nr);
    return;
  }
  alignas(64) float tmp[16 * 64];
  g.kernel(kc, ap, bp, tmp, g.NR, true);
  keepTile(c, ldc, tmp, g.NR, mr, nr, overwrite);
}

namespace {

// Element (i, k) of a matrix operand lives at p[i * rs + k * cs].
struct View {
  const float* p;
  int64_t rs, cs;
};

// dst[(panel * kc + k) * MR + r] = A(i0 + panel * MR + r, p0 + k), zero past mc.   A [mc, kc] -> panels
void packA(float* dst, View a, int64_t mc, int64_t kc, int MR) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    int64_t mr = std::min<int64_t>(MR, mc - i0);
    const float* src = a.p + i0 * a.rs;
    if (a.rs == 1) {
      for (int64_t k = 0; k < kc; k++) {
        const float* s = src + k * a.cs;
        float* d = dst + k * MR;
        for (int64_t r = 0; r < mr; r++) d[r] = s[r];
        for (int64_t r = mr; r < MR; r++) d[r] = 0.0f;
      }
    } else {
      for (int64_t r = 0; r < mr; r++) {
        const float* s = src + r * a.rs;
        for (int64_t k = 0; k < kc; k++) dst[k * MR + r] = s[k * a.cs];
      }
      for (int64_t r = mr; r < MR; r++)
        for (int64_t k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
    }
  }
}

// dst[(panel * kc + k) * NR + c] = B(k, j0 + panel * NR + c), zero past nc.   B [kc, nc] -> panels
void packBPanel(const GemmKernel& g, float* dst, View b, int64_t nr, int64_t kc, int NR) {
  if (b.cs != 1 && b.rs == 1 && nr == NR && g.packBColMajor != nullptr) {
    g.packBColMajor(dst, b.p, b.cs, kc);
  } else if (b.cs == 1) {
    for (int64_t k = 0; k < kc; k++) {
      const float* s = b.p + k * b.rs;
      float* d = dst + k * NR;
      if (nr == NR) {
        // constant sizes, so the copy is inlined (a libc call per 64-byte row cost ~3% of a ViT step)
        if (NR == 16) std::memcpy(d, s, 64);
        else if (NR == 32) std::memcpy(d, s, 128);
        else std::memcpy(d, s, sizeof(float) * NR);
      } else {
        for (int64_t c = 0; c < nr; c++) d[c] = s[c];
        for (int64_t c = nr; c < NR; c++) d[c] = 0.0f;
      }
    }
  } else {
    // B stored by columns (a linear layer's weight): 16 k at a time, so the [16, NR] destination
    // rows stay in L1 while each column's 16 contiguous elements are read once.
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
      const int64_t kn = std::min<int64_t>(16, kc - k0);
      float* d = dst + k0 * NR;
      for (int64_t c = 0; c < nr; c++) {
        const float* s = b.p + c * b.cs + k0 * b.rs;
        for (int64_t k = 0; k < kn; k++) d[k * NR + c] = s[k * b.rs];
      }
    }
    for (int64_t c = nr; c < NR; c++)
      for (int64_t k = 0; k < kc; k++) dst[k * NR + c] = 0.0f;
  }
}

// Where the [K, NC] column block of B at column jc starts in packB's layout: after the blocks
// before it, each K x NC rounded up to whole panels.
int64_t packedBlockStart(const GemmKernel& g, int64_t jc, int64_t K) {
  return (jc / g.NC) * K * ((g.NC + g.NR - 1) / g.NR) * g.NR;
}

void zeroOrKeep(float* c, int64_t ldc, int64_t M, int64_t N, bool accumulate) {
  if (accumulate) return;
  for (int64_t i = 0; i < M; i++) std::memset(c + i * ldc, 0, sizeof(float) * N);
}

// c[r, j] += bias[j] for r < mr, j < nr: a linear layer's bias, added to a tile of C after its last
// k block (still in L1), so the bits are those of the product followed by a separate add.
void addBias(float* c, int64_t ldc, const float* bias, int64_t mr, int64_t nr) {
  for (int64_t r = 0; r < mr; r++) {
    float* row = c + r * ldc;
    for (int64_t j = 0; j < nr; j++) row[j] += bias[j];
  }
}

// c[r, j] = bias[j] for r < mr, j < nr.
void fillBias(float* c, int64_t ldc, const float* bias, int64_t mr, int64_t nr) {
  for (int64_t r = 0; r < mr; r++) {
    // constant sizes for whole panels, so the copy is inlined (no libc call per row)
    if (nr == 16) std::memcpy(c + r * ldc, bias, 64);
    else if (nr == 32) std::memcpy(c + r * ldc, bias, 128);
    else std::memcpy(c + r * ldc, bias, sizeof(float) * static_cast<size_t>(nr));
  }
}

// The bias of a finished tile, added one tile later: reading a tile the micro-kernel has just
// stored waits for its stores to be forwarded (on Zen 2 a 16-byte load from a 32-byte store stalls),
// which made an add right after the product cost as much as the separate pass it replaces.
struct DeferredBias {
  float* c = nullptr;
  int64_t ldc = 0, mr = 0, nr = 0;
  const float* bias = nullptr;
  void flush() {
    if (c != nullptr) addBias(c, ldc, bias, mr, nr);
    c = nullptr;
  }
  void add(float* tile, int64_t ld, const float* b, int64_t rows, int64_t cols) {
    flush();
    c = tile, ldc = ld, bias = b, mr = rows, nr = cols;
  }
};

// Thread `tid` of `nth` (a tm x tn grid) computes its share of C [M, N] (=|+=) A [M, K] @ B [K, N].
// packedB is shared ([KC, NC] floats); every thread of the job must call this (barriers inside).
// With `prepacked` (packB's layout), B is not packed: its panels are read from there. With `bias`
// ([N]), each row of C gets it added after the product.
void gemmPart(const GemmKernel& g, float* c, int64_t ldc, View a, View b, int64_t M, int64_t N, int64_t K,
              bool accumulate, int tid, int nth, int tm, int tn, float* packedB, SpinBarrier& barrier,
              const float* prepacked, const float* bias) {
  const int MR = g.MR, NR = g.NR;
  const int64_t KC = g.KC, NC = g.NC;
  const int ti = tid / tn, tj = tid % tn;
  const int64_t mPanels = (M + MR - 1) / MR;
  const int64_t rowBegin = std::min(M, (mPanels * ti / tm) * MR);
  const int64_t rowEnd = std::min(M, (mPanels * (ti + 1) / tm) * MR);
  const int64_t MC = std::max<int64_t>(MR, (g.MC / MR) * MR);
  // A row-major A is read where it lies: no packing. So is a column-major one (with a kernel for
  // it) when its columns are short (at most 256 floats: a weight gradient's g^T) or few column
  // panels reread it; otherwise packing pays for itself (measured on AVX2: 192 x N x 6400 gains at
  // every N up to 512, 1024 x N x 1024 only at N = 32).
  const bool colMajorDirect = g.directT != nullptr && a.rs == 1 && (a.cs <= 256 || N <= 2 * NR);
  const DirectKernel direct = g.direct != nullptr && a.cs == 1 ? g.direct : colMajorDirect ? g.directT : nullptr;
  const int64_t lda = a.cs == 1 ? a.rs : a.cs;
  float* packedA = scratch(ScratchSlot::GemmA, static_cast<size_t>(MC * KC));
  DeferredBias biasLater;

  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t nPanels = (nc + NR - 1) / NR;
    const int64_t colPanelBegin = nPanels * tj / tn, colPanelEnd = nPanels * (tj + 1) / tn;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const bool overwrite = pc == 0 && !accumulate;
      // The bias: with one k block that writes C, C starts at the bias and the tile product adds its
      // sum to it (one rounding of sum + bias, as a separate add); otherwise it is added to each tile
      // after the last k block.
      const float* lastBias = bias != nullptr && pc + kc >= K ? bias + jc : nullptr;
      const bool biasFirst = lastBias != nullptr && overwrite;
      const bool tileOverwrite = overwrite && !biasFirst;
      // With one row panel per thread (tm == 1) each thread packs the B panels it alone reads: no
      // panel crosses cores and no barrier is needed. Otherwise all threads pack the shared panel.
      // Panel q sits at q * KC * NR whatever kc is, so that a thread packing the next K block never
      // writes where another thread still reads this one.
      const bool ownPanels = tm == 1 || prepacked != nullptr;
      const int64_t packBegin = ownPanels ? colPanelBegin : nPanels * tid / nth;
      const int64_t packEnd = ownPanels ? colPanelEnd : nPanels * (tid + 1) / nth;
      for (int64_t q = packBegin; q < packEnd && prepacked == nullptr; q++) {
        View bq{b.p + pc * b.rs + (jc + q * NR) * b.cs, b.rs, b.cs};
        packBPanel(g, packedB + q * KC * NR, bq, std::min<int64_t>(NR, nc - q * NR), kc, NR);
      }
      if (!ownPanels) barrier.wait(nth);
      // panel q of this (jc, pc) block: in the shared buffer, or in the prepacked B
      const float* panels = prepacked != nullptr ? prepacked + packedBlockStart(g, jc, K) + pc * nPanels * NR : packedB;
      const int64_t panelStride = prepacked != nullptr ? kc * NR : KC * NR;
      for (int64_t ic = rowBegin; ic < rowEnd; ic += MC) {
        const int64_t mc = std::min(MC, rowEnd - ic);
        const float* ablk = a.p + ic * a.rs + pc * a.cs;
        // Whole MR-row panels of an A read where it lies; only a partial last panel is packed
        // (zero rows past mc), at the start of packedA.
        const int64_t fullRows = direct != nullptr ? mc / MR * MR : 0;
        if (fullRows < mc) {
          packA(packedA, View{ablk + fullRows * a.rs, a.rs, a.cs}, mc - fullRows, kc, MR);
        }
        for (int64_t q = colPanelBegin; q < colPanelEnd; q++) {
          const int64_t jr = q * NR, nr = std::min<int64_t>(NR, nc - jr);
          const float* bp = panels + q * panelStride;
          for (int64_t ir = 0; ir < fullRows; ir += MR) {
            float* ct = c + (ic + ir) * ldc + jc + jr;
            if (biasFirst) fillBias(ct, ldc, lastBias + jr, MR, nr);
            if (nr == NR) {
              direct(kc, ablk + ir * a.rs, lda, bp, ct, ldc, tileOverwrite);
            } else {
              // the b-panel is zero past nr: a whole tile in a temporary, nr columns kept
              alignas(64) float tmp[16 * 64];
              direct(kc, ablk + ir * a.rs, lda, bp, tmp, NR, true);
              keepTile(ct, ldc, tmp, NR, MR, nr, tileOverwrite);
            }
            if (lastBias != nullptr && !biasFirst) biasLater.add(ct, ldc, lastBias + jr, MR, nr);
          }
          for (int64_t ir = fullRows; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            float* ct = c + (ic + ir) * ldc + jc + jr;
            if (biasFirst) fillBias(ct, ldc, lastBias + jr, mr, nr);
            gemmTile(g, kc, packedA + (ir - fullRows) * kc, bp, ct, ldc, mr, nr, tileOverwrite);
            if (lastBias != nullptr && !biasFirst) biasLater.add(ct, ldc, lastBias + jr, mr, nr);
          }
        }
      }
      biasLater.flush();
      if (!ownPanels) barrier.wait(nth);
    }
    // the next column block splits its panels differently: a thread packing its first ones must
    // not overwrite panels another thread still reads (a prepacked B is only read)
    if (tm == 1 && prepacked == nullptr && jc + NC < N) barrier.wait(nth);
  }
}

// One row of C: c[0, j] (=|+=) sum_k a[0, k] B[k, j] (a bias gradient's column sums, a vector times
// a matrix) in one pass over B, no packing. Each c[j] is summed over k in order by one thread, so
// the bits do not depend on the thread count.
void gemvRow(float* c, View a, View b, int64_t N, int64_t K, bool accumulate, int maxThreads) {
  constexpr int64_t kBlock = 256;  // columns summed at once in a stack accumulator (row-major B)
  const double flops = 2.0 * static_cast<double>(N) * static_cast<double>(K);
  const int threads = static_cast<int>(std::min<double>(maxThreads, std::max(1.0, flops / 1e6)));
  auto part = [&](int tid, int nth) {
    const int64_t j0 = N * tid / nth, j1 = N * (tid + 1) / nth;
    if (b.cs == 1) {
      alignas(64) float acc[kBlock];
      for (int64_t jb = j0; jb < j1; jb += kBlock) {
        const int64_t nj = std::min(kBlock, j1 - jb);
        for (int64_t j = 0; j < nj; j++) acc[j] = accumulate ? c[jb + j] : 0.0f;
        for (int64_t k = 0; k < K; k++) {
          const float ak = a.p[k * a.cs];
          const float* brow = b.p + k * b.rs + jb;
          for (int64_t j = 0; j < nj; j++) acc[j] += ak * brow[j];
        }
        std::memcpy(c + jb, acc, sizeof(float) * static_cast<size_t>(nj));
      }
    } else {
      for (int64_t j = j0; j < j1; j++) {
        float s = accumulate ? c[j] : 0.0f;
        const float* bcol = b.p + j * b.cs;
        for (int64_t k = 0; k < K; k++) s += a.p[k * a.cs] * bcol[k * b.rs];
        c[j] = s;
      }
    }
  };
  if (threads <= 1) part(0, 1);
  else parallelRun(threads, part);
}

void gemmOnThreads(float* c, int64_t ldc, View a, View b, int64_t M, int64_t N, int64_t K, bool accumulate,
                   int maxThreads, const float* prepacked = nullptr, const float* bias = nullptr) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    zeroOrKeep(c, ldc, M, N, accumulate);
    if (bias != nullptr) addBias(c, ldc, bias, M, N);
    return;
  }
  if (M == 1 && prepacked == nullptr) { gemvRow(c, a, b, N, K, accumulate, maxThreads); return; }
  const GemmKernel& g = gemmKernel();
  float* packedB = nullptr;
  if (prepacked == nullptr) {
    const size_t packedBSize = static_cast<size_t>(g.KC) * static_cast<size_t>(((std::min<int64_t>(g.NC, N) + g.NR - 1) / g.NR) * g.NR);
    packedB = scratch(ScratchSlot::GemmB, packedBSize);
    if (packedB == nullptr) throw std::bad_alloc();
  }
  // About 1 MFLOP per thread pays for waking it.
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  int threads = static_cast<int>(std::min<double>(maxThreads, std::max(1.0, flops / 1.5e6)));
  SpinBarrier barrier;
  parallelRun(threads, [&](int tid, int nth) {
    // Pick the grid that gives each thread the smallest tile.
    const int64_t mPanels = (M + g.MR - 1) / g.MR, nPanels = (N + g.NR - 1) / g.NR;
    int tm = nth, tn = 1;
    double best = 1e300;
    for (int cand = nth; cand >= 1; cand--) {
      if (nth % cand != 0) continue;
      const int ctn = nth / cand;
      double cost = static_cast<double>((mPanels + cand - 1) / cand) * g.MR * static_cast<double>((nPanels + ctn - 1) / ctn) * g.NR;
      // On a tie, a wide C (N >= M) is split by columns: each thread then packs only the B panels
      // it reads (no panel crosses cores, no barrier), and A, the smaller operand, is read by all.
      const bool tie = cost < best * 1.001 && cost > best * 0.999;
      if (cost < best * 0.999 || (tie && N >= M && ctn > tn)) { best = cost; tm = cand; tn = ctn; }
    }
    gemmPart(g, c, ldc, a, b, M, N, K, accumulate, tid, nth, tm, tn, packedB, barrier, prepacked, bias);
  });
}

}  // namespace

void sgemmSerial(float* c, int64_t ldc, const float* a, int64_t rsA, int64_t csA, const float* b, int64_t rsB,
                 int64_t csB, int64_t M, int64_t N, int64_t K, bool accumulate) {
  gemmOnThreads(c, ldc, View{a, rsA, csA}, View{b, rsB, csB}, M, N, K, accumulate, 1);
}

int64_t packedBLength(int64_t N, int64_t K) {
  const GemmKernel& g = gemmKernel();
  const int64_t full = N / g.NC, rest = N - full * g.NC;
  return packedBlockStart(g, full * g.NC, K) + K * ((rest + g.NR - 1) / g.NR) * g.NR;
}

Isa packB(float* dst, const float* bm, int64_t N, int64_t K, bool transB) {
  const Isa isa = activeIsa();
  const GemmKernel& g = gemmKernel();
  const View b{bm, transB ? 1 : N, transB ? K : 1};
  const int64_t NR = g.NR;
  // block (jc, pc) at jc * K + pc * (its panels * NR); panel q of it at q * kc * NR
  for (int64_t jc = 0; jc < N; jc += g.NC) {
    const int64_t nc = std::min<int64_t>(g.NC, N - jc), nPanels = (nc + NR - 1) / NR;
    parallelFor(nPanels, 8, [&](int64_t q0, int64_t q1) {
      for (int64_t pc = 0; pc < K; pc += g.KC) {
        const int64_t kc = std::min<int64_t>(g.KC, K - pc);
        float* block = dst + packedBlockStart(g, jc, K) + pc * nPanels * NR;
        for (int64_t q = q0; q < q1; q++) {
          View bq{b.p + pc * b.rs + (jc + q * NR) * b.cs, b.rs, b.cs};
          packBPanel(g, block + q * kc * NR, bq, std::min<int64_t>(NR, nc - q * NR), kc, static_cast<int>(NR));
        }
      }
    });
  }
  return isa;
}

void sgemmPrepacked(float* out, const float* a, const float* packed, int64_t M, int64_t N, int64_t K, bool transA,
                    bool accumulate, const float* bias) {
  const View av{a, transA ? 1 : K, transA ? M : 1};
  gemmOnThreads(out, N, av, View{nullptr, 0, 0}, M, N, K, accumulate, numThreads(), packed, bias);
}

void sgemmBatched(float* out, const float* a, const float* bm, int64_t batch, int64_t M, int64_t N, int64_t K,
                  bool transA, bool transB, int64_t strideA, int64_t strideB, bool accumulate) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  const int64_t rsA = transA ? 1 : K, csA = transA ? M : 1;
  const int64_t rsB = transB ? 1 : N, csB = transB ? K : 1;
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int threads = numThreads();
  // Many small products: one whole product per task. Otherwise each product uses all threads.
  if (batch > 1 && threads > 1 && (batch >= 2 * threads || flops < 4e6) && flops * static_cast<double>(batch) > 2e6) {
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(1e6 / std::max(flops, 1.0)));
    parallelFor(batch, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++)
        gemmOnThreads(out + i * M * N, N, View{a + i * strideA, rsA, csA}, View{bm + i * strideB, rsB, csB}, M, N,
                      K, accumulate, 1);
    });
    return;
  }
  for (int64_t i = 0; i < batch; i++)
    gemmOnThreads(out + i * M * N, N, View{a + i * strideA, rsA, csA}, View{bm + i * strideB, rsB, csB}, M, N, K,
                  accumulate, threads);
}

}  // namespace qkv
