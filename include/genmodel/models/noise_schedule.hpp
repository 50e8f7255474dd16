// genmodel/models/noise_schedule.hpp: NoiseSchedule<T>, the diffusion
// scheduler: diffusers' DDPMScheduler and DDIMScheduler in one small object.
//
// It owns the beta schedule (linear 1e-4..0.02, or the cosine schedule of
// Nichol & Dhariwal 2021 with betas clipped at max_beta; or betas you give),
// the prediction type (epsilon or v), the timestep spacing and the
// timesteps array, and does:
//   add_noise(x0, noise, t)        x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise
//   training_target(x0, noise, t)  noise (epsilon) or sqrt(abar_t) noise - sqrt(1 - abar_t) x0 (v)
//   set_timesteps(n, spacing)      the descending timesteps of an n-step sampler
//   ddpm_step(out, t, x_t, gen)    ancestral step to the previous timestep (posterior mean
//                                  and variance, DDPM eq. 6-7; no noise at the last step)
//   ddim_step(out, t, x_t, eta, gen)  DDIM step (Song et al. 2021, eq. 12)
//   ddim_inverse_step(out, t, x_t)    the deterministic DDIM update run upwards (inversion)
// Every quantity is computed and kept in double; tensors are (B, ...) of T,
// timesteps t of the training functions an int64 tensor (B). The previous
// timestep of a step is always read from the timesteps array (never t - T/n),
// and after the last one alpha_bar_prev is final_alpha_cumprod (1 with
// set_alpha_to_one, diffusers' default). A schedule whose last alpha_bar is
// exactly 0 (zero terminal SNR, e.g. rescale_betas_zero_snr) is refused with
// epsilon prediction: x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) is then
// undefined at t = T - 1; use v prediction.
//
//   models::NoiseSchedule<float> s({.num_train_timesteps = 1000});
//   auto x_t = s.add_noise(x0, noise, t);
//   s.set_timesteps(50);                      // 980, 960, ..., 0
//   for (int64_t t : s.timesteps()) x = s.ddim_step(model(x, t), t, x);
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "genmodel/core/random.hpp"
#include "genmodel/ops.hpp"

namespace genmodel::models {

enum class BetaSchedule { linear, cosine };
enum class PredictionType { epsilon, v_prediction };
/// How set_timesteps spreads n steps over [0, T) (diffusers' timestep_spacing).
///   leading:  arange(0, n) * (T / n) (integer ratio), reversed: T=1000, n=10 -> 900, ..., 0
///   trailing: round(arange(T, 0, -T / n)) - 1:                  T=1000, n=10 -> 999, ..., 99
///   linspace: round(linspace(0, T - 1, n)), reversed:            T=1000, n=10 -> 999, 888, ..., 0
/// Rounding is to nearest, ties to even, as numpy's round.
enum class TimestepSpacing { leading, trailing, linspace };

struct NoiseScheduleOptions {
  int64_t num_train_timesteps = 1000;
  BetaSchedule beta_schedule = BetaSchedule::linear;
  double beta_start = 1e-4;  // linear only
  double beta_end = 0.02;    // linear only
  double max_beta = 0.999;   // cosine only: betas are clipped at this
  PredictionType prediction_type = PredictionType::epsilon;
  bool rescale_betas_zero_snr = false;  // Lin et al. 2024: shift sqrt(abar) so the last one is 0
  bool clip_sample = false;             // clip the x0 prediction to [-clip_sample_range, range]
  double clip_sample_range = 1.0;
  bool set_alpha_to_one = true;  // DDIM's alpha_bar after the last step: 1, else alphas_cumprod[0]
};

template <class T = float, class D = cpu>
class NoiseSchedule {
 public:
  using Tensor = genmodel::Tensor<T, D>;
  using Index = genmodel::Tensor<int64_t, D>;

  /// Betas from the options' schedule.
  explicit NoiseSchedule(const NoiseScheduleOptions& opts = {}) : NoiseSchedule(make_betas(opts), opts) {}

