// genmodel/ops/unary.hpp: elementwise math (exp, log, sqrt, rsqrt, abs, sign,
// erf, clamp). Forward through Eigen's vectorised array functions; each
// backward is written in ops, so it can be differentiated again.
#pragma once

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>
#include <algorithm>
#include <cmath>

#include "genmodel/ops/elementwise.hpp"

namespace genmodel {

namespace detail {
template <class T, class D, class F>
Tensor<T, D> array_forward(const Tensor<T, D>& a, F f) {
  auto out = Tensor<T, D>::empty(a.shape());
  kernels::Backend<D>::map_array(a.data(), out.data(), a.numel(), f);
  return out;
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> exp(const Tensor<T, D>& a) {
  auto out = detail::array_forward(a, kernels::ExpFn{});
  return record_using_output(out, "exp", {&a}, [](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned) {
    return detail::Grads<T, D>{mul(g, out)};
  });
}

template <class T, class D>
Tensor<T, D> log(const Tensor<T, D>& a) {
  auto out = detail::array_forward(a, kernels::LogFn{});
  return record(out, "log", {&a}, [a](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{div(g, a)};
  });
}

template <class T, class D>
Tensor<T, D> sqrt(const Tensor<T, D>& a) {
  auto out = detail::array_forward(a, kernels::SqrtFn{});
  return record_using_output(out, "sqrt", {&a}, [](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned) {
    return detail::Grads<T, D>{div(mul(g, T(0.5)), out)};  // 1 / (2 sqrt(a))
  });
}

template <class T, class D>
Tensor<T, D> rsqrt(const Tensor<T, D>& a) {
  auto out = detail::array_forward(a, kernels::RsqrtFn{});
  return record_using_output(out, "rsqrt", {&a}, [](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned) {
    return detail::Grads<T, D>{mul(g, mul(pow(out, T(3)), T(-0.5)))};  // -a^(-3/2) / 2
  });
}

template <class T, class D>
Tensor<T, D> sign(const Tensor<T, D>& a) {
  return detail::unary_forward(a, [] GENMODEL_HOST_DEVICE(T x) { return T((x > T(0)) - (x < T(0))); });
}

template <class T, class D>
Tensor<T, D> abs(const Tensor<T, D>& a) {
  auto out = detail::array_forward(a, kernels::AbsFn{});
  return record(out, "abs", {&a}, [a](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{mul(g, sign(a))};
  });
}

template <class T, class D>
Tensor<T, D> erf(const Tensor<T, D>& a) {
  auto out = detail::array_forward(a, kernels::ErfFn{});
  return record(out, "erf", {&a}, [a](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    // d erf(a)/da = 2/sqrt(pi) exp(-a^2)
    return detail::Grads<T, D>{mul(g, mul(exp(neg(pow(a, T(2)))), T(1.1283791670955126)))};
  });
}

template <class T, class D>
Tensor<T, D> clamp(const Tensor<T, D>& a, ScalarArg<T> lo, ScalarArg<T> hi) {
  GM_CHECK(!(lo > hi), "clamp: lower bound ", lo, " exceeds upper bound ", hi);
  auto out = detail::unary_forward(a, [lo, hi] GENMODEL_HOST_DEVICE(T x) { return std::clamp(x, lo, hi); });
  return record(out, "clamp", {&a}, [a, lo, hi](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    // Gradient passes where lo <= a <= hi (PyTorch's convention at the bounds).
    auto inside = detail::unary_forward(a, [lo, hi] GENMODEL_HOST_DEVICE(T x) { return x >= lo && x <= hi ? T(1) : T(0); });
    return detail::Grads<T, D>{mul(g, inside)};
  });
}

}  // namespace genmodel
