// genmodel/kernels/cuda/dropout.cuh: the dropout mask kernel, the device
// side of kernels/cpu/dropout.hpp. One thread per Philox block of the
// generator's stream, with the CPU's mapping (float: 4 elements per block,
// double: 2) and the same host-device Philox and uniform conversions, so the
// mask is the CPU's bit for bit and the generator advances by the same
// blocks.
#pragma once

#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/philox.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {

/// The elements of block k: mask = 0 where u < p, else scale.
template <class T>
GENMODEL_HOST_DEVICE inline void dropout_block_at(uint64_t seed, uint64_t first, T p, T scale, T* mask, int64_t n,
                                                  int64_t k) {
  constexpr int per = std::is_same_v<T, float> ? 4 : 2;
  const PhiloxBlock w = genmodel::philox_block(seed, first + uint64_t(k));
  for (int j = 0; j < per && k * per + j < n; ++j) {
    T u;
    if constexpr (std::is_same_v<T, float>) u = genmodel::detail::u01_float(w[j]);
    else u = genmodel::detail::u01_double(w[2 * j], w[2 * j + 1]);
    mask[k * per + j] = u < p ? T(0) : scale;
  }
}

template <class T>
__global__ void dropout_kernel(uint64_t seed, uint64_t first, T p, T scale, T* mask, int64_t n, int64_t blocks) {
  GM_CUDA_LOOP(k, blocks) dropout_block_at(seed, first, p, scale, mask, n, k);
}

}  // namespace detail

/// Fills mask (n, device) with 0 (probability p) or 1/(1-p); advances gen by
/// the blocks used (ceil(n/4) for float, ceil(n/2) for double), exactly as
/// cpu::dropout_mask. 0 <= p < 1.
template <class T>
void dropout_mask(Generator& gen, T p, T* mask, int64_t n) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "dropout: float or double only");
  GM_CHECK(p >= T(0) && p < T(1), "dropout: probability p must be in [0, 1), got ", p);
  GM_CHECK(n >= 0, "dropout: size must be non-negative, got ", n);
  const int64_t blocks = genmodel::detail::philox_blocks<T>(n);
  const uint64_t first = gen.reserve(uint64_t(blocks));
  if (blocks == 0) return;
  const T scale = T(1) / (T(1) - p);  // on the host, as the CPU computes it
  detail::dropout_kernel<<<grid_for(blocks), kThreads, 0, cuda_backend::stream()>>>(gen.seed(), first, p, scale,
                                                                                   mask, n, blocks);
  check_launch("dropout");
}

}  // namespace genmodel::kernels::cuda
