// genmodel/cuda/random.hpp: rand and randn on CUDA tensors run the Philox
// generator in a kernel (kernels/cuda/random.cuh) on the blocks the CPU would
// use, so a seed gives the same numbers on both devices.
#pragma once

#include "genmodel/core/random.hpp"
#include "genmodel/kernels/cuda/random.cuh"

namespace genmodel {

template <>
struct DeviceRandom<cuda> {
  template <class T>
  static void uniform(T* p, int64_t n, uint64_t seed, uint64_t first, T low, T high) {
    kernels::cuda::fill_uniform(p, n, seed, first, low, high);
  }
  template <class T>
  static void normal(T* p, int64_t n, uint64_t seed, uint64_t first, T mean, T std) {
    kernels::cuda::fill_normal(p, n, seed, first, mean, std);
  }
};

}  // namespace genmodel
