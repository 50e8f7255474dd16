// tests/cuda/cuda_test_util.hpp: inputs on both devices and the comparison
// the parity tests use.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "genmodel/cuda.hpp"
#include "test_util.hpp"

namespace gmtest {

/// The same random values on the host and the device.
template <class T>
struct Both {
  genmodel::Tensor<T> host;
  genmodel::Tensor<T, genmodel::cuda> dev;
};

template <class T>
Both<T> random_both(const genmodel::Shape& shape, std::mt19937_64& rng) {
  auto h = genmodel::Tensor<T>::empty(shape);
  const auto v = random_vec<T>(shape.numel(), rng);
  std::copy(v.begin(), v.end(), h.data());
  return {h, h.template to<genmodel::cuda>()};
}

/// max |a - b| / max |b|: the device's error relative to the CPU reference.
template <class T>
double rel_error(const std::vector<T>& got, const std::vector<T>& want) {
  REQUIRE(got.size() == want.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::abs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

/// float32 against the CPU, TF32 off: the 1e-4; double: 1e-12.
template <class T>
constexpr double parity_tol() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-12;
}

/// The message of the genmodel::Error that f throws, or "no error": the
/// device kernels must fail with the CPU kernels' messages.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const genmodel::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace gmtest
