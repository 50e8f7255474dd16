// genmodel/kernels/cuda/random.cuh: the Philox stream on the device. The
// mapping from (seed, block, word) to element is core/random.hpp's: float
// takes 4 elements per block, double 2, and normals come from Box-Muller on
// consecutive word pairs. The generator function and the conversions are the
// same code on both sides (GENMODEL_HOST_DEVICE), so uniform numbers and the
// raw words are bit-identical to the CPU's; normals differ only by the
// rounding of the device's log, sqrt, sin and cos (a few ulp).
#pragma once

#include "genmodel/core/philox.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
template <class T>
__global__ void uniform_kernel(T* p, int64_t n, uint64_t seed, uint64_t first, T low, T scale) {
  constexpr int per = std::is_same_v<T, float> ? 4 : 2;
  GM_CUDA_LOOP(b, genmodel::detail::philox_blocks<T>(n)) {
    const PhiloxBlock w = genmodel::philox_block(seed, first + uint64_t(b));
    for (int j = 0; j < per && b * per + j < n; ++j) {
      if constexpr (std::is_same_v<T, float>)
        p[b * per + j] = low + scale * genmodel::detail::u01_float(w[j]);
      else
        p[b * per + j] = low + scale * genmodel::detail::u01_double(w[2 * j], w[2 * j + 1]);
    }
  }
}

template <class T>
__global__ void normal_kernel(T* p, int64_t n, uint64_t seed, uint64_t first, T mean, T std) {
  constexpr int per = std::is_same_v<T, float> ? 4 : 2;
  GM_CUDA_LOOP(b, genmodel::detail::philox_blocks<T>(n)) {
    const PhiloxBlock w = genmodel::philox_block(seed, first + uint64_t(b));
    T z[4];
    if constexpr (std::is_same_v<T, float>) {
      using genmodel::detail::u01_float;
      genmodel::detail::box_muller(u01_float(w[0]), u01_float(w[1]), z[0], z[1]);
      genmodel::detail::box_muller(u01_float(w[2]), u01_float(w[3]), z[2], z[3]);
    } else {
      using genmodel::detail::u01_double;
      genmodel::detail::box_muller(u01_double(w[0], w[1]), u01_double(w[2], w[3]), z[0], z[1]);
    }
    for (int j = 0; j < per && b * per + j < n; ++j) p[b * per + j] = mean + std * z[j];
  }
}
}  // namespace detail

/// p[i] uniform on [low, high), from blocks first.. of the seed's stream.
template <class T>
void fill_uniform(T* p, int64_t n, uint64_t seed, uint64_t first, T low, T high) {
  if (n == 0) return;
  detail::uniform_kernel<<<grid_for(genmodel::detail::philox_blocks<T>(n)), kThreads, 0, cuda_backend::stream()>>>(
      p, n, seed, first, low, high - low);
  check_launch("rand");
}

/// p[i] normal with the given mean and standard deviation.
template <class T>
void fill_normal(T* p, int64_t n, uint64_t seed, uint64_t first, T mean, T std) {
  if (n == 0) return;
  detail::normal_kernel<<<grid_for(genmodel::detail::philox_blocks<T>(n)), kThreads, 0, cuda_backend::stream()>>>(
      p, n, seed, first, mean, std);
  check_launch("randn");
}

}  // namespace genmodel::kernels::cuda
