// Grow-only, 64-byte aligned scratch buffers, one set per thread (kernels reuse them across calls).
#pragma once

#include <cstddef>
#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace qkv {

enum class ScratchSlot { GemmA = 0, GemmB, AttnA, AttnB, AttnC, ConvA, ConvB, Count };

// A buffer of at least n floats for this thread and slot; contents are unspecified.
inline float* scratch(ScratchSlot slot, size_t n) {
  struct Buffers {
    float* ptr[static_cast<int>(ScratchSlot::Count)] = {};
    size_t cap[static_cast<int>(ScratchSlot::Count)] = {};
    ~Buffers() {
      for (float* p : ptr) std::free(p);
    }
  };
  static thread_local Buffers buffers;
  int s = static_cast<int>(slot);
  if (buffers.cap[s] < n) {
    std::free(buffers.ptr[s]);
    // Large buffers on 2 MiB boundaries, as transparent huge pages where the OS offers them.
    const size_t align = n * sizeof(float) >= (size_t{4} << 20) ? (size_t{2} << 20) : 64;
    const size_t bytes = ((n * sizeof(float) + align - 1) / align) * align;
    buffers.ptr[s] = static_cast<float*>(std::aligned_alloc(align, bytes));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (buffers.ptr[s] != nullptr && align > 64) madvise(buffers.ptr[s], bytes, MADV_HUGEPAGE);
#endif
    if (buffers.ptr[s] == nullptr) {
      buffers.cap[s] = 0;
      return nullptr;
    }
    buffers.cap[s] = n;
  }
  return buffers.ptr[s];
}

}  // namespace qkv
