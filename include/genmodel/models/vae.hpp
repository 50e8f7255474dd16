// genmodel/models/vae.hpp: VAE<Encoder, Decoder, Reconstruction>, the
// variational auto-encoder (Kingma & Welling 2014), beta-VAE (Higgins et
// al. 2017) and, with modules that take labels, the conditional VAE (Sohn et
// al. 2015), in one template.
//
//   encoder(x (B, ...)[, labels (B)])  -> (B, 2 L): [mu | logvar], split in two halves
//   z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I) from the VAE's Generator (options.seed)
//   decoder(z (B, L)[, labels (B)])   -> the reconstruction's parameters, of x's shape
//   loss = reconstruction + beta * KL(N(mu, exp(logvar)) || N(0, I)),
// each term summed over pixels (latents) and averaged over the batch: the
// negative ELBO per example in nats (beta = 1). The reconstruction term is a
// policy type:
//   BceReconstruction (default): the decoder gives logits of a Bernoulli per
//     pixel, data in [0, 1]; sum of bce_with_logits; the mean image is sigmoid(logits)
//   MseReconstruction: the decoder gives the image; sum of squared errors (a
//     Gaussian of variance 1/2 up to a constant); the mean image is the output
// Conditional: when the encoder's forward takes (x, labels) and the
// decoder's (z, labels), the VAE passes the labels given to encode / decode /
// loss / sample through (modules own their label embeddings; see
// vae_architectures.hpp). A module with both overloads is called with
// labels when they are given and without when not. With
// options.label_dropout > 0 the conditional VAE also learns the
// unconditional model (the null label num_classes), and sample() takes a
// classifier-free guidance scale (classifier_free_guidance.hpp).
//
// The VAE is a Module with children "encoder" and "decoder" (state dict
// keys encoder.*, decoder.*). Its optimizer is the caller's: build one on
// vae.parameters() and pass it to train_step, or call loss() in your own loop.
//
//   auto vae = models::make_mlp_vae<float>({.latent_dim = 16});
//   optim::Adam<float> opt(vae->parameters(), {.lr = 1e-3});
//   auto m = vae->train_step(batch.images, opt);   // m.total, m.reconstruction, m.kl
//   auto x = vae->sample(64, /*seed=*/1);           // (64, 1, 28, 28) in [0, 1], eval mode
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "genmodel/core/random.hpp"
#include "genmodel/losses/classification.hpp"
#include "genmodel/losses/kl.hpp"
#include "genmodel/models/classifier_free_guidance.hpp"
#include "genmodel/nn/module.hpp"
#include "genmodel/optim/optimizer.hpp"

namespace genmodel::models {

/// Bernoulli likelihood on logits: per example sum_j bce_with_logits(out_j, x_j).
struct BceReconstruction {
  template <class T, class D>
  static Tensor<T, D> per_example(const Tensor<T, D>& out, const Tensor<T, D>& x) {
    const auto e = losses::bce_with_logits(out, x, losses::Reduction::none);
    return sum(reshape(e, {x.size(0), -1}), {1});
  }
  template <class T, class D>
  static Tensor<T, D> mean(const Tensor<T, D>& out) {
    return sigmoid(out);
  }
};

/// Squared error: per example sum_j (out_j - x_j)^2.
struct MseReconstruction {
  template <class T, class D>
  static Tensor<T, D> per_example(const Tensor<T, D>& out, const Tensor<T, D>& x) {
    const auto d = sub(out, x);
    return sum(reshape(mul(d, d), {x.size(0), -1}), {1});
  }
  template <class T, class D>
  static Tensor<T, D> mean(const Tensor<T, D>& out) {
    return out;
  }
};

struct VAEOptions {
  double beta = 1.0;  // weight of the KL term (beta-VAE)
  uint64_t seed = 0;  // the stream of eps in the reparameterisation (and of the label dropout)
  // Classifier-free guidance (conditional only): with label_dropout > 0, training replaces
  // each label by the null label num_classes with that probability, and sample() accepts a
  // guidance scale. make_mlp_vae / make_conv_vae fill num_classes and give the modules the
  // null label's row.
  int64_t num_classes = 0;
  double label_dropout = 0.0;
};

/// The loss pieces, scalar tensors averaged over the batch; total is differentiable.
template <class T, class D>
struct VAELoss {
  Tensor<T, D> total, reconstruction, kl;
};

/// What train_step measured.
struct VAEMetrics {
  double total = 0, reconstruction = 0, kl = 0;
};

/// A forward pass: the decoder's raw output (logits for BCE), mu and logvar (B, L), the sample z (B, L).
template <class T, class D>
struct VAEOutput {
  Tensor<T, D> output, mu, logvar, z;
};

template <class Encoder, class Decoder, class Recon = BceReconstruction>
class VAE : public nn::Module<typename Encoder::value_type, typename Encoder::device_type> {
 public:
  using T = typename Encoder::value_type;
  using D = typename Encoder::device_type;
  using Tensor = genmodel::Tensor<T, D>;
  using Index = genmodel::Tensor<int64_t, D>;
  static_assert(std::is_base_of_v<nn::Module<T, D>, Encoder> && std::is_base_of_v<nn::Module<T, D>, Decoder>,
                "VAE: the encoder and decoder must be nn::Module<T, D>s of one scalar type and device");

