// Compile-time plumbing for runtime CPU dispatch: CIMM_HAVE_X86_DISPATCH is set where the
// compiler can build AVX2+FMA functions with a target attribute (GCC and Clang on x86);
// everywhere else (or with -DCIMM_NO_SIMD, which builds what a non-x86 machine builds) only
// the scalar kernels exist.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(CIMM_NO_SIMD)
#define CIMM_HAVE_X86_DISPATCH 1
#define CIMM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#include <immintrin.h>
#else
#define CIMM_HAVE_X86_DISPATCH 0
#endif
