// genmodel/nn/resblock.hpp: ResBlock2d, the residual block of diffusion
// U-Nets (diffusers' ResnetBlock2D without dropout): GroupNorm, SiLU, 3x3
// conv, twice, with an optional time-embedding input added between them
// and a 1x1 conv on the skip path when the channel count changes.
#pragma once

#include <memory>

#include "genmodel/nn/conv.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/normalization.hpp"

namespace genmodel::nn {

struct ResBlockOptions {
  int64_t temb_channels = 0;  // > 0: forward takes a (N, temb_channels) embedding
  int64_t groups = 32;        // GroupNorm groups; must divide both channel counts
  double eps = 1e-5;
};

template <class T = float, class D = cpu>
class ResBlock2d : public Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  /// Children (diffusers' names): norm1, conv1, [time_emb_proj], norm2, conv2, [conv_shortcut].
  ResBlock2d(int64_t in_channels, int64_t out_channels, ResBlockOptions opts = {},
             Generator& gen = default_generator())
      : Module<T, D>("ResBlock2d"), in_(in_channels), out_(out_channels), temb_(opts.temb_channels) {
    GM_CHECK(opts.groups > 0 && in_channels % opts.groups == 0 && out_channels % opts.groups == 0,
             "ResBlock2d: groups (", opts.groups, ") must divide in_channels (", in_channels,
             ") and out_channels (", out_channels, ")");
    norm1 = this->register_module("norm1", std::make_shared<GroupNorm<T, D>>(opts.groups, in_channels, opts.eps));
    conv1 = this->register_module(
        "conv1", std::make_shared<Conv2d<T, D>>(in_channels, out_channels, 3, ConvOptions{.padding = 1}, gen));
    if (temb_ > 0)
      time_emb_proj =
          this->register_module("time_emb_proj", std::make_shared<Linear<T, D>>(temb_, out_channels, true, gen));
    norm2 = this->register_module("norm2", std::make_shared<GroupNorm<T, D>>(opts.groups, out_channels, opts.eps));
    conv2 = this->register_module(
        "conv2", std::make_shared<Conv2d<T, D>>(out_channels, out_channels, 3, ConvOptions{.padding = 1}, gen));
    if (in_channels != out_channels)
      conv_shortcut = this->register_module(
          "conv_shortcut", std::make_shared<Conv2d<T, D>>(in_channels, out_channels, 1, ConvOptions{}, gen));
  }

  /// x is (N, in, H, W), temb (N, temb_channels) when the block takes one -> (N, out, H, W).
  Tensor forward(const Tensor& x, const Tensor& temb = {}) {
    GM_CHECK(x.dim() == 4 && x.size(1) == in_, "ResBlock2d(", in_, ", ", out_, "): input must be (N, ", in_,
             ", H, W), got ", x.shape());
    GM_CHECK(temb.defined() == (temb_ > 0), "ResBlock2d: ",
             temb_ > 0 ? "this block needs a time embedding" : "this block was built without a time embedding");
    Tensor h = conv1->forward(silu(norm1->forward(x)));
    if (temb_ > 0) {
      GM_CHECK(temb.dim() == 2 && temb.size(0) == x.size(0) && temb.size(1) == temb_, "ResBlock2d: temb must be (",
               x.size(0), ", ", temb_, "), got ", temb.shape());
      h = add(h, reshape(time_emb_proj->forward(silu(temb)), {x.size(0), out_, 1, 1}));
    }
    h = conv2->forward(silu(norm2->forward(h)));
    return add(conv_shortcut ? conv_shortcut->forward(x) : x, h);
  }
  Tensor operator()(const Tensor& x, const Tensor& temb = {}) { return forward(x, temb); }

  std::shared_ptr<GroupNorm<T, D>> norm1, norm2;
  std::shared_ptr<Conv2d<T, D>> conv1, conv2, conv_shortcut;  // conv_shortcut null when in == out
  std::shared_ptr<Linear<T, D>> time_emb_proj;                // null without a time embedding

 private:
  int64_t in_, out_, temb_;
};

}  // namespace genmodel::nn
