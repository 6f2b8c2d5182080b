// glibc malloc tuning (see allocator.h); a no-op on other C libraries.
#include "allocator.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qkv {

bool tuneAllocator() {
#if defined(__GLIBC__)
  const char* env = std::getenv("QKV_MALLOC_TUNE");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  // Typed arrays come from calloc: above the mmap threshold every allocation is a fresh mapping
  // whose pages fault on first touch, and every free unmaps it again.
  const bool mmapOk = mallopt(M_MMAP_THRESHOLD, 16 << 20) == 1;
  // Free memory at the top of the heap is returned to the system only beyond this much. (Larger
  // buffers keep their own mappings: their first-touch cost is small next to the work on them,
  // and they would fragment the heap.)
  const bool trimOk = mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1;
  return mmapOk && trimOk;
#else
  return false;
#endif
}

}  // namespace qkv
