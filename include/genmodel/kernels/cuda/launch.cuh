// genmodel/kernels/cuda/launch.cuh: the launch shape shared by the CUDA
// kernels (grid-stride loops of 256 threads) and the check after a launch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "genmodel/cuda/runtime.hpp"

namespace genmodel::kernels::cuda {

inline constexpr int kThreads = 256;

/// Blocks for n elements, one per thread; grid-stride loops cover the rest
/// past the cap.
inline unsigned grid_for(int64_t n) {
  return unsigned(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, int64_t(1) << 20));
}

/// Throws naming `op` when the last launch failed (bad configuration, no
/// kernel image for this GPU).
inline void check_launch(const char* op) { cuda_backend::check(cudaGetLastError(), "kernel launch", op); }

/// Grid-stride index loop: for (int64_t i : ...) is spelled GM_CUDA_LOOP(i, n).
#define GM_CUDA_LOOP(i, n)                                                              \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);             \
       i += int64_t(blockDim.x) * gridDim.x)

}  // namespace genmodel::kernels::cuda
