// Process allocator settings that keep tensor-sized buffers off fresh mmap pages.
#pragma once

namespace qkv {

// On glibc, raises the mmap and trim thresholds so that freed tensor buffers (below 16 MiB) are
// reused from the heap instead of being unmapped and faulted in again on the next allocation
// (which costs more than a small GEMM). QKV_MALLOC_TUNE=0 leaves the allocator alone.
// Returns whether the settings were applied.
bool tuneAllocator();

}  // namespace qkv