  /// Betas given (T of them, each in (0, 1]); the options' schedule fields are ignored.
  NoiseSchedule(std::vector<double> betas, const NoiseScheduleOptions& opts) : opts_(opts), betas_(std::move(betas)) {
    opts_.num_train_timesteps = int64_t(betas_.size());
    const int64_t n = opts_.num_train_timesteps;
    GM_CHECK(n >= 1, "NoiseSchedule: need at least one timestep");
    for (int64_t i = 0; i < n; ++i)
      GM_CHECK(betas_[i] > 0 && betas_[i] <= 1, "NoiseSchedule: beta ", i, " is ", betas_[i],
               ", it must lie in (0, 1]");
    if (opts_.rescale_betas_zero_snr) rescale_zero_terminal_snr(betas_);
    alphas_.resize(n);
    alphas_cumprod_.resize(n);
    double prod = 1;
    for (int64_t i = 0; i < n; ++i) {
      alphas_[i] = 1 - betas_[i];
      prod *= alphas_[i];
      alphas_cumprod_[i] = prod;
    }
    GM_CHECK(!(opts_.prediction_type == PredictionType::epsilon && alphas_cumprod_.back() <= 0),
             "NoiseSchedule: the schedule has zero terminal SNR (alphas_cumprod[", n - 1,
             "] = 0), where epsilon prediction cannot give x0; use PredictionType::v_prediction");
    GM_CHECK(opts_.clip_sample_range > 0, "NoiseSchedule: clip_sample_range must be positive, got ",
             opts_.clip_sample_range);
    alphas_cumprod_prev_.resize(n);
    sqrt_alphas_cumprod_.resize(n);
    sqrt_one_minus_alphas_cumprod_.resize(n);
    posterior_variance_.resize(n);
    posterior_mean_coef1_.resize(n);
    posterior_mean_coef2_.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const double ab = alphas_cumprod_[i], prev = i > 0 ? alphas_cumprod_[i - 1] : 1.0;
      alphas_cumprod_prev_[i] = prev;
      sqrt_alphas_cumprod_[i] = std::sqrt(ab);
      sqrt_one_minus_alphas_cumprod_[i] = std::sqrt(1 - ab);
      // DDPM eq. 7: q(x_{t-1} | x_t, x0) = N(coef1 x0 + coef2 x_t, beta_t (1 - abar_{t-1}) / (1 - abar_t)).
      posterior_variance_[i] = betas_[i] * (1 - prev) / (1 - ab);
      posterior_mean_coef1_[i] = betas_[i] * std::sqrt(prev) / (1 - ab);
      posterior_mean_coef2_[i] = (1 - prev) * std::sqrt(alphas_[i]) / (1 - ab);
    }
    final_alpha_cumprod_ = opts_.set_alpha_to_one ? 1.0 : alphas_cumprod_[0];
    timesteps_.resize(n);
    for (int64_t i = 0; i < n; ++i) timesteps_[i] = n - 1 - i;  // every step, as diffusers at construction
  }

  // ---- the precomputed quantities (index t = 0 .. T-1), all double --------
  int64_t num_train_timesteps() const { return opts_.num_train_timesteps; }
  const NoiseScheduleOptions& options() const { return opts_; }
  PredictionType prediction_type() const { return opts_.prediction_type; }
  const std::vector<double>& betas() const { return betas_; }
  const std::vector<double>& alphas() const { return alphas_; }
  const std::vector<double>& alphas_cumprod() const { return alphas_cumprod_; }
  const std::vector<double>& alphas_cumprod_prev() const { return alphas_cumprod_prev_; }  // 1 at t = 0
  const std::vector<double>& sqrt_alphas_cumprod() const { return sqrt_alphas_cumprod_; }
  const std::vector<double>& sqrt_one_minus_alphas_cumprod() const { return sqrt_one_minus_alphas_cumprod_; }
  const std::vector<double>& posterior_variance() const { return posterior_variance_; }
  const std::vector<double>& posterior_mean_coef1() const { return posterior_mean_coef1_; }  // times x0
  const std::vector<double>& posterior_mean_coef2() const { return posterior_mean_coef2_; }  // times x_t
  double final_alpha_cumprod() const { return final_alpha_cumprod_; }

  // ---- training ----------------------------------------------------------
  /// x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; x0, noise (B, ...), t (B). Differentiable.
  Tensor add_noise(const Tensor& x0, const Tensor& noise, const Index& t) const {
    check_batch("add_noise", x0, noise, t);
    return add(mul(x0, per_example(sqrt_alphas_cumprod_, t, x0)),
               mul(noise, per_example(sqrt_one_minus_alphas_cumprod_, t, x0)));
  }

