// genmodel/models/vae_architectures.hpp: ready encoder / decoder pairs for
// VAE<> on 28x28 one-channel images (Fashion-MNIST), each optionally
// class-conditional (num_classes > 0: a label embedding of label_dim is
// concatenated to the encoder's features and to z).
//
//   MLPEncoder:  flatten (B, 784) [+ emb] -> 512 -> ReLU -> 256 -> ReLU -> 2 L
//   MLPDecoder:  z [+ emb] -> 256 -> ReLU -> 512 -> ReLU -> 784 logits -> (B, 1, 28, 28)
//   ConvEncoder: Conv(1->32, k4 s2 p1) 14x14 -> ReLU -> Conv(32->64, k4 s2 p1) 7x7 -> ReLU
//                -> flatten 3136 [+ emb] -> Linear -> 2 L
//   ConvDecoder: z [+ emb] -> Linear 3136 -> ReLU -> (64, 7, 7) -> ConvT(64->32, k4 s2 p1) 14x14
//                -> ReLU -> ConvT(32->1, k4 s2 p1) 28x28 logits
// The encoders return [mu | logvar] as VAE<> expects; the decoders return
// logits (BceReconstruction). A module built with num_classes > 0 must be
// called with labels in [0, num_classes) (null_label: [0, num_classes]), one
// built without, without.
// make_mlp_vae / make_conv_vae build the pair and the VAE around it.
#pragma once

#include <memory>
#include <vector>

#include "genmodel/models/vae.hpp"
#include "genmodel/nn/activation.hpp"
#include "genmodel/nn/conv.hpp"
#include "genmodel/nn/embedding.hpp"
#include "genmodel/nn/flatten.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/sequential.hpp"

namespace genmodel::models {

struct MLPVAEOptions {
  int64_t latent_dim = 16;
  std::vector<int64_t> hidden = {512, 256};  // encoder widths; the decoder mirrors them
  std::vector<int64_t> image_shape = {1, 28, 28};
  int64_t num_classes = 0;  // > 0: conditional
  int64_t label_dim = 16;   // the label embedding's width
  bool null_label = false;  // one more label row, index num_classes: classifier-free guidance's "no label"
};

struct ConvVAEOptions {
  int64_t latent_dim = 16;
  int64_t in_channels = 1;  // 28x28 images
  int64_t num_classes = 0;  // > 0: conditional
  int64_t label_dim = 16;
  bool null_label = false;  // as MLPVAEOptions::null_label
};

namespace detail {
/// The conditional part every architecture shares: an optional label embedding.
template <class T, class D>
class LabelInput {
 public:
  void build(nn::Module<T, D>& owner, int64_t num_classes, int64_t label_dim, bool null_label, Generator& gen) {
    GM_CHECK(num_classes >= 0 && (num_classes == 0 || label_dim > 0),
             owner.type_name(), ": num_classes must be >= 0 and label_dim positive, got ", num_classes, ", ", label_dim);
    GM_CHECK(!null_label || num_classes > 0, owner.type_name(), ": null_label needs num_classes > 0");
    num_classes_ = num_classes;
    if (num_classes > 0)
      embed = owner.register_module(
          "label_embedding", std::make_shared<nn::Embedding<T, D>>(num_classes + (null_label ? 1 : 0), label_dim, gen));
  }
  int64_t extra(int64_t label_dim) const { return num_classes_ > 0 ? label_dim : 0; }
  /// h (B, F) -> concat(h, embed(labels)) when conditional; checks the labels are (not) given.
  Tensor<T, D> join(const char* who, const Tensor<T, D>& h, const Tensor<int64_t, D>& labels) const {
    GM_CHECK(labels.defined() == (num_classes_ > 0), who,
             num_classes_ > 0 ? ": this conditional module needs labels" : ": built without num_classes, it takes no labels");
    if (num_classes_ == 0) return h;
    GM_CHECK(labels.dim() == 1 && labels.size(0) == h.size(0), who, ": labels must be (", h.size(0), "), got ",
             labels.shape());
    return concat<T, D>({h, embed->forward(labels)}, 1);
  }
  std::shared_ptr<nn::Embedding<T, D>> embed;

 private:
  int64_t num_classes_ = 0;
};

inline int64_t vae_numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}
}  // namespace detail

