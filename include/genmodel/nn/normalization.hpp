// genmodel/nn/normalization.hpp: GroupNorm and LayerNorm (torch.nn.GroupNorm,
// torch.nn.LayerNorm), weight 1 and bias 0 at the start.
#pragma once

#include <vector>

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

template <class T = float, class D = cpu>
class GroupNorm : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true)
      : Module<T, D>("GroupNorm"), groups_(num_groups), channels_(num_channels), eps_(eps) {
    GM_CHECK(num_groups > 0 && num_channels > 0 && num_channels % num_groups == 0, "GroupNorm: num_groups (",
             num_groups, ") must be positive and divide num_channels (", num_channels, ")");
    if (affine) {
      weight = this->register_parameter("weight", ones<T, D>({num_channels}));
      bias = this->register_parameter("bias", zeros<T, D>({num_channels}));
    }
  }

  /// x is (N, C, ...), normalised over each group of C / groups channels.
  Tensor forward(const Tensor& x) {
    GM_CHECK(x.dim() >= 2 && x.size(1) == channels_, "GroupNorm(", groups_, ", ", channels_,
             "): input must be (N, ", channels_, ", ...), got ", x.shape());
    return group_norm(x, groups_, weight, bias, eps_);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  Tensor weight, bias;

 private:
  int64_t groups_, channels_;
  double eps_;
};

template <class T = float, class D = cpu>
class LayerNorm : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Normalises over the trailing dims `normalized_shape`; weight/bias of that shape.
  explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5, bool elementwise_affine = true)
      : Module<T, D>("LayerNorm"), shape_(normalized_shape), eps_(eps) {
    GM_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
    if (elementwise_affine) {
      weight = this->register_parameter("weight", ones<T, D>(shape_));
      bias = this->register_parameter("bias", zeros<T, D>(shape_));
    }
  }

  /// x is (..., *normalized_shape).
  Tensor forward(const Tensor& x) {
    const int k = shape_.size();
    bool ok = x.dim() >= k;
    for (int i = 0; ok && i < k; ++i) ok = x.size(x.dim() - k + i) == shape_[i];
    GM_CHECK(ok, "LayerNorm(", shape_, "): input must end in ", shape_, ", got ", x.shape());
    return layer_norm(x, k, weight, bias, eps_);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  Tensor weight, bias;

 private:
  Shape shape_;
  double eps_;
};

}  // namespace genmodel::nn
