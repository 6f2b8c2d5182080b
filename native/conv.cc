// Convolution on the GEMM micro-kernels (gemm.h), im2col fused into the packing. Per image b and
// group g, with L = oH oW positions and Kg = (C / G) kH kW taps, tap k = (c kH + i) kW + j:
//
//   forward       y_bg [Og, L]   = w_g [Og, Kg] @ cols_bg [Kg, L]           B micro-panels gathered from x
//   input grad    dx_bg         += col2im(w_g^T [Kg, Og] @ dy_bg [Og, L])   each C tile added into dx
//   weight grad   dw_g [Og, Kg]  = sum_b dy_bg [Og, L] @ cols_bg^T [L, Kg]  B micro-panels gathered transposed
//
// cols_bg(k, l) for l = oh oW + ow is x_b at channel g Cg + c, row oh sH - padTop + i dH and column
// ow sW - padLeft + j dW, zero outside the image. Each unit first copies its image planes into a
// zero-bordered buffer [Cg, Hp, Wp] that holds every row and column a tap reads, so that
// cols(k, l) = xp[tap[k] + pos[l]] (tap[k] = c Hp Wp + i dH Wp + j dW, pos[l] = oh sH Wp + ow sW)
// with no bounds to test; the input gradient is added into such a buffer and copied out. The
// columns are never written out: a [kc, NR] micro-panel of them is gathered into L1 and reused by
// every row tile of the output.
//
// Threads: the forward over (image, group, column chunk) units, the input gradient over (image,
// group, channel chunk) units (a unit owns its dx channels), the weight gradient over column
// panels of dw (a thread owns its columns and sums every image in order); chunks only when
// images x groups are fewer than the threads. Each output element is summed in the same order
// whatever the thread count.
#include "conv.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
#define QKV_CONV_SSE 1
#endif

#include "gemm.h"
#include "pool.h"
#include "scratch.h"