template <class T = float, class D = cpu>
class MLPEncoder : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit MLPEncoder(const MLPVAEOptions& o = {}, Generator& gen = default_generator())
      : nn::Module<T, D>("MLPEncoder"), in_(detail::vae_numel(o.image_shape)) {
    GM_CHECK(o.latent_dim > 0 && !o.hidden.empty() && in_ > 0, "MLPEncoder: need latent_dim > 0, hidden widths and "
             "an image shape");
    labels_.build(*this, o.num_classes, o.label_dim, o.null_label, gen);
    net = this->register_module("net", std::make_shared<nn::Sequential<T, D>>());
    int64_t w = in_ + labels_.extra(o.label_dim);
    for (int64_t h : o.hidden) {
      net->template emplace_back<nn::Linear<T, D>>(w, h, true, gen);
      net->template emplace_back<nn::ReLU<T, D>>();
      w = h;
    }
    net->template emplace_back<nn::Linear<T, D>>(w, 2 * o.latent_dim, true, gen);
  }

  /// x (B, ...) of image_shape -> (B, 2 L).
  Tensor forward(const Tensor& x) { return forward(x, {}); }
  Tensor forward(const Tensor& x, const genmodel::Tensor<int64_t, D>& labels) {
    GM_CHECK(x.dim() >= 2 && x.numel() == x.size(0) * in_, "MLPEncoder: input must be (B, ...) with ", in_,
             " values per example, got ", x.shape());
    return net->forward(labels_.join("MLPEncoder", reshape(x, {x.size(0), in_}), labels));
  }

  std::shared_ptr<nn::Sequential<T, D>> net;

 private:
  int64_t in_;
  detail::LabelInput<T, D> labels_;
};

template <class T = float, class D = cpu>
class MLPDecoder : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit MLPDecoder(const MLPVAEOptions& o = {}, Generator& gen = default_generator())
      : nn::Module<T, D>("MLPDecoder"), latent_(o.latent_dim), image_shape_(o.image_shape) {
    GM_CHECK(o.latent_dim > 0 && !o.hidden.empty() && !o.image_shape.empty(), "MLPDecoder: need latent_dim > 0, "
             "hidden widths and an image shape");
    labels_.build(*this, o.num_classes, o.label_dim, o.null_label, gen);
    net = this->register_module("net", std::make_shared<nn::Sequential<T, D>>());
    int64_t w = o.latent_dim + labels_.extra(o.label_dim);
    for (auto it = o.hidden.rbegin(); it != o.hidden.rend(); ++it) {
      net->template emplace_back<nn::Linear<T, D>>(w, *it, true, gen);
      net->template emplace_back<nn::ReLU<T, D>>();
      w = *it;
    }
    net->template emplace_back<nn::Linear<T, D>>(w, detail::vae_numel(o.image_shape), true, gen);
  }

  /// z (B, L) -> logits (B, image_shape...).
  Tensor forward(const Tensor& z) { return forward(z, {}); }
  Tensor forward(const Tensor& z, const genmodel::Tensor<int64_t, D>& labels) {
    GM_CHECK(z.dim() == 2 && z.size(1) == latent_, "MLPDecoder: z must be (B, ", latent_, "), got ", z.shape());
    std::vector<int64_t> shape = {z.size(0)};
    shape.insert(shape.end(), image_shape_.begin(), image_shape_.end());
    return reshape(net->forward(labels_.join("MLPDecoder", z, labels)), shape);
  }

  std::shared_ptr<nn::Sequential<T, D>> net;

 private:
  int64_t latent_;
  std::vector<int64_t> image_shape_;
  detail::LabelInput<T, D> labels_;
};

template <class T = float, class D = cpu>
class ConvEncoder : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit ConvEncoder(const ConvVAEOptions& o = {}, Generator& gen = default_generator())
      : nn::Module<T, D>("ConvEncoder"), in_(o.in_channels) {
    GM_CHECK(o.latent_dim > 0 && o.in_channels > 0, "ConvEncoder: latent_dim and in_channels must be positive");
    labels_.build(*this, o.num_classes, o.label_dim, o.null_label, gen);
    const nn::ConvOptions down{.stride = 2, .padding = 1};
    features = this->register_module("features", std::make_shared<nn::Sequential<T, D>>());
    features->template emplace_back<nn::Conv2d<T, D>>(o.in_channels, 32, 4, down, gen);  // 14x14
    features->template emplace_back<nn::ReLU<T, D>>();
    features->template emplace_back<nn::Conv2d<T, D>>(32, 64, 4, down, gen);  // 7x7
    features->template emplace_back<nn::ReLU<T, D>>();
    features->template emplace_back<nn::Flatten<T, D>>();
    fc = this->register_module(
        "fc", std::make_shared<nn::Linear<T, D>>(64 * 7 * 7 + labels_.extra(o.label_dim), 2 * o.latent_dim, true, gen));
  }

  /// x (B, C, 28, 28) -> (B, 2 L).
  Tensor forward(const Tensor& x) { return forward(x, {}); }
  Tensor forward(const Tensor& x, const genmodel::Tensor<int64_t, D>& labels) {
    GM_CHECK(x.dim() == 4 && x.size(1) == in_ && x.size(2) == 28 && x.size(3) == 28, "ConvEncoder: input must be (B, ",
             in_, ", 28, 28), got ", x.shape());
    return fc->forward(labels_.join("ConvEncoder", features->forward(x), labels));
  }

  std::shared_ptr<nn::Sequential<T, D>> features;
  std::shared_ptr<nn::Linear<T, D>> fc;

 private:
  int64_t in_;
  detail::LabelInput<T, D> labels_;
};

