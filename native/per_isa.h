// Compiles the loops of the header named by QKV_PER_ISA_IMPL (a string) three times: in namespaces
// isa_scalar (the baseline instruction set), isa_avx2 and isa_avx512 (function-level target
// options), for a dispatch on activeIsa(). QKV_ISA_FN(isa, fn) names fn of an instruction set, the
// scalar one where the compiler has no x86 target options. Included inside the file's anonymous
// namespace, once per file. No include guard on purpose.
namespace isa_scalar {
#include QKV_PER_ISA_IMPL
}  // namespace isa_scalar
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 {
#include QKV_PER_ISA_IMPL
}  // namespace isa_avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
namespace isa_avx512 {
#include QKV_PER_ISA_IMPL
}  // namespace isa_avx512
#pragma GCC pop_options
#define QKV_ISA_FN(isa, fn) isa::fn
#else
#define QKV_ISA_FN(isa, fn) isa_scalar::fn
#endif
#undef QKV_PER_ISA_IMPL
