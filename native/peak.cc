// The fp32 peak as benchmarks quote it: each thread runs 12 independent chains of vector FMAs (more
// than FMA latency x FMA ports on the x86 cores of the last decade: Zen 2-5 need 8-10, Intel 8), so
// the FMA units, not the chains, bound the rate. The flops divided by the wall time is the peak the
// tile products are measured against (bench/gemm.ts).
#include "peak.h"

#include <immintrin.h>

#include <atomic>

#include "cpu.h"
#include "pool.h"

namespace qkv {
namespace {

constexpr int kChains = 12;

// Each chain: x = x * m + c, with |m| < 1 so the values stay finite; the sum keeps them live.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
__attribute__((target("avx512f"))) float chains512(int64_t iters) {
  __m512 x[kChains];
  for (int i = 0; i < kChains; i++) x[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < iters; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) x[i] = _mm512_fmadd_ps(x[i], m, c);
  }
  __m512 s = x[0];
  for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, x[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float chains256(int64_t iters) {
  __m256 x[kChains];
  for (int i = 0; i < kChains; i++) x[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t n = 0; n < iters; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) x[i] = _mm256_fmadd_ps(x[i], m, c);
  }
  __m256 s = x[0];
  for (int i = 1; i < kChains; i++) s = _mm256_add_ps(s, x[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float r = 0.0f;
  for (float v : lanes) r += v;
  return r;
}
#endif

float chainsScalar(int64_t iters) {
  float x[kChains];
  for (int i = 0; i < kChains; i++) x[i] = static_cast<float>(i);
  for (int64_t n = 0; n < iters; n++)
    for (int i = 0; i < kChains; i++) x[i] = x[i] * 0.999999f + 1e-7f;
  float s = 0.0f;
  for (float v : x) s += v;
  return s;
}

}  // namespace

double fmaPeakFlops(int threads, int64_t iters, int* used) {
  const Isa isa = activeIsa();
  const int lanes = isa == Isa::Avx512 ? 16 : isa == Isa::Avx2 ? 8 : 1;
  std::atomic<int> ran{0};
  std::atomic<float> sink{0.0f};
  parallelRun(threads, [&](int, int) {
    float s = 0.0f;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if (isa == Isa::Avx512) s = chains512(iters);
    else if (isa == Isa::Avx2) s = chains256(iters);
    else s = chainsScalar(iters);
#else
    s = chainsScalar(iters);
#endif
    sink.store(s);
    ran++;
  });
  *used = ran.load();
  return 2.0 * kChains * lanes * static_cast<double>(iters) * ran.load();
}

}  // namespace qkv
