// genmodel/kernels/cpu/simd.hpp: GM_KERNEL_SIMD marks a loop as free of
// loop-carried dependences so that it is vectorised even at -O2 (OpenMP
// builds; a no-op otherwise).
#pragma once

#ifdef _OPENMP
#define GM_KERNEL_SIMD _Pragma("omp simd")
#else
#define GM_KERNEL_SIMD
#endif
