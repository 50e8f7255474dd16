// genmodel/models/gan.hpp: GAN<Generator, Discriminator, Loss>, which owns
// the two networks, one Adam optimizer for each (never one shared by both),
// and the latent generator, and does the training step:
//
//   n_critic times:  z ~ N(0, I), fake = G(z)              (no graph into G)
//                    loss_D = Loss::d_loss(D(real), D(fake)) [+ penalty]
//                    D's optimizer steps on loss_D
//   once:            loss_G = Loss::g_loss(D(G(z)));  G's optimizer steps
//
// With n_critic = 1 the step reuses one fake batch for both updates, as
// PyTorch's DCGAN example does: G runs forward once, its graph kept for the
// generator update. The loss is a policy (losses/gan.hpp): NonSaturating
// (default), LeastSquares, Hinge, Wasserstein, WassersteinGP (which turns on
// the gradient penalty, lambda 10, n_critic 5, Adam(1e-4, (0, 0.9))). An R1
// penalty on real samples can be added to any of them (r1_gamma).
//
// Conditional GANs use the same template: when G's forward takes
// (z, labels), D's must take (x, labels) too; the fake batch of a step uses
// the real batch's labels, and sample() takes the labels to draw.
//
//   auto g = models::make_dcgan_generator<float>(100, gen);
//   auto d = models::make_dcgan_discriminator<float>(gen);
//   models::GAN gan(g, d);                       // NonSaturating
//   auto m = gan.train_step(batch.images);       // m.loss_d, m.loss_g, m.d_real, m.d_fake
//   auto x = gan.sample(64, /*seed=*/1);         // (64, 1, 28, 28), eval mode
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "genmodel/core/random.hpp"
#include "genmodel/losses/gan.hpp"
#include "genmodel/losses/penalty.hpp"
#include "genmodel/nn/module.hpp"
#include "genmodel/optim/adam.hpp"

namespace genmodel::models {

/// A module whose forward takes one tensor.
template <class M, class T, class D>
concept TakesInput = requires(M& m, const Tensor<T, D>& x) {
  { m.forward(x) } -> std::same_as<Tensor<T, D>>;
};

/// A module whose forward takes a tensor and class labels (conditional GANs).
template <class M, class T, class D>
concept TakesInputAndLabels = requires(M& m, const Tensor<T, D>& x, const Tensor<int64_t, D>& y) {
  { m.forward(x, y) } -> std::same_as<Tensor<T, D>>;
};

struct GanOptions {
  int64_t z_dim = 100;  // latents are (n, z_dim), N(0, I)
  optim::AdamOptions opt_g{.lr = 2e-4, .betas = {0.5, 0.999}};
  optim::AdamOptions opt_d{.lr = 2e-4, .betas = {0.5, 0.999}};
  int n_critic = 1;       // discriminator updates per generator update
  double gp_lambda = 0;   // WGAN-GP gradient penalty weight (0: off)
  double r1_gamma = 0;    // R1 penalty weight on real samples (0: off)
  uint64_t seed = 0;      // the stream of latents and interpolation weights
};

/// The usual settings of a loss: WGAN-GP's from Gulrajani et al. (2017),
/// DCGAN's (Radford et al., 2016) for the others.
template <class Loss>
GanOptions gan_defaults() {
  GanOptions o;
  if constexpr (std::is_same_v<Loss, losses::WassersteinGP>) {
    o.n_critic = 5;
    o.gp_lambda = 10;
    o.opt_g = o.opt_d = {.lr = 1e-4, .betas = {0.0, 0.9}};
  }
  return o;
}

/// What one training step measured (the last discriminator update's values).
struct GanMetrics {
  double loss_d = 0;   // including the penalties
  double loss_g = 0;
  double penalty = 0;  // gradient penalty and/or R1, as added to loss_d
  double d_real = 0;   // mean D(x): a probability for NonSaturating, the raw output otherwise
  double d_fake = 0;   // mean D(G(z)), likewise, before the D update
};

/// Marks parameters as not requiring grad for a scope (restoring each one's flag).
template <class T, class D>
class FrozenParameters {
 public:
  explicit FrozenParameters(std::vector<Tensor<T, D>> params) : params_(std::move(params)) {
    for (auto& p : params_) {
      was_.push_back(p.requires_grad());
      p.requires_grad_(false);
    }
  }
  ~FrozenParameters() {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].requires_grad_(was_[i]);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<Tensor<T, D>> params_;
  std::vector<bool> was_;
};

template <class G, class Dis, losses::GanLoss Loss = losses::NonSaturating>
class GAN {
 public:
  using T = typename G::value_type;
  using Dev = typename G::device_type;
  using Tensor = genmodel::Tensor<T, Dev>;
  using Labels = genmodel::Tensor<int64_t, Dev>;
  using loss_type = Loss;
  static constexpr bool conditional = TakesInputAndLabels<G, T, Dev>;

