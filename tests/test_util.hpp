// tests/test_util.hpp: small helpers shared by the kernel and op tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "genmodel/core/parallel.hpp"
#include "genmodel/core/tensor.hpp"

namespace gmtest {

/// Sets the kernels' thread count for a scope (by default keeping the
/// current one) and restores the count it found when the scope ends.
struct ThreadCount {
  int saved;
  explicit ThreadCount(int n = genmodel::num_threads()) : saved(genmodel::num_threads()) {
    genmodel::set_num_threads(n);
  }
  ~ThreadCount() { genmodel::set_num_threads(saved); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;
};

/// n values uniform on [-1, 1).
template <class T>
std::vector<T> random_vec(int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = static_cast<T>(d(rng));
  return v;
}

/// Every element of a equals the expected value within an absolute tolerance.
inline void check_close(const genmodel::Tensor<float>& a, const std::vector<float>& b, double tol = 1e-5) {
  REQUIRE(a.numel() == static_cast<int64_t>(b.size()));
  for (int64_t i = 0; i < a.numel(); ++i) {
    INFO("element " << i);
    CHECK(a.data()[i] == Approx(b[i]).margin(tol));
  }
}

}  // namespace gmtest
