// CPU feature detection and the instruction-set choice for the kernels.
#pragma once

namespace qkv {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The best instruction set this CPU (and OS) supports.
Isa detectIsa();
// The instruction set the kernels use now (detected at startup; QKV_ISA=scalar|avx2|avx512 caps it).
Isa activeIsa();
// Caps the instruction set (never above what the CPU supports); returns the one in effect.
Isa setIsa(Isa want);
const char* isaName(Isa isa);

// The positive integer in environment variable `name`, else `fallback` (the GEMM's block sizes for
// tuning on other CPUs: QKV_GEMM_KC / QKV_GEMM_MC / QKV_GEMM_NC).
int envInt(const char* name, int fallback);

}  // namespace qkv
