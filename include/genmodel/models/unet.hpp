// genmodel/models/unet.hpp: UNet<T, D>, the denoiser of image diffusion
// (the DDPM U-Net of Ho et al., small): for x (B, C, S, S) with S = 32 by
// default and timesteps t (B) int64 it returns (B, out_channels, S, S).
//
//   temb = MLP(timestep_embedding(t, c0)) [+ class_embedding(labels)]  (B, 4 c0)
//   h = conv_in(x)                                              c0 at S x S
//   down level i (resolution S / 2^i, width channels[i]):
//     layers_per_level x [ResBlock2d(temb) (+ attention at attention_resolutions)], each output kept as a skip;
//     then a 3x3 stride-2 convolution, except at the last level
//   mid: ResBlock2d, AttentionBlock2d, ResBlock2d
//   up level i (deepest first): layers_per_level x [concat(h, skip) -> ResBlock2d (+ attention)];
//     then nearest-neighbour x2 and a 3x3 convolution, except at level 0
//   out = conv_out(silu(GroupNorm(h)))
// The residual blocks are nn::ResBlock2d (GroupNorm, SiLU, 3x3 conv, the time
// embedding added between the convolutions); attention is nn::AttentionBlock2d.
// With num_classes > 0 a class embedding of num_classes + 1 rows (the last
// is the null label of classifier-free guidance) is added to the time
// embedding; forward(x, t) on such a net uses the null label.
// Parameter names: time_embedding.linear_1.weight, down.0.res.0.conv1.weight,
// down.1.downsample.weight, mid.attn.qkv.weight, up.0.res.1.norm1.weight, ...
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "genmodel/nn/attention.hpp"
#include "genmodel/nn/conv.hpp"
#include "genmodel/nn/embedding.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/normalization.hpp"
#include "genmodel/nn/resblock.hpp"
#include "genmodel/nn/time_embedding.hpp"

namespace genmodel::models {

struct UNetOptions {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t image_size = 32;                          // S; divisible by 2^(levels - 1)
  std::vector<int64_t> channels = {32, 64, 128};    // width per level
  int64_t layers_per_level = 1;                     // residual blocks per level (each way)
  std::vector<int64_t> attention_resolutions = {8};  // self-attention at these sizes (and in the middle)
  int64_t groups = 8;                               // GroupNorm groups: must divide every width
  int64_t time_embed_dim = 0;                       // 0: 4 * channels[0]
  int64_t num_classes = 0;                          // > 0: class embedding with num_classes + 1 rows
};

namespace detail {
/// A list of child modules named "0", "1", ... (torch.nn.ModuleList).
template <class M, class T, class D>
class UNetModuleList : public nn::Module<T, D> {
 public:
  UNetModuleList() : nn::Module<T, D>("ModuleList") {}
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    items.push_back(this->register_module(std::to_string(items.size()), std::move(m)));
    return items.back();
  }
  std::vector<std::shared_ptr<M>> items;
};

/// One level of the U-Net: residual blocks, optional attention after each, an optional resampling conv.
template <class T, class D>
class UNetLevel : public nn::Module<T, D> {
 public:
  UNetLevel() : nn::Module<T, D>("UNetLevel") {
    res = this->register_module("res", std::make_shared<UNetModuleList<nn::ResBlock2d<T, D>, T, D>>());
  }
  std::shared_ptr<UNetModuleList<nn::ResBlock2d<T, D>, T, D>> res;
  std::shared_ptr<UNetModuleList<nn::AttentionBlock2d<T, D>, T, D>> attn;  // null without attention
  std::shared_ptr<nn::Conv2d<T, D>> resample;                           // downsample / upsample conv, or null
};
}  // namespace detail

