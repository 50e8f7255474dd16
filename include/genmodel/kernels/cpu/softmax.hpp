// genmodel/kernels/cpu/softmax.hpp: softmax and log_softmax along one dim of
// x viewed as (outer, d, inner), forward and backward, max-subtracted for
// stability. Each (outer, inner) line is computed by one thread in a fixed
// order, so results do not depend on the thread count. Outputs must not
// overlap inputs.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <limits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

namespace softmax_detail {
template <class T>
using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

inline void check(const char* op, int64_t outer, int64_t d, int64_t inner) {
  GM_CHECK(outer >= 0 && d >= 0 && inner >= 0, op, ": sizes must be non-negative, got outer=", outer, " d=", d,
           " inner=", inner);
}

/// Runs row(o, i0, i1) over the (outer, inner) grid: whole rows when inner is
/// 1, else blocks of 64 inner columns, so the inner loops stay contiguous.
template <class F>
void for_lines(int64_t outer, int64_t d, int64_t inner, F row) {
  if (outer * d * inner == 0) return;
  const int64_t blocks = (inner + 63) / 64;
  parallel_for(0, outer * blocks, std::max<int64_t>(1, 16384 / (d * std::min<int64_t>(inner, 64))),
               [&](int64_t t0, int64_t t1) {
                 for (int64_t t = t0; t < t1; ++t) {
                   const int64_t o = t / blocks, i0 = (t % blocks) * 64;
                   row(o, i0, std::min(inner, i0 + 64));
                 }
               });
}

/// exp that gives exactly 0 for -inf (a masked entry), which Eigen's
/// vectorised exp only approximates.
template <class A>
auto exp0(const A& a) {
  using T = typename A::Scalar;
  return (a == -std::numeric_limits<T>::infinity()).select(T(0), a.exp());
}

/// Forward on one block: y = x - max, then exp and normalise (softmax) or
/// subtract log-sum-exp (log_softmax). Sums are accumulated in double.
template <class T>
void forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner, bool log) {
  using Col = Eigen::Array<T, Eigen::Dynamic, 1>;
  for_lines(outer, d, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t w = i1 - i0;
    const T* xo = x + o * d * inner + i0;
    T* yo = y + o * d * inner + i0;
    Col mx = CArr<T>(xo, w);
    for (int64_t k = 1; k < d; ++k) mx = mx.max(CArr<T>(xo + k * inner, w));
    Eigen::ArrayXd sum = Eigen::ArrayXd::Zero(w);
    for (int64_t k = 0; k < d; ++k) {  // a line of all -inf gives NaN, as in PyTorch
      Arr<T> yk(yo + k * inner, w);
      yk = CArr<T>(xo + k * inner, w) - mx;
      sum += exp0(yk).template cast<double>();
    }
    if (log) {
      const Col lse = sum.log().template cast<T>();
      for (int64_t k = 0; k < d; ++k) Arr<T>(yo + k * inner, w) -= lse;
    } else {
      const Col inv = sum.inverse().template cast<T>();
      for (int64_t k = 0; k < d; ++k) {
        Arr<T> yk(yo + k * inner, w);
        yk = exp0(yk) * inv;
      }
    }
  });
}
}  // namespace softmax_detail

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  softmax_detail::check("softmax", outer, d, inner);
  softmax_detail::forward(x, y, outer, d, inner, false);
}

template <class T>
void log_softmax_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  softmax_detail::check("log_softmax", outer, d, inner);
  softmax_detail::forward(x, y, outer, d, inner, true);
}

/// dx = y * (dy - sum_d(dy * y)).
template <class T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner) {
  using softmax_detail::Arr;
  using softmax_detail::CArr;
  softmax_detail::check("softmax_backward", outer, d, inner);
  softmax_detail::for_lines(outer, d, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t w = i1 - i0, base = o * d * inner + i0;
    Eigen::ArrayXd acc = Eigen::ArrayXd::Zero(w);
    for (int64_t k = 0; k < d; ++k)
      acc += (CArr<T>(dy + base + k * inner, w) * CArr<T>(y + base + k * inner, w)).template cast<double>();
    const Eigen::Array<T, Eigen::Dynamic, 1> dot = acc.template cast<T>();
    for (int64_t k = 0; k < d; ++k)
      Arr<T>(dx + base + k * inner, w) = CArr<T>(y + base + k * inner, w) * (CArr<T>(dy + base + k * inner, w) - dot);
  });
}

/// dx = dy - exp(y) * sum_d(dy), y being log_softmax's output.
template <class T>
void log_softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner) {
  using softmax_detail::Arr;
  using softmax_detail::CArr;
  softmax_detail::check("log_softmax_backward", outer, d, inner);
  softmax_detail::for_lines(outer, d, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t w = i1 - i0, base = o * d * inner + i0;
    Eigen::ArrayXd acc = Eigen::ArrayXd::Zero(w);
    for (int64_t k = 0; k < d; ++k) acc += CArr<T>(dy + base + k * inner, w).template cast<double>();
    const Eigen::Array<T, Eigen::Dynamic, 1> total = acc.template cast<T>();
    for (int64_t k = 0; k < d; ++k)
      Arr<T>(dx + base + k * inner, w) = CArr<T>(dy + base + k * inner, w) - softmax_detail::exp0(CArr<T>(y + base + k * inner, w)) * total;
  });
}

}  // namespace genmodel::kernels::cpu
