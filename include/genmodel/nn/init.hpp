// genmodel/nn/init.hpp: in-place initialisers like torch.nn.init (normal_,
// uniform_, xavier_*, kaiming_*, zeros_, ones_), the fan and gain helpers
// they use, and PyTorch's default initialisation of Linear/Conv weights.
// Each writes into the tensor's storage without recording a graph, and
// draws from the Generator it is given.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "genmodel/core/random.hpp"

namespace genmodel::nn::init {

enum class FanMode { fan_in, fan_out };
enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu, selu };

namespace detail {
template <class T, class D>
void copy_into(Tensor<T, D>& dst, const Tensor<T, D>& src) {
  StorageTraits<T, D>::copy(dst.data(), src.data(), dst.numel());
}
}  // namespace detail

/// (fan_in, fan_out) of a weight as PyTorch computes them: dims 1 and 0
/// times the receptive field (the product of the dims after 1). For a
/// ConvTranspose2d weight (Cin, Cout/groups, kh, kw) that makes fan_in
/// Cout/groups * kh * kw, as in PyTorch.
template <class T, class D>
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor<T, D>& w) {
  GM_CHECK(w.dim() >= 2, "init: fan in and fan out need a tensor of at least 2 dims, got shape ", w.shape());
  const int64_t receptive = w.shape().prod(2, w.dim());
  return {w.size(1) * receptive, w.size(0) * receptive};
}

/// The recommended gain of torch.nn.init.calculate_gain; `param` is the
/// leaky_relu negative slope.
inline double calculate_gain(Nonlinearity f, double param = 0.01) {
  switch (f) {
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::selu: return 3.0 / 4.0;
    default: return 1.0;  // linear, conv, sigmoid
  }
}

template <class T, class D>
Tensor<T, D>& uniform_(Tensor<T, D>& t, double low = 0.0, double high = 1.0, Generator& gen = default_generator()) {
  GM_CHECK(low <= high, "init::uniform_: need low <= high, got [", low, ", ", high, ")");
  detail::copy_into(t, rand<T, D>(t.shape(), gen, T(low), T(high)));
  return t;
}

template <class T, class D>
Tensor<T, D>& normal_(Tensor<T, D>& t, double mean = 0.0, double std = 1.0, Generator& gen = default_generator()) {
  GM_CHECK(std >= 0, "init::normal_: std must be non-negative, got ", std);
  detail::copy_into(t, randn<T, D>(t.shape(), gen, T(mean), T(std)));
  return t;
}

template <class T, class D>
Tensor<T, D>& constant_(Tensor<T, D>& t, double value) {
  StorageTraits<T, D>::fill(t.data(), t.numel(), T(value));
  return t;
}
template <class T, class D>
Tensor<T, D>& zeros_(Tensor<T, D>& t) {
  return constant_(t, 0.0);
}
template <class T, class D>
Tensor<T, D>& ones_(Tensor<T, D>& t) {
  return constant_(t, 1.0);
}

/// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
template <class T, class D>
Tensor<T, D>& xavier_uniform_(Tensor<T, D>& t, double gain = 1.0, Generator& gen = default_generator()) {
  auto [fi, fo] = fan_in_and_fan_out(t);
  const double a = gain * std::sqrt(6.0 / double(fi + fo));
  return uniform_(t, -a, a, gen);
}

/// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
template <class T, class D>
Tensor<T, D>& xavier_normal_(Tensor<T, D>& t, double gain = 1.0, Generator& gen = default_generator()) {
  auto [fi, fo] = fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / double(fi + fo)), gen);
}

namespace detail {
template <class T, class D>
double kaiming_std(const Tensor<T, D>& t, double a, FanMode mode, Nonlinearity f) {
  auto [fi, fo] = fan_in_and_fan_out(t);
  const int64_t fan = mode == FanMode::fan_in ? fi : fo;
  GM_CHECK(fan > 0, "init::kaiming: zero fan for a tensor of shape ", t.shape());
  return calculate_gain(f, a) / std::sqrt(double(fan));
}
}  // namespace detail

/// U(-b, b), b = gain * sqrt(3 / fan); `a` is the leaky_relu slope.
template <class T, class D>
Tensor<T, D>& kaiming_uniform_(Tensor<T, D>& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                               Nonlinearity f = Nonlinearity::leaky_relu, Generator& gen = default_generator()) {
  const double bound = std::sqrt(3.0) * detail::kaiming_std(t, a, mode, f);
  return uniform_(t, -bound, bound, gen);
}

/// N(0, std^2), std = gain / sqrt(fan).
template <class T, class D>
Tensor<T, D>& kaiming_normal_(Tensor<T, D>& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                              Nonlinearity f = Nonlinearity::leaky_relu, Generator& gen = default_generator()) {
  return normal_(t, 0.0, detail::kaiming_std(t, a, mode, f), gen);
}

/// PyTorch's reset_parameters of Linear and Conv*: weight by
/// kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
/// and bias (if defined) U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class T, class D>
void default_linear_conv_(Tensor<T, D>& weight, Tensor<T, D>& bias, Generator& gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), FanMode::fan_in, Nonlinearity::leaky_relu, gen);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(double(fan_in_and_fan_out(weight).first));
    uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace genmodel::nn::init