  static constexpr bool encoder_takes_labels = requires(Encoder& m, const Tensor& x, const Index& y) {
    { m.forward(x, y) } -> std::same_as<Tensor>;
  };
  static constexpr bool encoder_takes_input = requires(Encoder& m, const Tensor& x) {
    { m.forward(x) } -> std::same_as<Tensor>;
  };
  static constexpr bool decoder_takes_labels = requires(Decoder& m, const Tensor& z, const Index& y) {
    { m.forward(z, y) } -> std::same_as<Tensor>;
  };
  static constexpr bool decoder_takes_input = requires(Decoder& m, const Tensor& z) {
    { m.forward(z) } -> std::same_as<Tensor>;
  };
  static_assert(encoder_takes_labels == decoder_takes_labels,
                "VAE: a conditional VAE needs forward(x, labels) on the encoder and forward(z, labels) on the decoder");
  static_assert((encoder_takes_input || encoder_takes_labels) && (decoder_takes_input || decoder_takes_labels),
                "VAE: the encoder needs Tensor forward(x) or forward(x, labels), the decoder forward(z) or "
                "forward(z, labels)");
  /// True when the modules can take labels.
  static constexpr bool conditional = encoder_takes_labels;

  /// latent_dim L: the encoder must return (B, 2 L).
  VAE(std::shared_ptr<Encoder> encoder, std::shared_ptr<Decoder> decoder, int64_t latent_dim, VAEOptions opts = {})
      : nn::Module<T, D>("VAE"), latent_(latent_dim), opts_(opts), gen_(opts.seed) {
    GM_CHECK(encoder && decoder, "VAE: null encoder or decoder");
    GM_CHECK(latent_dim > 0, "VAE: latent_dim must be positive, got ", latent_dim);
    GM_CHECK(opts.beta >= 0, "VAE: beta must be >= 0, got ", opts.beta);
    GM_CHECK(opts.label_dropout >= 0 && opts.label_dropout <= 1, "VAE: label_dropout must be in [0, 1], got ",
             opts.label_dropout);
    GM_CHECK(opts.label_dropout == 0 || (conditional && opts.num_classes > 0),
             "VAE: label_dropout needs a conditional VAE and num_classes (the null label), got num_classes ",
             opts.num_classes);
    encoder_ = this->register_module("encoder", std::move(encoder));
    decoder_ = this->register_module("decoder", std::move(decoder));
  }

  Encoder& encoder() { return *encoder_; }
  Decoder& decoder() { return *decoder_; }
  int64_t latent_dim() const { return latent_; }
  double beta() const { return opts_.beta; }
  void set_beta(double beta) {  // for KL warm-up schedules
    GM_CHECK(beta >= 0, "VAE: beta must be >= 0, got ", beta);
    opts_.beta = beta;
  }
  Generator& generator() { return gen_; }  // the eps stream (save it to resume exactly)

  /// x (B, ...) -> {mu, logvar}, each (B, L).
  std::pair<Tensor, Tensor> encode(const Tensor& x, const Index& labels = {}) {
    GM_CHECK(x.defined() && x.dim() >= 1 && x.size(0) > 0, "VAE::encode: x must be a non-empty (B, ...) batch");
    check_labels("encode", labels, x.size(0));
    Tensor h;
    if (labels.defined()) {
      if constexpr (encoder_takes_labels) h = encoder_->forward(x, labels);
    } else {
      if constexpr (encoder_takes_input) h = encoder_->forward(x);
      else GM_CHECK(false, "VAE::encode: this encoder needs labels");
    }
    GM_CHECK(h.dim() == 2 && h.size(0) == x.size(0) && h.size(1) == 2 * latent_, "VAE::encode: the encoder must return (",
             x.size(0), ", ", 2 * latent_, ") = [mu | logvar], got ", h.shape());
    return {narrow(h, 1, 0, latent_), narrow(h, 1, latent_, latent_)};
  }

  /// z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) from generator(); differentiable in mu and logvar.
  Tensor reparameterize(const Tensor& mu, const Tensor& logvar) {
    GM_CHECK(mu.defined() && logvar.defined() && mu.shape() == logvar.shape(), "VAE::reparameterize: mu and logvar "
             "must have one shape");
    const Tensor eps = randn<T, D>(mu.shape(), gen_);
    return add(mu, mul(exp(mul(logvar, T(0.5))), eps));
  }

  /// z (B, L) -> the decoder's raw output (logits for BceReconstruction).
  Tensor decode(const Tensor& z, const Index& labels = {}) {
    GM_CHECK(z.defined() && z.dim() == 2 && z.size(1) == latent_, "VAE::decode: z must be (B, ", latent_, "), got ",
             z.defined() ? z.shape() : Shape{});
    check_labels("decode", labels, z.size(0));
    if (labels.defined()) {
      if constexpr (decoder_takes_labels) return decoder_->forward(z, labels);
    } else {
      if constexpr (decoder_takes_input) return decoder_->forward(z);
      else GM_CHECK(false, "VAE::decode: this decoder needs labels");
    }
    return {};
  }