  /// What the model learns to predict: noise (epsilon), or v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0.
  Tensor training_target(const Tensor& x0, const Tensor& noise, const Index& t) const {
    check_batch("training_target", x0, noise, t);
    if (opts_.prediction_type == PredictionType::epsilon) return noise;
    return sub(mul(noise, per_example(sqrt_alphas_cumprod_, t, x0)),
               mul(x0, per_example(sqrt_one_minus_alphas_cumprod_, t, x0)));
  }

  // ---- sampling ----------------------------------------------------------
  /// Sets the descending timesteps of an n-step sampler (1 <= n <= T).
  void set_timesteps(int64_t n, TimestepSpacing spacing = TimestepSpacing::leading) {
    const int64_t T_ = opts_.num_train_timesteps;
    GM_CHECK(n >= 1 && n <= T_, "NoiseSchedule::set_timesteps: the number of steps must be in [1, ", T_, "], got ",
             n);
    std::vector<int64_t> ts;
    switch (spacing) {
      case TimestepSpacing::leading: {
        const int64_t ratio = T_ / n;
        for (int64_t i = n - 1; i >= 0; --i) ts.push_back(i * ratio);
        break;
      }
      case TimestepSpacing::trailing: {
        const double ratio = double(T_) / double(n);
        // numpy's arange(T, 0, -ratio) has n elements T - i * ratio.
        for (int64_t i = 0; i < n; ++i)
          ts.push_back(int64_t(std::nearbyint(double(T_) - double(i) * ratio)) - 1);
        break;
      }
      case TimestepSpacing::linspace: {
        const double step = n > 1 ? double(T_ - 1) / double(n - 1) : 0.0;
        for (int64_t i = n - 1; i >= 0; --i) ts.push_back(int64_t(std::nearbyint(double(i) * step)));
        break;
      }
    }
    for (size_t i = 0; i < ts.size(); ++i)
      GM_CHECK(ts[i] >= 0 && ts[i] < T_ && (i == 0 || ts[i] < ts[i - 1]),
               "NoiseSchedule::set_timesteps: ", n, " steps over ", T_,
               " timesteps give a repeated or out-of-range timestep ", ts[i]);
    timesteps_ = std::move(ts);
  }

  /// The sampler's timesteps, descending (T-1, ..., 0 until set_timesteps is called).
  const std::vector<int64_t>& timesteps() const { return timesteps_; }

  /// The timestep after t in the timesteps array, or -1 when t is the last one.
  int64_t previous_timestep(int64_t t) const {
    const int64_t i = index_of(t, "previous_timestep");
    return i + 1 < int64_t(timesteps_.size()) ? timesteps_[i + 1] : -1;
  }

  /// The model's x0 prediction at timestep t (clipped when clip_sample is set).
  Tensor predict_x0(const Tensor& model_output, int64_t t, const Tensor& x_t) const {
    check_step("predict_x0", model_output, t, x_t);
    const double ab = alphas_cumprod_[t];
    Tensor x0 = opts_.prediction_type == PredictionType::epsilon
                    ? mul(sub(x_t, mul(model_output, T(std::sqrt(1 - ab)))), T(1 / std::sqrt(ab)))
                    : sub(mul(x_t, T(std::sqrt(ab))), mul(model_output, T(std::sqrt(1 - ab))));
    if (opts_.clip_sample) x0 = clamp(x0, T(-opts_.clip_sample_range), T(opts_.clip_sample_range));
    return x0;
  }

  /// One ancestral step from t to previous_timestep(t) (t - 1 over all T steps):
  /// x_prev = coef1 x0 + coef2 x_t + sigma z, with the posterior of q(x_prev | x_t, x0) for
  /// beta = 1 - abar_t / abar_prev (beta_t itself over all steps); z ~ N(0, I) from gen,
  /// none at the last step.
  Tensor ddpm_step(const Tensor& model_output, int64_t t, const Tensor& x_t, Generator& gen) const {
    check_step("ddpm_step", model_output, t, x_t);
    const int64_t prev = previous_timestep(t);
    const double ab = alphas_cumprod_[t], ab_prev = prev >= 0 ? alphas_cumprod_[prev] : 1.0;
    const double beta = 1 - ab / ab_prev, alpha = ab / ab_prev;
    const double coef1 = std::sqrt(ab_prev) * beta / (1 - ab);
    const double coef2 = std::sqrt(alpha) * (1 - ab_prev) / (1 - ab);
    const Tensor x0 = predict_x0(model_output, t, x_t);
    Tensor mean_ = add(mul(x0, T(coef1)), mul(x_t, T(coef2)));
    if (prev < 0) return mean_;
    const double var = std::max((1 - ab_prev) / (1 - ab) * beta, 1e-20);  // diffusers' "fixed_small"
    return add(mean_, mul(randn<T, D>(x_t.shape(), gen), T(std::sqrt(var))));
  }

