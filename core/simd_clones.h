// SCORELAB_CLONES: compile a function once per instruction set (AVX-512, AVX2, plain x86-64);
// the dynamic loader picks the best the CPU has (GCC's target_clones, an ifunc). Only for the
// ATen-free element-loop files (CMakeLists.txt builds them at -O3 without FP contraction, so the
// clones round alike). Elsewhere it expands to nothing.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SCORELAB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SCORELAB_CLONES
#endif