  /// encode, reparameterize, decode; in training mode with label_dropout, both see the
  /// labels after dropout (drawn from the eps stream).
  VAEOutput<T, D> forward(const Tensor& x, const Index& labels = {}) {
    Index y = labels;
    if (labels.defined() && opts_.label_dropout > 0 && this->is_training()) {
      check_labels("forward", labels, x.size(0));
      y = drop_labels<T>(labels, opts_.label_dropout, opts_.num_classes, gen_);
    }
    auto [mu, logvar] = encode(x, y);
    Tensor z = reparameterize(mu, logvar);
    Tensor out = decode(z, y);
    return {out, mu, logvar, z};
  }

  /// The loss pieces of a forward pass on x.
  VAELoss<T, D> loss(const VAEOutput<T, D>& f, const Tensor& x) const {
    GM_CHECK(f.output.shape() == x.shape(), "VAE::loss: the decoder's output ", f.output.shape(),
             " must have the input's shape ", x.shape());
    const Tensor rec = mean(Recon::per_example(f.output, x));
    const Tensor kl = losses::gaussian_kl(f.mu, f.logvar);  // summed over latents, averaged over the batch
    return {add(rec, mul(kl, T(opts_.beta))), rec, kl};
  }
  VAELoss<T, D> loss(const Tensor& x, const Index& labels = {}) { return loss(forward(x, labels), x); }

  /// zero_grad, loss, backward, opt.step(); opt must hold this VAE's parameters.
  VAEMetrics train_step(const Tensor& x, optim::Optimizer<T, D>& opt, const Index& labels = {}) {
    opt.zero_grad();
    const auto l = loss(x, labels);
    l.total.backward();
    opt.step();
    return {double(l.total.item()), double(l.reconstruction.item()), double(l.kl.item())};
  }

  /// The mean reconstruction through z = mu (eval mode, no graph): sigmoid(logits) for BCE.
  Tensor reconstruct(const Tensor& x, const Index& labels = {}) {
    EvalScope scope(*this);
    NoGradGuard no_grad;
    return Recon::mean(decode(encode(x, labels).first, labels));
  }

  /// n samples decoded from z ~ N(0, temperature^2 I) drawn from Generator(seed) (eval
  /// mode, no graph); a conditional VAE takes labels (n). A temperature below 1 trades
  /// variety for typical samples (the "reduced temperature" of Kingma & Dhariwal's Glow).
  /// guidance_scale s != 1 (a VAE trained with label_dropout) decodes each z with its label
  /// and with the null label and takes uncond + s (cond - uncond) of the decoder's output.
  Tensor sample(int64_t n, uint64_t seed, const Index& labels = {}, double temperature = 1.0,
                double guidance_scale = 1.0) {
    GM_CHECK(n > 0, "VAE::sample: n must be positive, got ", n);
    GM_CHECK(temperature >= 0 && std::isfinite(temperature), "VAE::sample: temperature must be >= 0, got ",
             temperature);
    GM_CHECK(std::isfinite(guidance_scale), "VAE::sample: guidance_scale must be finite, got ", guidance_scale);
    GM_CHECK(guidance_scale == 1.0 || (labels.defined() && opts_.num_classes > 0),
             "VAE::sample: guidance_scale ", guidance_scale, " needs labels and a VAE built with num_classes "
             "(trained with label_dropout)");
    EvalScope scope(*this);
    NoGradGuard no_grad;
    Generator g(seed);
    const Tensor z = randn<T, D>(Shape{n, latent_}, g, T(0), T(temperature));
    if (guidance_scale == 1.0) return Recon::mean(decode(z, labels));
    check_labels("sample", labels, n);
    return Recon::mean(
        guided(decode(concat<T, D>({z, z}, 0), labels_then_null(labels, opts_.num_classes)), guidance_scale));
  }

 private:
  struct EvalScope {
    VAE& self;
    bool was_training;
    explicit EvalScope(VAE& s) : self(s), was_training(s.is_training()) { self.eval(); }
    ~EvalScope() { self.train(was_training); }
    EvalScope(const EvalScope&) = delete;
    EvalScope& operator=(const EvalScope&) = delete;
  };

  void check_labels(const char* who, const Index& labels, int64_t b) const {
    if (!labels.defined()) return;
    GM_CHECK(conditional, "VAE::", who, ": labels given, but the encoder and decoder do not take labels");
    GM_CHECK(labels.dim() == 1 && labels.size(0) == b, "VAE::", who, ": labels must be (", b, "), got ",
             labels.shape());
  }

  std::shared_ptr<Encoder> encoder_;
  std::shared_ptr<Decoder> decoder_;
  int64_t latent_;
  VAEOptions opts_;
  Generator gen_;
};

}  // namespace genmodel::models
