// genmodel/ops/activation.hpp: relu, leaky_relu, sigmoid, tanh, silu, gelu,
// softplus, softmax and log_softmax. Backwards are ops (masks for the
// piecewise-linear ones, closed forms in the output for the smooth ones), so
// a critic built from them has second derivatives.
#pragma once

#include <algorithm>

#include "genmodel/ops/unary.hpp"

namespace genmodel {

template <class T, class D>
Tensor<T, D> relu(const Tensor<T, D>& x) {
  // Branchless forms (max/min, a 0/1 factor) vectorise; a select on the sign
  // becomes a mispredicted branch on activations of random sign.
  auto out = detail::unary_forward(x, [] GENMODEL_HOST_DEVICE(T v) { return std::max(v, T(0)); });
  return record(out, "relu", {&x}, [x](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{mul(g, gt(x, T(0)))};
  });
}

template <class T, class D>
Tensor<T, D> leaky_relu(const Tensor<T, D>& x, ScalarArg<T> slope) {
  auto out = detail::unary_forward(x, [slope] GENMODEL_HOST_DEVICE(T v) { return std::max(v, T(0)) + slope * std::min(v, T(0)); });
  return record(out, "leaky_relu", {&x}, [x, slope](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    // A select, not slope + (1 - slope) * [v > 0]: GCC turns that product
    // into a branch, mispredicted on activations of random sign.
    auto d = detail::unary_forward(x, [slope] GENMODEL_HOST_DEVICE(T v) { return v > T(0) ? T(1) : T(slope); });
    return detail::Grads<T, D>{mul(g, d)};
  });
}

template <class T, class D>
Tensor<T, D> sigmoid(const Tensor<T, D>& x) {
  auto out = detail::array_forward(x, kernels::SigmoidFn{});
  return record_using_output(out, "sigmoid", {&x}, [](const Tensor<T, D>& g, const Tensor<T, D>& s, unsigned) {
    return detail::Grads<T, D>{mul(g, mul(s, rsub(T(1), s)))};  // s (1 - s)
  });
}

template <class T, class D>
Tensor<T, D> tanh(const Tensor<T, D>& x) {
  auto out = detail::array_forward(x, kernels::TanhFn{});
  return record_using_output(out, "tanh", {&x}, [](const Tensor<T, D>& g, const Tensor<T, D>& y, unsigned) {
    return detail::Grads<T, D>{mul(g, rsub(T(1), pow(y, T(2))))};  // 1 - y^2
  });
}

template <class T, class D>
Tensor<T, D> silu(const Tensor<T, D>& x) {
  auto out = detail::array_forward(x, kernels::SiluFn{});
  return record(out, "silu", {&x}, [x](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    // d/dx x s(x) = s (1 + x (1 - s))
    if (!GradMode::is_enabled()) {  // one pass instead of six when the backward is not recorded
      auto dx = Tensor<T, D>::empty(x.shape());
      kernels::Backend<D>::map_array2(g.data(), x.data(), dx.data(), x.numel(), kernels::SiluGradFn{});
      return detail::Grads<T, D>{dx};
    }
    const auto s = sigmoid(x);
    return detail::Grads<T, D>{mul(g, mul(s, add(mul(x, rsub(T(1), s)), T(1))))};
  });
}

template <class T, class D>
Tensor<T, D> gelu(const Tensor<T, D>& x) {
  auto out = detail::array_forward(x, kernels::GeluFn{});
  return record(out, "gelu", {&x}, [x](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    // d/dx x Phi(x) = Phi(x) + x phi(x)
    constexpr T kRsqrt2Pi = T(0.39894228040143268);
    const auto cdf = mul(add(erf(mul(x, T(0.70710678118654752))), T(1)), T(0.5));
    const auto pdf = mul(exp(mul(pow(x, T(2)), T(-0.5))), kRsqrt2Pi);
    return detail::Grads<T, D>{mul(g, add(cdf, mul(x, pdf)))};
  });
}

template <class T, class D>
Tensor<T, D> softplus(const Tensor<T, D>& x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|), stable for large |x|.
  auto out = detail::unary_forward(x, [] GENMODEL_HOST_DEVICE(T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
  return record(out, "softplus", {&x}, [x](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{mul(g, sigmoid(x))};
  });
}

namespace detail {
/// (outer, d, inner) view of x around `dim`.
template <class T, class D>
std::array<int64_t, 3> around_dim(const Tensor<T, D>& x, int d) {
  return {x.shape().prod(0, d), x.shape()[d], x.shape().prod(d + 1, x.dim())};
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> softmax(const Tensor<T, D>& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "softmax");
  const auto [outer, n, inner] = detail::around_dim(x, d);
  auto out = Tensor<T, D>::empty(x.shape());
  kernels::Backend<D>::softmax_forward(x.data(), out.data(), outer, n, inner);
  return record_using_output(out, "softmax", {&x}, [d](const Tensor<T, D>& g, const Tensor<T, D>& y, unsigned) {
    if (!GradMode::is_enabled()) {  // fused kernel when the backward is not recorded
      const auto [outer, n, inner] = detail::around_dim(y, d);
      auto dx = Tensor<T, D>::empty(y.shape());
      kernels::Backend<D>::softmax_backward(g.data(), y.data(), dx.data(), outer, n, inner);
      return detail::Grads<T, D>{dx};
    }
    return detail::Grads<T, D>{mul(y, sub(g, sum(mul(g, y), {d}, true)))};  // y (g - <g, y>)
  });
}

template <class T, class D>
Tensor<T, D> log_softmax(const Tensor<T, D>& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "log_softmax");
  const auto [outer, n, inner] = detail::around_dim(x, d);
  auto out = Tensor<T, D>::empty(x.shape());
  kernels::Backend<D>::log_softmax_forward(x.data(), out.data(), outer, n, inner);
  return record_using_output(out, "log_softmax", {&x}, [d](const Tensor<T, D>& g, const Tensor<T, D>& y, unsigned) {
    if (!GradMode::is_enabled()) {
      const auto [outer, n, inner] = detail::around_dim(y, d);
      auto dx = Tensor<T, D>::empty(y.shape());
      kernels::Backend<D>::log_softmax_backward(g.data(), y.data(), dx.data(), outer, n, inner);
      return detail::Grads<T, D>{dx};
    }
    return detail::Grads<T, D>{sub(g, mul(exp(y), sum(g, {d}, true)))};  // g - softmax * sum(g)
  });
}

}  // namespace genmodel
