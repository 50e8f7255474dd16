// genmodel/nn/pooling.hpp: MaxPool2d and AvgPool2d (torch.nn.MaxPool2d,
// torch.nn.AvgPool2d), pooling layers with no parameters.
#pragma once

#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

/// x is (N, C, H, W) -> (N, C, H', W'); stride defaults to the kernel size.
template <class T = float, class D = cpu>
class MaxPool2d : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit MaxPool2d(Size2 kernel, Size2 stride = 0, Size2 padding = 0)
      : Module<T, D>("MaxPool2d"), kernel_(kernel), stride_(stride), padding_(padding) {}

  Tensor forward(const Tensor& x) { return max_pool2d(x, kernel_, stride_, padding_); }
  Tensor operator()(const Tensor& x) { return forward(x); }

 private:
  Size2 kernel_, stride_, padding_;
};

/// x is (N, C, H, W) -> (N, C, H', W'); padding counts in the average, as PyTorch's default.
template <class T = float, class D = cpu>
class AvgPool2d : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit AvgPool2d(Size2 kernel, Size2 stride = 0, Size2 padding = 0)
      : Module<T, D>("AvgPool2d"), kernel_(kernel), stride_(stride), padding_(padding) {}

  Tensor forward(const Tensor& x) { return avg_pool2d(x, kernel_, stride_, padding_); }
  Tensor operator()(const Tensor& x) { return forward(x); }

 private:
  Size2 kernel_, stride_, padding_;
};

}  // namespace genmodel::nn
