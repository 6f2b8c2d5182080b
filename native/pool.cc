// The persistent thread pool: workers park on a condition variable, spin briefly after each job.
#include "pool.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QKV_PAUSE() _mm_pause()
#else
#define QKV_PAUSE() std::this_thread::yield()
#endif

namespace qkv {

namespace {

int defaultThreads() {
  if (const char* env = std::getenv("QKV_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return std::min(n, 256);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
}

class Pool {
 public:
  Pool() : size_(defaultThreads()) {}
  ~Pool() { stopWorkers(); }

  int size() const { return size_; }

  void resize(int n) {
    std::lock_guard<std::mutex> submit(submitMutex_);
    n = std::max(1, std::min(n, 256));
    if (n == size_) return;
    stopWorkers();
    size_ = n;
  }

  void run(int maxThreads, const std::function<void(int, int)>& fn) {
    int want = std::max(1, std::min(maxThreads, size_));
    if (want == 1) { fn(0, 1); return; }
    std::unique_lock<std::mutex> submit(submitMutex_, std::try_to_lock);
    if (!submit.owns_lock()) { fn(0, 1); return; }  // another caller holds the pool
    want = std::min(want, size_);
    startWorkers(size_ - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      jobThreads_ = want;
      pending_.store(want - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    fn(0, want);
    int spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0) {
      if (++spins < 4000) QKV_PAUSE();
      else std::this_thread::yield();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
    jobThreads_ = 0;
  }

 private:
  void startWorkers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      int id = static_cast<int>(workers_.size()) + 1;
      uint64_t seen = generation_.load(std::memory_order_acquire);
      workers_.emplace_back([this, id, seen] { workerLoop(id, seen); });
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
  }

  void workerLoop(int id, uint64_t seen) {
    for (;;) {
      // Spin a little (jobs often come in bursts), then park.
      auto spinUntil = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen) {
        QKV_PAUSE();
        if ((++spins & 255) == 0 && std::chrono::steady_clock::now() > spinUntil) break;
      }
      // The generation, job and thread count are read together under the lock: a worker that
      // wakes late for a job it has no part in must not see the next job's count with the old
      // generation, or it would run that job twice and take pending_ past zero.
      const std::function<void(int, int)>* job;
      int threads;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        if (stop_) return;
        job = job_;
        threads = jobThreads_;
      }
      if (id < threads && job != nullptr) {
        (*job)(id, threads);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  int size_;
  std::mutex submitMutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  int jobThreads_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  // Leaked on purpose: joining threads during static destruction at process exit can hang.
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int numThreads() { return pool().size(); }

void setNumThreads(int n) { pool().resize(n); }

void parallelRun(int maxThreads, const std::function<void(int, int)>& fn) { pool().run(maxThreads, fn); }

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t maxTasks = n / grain;
  if (maxTasks < 2 || numThreads() == 1) { fn(0, n); return; }
  int threads = static_cast<int>(std::min<int64_t>(maxTasks, numThreads()));
  // Dynamic chunks, a few per thread, so uneven work balances.
  int64_t chunks = std::min<int64_t>(maxTasks, static_cast<int64_t>(threads) * 4);
  int64_t chunk = (n + chunks - 1) / chunks;
  std::atomic<int64_t> next{0};
  parallelRun(threads, [&](int, int) {
    for (;;) {
      int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) break;
      fn(begin, std::min(n, begin + chunk));
    }
  });
}

void SpinBarrier::wait(int n) {
  if (n <= 1) return;
  int phase = phase_.load(std::memory_order_acquire);
  if (count_.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
    count_.store(0, std::memory_order_relaxed);
    phase_.store(phase + 1, std::memory_order_release);
    return;
  }
  int spins = 0;
  while (phase_.load(std::memory_order_acquire) == phase) {
    if (++spins < 20000) QKV_PAUSE();
    else std::this_thread::yield();
  }
}

}  // namespace qkv
