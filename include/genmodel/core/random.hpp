// genmodel/core/random.hpp: random tensors from the Philox stream. Element i
// of a request is drawn from a block that depends only on (seed, offset, i):
//   float uniform/normal: 4 elements per block; double: 2 per block;
//   randint/bernoulli: 4 per block.
// So a seed gives the same numbers with any thread count, and on any device
// that follows the same mapping: rand and randn on a CUDA tensor run the same
// generator in a kernel (DeviceRandom, specialised in cuda/random.hpp);
// randint and bernoulli draw on the host and copy.
#pragma once

#include <cstdint>

#include "genmodel/core/parallel.hpp"
#include "genmodel/core/philox.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel {

namespace detail {
/// Fills n elements, `per` per block, via fill(block, first_element, count).
template <class F>
void fill_blocks(Generator& gen, int64_t n, int per, F fill) {
  const int64_t blocks = (n + per - 1) / per;
  const uint64_t first = gen.reserve(static_cast<uint64_t>(blocks));
  parallel_for(0, blocks, 1024, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      fill(gen.block(first + b), b * per, std::min<int64_t>(per, n - b * per));
  });
}

/// Blocks a float (4 per block) or double (2 per block) request of n uses.
template <class T>
GENMODEL_HOST_DEVICE constexpr int64_t philox_blocks(int64_t n) {
  constexpr int per = std::is_same_v<T, float> ? 4 : 2;
  return (n + per - 1) / per;
}
}  // namespace detail

/// Fills device memory from blocks first.. of a seed's stream, following the
/// mapping above: uniform(p, n, seed, first, low, high) and normal(p, n,
/// seed, first, mean, std). A device backend specialises it.
template <class D>
struct DeviceRandom {
  static_assert(!std::is_same_v<D, D>, "genmodel: random tensors on this device need its backend; "
                "include <genmodel/cuda.hpp> from an nvcc-compiled file with GENMODEL_WITH_CUDA");
};

/// Uniform on [low, high).
template <class T = float, class D = cpu>
Tensor<T, D> rand(const Shape& shape, Generator& gen = default_generator(), T low = T(0), T high = T(1)) {
  auto t = Tensor<T, D>::empty(shape);
  if constexpr (!std::is_same_v<D, cpu>) {
    const uint64_t first = gen.reserve(uint64_t(detail::philox_blocks<T>(t.numel())));
    DeviceRandom<D>::uniform(t.data(), t.numel(), gen.seed(), first, low, high);
    return t;
  }
  T* p = t.data();
  const T scale = high - low;
  if constexpr (std::is_same_v<T, float>) {
    detail::fill_blocks(gen, t.numel(), 4, [&](const PhiloxBlock& w, int64_t i, int64_t k) {
      for (int j = 0; j < k; ++j) p[i + j] = low + scale * detail::u01_float(w[j]);
    });
  } else {
    detail::fill_blocks(gen, t.numel(), 2, [&](const PhiloxBlock& w, int64_t i, int64_t k) {
      for (int j = 0; j < k; ++j) p[i + j] = low + scale * detail::u01_double(w[2 * j], w[2 * j + 1]);
    });
  }
  return t;
}

/// Normal with the given mean and standard deviation (Box-Muller).
template <class T = float, class D = cpu>
Tensor<T, D> randn(const Shape& shape, Generator& gen = default_generator(), T mean = T(0), T std = T(1)) {
  auto t = Tensor<T, D>::empty(shape);
  if constexpr (!std::is_same_v<D, cpu>) {
    const uint64_t first = gen.reserve(uint64_t(detail::philox_blocks<T>(t.numel())));
    DeviceRandom<D>::normal(t.data(), t.numel(), gen.seed(), first, mean, std);
    return t;
  }
  T* p = t.data();
  if constexpr (std::is_same_v<T, float>) {
    detail::fill_blocks(gen, t.numel(), 4, [&](const PhiloxBlock& w, int64_t i, int64_t k) {
      float z[4];
      detail::box_muller(detail::u01_float(w[0]), detail::u01_float(w[1]), z[0], z[1]);
      detail::box_muller(detail::u01_float(w[2]), detail::u01_float(w[3]), z[2], z[3]);
      for (int j = 0; j < k; ++j) p[i + j] = mean + std * z[j];
    });
  } else {
    detail::fill_blocks(gen, t.numel(), 2, [&](const PhiloxBlock& w, int64_t i, int64_t k) {
      double z[2];
      detail::box_muller(detail::u01_double(w[0], w[1]), detail::u01_double(w[2], w[3]), z[0], z[1]);
      for (int j = 0; j < k; ++j) p[i + j] = mean + std * z[j];
    });
  }
  return t;
}

/// Integers uniform on [low, high), stored as T (int64_t by default).
template <class T = int64_t, class D = cpu>
Tensor<T, D> randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator()) {
  GM_CHECK(high > low && high - low <= (int64_t(1) << 32), "randint: need low < high and a range of "
           "at most 2^32, got [", low, ", ", high, ")");
  if constexpr (!std::is_same_v<D, cpu>) return randint<T, cpu>(low, high, shape, gen).template to<D>();
  auto t = Tensor<T, D>::empty(shape);
  T* p = t.data();
  const uint64_t range = static_cast<uint64_t>(high - low);
  detail::fill_blocks(gen, t.numel(), 4, [&](const PhiloxBlock& w, int64_t i, int64_t k) {
    for (int j = 0; j < k; ++j) p[i + j] = static_cast<T>(low + int64_t((uint64_t(w[j]) * range) >> 32));
  });
  return t;
}

/// 1 with probability p, else 0.
template <class T = float, class D = cpu>
Tensor<T, D> bernoulli(const Shape& shape, double p, Generator& gen = default_generator()) {
  GM_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: probability must be in [0, 1], got ", p);
  if constexpr (!std::is_same_v<D, cpu>) return bernoulli<T, cpu>(shape, p, gen).template to<D>();
  auto t = Tensor<T, D>::empty(shape);
  T* out = t.data();
  detail::fill_blocks(gen, t.numel(), 4, [&](const PhiloxBlock& w, int64_t i, int64_t k) {
    for (int j = 0; j < k; ++j) out[i + j] = detail::u01_float(w[j]) < p ? T(1) : T(0);
  });
  return t;
}

template <class T, class D>
Tensor<T, D> randn_like(const Tensor<T, D>& t, Generator& gen = default_generator()) {
  return randn<T, D>(t.shape(), gen);
}
template <class T, class D>
Tensor<T, D> rand_like(const Tensor<T, D>& t, Generator& gen = default_generator()) {
  return rand<T, D>(t.shape(), gen);
}

}  // namespace genmodel