  /// One DDIM step from t to previous_timestep(t) (Song et al. eq. 12):
  /// x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z,
  /// sigma = eta sqrt((1 - abar_prev) / (1 - abar_t) (1 - abar_t / abar_prev)).
  /// With clip_sample, eps is recomputed from the clipped x0 (as diffusers). gen is used only when eta > 0.
  Tensor ddim_step(const Tensor& model_output, int64_t t, const Tensor& x_t, double eta, Generator& gen) const {
    GM_CHECK(eta >= 0, "NoiseSchedule::ddim_step: eta must be >= 0, got ", eta);
    check_step("ddim_step", model_output, t, x_t);
    const int64_t prev = previous_timestep(t);
    const double ab = alphas_cumprod_[t], ab_prev = prev >= 0 ? alphas_cumprod_[prev] : final_alpha_cumprod_;
    const Tensor x0 = predict_x0(model_output, t, x_t);
    const Tensor eps = predict_eps(model_output, t, x_t, x0);
    const double var = (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev);
    const double sigma = eta * std::sqrt(std::max(var, 0.0));
    Tensor out = add(mul(x0, T(std::sqrt(ab_prev))), mul(eps, T(std::sqrt(std::max(1 - ab_prev - sigma * sigma, 0.0)))));
    if (eta > 0 && sigma > 0) out = add(out, mul(randn<T, D>(x_t.shape(), gen), T(sigma)));
    return out;
  }
  /// The deterministic step (eta = 0).
  Tensor ddim_step(const Tensor& model_output, int64_t t, const Tensor& x_t) const {
    Generator unused(0);
    return ddim_step(model_output, t, x_t, 0.0, unused);
  }

  /// The eta = 0 update run upwards (DDIM inversion): from x at timestep t, with the model
  /// output at (x, t), to the timestep before t in the array: sqrt(abar_next) x0 + sqrt(1 - abar_next) eps.
  /// t must not be the first (largest) timestep.
  Tensor ddim_inverse_step(const Tensor& model_output, int64_t t, const Tensor& x_t) const {
    check_step("ddim_inverse_step", model_output, t, x_t);
    const int64_t i = index_of(t, "ddim_inverse_step");
    GM_CHECK(i > 0, "NoiseSchedule::ddim_inverse_step: t = ", t, " is the first timestep; there is none above it");
    const double ab_next = alphas_cumprod_[timesteps_[i - 1]];
    const Tensor x0 = predict_x0(model_output, t, x_t);
    const Tensor eps = predict_eps(model_output, t, x_t, x0);
    return add(mul(x0, T(std::sqrt(ab_next))), mul(eps, T(std::sqrt(1 - ab_next))));
  }

 private:
  static std::vector<double> make_betas(const NoiseScheduleOptions& o) {
    const int64_t n = o.num_train_timesteps;
    GM_CHECK(n >= 1, "NoiseSchedule: num_train_timesteps must be >= 1, got ", n);
    std::vector<double> b(n);
    if (o.beta_schedule == BetaSchedule::linear) {
      GM_CHECK(o.beta_start > 0 && o.beta_end >= o.beta_start && o.beta_end <= 1,
               "NoiseSchedule: linear betas need 0 < beta_start <= beta_end <= 1, got ", o.beta_start, ", ",
               o.beta_end);
      for (int64_t i = 0; i < n; ++i)
        b[i] = n > 1 ? o.beta_start + (o.beta_end - o.beta_start) * double(i) / double(n - 1) : o.beta_start;
    } else {
      GM_CHECK(o.max_beta > 0 && o.max_beta <= 1, "NoiseSchedule: max_beta must lie in (0, 1], got ", o.max_beta);
      // Nichol & Dhariwal eq. 17: abar(t) = cos(((t / T) + s) / (1 + s) * pi / 2)^2, s = 0.008.
      auto f = [](double u) {
        const double c = std::cos((u + 0.008) / 1.008 * std::numbers::pi / 2);
        return c * c;
      };
      for (int64_t i = 0; i < n; ++i)
        b[i] = std::min(1 - f(double(i + 1) / double(n)) / f(double(i) / double(n)), o.max_beta);
    }
    return b;
  }

