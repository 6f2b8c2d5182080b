// CPU feature detection: picks the AVX-512, AVX2 or portable kernels at run time.
#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace qkv {

Isa detectIsa() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

static Isa initialIsa() {
  Isa best = detectIsa();
  const char* env = std::getenv("QKV_ISA");
  if (env == nullptr) return best;
  Isa want = best;
  if (std::strcmp(env, "scalar") == 0) want = Isa::Scalar;
  else if (std::strcmp(env, "avx2") == 0) want = Isa::Avx2;
  else if (std::strcmp(env, "avx512") == 0) want = Isa::Avx512;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

static Isa g_isa = initialIsa();

Isa activeIsa() { return g_isa; }

Isa setIsa(Isa want) {
  Isa best = detectIsa();
  g_isa = static_cast<int>(want) < static_cast<int>(best) ? want : best;
  return g_isa;
}

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

}  // namespace qkv
