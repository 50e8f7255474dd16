// genmodel/kernels/functors.hpp: the elementwise math of the ops as functors
// with two forms: operator() on an Eigen array expression, which the CPU
// kernels (map_array) evaluate with Eigen's vectorised exp, tanh, erf, ...,
// and `scalar`, one element at a time, which the CUDA kernels call.
#pragma once

#include <cmath>

#include "genmodel/core/device.hpp"

namespace genmodel::kernels {

#define GENMODEL_ARRAY_FUNCTOR(NAME, ARRAY, SCALAR)                              \
  struct NAME {                                                                 \
    template <class A>                                                          \
    auto operator()(const A& x) const {                                         \
      using S [[maybe_unused]] = typename A::Scalar;                            \
      return ARRAY;                                                             \
    }                                                                           \
    template <class T>                                                          \
    GENMODEL_HOST_DEVICE static T scalar(T x) {                                 \
      return SCALAR;                                                            \
    }                                                                           \
  };

GENMODEL_ARRAY_FUNCTOR(ExpFn, x.exp(), std::exp(x))
GENMODEL_ARRAY_FUNCTOR(LogFn, x.log(), std::log(x))
GENMODEL_ARRAY_FUNCTOR(SqrtFn, x.sqrt(), std::sqrt(x))
GENMODEL_ARRAY_FUNCTOR(RsqrtFn, x.rsqrt(), T(1) / std::sqrt(x))
GENMODEL_ARRAY_FUNCTOR(AbsFn, x.abs(), std::abs(x))
GENMODEL_ARRAY_FUNCTOR(ErfFn, x.erf(), std::erf(x))
GENMODEL_ARRAY_FUNCTOR(SigmoidFn, x.logistic(), T(1) / (T(1) + std::exp(-x)))
GENMODEL_ARRAY_FUNCTOR(TanhFn, x.tanh(), std::tanh(x))
GENMODEL_ARRAY_FUNCTOR(SiluFn, x * x.logistic(), x / (T(1) + std::exp(-x)))
// x Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)).
GENMODEL_ARRAY_FUNCTOR(GeluFn, S(0.5) * x * (S(1) + (x * S(0.70710678118654752)).erf()),
                       T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752))))
#undef GENMODEL_ARRAY_FUNCTOR

/// g * d/dx silu(x) = g s (1 + x (1 - s)), s = sigmoid(x): the fused backward.
struct SiluGradFn {
  template <class G, class X>
  auto operator()(const G& g, const X& x) const {
    using S = typename X::Scalar;
    return g * x.logistic() * (S(1) + x * (S(1) - x.logistic()));
  }
  template <class T>
  GENMODEL_HOST_DEVICE static T scalar(T g, T x) {
    const T s = T(1) / (T(1) + std::exp(-x));
    return g * s * (T(1) + x * (T(1) - s));
  }
};

}  // namespace genmodel::kernels
