// genmodel/models/ddpm.hpp: DDPM<Denoiser, Schedule>, denoising diffusion
// (Ho et al. 2020) around any denoiser module: the training step, an EMA of
// the denoiser's weights, and two seeded samplers sharing the schedule.
//
// The denoiser is a module with
//   Tensor forward(x (B, ...), t (B) int64)                 (unconditional), and/or
//   Tensor forward(x (B, ...), t (B) int64, labels (B) int64) (class-conditional)
// returning a tensor of x's shape: the schedule's prediction type (epsilon or v).
//
//   loss(x0[, labels]):        t ~ U{0..T-1}, noise ~ N(0, I), x_t = add_noise(x0, noise, t),
//                              mse(denoiser(x_t, t[, labels']), training_target(x0, noise, t))
//   train_step(x0, opt[, labels]): zero_grad, loss, backward, [clip], opt.step(), EMA update
//   sample_ddpm(shape, seed):  ancestral sampling over all T steps
//   sample_ddim(shape, n, seed, {.eta}): DDIM over n steps (spacing as set_timesteps)
//
// Class conditioning with classifier-free guidance (Ho & Salimans 2022): with
// num_classes > 0, training replaces each label by the null class index
// num_classes with probability label_dropout (0.1), so the denoiser learns
// both; sampling with labels and guidance scale s uses
//   out = out_uncond + s (out_cond - out_uncond)
// (one batched forward of 2B rows when s != 1; classifier_free_guidance.hpp).
// The denoiser must accept labels in [0, num_classes] (num_classes + 1
// embedding rows).
//
// The optimizer is the caller's (one per model); the EMA (optim::EMA) is the
// DDPM's, updated after every train_step and used by the samplers by default
// (store / copy_to / restore around sampling). Sampling runs in eval mode
// without a graph and restores the training mode and live weights after,
// even on an exception. Randomness: the training stream is a Generator owned
// by the DDPM (options.seed); each sample call draws from a fresh
// Generator(seed), so equal seeds give equal samples. The samplers set the
// schedule's timesteps (all T for sample_ddpm, n for sample_ddim), which stay
// set afterwards (schedule().timesteps()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "genmodel/core/random.hpp"
#include "genmodel/losses/regression.hpp"
#include "genmodel/models/classifier_free_guidance.hpp"
#include "genmodel/models/noise_schedule.hpp"
#include "genmodel/nn/module.hpp"
#include "genmodel/optim/clip_grad.hpp"
#include "genmodel/optim/ema.hpp"
#include "genmodel/optim/optimizer.hpp"

namespace genmodel::models {

struct DDPMOptions {
  int64_t num_classes = 0;     // > 0: class-conditional; the null label is num_classes
  double label_dropout = 0.1;  // P(label -> null) in training (classifier-free guidance)
  double ema_decay = 0.999;    // shadow = decay shadow + (1 - decay) w after each step
  bool ema_warmup = true;      // decay min(ema_decay, (1 + k) / (10 + k)) at update k (diffusers)
  double grad_clip = 0;        // > 0: clip_grad_norm_ of the denoiser before the step
  uint64_t seed = 0;           // the training stream (timesteps, noise, label dropout)
};

template <class Denoiser, class Schedule = NoiseSchedule<typename Denoiser::value_type, typename Denoiser::device_type>>
class DDPM {
 public:
  using T = typename Denoiser::value_type;
  using D = typename Denoiser::device_type;
  using Tensor = genmodel::Tensor<T, D>;
  using Index = genmodel::Tensor<int64_t, D>;
  static_assert(std::is_base_of_v<nn::Module<T, D>, Denoiser>, "DDPM: the denoiser must be an nn::Module<T, D>");

  static constexpr bool takes_labels = requires(Denoiser& m, const Tensor& x, const Index& t, const Index& y) {
    { m.forward(x, t, y) } -> std::same_as<Tensor>;
  };
  static constexpr bool takes_no_labels = requires(Denoiser& m, const Tensor& x, const Index& t) {
    { m.forward(x, t) } -> std::same_as<Tensor>;
  };
  static_assert(takes_labels || takes_no_labels,
                "DDPM: the denoiser needs Tensor forward(x, t) or Tensor forward(x, t, labels), t and labels "
                "Tensor<int64_t, D>");

  /// Per-step callback of the samplers: (step index 0.., number of steps, timestep t).
  using Progress = std::function<void(int64_t step, int64_t num_steps, int64_t t)>;