  static_assert(std::derived_from<G, nn::Module<T, Dev>> && std::derived_from<Dis, nn::Module<T, Dev>>,
                "GAN<G, D, Loss>: G and D must be nn::Module<T, Device> types of the same T and Device");
  static_assert(conditional ? TakesInputAndLabels<Dis, T, Dev> : TakesInput<G, T, Dev> && TakesInput<Dis, T, Dev>,
                "GAN<G, D, Loss>: either both G and D take labels (forward(x, labels)) or neither does "
                "(forward(x))");

  GAN(std::shared_ptr<G> generator, std::shared_ptr<Dis> discriminator, GanOptions opts = gan_defaults<Loss>())
      : g_(check_module(std::move(generator), "generator")),
        d_(check_module(std::move(discriminator), "discriminator")),
        opts_(opts),
        opt_g_(g_->parameters(), opts.opt_g),
        opt_d_(d_->parameters(), opts.opt_d),
        rng_(opts.seed) {
    GM_CHECK(opts.z_dim > 0, "GAN: z_dim must be positive, got ", opts.z_dim);
    GM_CHECK(opts.n_critic >= 1, "GAN: n_critic must be at least 1, got ", opts.n_critic);
    GM_CHECK(opts.gp_lambda >= 0 && opts.r1_gamma >= 0, "GAN: penalty weights must be non-negative, got gp_lambda ",
             opts.gp_lambda, ", r1_gamma ", opts.r1_gamma);
  }

  /// One step: n_critic discriminator updates, each on a fresh batch from
  /// next() (anything with .images (B, ...) and, when conditional, .labels
  /// (B)), then one generator update at the last batch's size and labels.
  template <class NextBatch>
    requires std::invocable<NextBatch&>
  GanMetrics train_step(NextBatch&& next) {
    g_->train();
    d_->train();
    GanMetrics m;
    Labels labels;
    int64_t n = 0;
    Tensor fake;
    for (int i = 0; i < opts_.n_critic; ++i) {
      const auto batch = next();
      check_batch(batch.images, batch.labels);
      labels = batch.labels;
      n = batch.images.size(0);
      const bool reuse = opts_.n_critic == 1;  // this fake also serves the generator update
      if (reuse) {
        fake = generate(latents(n, rng_), labels);
      } else {
        NoGradGuard no_grad;
        fake = generate(latents(n, rng_), labels);
      }
      discriminator_update(batch.images, fake.detach(), labels, m);
    }
    if (opts_.n_critic > 1) fake = generate(latents(n, rng_), labels);
    Tensor loss_g;
    {
      // D's weight gradients of the generator loss would be discarded (D's
      // next update zeroes them first), so its backward skips them.
      FrozenParameters frozen(d_->parameters());
      loss_g = Loss::g_loss(discriminate(fake, labels));
      opt_g_.zero_grad();
      loss_g.backward();
    }
    opt_g_.step();
    m.loss_g = double(loss_g.item());
    return m;
  }

  /// One step with every discriminator update on this batch.
  GanMetrics train_step(const Tensor& real, const Labels& labels = {}) {
    struct Batch {
      Tensor images;
      Labels labels;
    };
    return train_step([&] { return Batch{real, labels}; });
  }

  /// n samples from G in eval mode without a graph; the same seed gives the same images.
  Tensor sample(int64_t n, uint64_t seed)
    requires(!conditional)
  {
    GM_CHECK(n > 0, "GAN::sample: n must be positive, got ", n);
    return sample_impl(n, Labels(), seed);
  }

