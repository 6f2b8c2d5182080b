// A small persistent thread pool. The calling thread always takes part (as thread 0).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace qkv {

// Threads the kernels may use (the calling thread included).
int numThreads();
// Sets the pool size (at least 1); workers start lazily and stay parked between jobs.
void setNumThreads(int n);

// Runs fn(tid, nthreads) on nthreads = min(maxThreads, numThreads()) distinct threads at once and
// waits for all; nthreads is 1 (inline) when the pool is busy with another caller's job.
void parallelRun(int maxThreads, const std::function<void(int tid, int nthreads)>& fn);

// Splits [0, n) into chunks of at least `grain` items over the pool: fn(begin, end) per chunk.
// Runs inline when n < 2 * grain.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

// A barrier for the nthreads of one parallelRun job (spins, then yields); every thread passes the
// same n (the job's nthreads).
class SpinBarrier {
 public:
  void wait(int n);

 private:
  std::atomic<int> count_{0};
  std::atomic<int> phase_{0};
};

}  // namespace qkv
