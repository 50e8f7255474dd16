// genmodel/kernels/cpu/unary.hpp: elementwise maps over contiguous buffers.
// `map_array` hands Eigen array blocks to the functor, so exp, log, tanh and
// friends use Eigen's vectorised implementations; `map_scalar` is a plain
// loop for arithmetic the compiler vectorises itself; `map_array2` is
// map_array over two inputs.
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

inline constexpr int64_t kElementwiseGrain = 32768;

/// y = f(Map<Array>(x)) in chunks; f takes and returns an Eigen array expression.
template <class T, class F>
void map_array(const T* x, T* y, int64_t n, F f) {
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  parallel_for(0, n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    Eigen::Map<const Arr> xi(x + i0, i1 - i0);
    Eigen::Map<Arr> yi(y + i0, i1 - i0);
    yi = f(xi);
  });
}

/// y = f(Map<Array>(a), Map<Array>(b)) in chunks, for a fused backward of two inputs.
template <class T, class F>
void map_array2(const T* a, const T* b, T* y, int64_t n, F f) {
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  parallel_for(0, n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    Eigen::Map<const Arr> ai(a + i0, i1 - i0), bi(b + i0, i1 - i0);
    Eigen::Map<Arr> yi(y + i0, i1 - i0);
    yi = f(ai, bi);
  });
}

/// y[i] = f(x[i]).
template <class TX, class TY, class F>
void map_scalar(const TX* x, TY* y, int64_t n, F f) {
  parallel_for(0, n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    // A local copy of f: read through the reference, f's captures (a slope,
    // a bound) might alias y, so GCC reloads them each iteration and keeps
    // the loop scalar; a copy whose address never escapes cannot alias.
    const F local = f;
    for (int64_t i = i0; i < i1; ++i) y[i] = local(x[i]);
  });
}

}  // namespace genmodel::kernels::cpu
