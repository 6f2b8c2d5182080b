// QKV_ALWAYS_INLINE marks the small math helpers (exp, erf, gelu) that the loops compiled per
// instruction set call: left to itself GCC keeps some of them as calls ("call is cold"), and a
// loop with a call in it does not vectorize.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define QKV_ALWAYS_INLINE __attribute__((always_inline)) inline
#elif defined(_MSC_VER)
#define QKV_ALWAYS_INLINE __forceinline
#else
#define QKV_ALWAYS_INLINE inline
#endif
