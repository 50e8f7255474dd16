// genmodel/nn/activation.hpp: activations as modules (ReLU, LeakyReLU,
// Sigmoid, Tanh, SiLU, GELU, Softplus), for use inside Sequential.
#pragma once

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

namespace detail {
/// A parameter-free module applying fn elementwise.
template <class T, class D, Tensor<T, D> (*Fn)(const Tensor<T, D>&)>
class Elementwise : public Module<T, D> {
 public:
  explicit Elementwise(const char* name) : Module<T, D>(name) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) { return Fn(x); }
  Tensor<T, D> operator()(const Tensor<T, D>& x) { return forward(x); }
};
}  // namespace detail

// clang-format off
template <class T = float, class D = cpu>
struct ReLU : detail::Elementwise<T, D, &genmodel::relu<T, D>> { ReLU() : detail::Elementwise<T, D, &genmodel::relu<T, D>>("ReLU") {} };
template <class T = float, class D = cpu>
struct Sigmoid : detail::Elementwise<T, D, &genmodel::sigmoid<T, D>> { Sigmoid() : detail::Elementwise<T, D, &genmodel::sigmoid<T, D>>("Sigmoid") {} };
template <class T = float, class D = cpu>
struct Tanh : detail::Elementwise<T, D, &genmodel::tanh<T, D>> { Tanh() : detail::Elementwise<T, D, &genmodel::tanh<T, D>>("Tanh") {} };
template <class T = float, class D = cpu>
struct SiLU : detail::Elementwise<T, D, &genmodel::silu<T, D>> { SiLU() : detail::Elementwise<T, D, &genmodel::silu<T, D>>("SiLU") {} };
template <class T = float, class D = cpu>
struct GELU : detail::Elementwise<T, D, &genmodel::gelu<T, D>> { GELU() : detail::Elementwise<T, D, &genmodel::gelu<T, D>>("GELU") {} };
template <class T = float, class D = cpu>
struct Softplus : detail::Elementwise<T, D, &genmodel::softplus<T, D>> { Softplus() : detail::Elementwise<T, D, &genmodel::softplus<T, D>>("Softplus") {} };
// clang-format on

template <class T = float, class D = cpu>
class LeakyReLU : public Module<T, D> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : Module<T, D>("LeakyReLU"), slope_(negative_slope) {}
  Tensor<T, D> forward(const Tensor<T, D>& x) { return leaky_relu(x, T(slope_)); }
  Tensor<T, D> operator()(const Tensor<T, D>& x) { return forward(x); }

 private:
  double slope_;
};

}  // namespace genmodel::nn