template <class T = float, class D = cpu>
class ConvDecoder : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit ConvDecoder(const ConvVAEOptions& o = {}, Generator& gen = default_generator())
      : nn::Module<T, D>("ConvDecoder"), latent_(o.latent_dim) {
    GM_CHECK(o.latent_dim > 0 && o.in_channels > 0, "ConvDecoder: latent_dim and in_channels must be positive");
    labels_.build(*this, o.num_classes, o.label_dim, o.null_label, gen);
    fc = this->register_module(
        "fc", std::make_shared<nn::Linear<T, D>>(o.latent_dim + labels_.extra(o.label_dim), 64 * 7 * 7, true, gen));
    const nn::ConvOptions up{.stride = 2, .padding = 1};
    net = this->register_module("net", std::make_shared<nn::Sequential<T, D>>());
    net->template emplace_back<nn::ReLU<T, D>>();
    net->template emplace_back<nn::Unflatten<T, D>>(1, std::vector<int64_t>{64, 7, 7});
    net->template emplace_back<nn::ConvTranspose2d<T, D>>(64, 32, 4, up, gen);  // 14x14
    net->template emplace_back<nn::ReLU<T, D>>();
    net->template emplace_back<nn::ConvTranspose2d<T, D>>(32, o.in_channels, 4, up, gen);  // 28x28
  }

  /// z (B, L) -> logits (B, C, 28, 28).
  Tensor forward(const Tensor& z) { return forward(z, {}); }
  Tensor forward(const Tensor& z, const genmodel::Tensor<int64_t, D>& labels) {
    GM_CHECK(z.dim() == 2 && z.size(1) == latent_, "ConvDecoder: z must be (B, ", latent_, "), got ", z.shape());
    return net->forward(fc->forward(labels_.join("ConvDecoder", z, labels)));
  }

  std::shared_ptr<nn::Linear<T, D>> fc;
  std::shared_ptr<nn::Sequential<T, D>> net;

 private:
  int64_t latent_;
  detail::LabelInput<T, D> labels_;
};

template <class T = float, class D = cpu>
using MLPVAE = VAE<MLPEncoder<T, D>, MLPDecoder<T, D>>;
template <class T = float, class D = cpu>
using ConvVAE = VAE<ConvEncoder<T, D>, ConvDecoder<T, D>>;

namespace detail {
/// vo.label_dropout > 0 (classifier-free guidance): the modules get the null label's row, the VAE its index.
template <class Options>
void enable_null_label(Options& o, VAEOptions& vo) {
  if (vo.label_dropout <= 0) return;
  GM_CHECK(o.num_classes > 0, "make_*_vae: label_dropout ", vo.label_dropout, " needs num_classes > 0");
  o.null_label = true;
  vo.num_classes = o.num_classes;
}
}  // namespace detail

/// The MLP pair and the VAE around it (conditional when o.num_classes > 0; with
/// vo.label_dropout > 0, ready for classifier-free guidance).
template <class T = float, class D = cpu>
std::shared_ptr<MLPVAE<T, D>> make_mlp_vae(MLPVAEOptions o = {}, VAEOptions vo = {},
                                           Generator& gen = default_generator()) {
  detail::enable_null_label(o, vo);
  auto enc = std::make_shared<MLPEncoder<T, D>>(o, gen);
  auto dec = std::make_shared<MLPDecoder<T, D>>(o, gen);
  return std::make_shared<MLPVAE<T, D>>(enc, dec, o.latent_dim, vo);
}

/// The convolutional pair and the VAE around it (as make_mlp_vae).
template <class T = float, class D = cpu>
std::shared_ptr<ConvVAE<T, D>> make_conv_vae(ConvVAEOptions o = {}, VAEOptions vo = {},
                                             Generator& gen = default_generator()) {
  detail::enable_null_label(o, vo);
  auto enc = std::make_shared<ConvEncoder<T, D>>(o, gen);
  auto dec = std::make_shared<ConvDecoder<T, D>>(o, gen);
  return std::make_shared<ConvVAE<T, D>>(enc, dec, o.latent_dim, vo);
}

}  // namespace genmodel::models