  struct SampleOptions {
    Index labels;                  // (B) classes in [0, num_classes); undefined: unconditional (null label)
    double guidance_scale = 1.0;   // s; 1: conditional only, 0: unconditional only
    double eta = 0.0;              // DDIM only: 0 deterministic, 1 DDPM-like
    TimestepSpacing spacing = TimestepSpacing::leading;  // DDIM only
    bool use_ema = true;           // sample with the EMA weights
    Progress progress;             // called after each step when set
  };

  DDPM(std::shared_ptr<Denoiser> denoiser, Schedule schedule, DDPMOptions opts = {})
      : denoiser_(std::move(denoiser)), schedule_(std::move(schedule)), opts_(opts), gen_(opts.seed),
        ema_(checked(denoiser_)->parameters(), opts.ema_decay, opts.ema_warmup) {
    GM_CHECK(opts.num_classes >= 0, "DDPM: num_classes must be >= 0, got ", opts.num_classes);
    GM_CHECK(opts.num_classes == 0 || takes_labels,
             "DDPM: num_classes > 0 but the denoiser's forward does not take labels");
    GM_CHECK(opts.num_classes > 0 || takes_no_labels,
             "DDPM: the denoiser's forward needs labels; set DDPMOptions::num_classes");
    GM_CHECK(opts.label_dropout >= 0 && opts.label_dropout <= 1, "DDPM: label_dropout must be in [0, 1], got ",
             opts.label_dropout);
    GM_CHECK(opts.grad_clip >= 0, "DDPM: grad_clip must be >= 0, got ", opts.grad_clip);
  }

  Denoiser& denoiser() { return *denoiser_; }
  const std::shared_ptr<Denoiser>& denoiser_ptr() const { return denoiser_; }
  Schedule& schedule() { return schedule_; }
  const Schedule& schedule() const { return schedule_; }
  optim::EMA<T, D>& ema() { return ema_; }
  Generator& generator() { return gen_; }  // the training stream (save it to resume exactly)
  const DDPMOptions& options() const { return opts_; }
  int64_t num_classes() const { return opts_.num_classes; }
  bool conditional() const { return opts_.num_classes > 0; }

  // ---- training ----------------------------------------------------------
  /// The denoising loss on a batch x0 (B, ...) [with labels (B)], differentiable in the
  /// denoiser's weights. Draws t, noise and the label dropout from the DDPM's generator.
  Tensor loss(const Tensor& x0, const Index& labels = {}) {
    GM_CHECK(x0.defined() && x0.dim() >= 1 && x0.size(0) > 0, "DDPM::loss: x0 must be a non-empty (B, ...) batch");
    const int64_t b = x0.size(0);
    check_labels("loss", labels, b, /*allow_null=*/false);
    const Index t = randint<int64_t, D>(0, schedule_.num_train_timesteps(), Shape{b}, gen_);
    const Tensor noise = randn<T, D>(x0.shape(), gen_);
    Tensor x_t, target;
    {
      NoGradGuard no_grad;  // the data side carries no graph
      x_t = schedule_.add_noise(x0.detach(), noise, t);
      target = schedule_.training_target(x0.detach(), noise, t);
    }
    Index y;
    if (conditional()) {
      y = labels.defined() ? labels : full<int64_t, D>(Shape{b}, opts_.num_classes);
      if (opts_.label_dropout > 0) y = drop_labels<T>(y, opts_.label_dropout, opts_.num_classes, gen_);
    }
    return losses::mse(run(x_t, t, y), target);
  }

  /// One optimizer step on the denoising loss, then the EMA update; returns the loss.
  double train_step(const Tensor& x0, optim::Optimizer<T, D>& opt, const Index& labels = {}) {
    opt.zero_grad();
    const Tensor l = loss(x0, labels);
    l.backward();
    if (opts_.grad_clip > 0) optim::clip_grad_norm_(denoiser_->parameters(), opts_.grad_clip);
    opt.step();
    update_ema();
    ++steps_;
    return double(l.item());
  }

  /// The EMA update alone, for a custom training loop built on loss().
  void update_ema() { ema_.update(denoiser_->parameters()); }

  int64_t steps() const { return steps_; }  // train_step calls so far

  // ---- sampling ----------------------------------------------------------
  /// Ancestral DDPM sampling over all T timesteps from x_T ~ N(0, I) of `shape` (B, ...).
  Tensor sample_ddpm(const Shape& shape, uint64_t seed, const SampleOptions& o = {}) {
    schedule_.set_timesteps(schedule_.num_train_timesteps(), TimestepSpacing::leading);  // T-1, ..., 0
    return run_sampler(shape, seed, o, [&](const Tensor& out, int64_t t, const Tensor& x, Generator& g) {
      return schedule_.ddpm_step(out, t, x, g);
    });
  }