namespace qkv {
namespace {

// Bytes of one B micro-panel [kc, NR], kept in L1 while the A panels stream past it.
constexpr int64_t kPanelBytes = 24 * 1024;
// Least multiply-adds per thread that pays for waking it.
constexpr double kMacsPerThread = 1e6;

int64_t roundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Depth blocks of taps of about kPanelBytes of B micro-panel, balanced: ceil(K / blocks).
int64_t depthBlock(int64_t K, int NR) {
  const int64_t most = std::max<int64_t>(16, kPanelBytes / (4 * NR));
  const int64_t blocks = (K + most - 1) / most;
  return std::max<int64_t>(1, (K + blocks - 1) / blocks);
}

// Depth blocks of positions for the weight gradient: whole output rows when a row fits (so that
// blocks start at a row), else balanced.
int64_t positionBlock(int64_t oH, int64_t oW, int NR) {
  const int64_t most = std::max<int64_t>(16, kPanelBytes / (4 * NR));
  if (oW > most) return depthBlock(oH * oW, NR);
  const int64_t rows = most / oW, blocks = (oH + rows - 1) / rows;
  return std::max<int64_t>(1, (oH + blocks - 1) / blocks) * oW;
}

// The zero-bordered planes a unit reads (or, for the input gradient, writes): [Cg, Hp, Wp], image
// pixel (ih, iw) at (ih + padTop, iw + padLeft) when inside; and where taps and positions land in it.
struct Geometry {
  int64_t Cg, Og, Kg, L, HW, Hp, Wp, plane;
  std::vector<int64_t> tap, pos;  // [Kg], [L]
  explicit Geometry(const ConvShape& s) {
    Cg = s.C / s.G;
    Og = s.O / s.G;
    Kg = Cg * s.kH * s.kW;
    L = s.oH * s.oW;
    HW = s.H * s.W;
    Hp = s.oH == 0 ? 0 : (s.oH - 1) * s.sH + (s.kH - 1) * s.dH + 1;
    Wp = s.oW == 0 ? 0 : (s.oW - 1) * s.sW + (s.kW - 1) * s.dW + 1;
    plane = Hp * Wp;
    tap.resize(Kg);
    pos.resize(L);
    for (int64_t k = 0; k < Kg; k++)
      tap[k] = k / (s.kH * s.kW) * plane + k / s.kW % s.kH * s.dH * Wp + k % s.kW * s.dW;
    for (int64_t l = 0; l < L; l++) pos[l] = l / s.oW * s.sH * Wp + l % s.oW * s.sW;
  }
  // Positions l0 .. l0 + n - 1 sit at consecutive offsets (every step of pos is at least 1).
  bool consecutive(int64_t l0, int64_t n) const { return pos[l0 + n - 1] - pos[l0] == n - 1; }
};

// dst [n, Hp, Wp] = planes src [n, H, W] placed at (padTop, padLeft), zero elsewhere.
void padPlanes(float* dst, const float* src, int64_t n, const ConvShape& s, const Geometry& g) {
  const int64_t top = std::min(s.padTop, g.Hp), rows = std::max<int64_t>(0, std::min(s.H, g.Hp - s.padTop));
  const int64_t left = std::min(s.padLeft, g.Wp), cols = std::max<int64_t>(0, std::min(s.W, g.Wp - s.padLeft));
  for (int64_t c = 0; c < n; c++) {
    float* d = dst + c * g.plane;
    const float* x = src + c * g.HW;
    std::memset(d, 0, sizeof(float) * top * g.Wp);
    for (int64_t r = 0; r < rows; r++) {
      float* dr = d + (top + r) * g.Wp;
      std::memset(dr, 0, sizeof(float) * left);
      std::memcpy(dr + left, x + r * s.W, sizeof(float) * cols);
      std::memset(dr + left + cols, 0, sizeof(float) * (g.Wp - left - cols));
    }
    std::memset(d + (top + rows) * g.Wp, 0, sizeof(float) * (g.Hp - top - rows) * g.Wp);
  }
}

// dst [n, H, W] = the image part of planes src [n, Hp, Wp]; pixels no tap reads get 0.
void unpadPlanes(float* dst, const float* src, int64_t n, const ConvShape& s, const Geometry& g) {
  const int64_t rows = std::max<int64_t>(0, std::min(s.H, g.Hp - s.padTop));
  const int64_t cols = std::max<int64_t>(0, std::min(s.W, g.Wp - s.padLeft));
  for (int64_t c = 0; c < n; c++) {
    float* d = dst + c * g.HW;
    const float* p = src + c * g.plane;
    for (int64_t r = 0; r < rows; r++) {
      if (cols > 0) std::memcpy(d + r * s.W, p + (s.padTop + r) * g.Wp + s.padLeft, sizeof(float) * cols);
      std::memset(d + r * s.W + cols, 0, sizeof(float) * (s.W - cols));
    }
    std::memset(d + rows * s.W, 0, sizeof(float) * (s.H - rows) * s.W);
  }
}

// A [M, K] (element (i, k) at a[i rs + k cs]) as MR-row panels in depth blocks of kc: the block at
// depth p0 starts at dst + p0 Mp (Mp = M rounded up to MR), its panel q at + q MR kcb
// (kcb = min(kc, K - p0)), element (k, r) of the panel at + k MR + r; rows past M are zero.
void packPanels(float* dst, const float* a, int64_t rs, int64_t cs, int64_t M, int64_t K, int64_t kc, int MR) {
  const int64_t Mp = roundUp(M, MR);
  for (int64_t p0 = 0; p0 < K; p0 += kc) {
    const int64_t kcb = std::min(kc, K - p0);
    for (int64_t i0 = 0; i0 < Mp; i0 += MR) {
      float* panel = dst + p0 * Mp + i0 * kcb;
      const int64_t mr = std::min<int64_t>(MR, M - i0);
      const float* src = a + i0 * rs + p0 * cs;
      if (rs == 1) {
        for (int64_t k = 0; k < kcb; k++) {
          for (int64_t r = 0; r < mr; r++) panel[k * MR + r] = src[k * cs + r];
          for (int64_t r = mr; r < MR; r++) panel[k * MR + r] = 0.0f;
        }
      } else {
        for (int64_t r = 0; r < mr; r++)
          for (int64_t k = 0; k < kcb; k++) panel[k * MR + r] = src[r * rs + k * cs];
        for (int64_t r = mr; r < MR; r++)
          for (int64_t k = 0; k < kcb; k++) panel[k * MR + r] = 0.0f;
      }
    }
  }
}

// dst[k NR + t] = cols(k0 + k, l0 + t) for k < kc over NR consecutive positions at base.
template <int NR>
void packColumnsRun(float* dst, const float* xp, const int64_t* tap, int64_t base, int64_t kc) {
  for (int64_t k = 0; k < kc; k++) std::memcpy(dst + k * NR, xp + tap[k] + base, sizeof(float) * NR);
}

// dst[k NR + t] = cols(k0 + k, l0 + t) for k < kc, t < nr; zero for nr <= t < NR.
void packColumns(float* dst, const float* xp, const Geometry& g, int64_t k0, int64_t kc, int64_t l0, int64_t nr,
                 int NR) {
  const int64_t* tap = g.tap.data() + k0;
  if (nr == NR && g.consecutive(l0, nr)) {
    const int64_t base = g.pos[l0];
    switch (NR) {
      case 8: packColumnsRun<8>(dst, xp, tap, base, kc); return;
      case 16: packColumnsRun<16>(dst, xp, tap, base, kc); return;
      case 32: packColumnsRun<32>(dst, xp, tap, base, kc); return;
      default: break;
    }
  }
  const int64_t* pos = g.pos.data() + l0;
  for (int64_t k = 0; k < kc; k++) {
    float* d = dst + k * NR;
    const float* xk = xp + tap[k];
    for (int64_t t = 0; t < nr; t++) d[t] = xk[pos[t]];
    for (int64_t t = nr; t < NR; t++) d[t] = 0.0f;
  }
}

// dst[p NR + t] = cols(k0 + t, l0 + p) for p < kc, t < nt; zero for nt <= t < NR.
void packColumnsT(float* dst, const float* xp, const Geometry& g, int64_t k0, int64_t nt, int64_t l0, int64_t kc,
                  int NR) {
  const int64_t* tap = g.tap.data() + k0;
  const int64_t* pos = g.pos.data() + l0;
  int64_t p = 0;
#if QKV_CONV_SSE
  // 4 taps x 4 consecutive positions at a time: 4 loads, a 4 x 4 transpose, 4 stores
  const int64_t nt4 = nt & ~int64_t{3};
  for (; p + 4 <= kc; p += 4) {
    float* d = dst + p * NR;
    const int64_t base = pos[p];
    if (pos[p + 3] - base != 3) {
      for (int64_t q = 0; q < 4; q++)
        for (int64_t t = 0; t < nt4; t++) d[q * NR + t] = xp[tap[t] + pos[p + q]];
    } else {
      for (int64_t t = 0; t < nt4; t += 4) {
        __m128 r0 = _mm_loadu_ps(xp + tap[t] + base), r1 = _mm_loadu_ps(xp + tap[t + 1] + base);
        __m128 r2 = _mm_loadu_ps(xp + tap[t + 2] + base), r3 = _mm_loadu_ps(xp + tap[t + 3] + base);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(d + t, r0);
        _mm_storeu_ps(d + NR + t, r1);
        _mm_storeu_ps(d + 2 * NR + t, r2);
        _mm_storeu_ps(d + 3 * NR + t, r3);
      }
    }
    for (int64_t q = 0; q < 4; q++) {
      for (int64_t t = nt4; t < nt; t++) d[q * NR + t] = xp[tap[t] + pos[p + q]];
      for (int64_t t = nt; t < NR; t++) d[q * NR + t] = 0.0f;
    }
  }
#endif
  for (; p < kc; p++) {
    float* d = dst + p * NR;
    for (int64_t t = 0; t < nt; t++) d[t] = xp[tap[t] + pos[p]];
    for (int64_t t = nt; t < NR; t++) d[t] = 0.0f;
  }
}

// d[t] = s[t] for t < n, zero for n <= t < NR.
template <int NR>
void copyRun(float* d, const float* s, int64_t n) {
  if (n == NR) {
    std::memcpy(d, s, sizeof(float) * NR);
    return;
  }
  for (int64_t t = 0; t < n; t++) d[t] = s[t];
  for (int64_t t = n; t < NR; t++) d[t] = 0.0f;
}

// dxp[off + r plane + pos[l0 + t]] += tile[r NR + t] for r < mr, t < nr: rows of a tile whose
// positions are not consecutive in the planes.
void scatterRows(float* dxp, int64_t off, int64_t plane, const float* tile, int NR, const Geometry& g, int64_t mr,
                 int64_t l0, int64_t nr) {
  const int64_t* pos = g.pos.data() + l0;
  for (int64_t r = 0; r < mr; r++) {
    float* d = dxp + off + r * plane;
    const float* v = tile + r * NR;
    for (int64_t t = 0; t < nr; t++) d[pos[t]] += v[t];
  }
}

// Threads for `macs` multiply-adds over `units` units (at most the pool's).
int threadsFor(double macs, int64_t units) {
  const double byWork = std::max(1.0, macs / kMacsPerThread);
  return static_cast<int>(std::max<double>(1.0, std::min<double>({static_cast<double>(numThreads()), byWork,
                                                                   static_cast<double>(units)})));
}

// Units per (image, group) so that there are about two per thread.
int64_t chunksFor(int64_t imagesGroups, int64_t most) {
  return std::min<int64_t>(most, std::max<int64_t>(1, (2 * numThreads() + imagesGroups - 1) / imagesGroups));
}

// body(tid, u) for every unit u < n, on up to `threads` threads taking units in turn.
template <typename F>
void forUnits(int threads, int64_t n, const F& body) {
  std::atomic<int64_t> next{0};
  parallelRun(threads, [&](int tid, int) {
    for (int64_t u = next.fetch_add(1, std::memory_order_relaxed); u < n; u = next.fetch_add(1, std::memory_order_relaxed))
      body(tid, u);
  });
}

// `threads` slices of `each` floats (each rounded up to 64 bytes), grown on the calling thread.
float* perThread(ScratchSlot slot, int threads, int64_t each) {
  float* p = scratch(slot, static_cast<size_t>(threads) * static_cast<size_t>(roundUp(each, 16)) + 16);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void conv2dForward(float* y, const float* x, const float* w, const float* bias, const ConvShape& s) {
  const GemmKernel& gk = gemmKernel();
  const int MR = gk.MR, NR = gk.NR;
  if (s.B == 0 || s.O == 0 || s.oH == 0 || s.oW == 0) return;
  const Geometry g(s);
  const int64_t Og = g.Og, Kg = g.Kg, L = g.L;
  const int64_t kc = depthBlock(Kg, NR), Mp = roundUp(Og, MR);
  // 1. w_g as panels in depth blocks, once for every image
  float* wp = scratch(ScratchSlot::ConvA, static_cast<size_t>(s.G * Mp * Kg) + 1);
  if (wp == nullptr) throw std::bad_alloc();
  for (int64_t gi = 0; gi < s.G; gi++) packPanels(wp + gi * Mp * Kg, w + gi * Og * Kg, Kg, 1, Og, Kg, kc, MR);
  // units: (image, group, NR-aligned column chunk)
  const int64_t panels = (L + NR - 1) / NR, chunks = chunksFor(s.B * s.G, panels), units = s.B * s.G * chunks;
  const int threads = threadsFor(static_cast<double>(s.B) * s.O * L * Kg, units);
  const int64_t xEach = roundUp(g.Cg * g.plane, 16), each = xEach + roundUp(kc * NR, 16);
  float* work = perThread(ScratchSlot::ConvB, threads, each);
  forUnits(threads, units, [&](int tid, int64_t u) {
    float* xp = work + tid * each;
    float* bp = xp + xEach;
    const int64_t b = u / chunks / s.G, gi = u / chunks % s.G, ch = u % chunks;
    const int64_t n0 = panels * ch / chunks * NR, n1 = std::min(L, panels * (ch + 1) / chunks * NR);
    // 2. the image's group into zero-bordered planes
    padPlanes(xp, x + (b * s.C + gi * g.Cg) * g.HW, g.Cg, s, g);
    const float* wg = wp + gi * Mp * Kg;
    float* yb = y + (b * s.O + gi * Og) * L;
    for (int64_t jr = n0; jr < n1; jr += NR) {
      const int64_t nr = std::min<int64_t>(NR, n1 - jr);
      if (bias != nullptr)
        for (int64_t o = 0; o < Og; o++) std::fill(yb + o * L + jr, yb + o * L + jr + nr, bias[gi * Og + o]);
      for (int64_t p0 = 0; p0 < Kg; p0 += kc) {
        const int64_t kcb = std::min(kc, Kg - p0);
        // 3. cols [kcb, nr] of taps p0.. and positions jr.., then every row tile of y over them
        packColumns(bp, xp, g, p0, kcb, jr, nr, NR);
        const float* blk = wg + p0 * Mp;
        for (int64_t ir = 0; ir < Og; ir += MR)
          gemmTile(gk, kcb, blk + ir * kcb, bp, yb + ir * L + jr, L, std::min<int64_t>(MR, Og - ir), nr,
                   p0 == 0 && bias == nullptr);
      }
    }
  });
}

void conv2dBackwardInput(float* dx, const float* dy, const float* w, const ConvShape& s) {
  const GemmKernel& gk = gemmKernel();
  const int MR = gk.MR, NR = gk.NR;
  if (s.B == 0 || s.C == 0) return;
  const Geometry g(s);
  const int64_t Cg = g.Cg, Og = g.Og, khw = s.kH * s.kW, Kg = g.Kg, L = g.L;
  // units: (image, group, channel chunk)
  const int64_t chunks = chunksFor(s.B * s.G, Cg), units = s.B * s.G * chunks;
  const int threads = threadsFor(static_cast<double>(s.B) * s.O * L * Kg, units);
  // The rows of w_g^T [Kg, Og] in (i, j, c) order: MR rows of a tile are channels of one tap
  // (i, j), so a tile adds into the planes at a row stride of one plane, as C of the micro-kernel.
  // Block ij holds the channels' rows as panels (one depth block); once for every image, or per
  // unit when chunked.
  auto packWT = [&](float* dst, int64_t gi, int64_t c0, int64_t nc) {
    const int64_t Mc = roundUp(nc, MR);
    for (int64_t ij = 0; ij < khw; ij++)
      packPanels(dst + ij * Mc * Og, w + gi * Og * Kg + c0 * khw + ij, khw, Kg, nc, Og, std::max<int64_t>(Og, 1), MR);
  };
  const int64_t McAll = roundUp(Cg, MR);
  float* wtp = nullptr;
  if (chunks == 1) {
    wtp = scratch(ScratchSlot::ConvA, static_cast<size_t>(s.G * khw * McAll * Og) + 1);
    if (wtp == nullptr) throw std::bad_alloc();
    for (int64_t gi = 0; gi < s.G; gi++) packWT(wtp + gi * khw * McAll * Og, gi, 0, Cg);
  }
  const int64_t aEach = chunks == 1 ? 0 : roundUp(khw * roundUp((Cg + chunks - 1) / chunks, MR) * Og, 16);
  const int64_t xEach = roundUp(Cg * g.plane, 16), bEach = roundUp(Og * NR, 16);
  const int64_t each = aEach + xEach + bEach + roundUp(static_cast<int64_t>(MR) * NR, 16);
  float* work = perThread(ScratchSlot::ConvB, threads, each);
  forUnits(threads, units, [&](int tid, int64_t u) {
    float* ap = work + tid * each;
    float* dxp = ap + aEach;
    float* bp = dxp + xEach;
    float* tile = bp + bEach;
    const int64_t b = u / chunks / s.G, gi = u / chunks % s.G, ch = u % chunks;
    const int64_t c0 = Cg * ch / chunks, c1 = Cg * (ch + 1) / chunks, nc = c1 - c0, Mc = roundUp(nc, MR);
    const float* a = wtp != nullptr ? wtp + gi * khw * McAll * Og : ap;
    if (wtp == nullptr) packWT(ap, gi, c0, nc);
    std::memset(dxp + c0 * g.plane, 0, sizeof(float) * nc * g.plane);
    const float* dyb = dy + (b * s.O + gi * Og) * L;
    for (int64_t jr = 0; jr < L; jr += NR) {
      const int64_t nr = std::min<int64_t>(NR, L - jr);
      const bool direct = g.consecutive(jr, nr);
      // 1. dy [Og, nr] at positions jr.. as one micro-panel
      for (int64_t o = 0; o < Og; o++) {
        float* d = bp + o * NR;
        const float* src = dyb + o * L + jr;
        if (NR == 16) copyRun<16>(d, src, nr);
        else if (NR == 32) copyRun<32>(d, src, nr);
        else if (NR == 8) copyRun<8>(d, src, nr);
        else for (int64_t t = 0; t < NR; t++) d[t] = t < nr ? src[t] : 0.0f;
      }
      // 2. every row tile of w^T @ dy added where its taps read (col2im): by the micro-kernel
      // itself when the positions are consecutive in the planes, else through a tile
      for (int64_t ij = 0; ij < khw; ij++) {
        const float* aij = a + ij * Mc * Og;
        const int64_t tapOff = ij / s.kW * s.dH * g.Wp + ij % s.kW * s.dW;
        for (int64_t ir = 0; ir < nc; ir += MR) {
          const int64_t mr = std::min<int64_t>(MR, nc - ir), off = (c0 + ir) * g.plane + tapOff;
          if (direct) {
            gemmTile(gk, Og, aij + ir * Og, bp, dxp + off + g.pos[jr], g.plane, mr, nr, false);
          } else {
            gk.kernel(Og, aij + ir * Og, bp, tile, NR, true);
            scatterRows(dxp, off, g.plane, tile, NR, g, mr, jr, nr);
          }
        }
      }
    }
    // 3. the image part of the planes into dx
    unpadPlanes(dx + (b * s.C + gi * Cg + c0) * g.HW, dxp + c0 * g.plane, nc, s, g);
  });
}

void conv2dBackwardWeight(float* dw, const float* dy, const float* x, const ConvShape& s) {
  const GemmKernel& gk = gemmKernel();
  const int MR = gk.MR, NR = gk.NR;
  const int64_t Kg = s.C / s.G * s.kH * s.kW;
  std::memset(dw, 0, sizeof(float) * s.O * Kg);
  if (s.B == 0 || s.O == 0 || s.oH == 0 || s.oW == 0 || Kg == 0) return;
  const Geometry g(s);
  const int64_t Cg = g.Cg, Og = g.Og, L = g.L;
  const int64_t kc = positionBlock(s.oH, s.oW, NR), Mp = roundUp(Og, MR);
  // units: NR-column panels of dw_g; thread t takes a contiguous range of them, every image for each
  const int64_t panels = (Kg + NR - 1) / NR, units = s.G * panels;
  const int threads = threadsFor(static_cast<double>(s.B) * s.O * L * Kg, units);
  const int64_t aEach = roundUp(Mp * kc, 16), xEach = roundUp(Cg * g.plane, 16);
  const int64_t each = aEach + xEach + roundUp(kc * NR, 16);
  float* work = perThread(ScratchSlot::ConvB, threads, each);
  parallelRun(threads, [&](int tid, int nth) {
    float* ap = work + tid * each;
    float* xp = ap + aEach;
    float* bp = xp + xEach;
    const int64_t u0 = units * tid / nth, u1 = units * (tid + 1) / nth;
    for (int64_t gi = u0 / panels; gi < s.G && gi * panels < u1; gi++) {
      const int64_t q0 = std::max(u0, gi * panels) - gi * panels, q1 = std::min(u1, (gi + 1) * panels) - gi * panels;
      float* dwg = dw + gi * Og * Kg;
      for (int64_t b = 0; b < s.B; b++) {
        const float* dyb = dy + (b * s.O + gi * Og) * L;
        // 1. the image's group into zero-bordered planes
        padPlanes(xp, x + (b * s.C + gi * Cg) * g.HW, Cg, s, g);
        for (int64_t p0 = 0; p0 < L; p0 += kc) {
          const int64_t kcb = std::min(kc, L - p0);
          // 2. dy [Og, kcb] of positions p0.. as panels
          packPanels(ap, dyb + p0, L, 1, Og, kcb, kcb, MR);
          for (int64_t q = q0; q < q1; q++) {
            const int64_t jr = q * NR, nt = std::min<int64_t>(NR, Kg - jr);
            // 3. cols^T [kcb, nt] of positions p0.., taps jr.., then dw_g [:, jr..] += dy @ cols^T
            packColumnsT(bp, xp, g, jr, nt, p0, kcb, NR);
            for (int64_t ir = 0; ir < Og; ir += MR)
              gemmTile(gk, kcb, ap + ir * kcb, bp, dwg + ir * Kg + jr, Kg, std::min<int64_t>(MR, Og - ir), nt, false);
          }
        }
      }
    }
  });
}

}  // namespace qkv
