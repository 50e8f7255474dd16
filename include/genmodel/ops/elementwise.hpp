// genmodel/ops/elementwise.hpp: broadcasting binary ops (add, sub, mul, div,
// pow), scalar variants, comparisons and where. Each backward sums the
// incoming gradient back to its input's shape (sum_to), so broadcasting is
// differentiated like any other op.
#pragma once

#include <cmath>

#include "genmodel/autograd/node.hpp"
#include "genmodel/core/factories.hpp"
#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/fwd.hpp"

namespace genmodel {

namespace detail {
template <class T, class D, class F>
Tensor<T, D> binary_forward(const Tensor<T, D>& a, const Tensor<T, D>& b, const char* op, F f) {
  const Shape shape = kernels::cpu::broadcast_shapes(a.shape(), b.shape(), op);
  auto out = Tensor<T, D>::empty(shape);
  kernels::Backend<D>::broadcast_binary(a.data(), a.shape(), b.data(), b.shape(), out.data(), shape, f);
  return out;
}

template <class T, class D, class F>
Tensor<T, D> unary_forward(const Tensor<T, D>& a, F f) {
  auto out = Tensor<T, D>::empty(a.shape());
  kernels::Backend<D>::map_scalar(a.data(), out.data(), a.numel(), f);
  return out;
}

template <class T, class D>
using Grads = std::vector<Tensor<T, D>>;
}  // namespace detail

template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::binary_forward(a, b, "add", [] GENMODEL_HOST_DEVICE(T x, T y) { return x + y; });
  return record(out, "add", {&a, &b}, [sa = a.shape(), sb = b.shape()](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    return detail::Grads<T, D>{needs_input(needs, 0) ? sum_to(g, sa) : Tensor<T, D>(),
                               needs_input(needs, 1) ? sum_to(g, sb) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> sub(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::binary_forward(a, b, "sub", [] GENMODEL_HOST_DEVICE(T x, T y) { return x - y; });
  return record(out, "sub", {&a, &b}, [sa = a.shape(), sb = b.shape()](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    return detail::Grads<T, D>{needs_input(needs, 0) ? sum_to(g, sa) : Tensor<T, D>(),
                               needs_input(needs, 1) ? sum_to(neg(g), sb) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> mul(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::binary_forward(a, b, "mul", [] GENMODEL_HOST_DEVICE(T x, T y) { return x * y; });
  return record(out, "mul", {&a, &b}, [a, b](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    return detail::Grads<T, D>{needs_input(needs, 0) ? sum_to(mul(g, b), a.shape()) : Tensor<T, D>(),
                               needs_input(needs, 1) ? sum_to(mul(g, a), b.shape()) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> div(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::binary_forward(a, b, "div", [] GENMODEL_HOST_DEVICE(T x, T y) { return x / y; });
  return record_using_output(out, "div", {&a, &b}, [a, b](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned needs) {
    // d(a/b)/da = 1/b, d(a/b)/db = -out/b
    return detail::Grads<T, D>{needs_input(needs, 0) ? sum_to(div(g, b), a.shape()) : Tensor<T, D>(),
                               needs_input(needs, 1) ? sum_to(neg(div(mul(g, out), b)), b.shape()) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> pow(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::binary_forward(a, b, "pow", [] GENMODEL_HOST_DEVICE(T x, T y) { return std::pow(x, y); });
  return record_using_output(out, "pow", {&a, &b}, [a, b](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned needs) {
    // d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log a
    return detail::Grads<T, D>{
        needs_input(needs, 0) ? sum_to(mul(g, mul(b, pow(a, add(b, T(-1))))), a.shape()) : Tensor<T, D>(),
        needs_input(needs, 1) ? sum_to(mul(g, mul(out, log(a))), b.shape()) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> pow(const Tensor<T, D>& a, ScalarArg<T> e) {
  Tensor<T, D> out;
  if (e == T(2)) out = detail::unary_forward(a, [] GENMODEL_HOST_DEVICE(T x) { return x * x; });
  else out = detail::unary_forward(a, [e] GENMODEL_HOST_DEVICE(T x) { return std::pow(x, e); });
  return record(out, "pow", {&a}, [a, e](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    const Tensor<T, D> d = e == T(2) ? mul(a, T(2)) : mul(pow(a, e - T(1)), e);
    return detail::Grads<T, D>{mul(g, d)};
  });
}

template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, ScalarArg<T> s) {
  auto out = detail::unary_forward(a, [s] GENMODEL_HOST_DEVICE(T x) { return x + s; });
  return record(out, "add_scalar", {&a}, [](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{g};
  });
}

template <class T, class D>
Tensor<T, D> mul(const Tensor<T, D>& a, ScalarArg<T> s) {
  auto out = detail::unary_forward(a, [s] GENMODEL_HOST_DEVICE(T x) { return x * s; });
  return record(out, "mul_scalar", {&a}, [s](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{mul(g, s)};
  });
}

template <class T, class D>
Tensor<T, D> rsub(ScalarArg<T> s, const Tensor<T, D>& a) {
  auto out = detail::unary_forward(a, [s] GENMODEL_HOST_DEVICE(T x) { return s - x; });
  return record(out, "rsub_scalar", {&a}, [](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{neg(g)};
  });
}

template <class T, class D>
Tensor<T, D> rdiv(ScalarArg<T> s, const Tensor<T, D>& a) {
  auto out = detail::unary_forward(a, [s] GENMODEL_HOST_DEVICE(T x) { return s / x; });
  return record_using_output(out, "rdiv_scalar", {&a}, [a](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned) {
    return detail::Grads<T, D>{neg(div(mul(g, out), a))};  // d(s/a)/da = -out/a
  });
}

template <class T, class D>
Tensor<T, D> neg(const Tensor<T, D>& a) {
  auto out = detail::unary_forward(a, [] GENMODEL_HOST_DEVICE(T x) { return -x; });
  return record(out, "neg", {&a}, [](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{neg(g)};
  });
}

// ---- comparisons and where ----------------------------------------------
#define GENMODEL_COMPARISON(NAME, OP)                                                         \
  template <class T, class D>                                                                 \
  Tensor<T, D> NAME(const Tensor<T, D>& a, const Tensor<T, D>& b) {                           \
    return detail::binary_forward(a, b, #NAME, [] GENMODEL_HOST_DEVICE(T x, T y) { return T(x OP y); }); \
  }
GENMODEL_COMPARISON(eq, ==)
GENMODEL_COMPARISON(ne, !=)
GENMODEL_COMPARISON(lt, <)
GENMODEL_COMPARISON(le, <=)
GENMODEL_COMPARISON(gt, >)
GENMODEL_COMPARISON(ge, >=)
#undef GENMODEL_COMPARISON

template <class T, class D>
Tensor<T, D> gt(const Tensor<T, D>& a, ScalarArg<T> s) {
  return detail::unary_forward(a, [s] GENMODEL_HOST_DEVICE(T x) { return T(x > s); });
}
template <class T, class D>
Tensor<T, D> lt(const Tensor<T, D>& a, ScalarArg<T> s) {
  return detail::unary_forward(a, [s] GENMODEL_HOST_DEVICE(T x) { return T(x < s); });
}

template <class T, class D>
Tensor<T, D> where(const Tensor<T, D>& cond, const Tensor<T, D>& a, const Tensor<T, D>& b) {
  const Shape shape = kernels::cpu::broadcast_shapes(
      kernels::cpu::broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  auto out = Tensor<T, D>::empty(shape);
  kernels::Backend<D>::broadcast_ternary(cond.data(), cond.shape(), a.data(), a.shape(), b.data(), b.shape(),
                                  out.data(), shape, [] GENMODEL_HOST_DEVICE(T c, T x, T y) { return c != T(0) ? x : y; });
  return record(out, "where", {&a, &b}, [cond, sa = a.shape(), sb = b.shape()](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    const auto zero = zeros<T, D>(Shape{});
    return detail::Grads<T, D>{needs_input(needs, 0) ? sum_to(where(cond, g, zero), sa) : Tensor<T, D>(),
                               needs_input(needs, 1) ? sum_to(where(cond, zero, g), sb) : Tensor<T, D>()};
  });
}

}  // namespace genmodel
