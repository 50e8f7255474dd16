// genmodel/nn/conv.hpp: Conv2d and ConvTranspose2d (torch.nn.Conv2d,
// torch.nn.ConvTranspose2d), with their options and PyTorch's default
// initialisation.
#pragma once

#include <algorithm>

#include "genmodel/nn/init.hpp"
#include "genmodel/nn/module.hpp"

namespace genmodel::nn {

/// Options of Conv2d and ConvTranspose2d; write them with designated
/// initialisers: Conv2d<>(3, 8, 3, {.stride = 2, .padding = 1}).
struct ConvOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  // ConvTranspose2d only
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

namespace detail {
inline void check_conv_args(const char* layer, int64_t in, int64_t out, Size2 k, const ConvOptions& o) {
  GM_CHECK(in > 0 && out > 0 && k.h > 0 && k.w > 0, layer, ": channels and kernel size must be positive, got in ",
           in, ", out ", out, ", kernel (", k.h, ", ", k.w, ")");
  GM_CHECK(o.groups > 0 && in % o.groups == 0 && out % o.groups == 0, layer, ": groups (", o.groups,
           ") must divide in_channels (", in, ") and out_channels (", out, ")");
}
template <class T, class D>
void check_conv_input(const char* layer, const Tensor<T, D>& x, int64_t in) {
  GM_CHECK(x.dim() == 4 && x.size(1) == in, layer, ": input must be (N, ", in, ", H, W), got ", x.shape());
}
}  // namespace detail

template <class T = float, class D = cpu>
class Conv2d : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// weight (out, in/groups, kh, kw), bias (out).
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, ConvOptions opts = {},
         Generator& gen = default_generator())
      : Module<T, D>("Conv2d"), in_(in_channels), opts_(opts) {
    detail::check_conv_args("Conv2d", in_channels, out_channels, kernel_size, opts);
    Tensor w = Tensor::empty({out_channels, in_channels / opts.groups, kernel_size.h, kernel_size.w});
    Tensor b = opts.bias ? Tensor::empty({out_channels}) : Tensor();
    init::default_linear_conv_(w, b, gen);
    weight = this->register_parameter("weight", w);
    if (opts.bias) bias = this->register_parameter("bias", b);
  }

  /// x is (N, in, H, W) -> (N, out, H', W').
  Tensor forward(const Tensor& x) {
    detail::check_conv_input("Conv2d", x, in_);
    return conv2d(x, weight, bias, opts_.stride, opts_.padding, opts_.dilation, opts_.groups);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  const ConvOptions& options() const { return opts_; }

  Tensor weight, bias;

 private:
  int64_t in_;
  ConvOptions opts_;
};

template <class T = float, class D = cpu>
class ConvTranspose2d : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// weight (in, out/groups, kh, kw) as in PyTorch, bias (out).
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, ConvOptions opts = {},
                  Generator& gen = default_generator())
      : Module<T, D>("ConvTranspose2d"), in_(in_channels), opts_(opts) {
    detail::check_conv_args("ConvTranspose2d", in_channels, out_channels, kernel_size, opts);
    GM_CHECK(opts.output_padding.h < std::max(opts.stride.h, opts.dilation.h) &&
                 opts.output_padding.w < std::max(opts.stride.w, opts.dilation.w),
             "ConvTranspose2d: output_padding must be smaller than stride or dilation");
    Tensor w = Tensor::empty({in_channels, out_channels / opts.groups, kernel_size.h, kernel_size.w});
    Tensor b = opts.bias ? Tensor::empty({out_channels}) : Tensor();
    init::default_linear_conv_(w, b, gen);  // fan_in from w.size(1) * kh * kw, as PyTorch
    weight = this->register_parameter("weight", w);
    if (opts.bias) bias = this->register_parameter("bias", b);
  }

  /// x is (N, in, H, W) -> (N, out, (H-1)*stride - 2*pad + dil*(k-1) + output_padding + 1, ...).
  Tensor forward(const Tensor& x) {
    detail::check_conv_input("ConvTranspose2d", x, in_);
    return conv_transpose2d(x, weight, bias, opts_.stride, opts_.padding, opts_.output_padding, opts_.dilation,
                            opts_.groups);
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  const ConvOptions& options() const { return opts_; }

  Tensor weight, bias;

 private:
  int64_t in_;
  ConvOptions opts_;
};

}  // namespace genmodel::nn