  /// DDIM sampling over num_steps timesteps (o.spacing), with o.eta.
  Tensor sample_ddim(const Shape& shape, int64_t num_steps, uint64_t seed, const SampleOptions& o = {}) {
    schedule_.set_timesteps(num_steps, o.spacing);
    return run_sampler(shape, seed, o, [&](const Tensor& out, int64_t t, const Tensor& x, Generator& g) {
      return schedule_.ddim_step(out, t, x, o.eta, g);
    });
  }

  /// The (guided) model output at one timestep for the batch x, in the current weights and mode.
  Tensor model_output(const Tensor& x, int64_t t, const Index& labels = {}, double guidance_scale = 1.0) {
    const int64_t b = x.size(0);
    const Index tt = full<int64_t, D>(Shape{b}, t);
    if (!conditional()) {
      GM_CHECK(!labels.defined(), "DDPM: labels given to an unconditional model");
      return run(x, tt, {});
    }
    check_labels("sample", labels, b, /*allow_null=*/true);
    if (!labels.defined()) return run(x, tt, full<int64_t, D>(Shape{b}, opts_.num_classes));
    if (guidance_scale == 1.0) return run(x, tt, labels);
    return guided(run(concat<T, D>({x, x}, 0), concat<int64_t, D>({tt, tt}, 0),
                      labels_then_null(labels, opts_.num_classes)),
                  guidance_scale);
  }

 private:
  static const std::shared_ptr<Denoiser>& checked(const std::shared_ptr<Denoiser>& d) {
    GM_CHECK(d != nullptr, "DDPM: null denoiser");
    return d;
  }

  Tensor run(const Tensor& x, const Index& t, const Index& y) {
    if constexpr (takes_labels) {
      if (conditional()) return denoiser_->forward(x, t, y);
    }
    if constexpr (takes_no_labels) {
      return denoiser_->forward(x, t);
    } else {  // an else branch, so nvcc sees no unreachable code after a return
      GM_CHECK(false, "DDPM: unreachable: a label-only denoiser without num_classes");
      return {};
    }
  }

  void check_labels(const char* who, const Index& labels, int64_t b, bool allow_null) const {
    if (!labels.defined()) return;
    GM_CHECK(conditional(), "DDPM::", who, ": labels given to an unconditional model (num_classes = 0)");
    GM_CHECK(labels.dim() == 1 && labels.size(0) == b, "DDPM::", who, ": labels must be (", b, "), got ",
             labels.shape());
    const int64_t hi = opts_.num_classes + (allow_null ? 1 : 0);
    const auto host = labels.template to<cpu>();  // B labels; the tensor itself on the CPU
    for (int64_t i = 0; i < b; ++i)
      GM_CHECK(host.data()[i] >= 0 && host.data()[i] < hi, "DDPM::", who, ": label ", host.data()[i], " at ",
               i, " is outside [0, ", hi, ")");
  }

  /// Puts the live weights and the training mode back when sampling ends.
  struct SamplingScope {
    DDPM& self;
    bool ema, was_training;
    SamplingScope(DDPM& s, bool use_ema) : self(s), ema(use_ema), was_training(s.denoiser_->is_training()) {
      const auto params = self.denoiser_->parameters();
      if (ema) {
        self.ema_.store(params);
        self.ema_.copy_to(params);
      }
      self.denoiser_->eval();
    }
    ~SamplingScope() {
      if (ema) self.ema_.restore(self.denoiser_->parameters());
      self.denoiser_->train(was_training);
    }
    SamplingScope(const SamplingScope&) = delete;
    SamplingScope& operator=(const SamplingScope&) = delete;
  };

  template <class Step>
  Tensor run_sampler(const Shape& shape, uint64_t seed, const SampleOptions& o, Step step) {
    GM_CHECK(shape.size() >= 1 && shape[0] > 0, "DDPM: sample shape must be (B, ...) with B > 0, got ", shape);
    GM_CHECK(!o.labels.defined() || conditional(), "DDPM: labels given to an unconditional model");
    SamplingScope scope(*this, o.use_ema);
    NoGradGuard no_grad;
    Generator g(seed);
    Tensor x = randn<T, D>(shape, g);
    const std::vector<int64_t> ts = schedule_.timesteps();
    for (size_t i = 0; i < ts.size(); ++i) {
      const Tensor out = model_output(x, ts[i], o.labels, o.guidance_scale);
      x = step(out, ts[i], x, g);
      if (o.progress) o.progress(int64_t(i), int64_t(ts.size()), ts[i]);
    }
    return x;
  }

  std::shared_ptr<Denoiser> denoiser_;
  Schedule schedule_;
  DDPMOptions opts_;
  Generator gen_;
  optim::EMA<T, D> ema_;
  int64_t steps_ = 0;
};

}  // namespace genmodel::models