template <class T = float, class D = cpu>
class UNet : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;
  using Index = genmodel::Tensor<int64_t, D>;
  using Level = detail::UNetLevel<T, D>;

  explicit UNet(UNetOptions opts = {}, Generator& gen = default_generator()) : nn::Module<T, D>("UNet"), o_(opts) {
    const auto& ch = o_.channels;
    const int64_t levels = int64_t(ch.size());
    GM_CHECK(levels >= 1 && o_.layers_per_level >= 1 && o_.in_channels > 0 && o_.out_channels > 0,
             "UNet: need at least one level, one block per level and positive channel counts");
    for (int64_t c : ch)
      GM_CHECK(c > 0 && o_.groups > 0 && c % o_.groups == 0, "UNet: groups (", o_.groups,
               ") must divide every width, got ", c);
    GM_CHECK(o_.image_size > 0 && o_.image_size % (int64_t(1) << (levels - 1)) == 0, "UNet: image_size ",
             o_.image_size, " must be divisible by 2^", levels - 1);
    GM_CHECK(o_.num_classes >= 0, "UNet: num_classes must be >= 0");
    temb_dim_ = o_.time_embed_dim > 0 ? o_.time_embed_dim : 4 * ch[0];
    const nn::ResBlockOptions rb{.temb_channels = temb_dim_, .groups = o_.groups};
    auto res_block = [&](int64_t in, int64_t out) { return std::make_shared<nn::ResBlock2d<T, D>>(in, out, rb, gen); };
    auto attn_block = [&](int64_t c) { return std::make_shared<nn::AttentionBlock2d<T, D>>(c, o_.groups, 1e-5, gen); };
    auto conv3 = [&](int64_t in, int64_t out, int64_t stride) {
      return std::make_shared<nn::Conv2d<T, D>>(in, out, 3, nn::ConvOptions{.stride = stride, .padding = 1}, gen);
    };

    time_embedding = this->register_module("time_embedding", std::make_shared<TimeMLP>(ch[0], temb_dim_, gen));
    if (o_.num_classes > 0)
      class_embedding = this->register_module(
          "class_embedding", std::make_shared<nn::Embedding<T, D>>(o_.num_classes + 1, temb_dim_, gen));
    conv_in = this->register_module("conv_in", conv3(o_.in_channels, ch[0], 1));

    down = this->register_module("down", std::make_shared<detail::UNetModuleList<Level, T, D>>());
    int64_t c = ch[0];
    std::vector<int64_t> skip_channels;
    for (int64_t i = 0; i < levels; ++i) {
      auto level = down->push_back(std::make_shared<Level>());
      const bool attn = has_attention(i);
      if (attn) level->attn = level->register_module("attn", std::make_shared<detail::UNetModuleList<nn::AttentionBlock2d<T, D>, T, D>>());
      for (int64_t j = 0; j < o_.layers_per_level; ++j) {
        level->res->push_back(res_block(c, ch[i]));
        c = ch[i];
        if (attn) level->attn->push_back(attn_block(c));
        skip_channels.push_back(c);
      }
      if (i + 1 < levels) level->resample = level->register_module("downsample", conv3(c, c, 2));
    }

    mid = this->register_module("mid", std::make_shared<Mid>(c, res_block, attn_block));

    up = this->register_module("up", std::make_shared<detail::UNetModuleList<Level, T, D>>());
    for (int64_t i = levels - 1; i >= 0; --i) {  // up.0 is the deepest level
      auto level = up->push_back(std::make_shared<Level>());
      const bool attn = has_attention(i);
      if (attn) level->attn = level->register_module("attn", std::make_shared<detail::UNetModuleList<nn::AttentionBlock2d<T, D>, T, D>>());
      for (int64_t j = 0; j < o_.layers_per_level; ++j) {
        const int64_t skip = skip_channels.back();
        skip_channels.pop_back();
        level->res->push_back(res_block(c + skip, ch[i]));
        c = ch[i];
        if (attn) level->attn->push_back(attn_block(c));
      }
      if (i > 0) level->resample = level->register_module("upsample", conv3(c, c, 1));
    }

    norm_out = this->register_module("norm_out", std::make_shared<nn::GroupNorm<T, D>>(o_.groups, c));
    conv_out = this->register_module("conv_out", conv3(c, o_.out_channels, 1));
  }

  /// x (B, in_channels, S, S), t (B) timesteps -> (B, out_channels, S, S). A
  /// class-conditional net uses the null label.
  Tensor forward(const Tensor& x, const Index& t) { return forward(x, t, Index{}); }

  /// As above with labels (B) in [0, num_classes] (num_classes is the null label).
  Tensor forward(const Tensor& x, const Index& t, const Index& labels) {
    GM_CHECK(x.defined() && x.dim() == 4 && x.size(1) == o_.in_channels && x.size(2) == o_.image_size &&
                 x.size(3) == o_.image_size,
             "UNet: input must be (B, ", o_.in_channels, ", ", o_.image_size, ", ", o_.image_size, "), got ",
             x.defined() ? x.shape() : Shape{});
    const int64_t b = x.size(0);
    GM_CHECK(t.defined() && t.dim() == 1 && t.size(0) == b, "UNet: t must be (", b, "), got ",
             t.defined() ? t.shape() : Shape{});
    Tensor temb = time_embedding->forward(t);
    if (o_.num_classes > 0) {
      Index y = labels;
      if (!y.defined()) y = full<int64_t, D>(Shape{b}, o_.num_classes);
      GM_CHECK(y.dim() == 1 && y.size(0) == b, "UNet: labels must be (", b, "), got ", y.shape());
      temb = add(temb, class_embedding->forward(y));
    } else {
      GM_CHECK(!labels.defined(), "UNet: labels given to a net built without num_classes");
    }

    Tensor h = conv_in->forward(x);
    std::vector<Tensor> skips;
    for (auto& level : down->items) {
      for (size_t j = 0; j < level->res->items.size(); ++j) {
        h = level->res->items[j]->forward(h, temb);
        if (level->attn) h = level->attn->items[j]->forward(h);
        skips.push_back(h);
      }
      if (level->resample) h = level->resample->forward(h);
    }
    h = mid->forward(h, temb);
    for (auto& level : up->items) {
      for (size_t j = 0; j < level->res->items.size(); ++j) {
        h = level->res->items[j]->forward(concat<T, D>({h, skips.back()}, 1), temb);
        skips.pop_back();
        if (level->attn) h = level->attn->items[j]->forward(h);
      }
      if (level->resample) h = level->resample->forward(upsample_nearest2d(h, Size2(2 * h.size(2), 2 * h.size(3))));
    }
    return conv_out->forward(silu(norm_out->forward(h)));
  }

  Tensor operator()(const Tensor& x, const Index& t) { return forward(x, t); }
  Tensor operator()(const Tensor& x, const Index& t, const Index& labels) { return forward(x, t, labels); }

  const UNetOptions& options() const { return o_; }
  int64_t time_embed_dim() const { return temb_dim_; }

  /// sinusoidal(t, c0) -> linear_1 -> SiLU -> linear_2 (diffusers' TimestepEmbedding).
  class TimeMLP : public nn::Module<T, D> {
   public:
    TimeMLP(int64_t sin_dim, int64_t dim, Generator& gen) : nn::Module<T, D>("TimestepEmbedding"), sin_dim_(sin_dim) {
      linear_1 = this->register_module("linear_1", std::make_shared<nn::Linear<T, D>>(sin_dim, dim, true, gen));
      linear_2 = this->register_module("linear_2", std::make_shared<nn::Linear<T, D>>(dim, dim, true, gen));
    }
    Tensor forward(const Index& t) {
      const Tensor tf = t.template to<T>();
      return linear_2->forward(silu(linear_1->forward(nn::timestep_embedding(tf, sin_dim_))));
    }
    std::shared_ptr<nn::Linear<T, D>> linear_1, linear_2;

   private:
    int64_t sin_dim_;
  };

  /// ResBlock2d, AttentionBlock2d, ResBlock2d at the lowest resolution.
  class Mid : public nn::Module<T, D> {
   public:
    template <class RB, class AB>
    Mid(int64_t c, RB& res_block, AB& attn_block) : nn::Module<T, D>("UNetMid") {
      res1 = this->register_module("res1", res_block(c, c));
      attn = this->register_module("attn", attn_block(c));
      res2 = this->register_module("res2", res_block(c, c));
    }
    Tensor forward(const Tensor& h, const Tensor& temb) {
      return res2->forward(attn->forward(res1->forward(h, temb)), temb);
    }
    std::shared_ptr<nn::ResBlock2d<T, D>> res1, res2;
    std::shared_ptr<nn::AttentionBlock2d<T, D>> attn;
  };

  std::shared_ptr<TimeMLP> time_embedding;
  std::shared_ptr<nn::Embedding<T, D>> class_embedding;  // null without num_classes
  std::shared_ptr<nn::Conv2d<T, D>> conv_in, conv_out;
  std::shared_ptr<detail::UNetModuleList<Level, T, D>> down, up;
  std::shared_ptr<Mid> mid;
  std::shared_ptr<nn::GroupNorm<T, D>> norm_out;

 private:
  bool has_attention(int64_t level) const {
    const int64_t res = o_.image_size >> level;
    return std::find(o_.attention_resolutions.begin(), o_.attention_resolutions.end(), res) !=
           o_.attention_resolutions.end();
  }

  UNetOptions o_;
  int64_t temb_dim_ = 0;
};

}  // namespace genmodel::models
