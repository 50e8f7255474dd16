// genmodel/nn/linear.hpp: Linear, y = x W^T + b (torch.nn.Linear).
#pragma once

#include "genmodel/nn/init.hpp"
#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class Linear : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// weight (out, in), bias (out); PyTorch's default initialisation.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator())
      : Module<T, D>("Linear"), in_features_(in_features), out_features_(out_features) {
    GM_CHECK(in_features > 0 && out_features > 0, "Linear: features must be positive, got in ", in_features,
             ", out ", out_features);
    Tensor w = Tensor::empty({out_features, in_features});
    Tensor b = bias ? Tensor::empty({out_features}) : Tensor();
    init::default_linear_conv_(w, b, gen);
    weight = this->register_parameter("weight", w);
    if (bias) this->bias = this->register_parameter("bias", b);
  }

  /// x is (..., in) -> (..., out).
  Tensor forward(const Tensor& x) {
    GM_CHECK(x.dim() >= 1 && x.shape().back() == in_features_, "Linear(", in_features_, ", ", out_features_,
             "): input must be (..., ", in_features_, "), got ", x.shape());
    if (x.dim() == 2) return linear(x, weight, bias);
    auto lead = x.shape().vec();
    lead.back() = out_features_;
    return reshape(linear(reshape(x, {-1, in_features_}), weight, bias), lead);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  Tensor weight, bias;  // bias undefined when built without one

 private:
  int64_t in_features_, out_features_;
};

}  // namespace genmodel::nn
