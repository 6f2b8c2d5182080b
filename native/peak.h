// The machine's fp32 peak, measured: chains of fused multiply-adds on the active instruction set's
// widest vectors, on every thread of the pool.
#pragma once

#include <cstdint>

namespace qkv {

// Runs `iters` rounds of 12 independent vector FMA chains on each of min(threads, numThreads())
// threads at once; returns the flops done (2 per lane per FMA, summed over the threads) and stores
// the threads used in *used.
double fmaPeakFlops(int threads, int64_t iters, int* used);

}  // namespace qkv