  /// diffusers' rescale_zero_terminal_snr: sqrt(abar) shifted to end at 0 and scaled to keep its start.
  static void rescale_zero_terminal_snr(std::vector<double>& betas) {
    const size_t n = betas.size();
    GM_CHECK(n >= 2, "NoiseSchedule: rescale_betas_zero_snr needs at least two timesteps");
    std::vector<double> s(n);
    double prod = 1;
    for (size_t i = 0; i < n; ++i) s[i] = std::sqrt(prod *= 1 - betas[i]);
    const double s0 = s[0], sT = s[n - 1];
    for (auto& v : s) v = (v - sT) * s0 / (s0 - sT);
    double prev = 1;
    for (size_t i = 0; i < n; ++i) {
      const double ab = s[i] * s[i];
      betas[i] = 1 - ab / prev;
      prev = ab;
    }
  }

  int64_t index_of(int64_t t, const char* who) const {
    for (size_t i = 0; i < timesteps_.size(); ++i)
      if (timesteps_[i] == t) return int64_t(i);
    throw Error(genmodel::detail::concat("NoiseSchedule::", who, ": timestep ", t,
                                         " is not in the timesteps array (call set_timesteps, and step through "
                                         "timesteps() in order)"));
  }

  Tensor predict_eps(const Tensor& model_output, int64_t t, const Tensor& x_t, const Tensor& x0) const {
    const double ab = alphas_cumprod_[t];
    if (opts_.prediction_type == PredictionType::epsilon && !opts_.clip_sample) return model_output;
    if (ab >= 1) return model_output;  // cannot happen for beta > 0
    // eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar), consistent with the (clipped) x0.
    return mul(sub(x_t, mul(x0, T(std::sqrt(ab)))), T(1 / std::sqrt(1 - ab)));
  }

  /// coef[t_b] as a (B, 1, ..., 1) tensor matching x's rank.
  static Tensor per_example(const std::vector<double>& coef, const Index& t, const Tensor& x) {
    std::vector<int64_t> shape(x.dim(), 1);
    shape[0] = x.size(0);
    auto c = genmodel::Tensor<T, cpu>::empty(Shape(shape));  // B values, built on the host
    const auto steps = t.template to<cpu>();
    for (int64_t b = 0; b < x.size(0); ++b) c.data()[b] = T(coef[steps.data()[b]]);
    return c.template to<D>();
  }

  void check_batch(const char* who, const Tensor& x0, const Tensor& noise, const Index& t) const {
    GM_CHECK(x0.defined() && noise.defined() && t.defined(), "NoiseSchedule::", who, ": undefined input");
    GM_CHECK(x0.dim() >= 1 && x0.shape() == noise.shape(), "NoiseSchedule::", who, ": x0 ", x0.shape(),
             " and noise ", noise.shape(), " must be (B, ...) of one shape");
    GM_CHECK(t.dim() == 1 && t.size(0) == x0.size(0), "NoiseSchedule::", who, ": t must be (", x0.size(0),
             "), got ", t.shape());
    const auto steps = t.template to<cpu>();
    for (int64_t b = 0; b < t.numel(); ++b)
      GM_CHECK(steps.data()[b] >= 0 && steps.data()[b] < opts_.num_train_timesteps, "NoiseSchedule::", who,
               ": timestep ", steps.data()[b], " at ", b, " is outside [0, ", opts_.num_train_timesteps, ")");
  }

  void check_step(const char* who, const Tensor& out, int64_t t, const Tensor& x_t) const {
    GM_CHECK(out.defined() && x_t.defined() && out.shape() == x_t.shape(), "NoiseSchedule::", who,
             ": model output ", out.defined() ? out.shape() : Shape{}, " and x_t ",
             x_t.defined() ? x_t.shape() : Shape{}, " must have one shape");
    GM_CHECK(t >= 0 && t < opts_.num_train_timesteps, "NoiseSchedule::", who, ": timestep ", t,
             " is outside [0, ", opts_.num_train_timesteps, ")");
  }

  NoiseScheduleOptions opts_;
  std::vector<double> betas_, alphas_, alphas_cumprod_, alphas_cumprod_prev_, sqrt_alphas_cumprod_,
      sqrt_one_minus_alphas_cumprod_, posterior_variance_, posterior_mean_coef1_, posterior_mean_coef2_;
  double final_alpha_cumprod_ = 1;
  std::vector<int64_t> timesteps_;
};

}  // namespace genmodel::models