  /// One sample per label, in eval mode without a graph.
  Tensor sample(const Labels& labels, uint64_t seed)
    requires conditional
  {
    GM_CHECK(labels.defined() && labels.dim() == 1 && labels.numel() > 0,
             "GAN::sample: labels must be a non-empty (n) tensor, got ",
             labels.defined() ? labels.shape() : Shape{});
    return sample_impl(labels.numel(), labels, seed);
  }

  /// z ~ N(0, I) of shape (n, z_dim) from gen.
  Tensor latents(int64_t n, Generator& gen) const { return randn<T, Dev>({n, opts_.z_dim}, gen); }

  G& generator() { return *g_; }
  Dis& discriminator() { return *d_; }
  const std::shared_ptr<G>& generator_ptr() const { return g_; }
  const std::shared_ptr<Dis>& discriminator_ptr() const { return d_; }
  optim::Adam<T, Dev>& optimizer_g() { return opt_g_; }
  optim::Adam<T, Dev>& optimizer_d() { return opt_d_; }
  /// The latent / interpolation stream (saved in checkpoints to resume exactly).
  Generator& rng() { return rng_; }
  const GanOptions& options() const { return opts_; }

 private:
  template <class M>
  static std::shared_ptr<M> check_module(std::shared_ptr<M> m, const char* what) {
    GM_CHECK(m != nullptr, "GAN: the ", what, " is null");
    return m;
  }

  void check_batch(const Tensor& real, const Labels& labels) const {
    GM_CHECK(real.defined() && real.dim() >= 2 && real.size(0) > 0, "GAN::train_step: real must be a batch (B, ...), got ",
             real.defined() ? real.shape() : Shape{});
    if constexpr (conditional)
      GM_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == real.size(0),
               "GAN::train_step: a conditional GAN needs labels (B) = (", real.size(0), "), got ",
               labels.defined() ? labels.shape() : Shape{});
  }

  Tensor generate(const Tensor& z, const Labels& labels) {
    if constexpr (conditional)
      return g_->forward(z, labels);
    else
      return g_->forward(z);
  }
  Tensor discriminate(const Tensor& x, const Labels& labels) {
    if constexpr (conditional)
      return d_->forward(x, labels);
    else
      return d_->forward(x);
  }

  static double score(const Tensor& out) {
    NoGradGuard no_grad;
    if constexpr (std::is_same_v<Loss, losses::NonSaturating>)
      return double(mean(sigmoid(out)).item());
    else
      return double(mean(out).item());
  }

  void discriminator_update(const Tensor& real, const Tensor& fake, const Labels& labels, GanMetrics& m) {
    GM_CHECK(fake.shape() == real.shape(), "GAN::train_step: the generator makes ", fake.shape(),
             " but the real batch is ", real.shape());
    const Tensor real_out = discriminate(real, labels);
    const Tensor fake_out = discriminate(fake, labels);
    Tensor loss = Loss::d_loss(real_out, fake_out);
    Tensor penalty;
    auto critic = [&](const Tensor& x) { return discriminate(x, labels); };
    if (opts_.gp_lambda > 0) penalty = losses::gradient_penalty(critic, real, fake, rng_, opts_.gp_lambda);
    if (opts_.r1_gamma > 0) {
      const Tensor r1 = losses::r1_penalty(critic, real, opts_.r1_gamma);
      penalty = penalty.defined() ? add(penalty, r1) : r1;
    }
    if (penalty.defined()) loss = add(loss, penalty);
    opt_d_.zero_grad();
    loss.backward();
    opt_d_.step();
    m.loss_d = double(loss.item());
    m.penalty = penalty.defined() ? double(penalty.item()) : 0.0;
    m.d_real = score(real_out);
    m.d_fake = score(fake_out);
  }

  Tensor sample_impl(int64_t n, const Labels& labels, uint64_t seed) {
    const bool was_training = g_->is_training();
    g_->eval();
    Tensor out;
    {
      NoGradGuard no_grad;
      Generator gen(seed);
      out = generate(latents(n, gen), labels);
    }
    g_->train(was_training);
    return out;
  }

  std::shared_ptr<G> g_;
  std::shared_ptr<Dis> d_;
  GanOptions opts_;
  optim::Adam<T, Dev> opt_g_, opt_d_;
  Generator rng_;
};

}  // namespace genmodel::models
