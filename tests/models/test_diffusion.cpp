// Diffusion: NoiseSchedule against closed forms computed here in double (the
// alpha-bar products by a sum of logs, the posterior of DDPM eq. 7 by Bayes'
// rule on two Gaussians, the cosine schedule's telescoping product), the
// timesteps of every spacing against numbers worked out from diffusers'
// formulas by hand, the refusal of zero terminal SNR with epsilon
// prediction; DDIM, DDPM and DDIM inversion with an oracle denoiser for a
// one-point data set; the samplers' marginals; and DDPM<> trained on a 2-D
// mixture of Gaussians (unconditional, and class-conditional with
// classifier-free guidance) whose samples must cover the modes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "genmodel/genmodel.hpp"
#include "genmodel/models/ddpm.hpp"
#include "genmodel/models/noise_schedule.hpp"
#include "test_util.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
namespace models = genmodel::models;
using Catch::Contains;
using models::NoiseSchedule;
using models::NoiseScheduleOptions;
using models::TimestepSpacing;

namespace {

std::vector<int64_t> timesteps_of(int64_t T, int64_t n, TimestepSpacing s) {
  NoiseSchedule<double> sch({.num_train_timesteps = T});
  sch.set_timesteps(n, s);
  return sch.timesteps();
}

/// The exact model output for data = the single point x0: eps = (x - sqrt(abar) x0) / sqrt(1 - abar),
/// or v = sqrt(abar) eps - sqrt(1 - abar) x0.
template <class T>
gm::Tensor<T> oracle(const NoiseSchedule<T>& s, const gm::Tensor<T>& x, int64_t t, const gm::Tensor<T>& x0) {
  const double ab = s.alphas_cumprod()[t];
  auto out = gm::Tensor<T>::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double eps = (double(x.data()[i]) - std::sqrt(ab) * double(x0.data()[i])) / std::sqrt(1 - ab);
    out.data()[i] = T(s.prediction_type() == models::PredictionType::epsilon
                          ? eps
                          : std::sqrt(ab) * eps - std::sqrt(1 - ab) * double(x0.data()[i]));
  }
  return out;
}

template <class T>
double max_abs_diff(const gm::Tensor<T>& a, const gm::Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])));
  return m;
}

}  // namespace

TEST_CASE("NoiseSchedule: linear betas, alpha-bar, posterior of DDPM eq. 7 in closed form", "[models][diffusion]") {
  const int64_t T = 1000;
  NoiseSchedule<float> s({.num_train_timesteps = T});
  REQUIRE(s.betas().size() == size_t(T));
  CHECK(s.betas()[0] == Approx(1e-4).epsilon(1e-12));
  CHECK(s.betas()[T - 1] == Approx(0.02).epsilon(1e-12));
  long double log_ab = 0;
  for (int64_t t = 0; t < T; ++t) {
    INFO("t = " << t);
    const double beta = 1e-4 + (0.02 - 1e-4) * double(t) / double(T - 1);
    REQUIRE(s.betas()[t] == Approx(beta).epsilon(1e-12));
    REQUIRE(s.alphas()[t] == Approx(1 - beta).epsilon(1e-12));
    const double ab_prev = double(std::exp(log_ab));
    log_ab += std::log1p(-(long double)beta);
    const double ab = double(std::exp(log_ab));  // the product, as a sum of logs
    REQUIRE(s.alphas_cumprod()[t] == Approx(ab).epsilon(1e-11));
    REQUIRE(s.alphas_cumprod_prev()[t] == Approx(ab_prev).epsilon(1e-11));
    REQUIRE(s.sqrt_alphas_cumprod()[t] == Approx(std::sqrt(ab)).epsilon(1e-11));
    REQUIRE(s.sqrt_one_minus_alphas_cumprod()[t] == Approx(std::sqrt(1 - ab)).epsilon(1e-10));
    if (t == 0) {  // x0 is known exactly: no variance, the mean is x0
      CHECK(s.posterior_variance()[0] == 0.0);
      CHECK(s.posterior_mean_coef1()[0] == Approx(1.0).epsilon(1e-12));
      CHECK(s.posterior_mean_coef2()[0] == 0.0);
      continue;
    }
    // Bayes: q(x_{t-1} | x0) = N(sqrt(ab_prev) x0, 1 - ab_prev), q(x_t | x_{t-1}) = N(sqrt(alpha) x_{t-1}, beta).
    const double precision = 1 / (1 - ab_prev) + (1 - beta) / beta;
    const double var = 1 / precision;
    REQUIRE(s.posterior_variance()[t] == Approx(var).epsilon(1e-9));
    REQUIRE(s.posterior_mean_coef1()[t] == Approx(var * std::sqrt(ab_prev) / (1 - ab_prev)).epsilon(1e-9));
    REQUIRE(s.posterior_mean_coef2()[t] == Approx(var * std::sqrt(1 - beta) / beta).epsilon(1e-9));
  }
  CHECK(s.final_alpha_cumprod() == 1.0);
  NoiseSchedule<float> no_one({.num_train_timesteps = T, .set_alpha_to_one = false});
  CHECK(no_one.final_alpha_cumprod() == Approx(1 - 1e-4).epsilon(1e-14));
}

TEST_CASE("NoiseSchedule: cosine schedule (Nichol & Dhariwal) telescopes to f(t) / f(0), clipped at 0.999",
          "[models][diffusion]") {
  auto f = [](double u) {
    const double c = std::cos((u + 0.008) / 1.008 * std::numbers::pi / 2);
    return c * c;
  };
  for (int64_t T : {1000, 100}) {
    INFO("T = " << T);
    NoiseSchedule<float> s({.num_train_timesteps = T, .beta_schedule = models::BetaSchedule::cosine});
    CHECK(s.betas()[0] == Approx(1 - f(1.0 / T) / f(0)).epsilon(1e-12));
    CHECK(s.betas()[T - 1] == 0.999);  // 1 - f(1) / f((T-1)/T) = 1 - 0 would exceed max_beta
    for (int64_t t = 0; t + 1 < T; ++t) {
      INFO("t = " << t);
      REQUIRE(s.betas()[t] < 0.999);
      REQUIRE(s.alphas_cumprod()[t] == Approx(f(double(t + 1) / T) / f(0)).epsilon(1e-10));
    }
    CHECK(s.alphas_cumprod()[T - 1] == Approx(f(double(T - 1) / T) / f(0) * 0.001).epsilon(1e-10));
  }
  NoiseSchedule<float> clipped(
      {.num_train_timesteps = 50, .beta_schedule = models::BetaSchedule::cosine, .max_beta = 0.2});
  for (double b : clipped.betas()) CHECK(b <= 0.2);
  CHECK(clipped.betas().back() == 0.2);
}

TEST_CASE("NoiseSchedule::set_timesteps: leading, trailing and linspace spacing as diffusers", "[models][diffusion]") {
  using V = std::vector<int64_t>;
  // leading: arange(0, n) * (T // n), reversed.
  CHECK(timesteps_of(1000, 10, TimestepSpacing::leading) == V{900, 800, 700, 600, 500, 400, 300, 200, 100, 0});
  CHECK(timesteps_of(1000, 3, TimestepSpacing::leading) == V{666, 333, 0});
  CHECK(timesteps_of(10, 4, TimestepSpacing::leading) == V{6, 4, 2, 0});
  // trailing: round(arange(T, 0, -T / n)) - 1; numpy rounds half to even (7.5 -> 8, 2.5 -> 2).
  CHECK(timesteps_of(1000, 10, TimestepSpacing::trailing) == V{999, 899, 799, 699, 599, 499, 399, 299, 199, 99});
  CHECK(timesteps_of(1000, 3, TimestepSpacing::trailing) == V{999, 666, 332});
  CHECK(timesteps_of(10, 4, TimestepSpacing::trailing) == V{9, 7, 4, 1});
  // linspace: round(linspace(0, T - 1, n)), reversed (499.5 -> 500, 249.75 -> 250, 749.25 -> 749).
  CHECK(timesteps_of(1000, 10, TimestepSpacing::linspace) == V{999, 888, 777, 666, 555, 444, 333, 222, 111, 0});
  CHECK(timesteps_of(1000, 5, TimestepSpacing::linspace) == V{999, 749, 500, 250, 0});
  CHECK(timesteps_of(1000, 3, TimestepSpacing::linspace) == V{999, 500, 0});
  // Every step: T-1, ..., 0, also the state before any set_timesteps.
  NoiseSchedule<float> s({.num_train_timesteps = 5});
  CHECK(s.timesteps() == V{4, 3, 2, 1, 0});
  CHECK(timesteps_of(5, 5, TimestepSpacing::leading) == V{4, 3, 2, 1, 0});
  CHECK(timesteps_of(5, 5, TimestepSpacing::trailing) == V{4, 3, 2, 1, 0});
  // The previous timestep comes from the array.
  NoiseSchedule<float> s2({.num_train_timesteps = 1000});
  s2.set_timesteps(3, TimestepSpacing::trailing);
  CHECK(s2.previous_timestep(999) == 666);
  CHECK(s2.previous_timestep(666) == 332);
  CHECK(s2.previous_timestep(332) == -1);
  CHECK_THROWS_WITH(s2.previous_timestep(500), Contains("not in the timesteps array"));
  CHECK_THROWS_WITH(s2.set_timesteps(0), Contains("[1, 1000]"));
  CHECK_THROWS_WITH(s2.set_timesteps(1001), Contains("[1, 1000]"));
}

TEST_CASE("NoiseSchedule: zero terminal SNR is refused with epsilon prediction", "[models][diffusion]") {
  CHECK_THROWS_WITH(NoiseSchedule<float>({.num_train_timesteps = 100, .rescale_betas_zero_snr = true}),
                    Contains("zero terminal SNR"));
  std::vector<double> betas(10, 0.1);
  betas.back() = 1.0;  // alpha_bar_T = 0
  CHECK_THROWS_WITH(NoiseSchedule<float>(betas, {}), Contains("zero terminal SNR"));
  // v prediction is fine; the rescale keeps alpha_bar_0 and ends at exactly 0.
  NoiseSchedule<float> v({.num_train_timesteps = 100,
                          .prediction_type = models::PredictionType::v_prediction,
                          .rescale_betas_zero_snr = true});
  CHECK(v.alphas_cumprod().back() == Approx(0.0).margin(1e-20));
  NoiseSchedule<float> plain({.num_train_timesteps = 100});
  CHECK(v.alphas_cumprod()[0] == Approx(plain.alphas_cumprod()[0]).epsilon(1e-12));
  CHECK(NoiseSchedule<float>(betas, {.prediction_type = models::PredictionType::v_prediction}).betas().back() == 1.0);
  betas.back() = 0;
  CHECK_THROWS_WITH(NoiseSchedule<float>(betas, {}), Contains("must lie in (0, 1]"));
}

TEST_CASE("NoiseSchedule::add_noise and training_target per example", "[models][diffusion]") {
  gm::Generator g(3);
  const auto x0 = gm::randn<double>({3, 2, 2}, g), noise = gm::randn<double>({3, 2, 2}, g);
  const auto t = gm::tensor<int64_t>({0, 499, 999});
  for (auto pred : {models::PredictionType::epsilon, models::PredictionType::v_prediction}) {
    NoiseSchedule<double> s({.num_train_timesteps = 1000, .prediction_type = pred});
    const auto xt = s.add_noise(x0, noise, t);
    const auto target = s.training_target(x0, noise, t);
    for (int64_t b = 0; b < 3; ++b) {
      const double ab = s.alphas_cumprod()[t.data()[b]];
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t i = b * 4 + j;
        CHECK(xt.data()[i] == Approx(std::sqrt(ab) * x0.data()[i] + std::sqrt(1 - ab) * noise.data()[i]));
        const double want = pred == models::PredictionType::epsilon
                                ? noise.data()[i]
                                : std::sqrt(ab) * noise.data()[i] - std::sqrt(1 - ab) * x0.data()[i];
        CHECK(target.data()[i] == Approx(want));
      }
      // The x0 prediction from the true target gives x0 back.
      const auto xb = gm::narrow(xt, 0, b, 1), tb = gm::narrow(target, 0, b, 1);
      CHECK(max_abs_diff(s.predict_x0(tb, t.data()[b], xb), gm::narrow(x0, 0, b, 1)) < 1e-9);
    }
  }
  NoiseSchedule<double> s({.num_train_timesteps = 1000});
  CHECK_THROWS_WITH(s.add_noise(x0, noise, gm::tensor<int64_t>({0, 1})), Contains("t must be (3)"));
  CHECK_THROWS_WITH(s.add_noise(x0, noise, gm::tensor<int64_t>({0, 1, 1000})), Contains("outside [0, 1000)"));
}

TEMPLATE_TEST_CASE("NoiseSchedule: DDIM (any eta) and DDPM land on the one data point with its exact denoiser",
                   "[models][diffusion]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-10;
  gm::Generator g(11);
  const auto x0 = gm::mul(gm::randn<T>({4, 3}, g), T(0.5));
  for (auto pred : {models::PredictionType::epsilon, models::PredictionType::v_prediction}) {
    for (auto spacing : {TimestepSpacing::leading, TimestepSpacing::trailing}) {
      INFO("prediction " << int(pred) << " spacing " << int(spacing));
      NoiseSchedule<T> s({.num_train_timesteps = 1000, .prediction_type = pred});
      s.set_timesteps(50, spacing);
      for (double eta : {0.0, 1.0}) {
        gm::Generator sg(5);
        auto x = gm::randn<T>({4, 3}, sg);
        for (int64_t t : s.timesteps()) x = s.ddim_step(oracle(s, x, t, x0), t, x, eta, sg);
        CHECK(max_abs_diff(x, x0) < tol);
      }
    }
    NoiseSchedule<T> s({.num_train_timesteps = 1000, .prediction_type = pred});  // all 1000 steps
    gm::Generator sg(6);
    auto x = gm::randn<T>({4, 3}, sg);
    for (int64_t t : s.timesteps()) x = s.ddpm_step(oracle(s, x, t, x0), t, x, sg);
    CHECK(max_abs_diff(x, x0) < tol);
  }
}

TEMPLATE_TEST_CASE("NoiseSchedule: DDIM inversion then DDIM returns the start", "[models][diffusion]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-10;
  gm::Generator g(21);
  const auto x0 = gm::mul(gm::randn<T>({2, 5}, g), T(0.5));
  NoiseSchedule<T> s({.num_train_timesteps = 1000});
  s.set_timesteps(20, TimestepSpacing::trailing);  // 999, 949, ..., 49
  const auto& ts = s.timesteps();
  const int64_t last = ts.back();
  REQUIRE(last == 49);
  // A start on the data's noise level at the last timestep.
  const double ab = s.alphas_cumprod()[last];
  const auto start = gm::add(gm::mul(x0, T(std::sqrt(ab))), gm::mul(gm::randn<T>({2, 5}, g), T(std::sqrt(1 - ab))));
  auto x = start;
  for (size_t i = ts.size() - 1; i >= 1; --i) x = s.ddim_inverse_step(oracle(s, x, ts[i], x0), ts[i], x);
  // x is now at ts[0] = 999: noise-dominated, far from the start.
  CHECK(max_abs_diff(x, start) > 0.1);
  for (size_t i = 0; i + 1 < ts.size(); ++i) x = s.ddim_step(oracle(s, x, ts[i], x0), ts[i], x);
  CHECK(max_abs_diff(x, start) < tol);
  CHECK_THROWS_WITH(s.ddim_inverse_step(x, 999, x), Contains("first timestep"));
}

TEST_CASE("NoiseSchedule: DDPM and DDIM(eta = 1) steps keep the marginals N(sqrt(abar) x0, 1 - abar)",
          "[models][diffusion]") {
  // One data point x0 = 0.7: every step's output must have mean sqrt(abar_prev) x0 and variance 1 - abar_prev.
  gmtest::ThreadCount one(1);
  const int64_t n = 20000;
  const auto x0 = gm::full<double>({n}, 0.7);
  NoiseSchedule<double> s({.num_train_timesteps = 100, .beta_schedule = models::BetaSchedule::cosine});
  auto check_marginal = [&](const gm::Tensor<double>& x, int64_t t) {
    const double ab = s.alphas_cumprod()[t];
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; ++i) m += x.data()[i];
    m /= n;
    for (int64_t i = 0; i < n; ++i) v += (x.data()[i] - m) * (x.data()[i] - m);
    v /= n - 1;
    INFO("t = " << t);
    CHECK(m == Approx(std::sqrt(ab) * 0.7).margin(0.03));
    CHECK(v == Approx(1 - ab).epsilon(0.05));
  };
  gm::Generator g(8);
  auto x = gm::randn<double>({n}, g);
  for (int64_t t : s.timesteps()) {
    x = s.ddpm_step(oracle(s, x, t, x0), t, x, g);
    if (t == 70 || t == 30 || t == 5) check_marginal(x, t - 1);
  }
  s.set_timesteps(10, TimestepSpacing::leading);  // 90, 80, ..., 0
  x = gm::randn<double>({n}, g);
  x = gm::add(gm::mul(x, std::sqrt(1 - s.alphas_cumprod()[90])), std::sqrt(s.alphas_cumprod()[90]) * 0.7);
  for (int64_t t : s.timesteps()) {
    x = s.ddim_step(oracle(s, x, t, x0), t, x, 1.0, g);
    if (t == 60 || t == 20) check_marginal(x, t - 10);
  }
}

namespace {

/// A small denoiser for 2-D points: the time embedding (sinusoidal, t scaled to 0..1000, through a
/// linear layer) [plus a class embedding] is added to the first layer's features, then an MLP.
class PointDenoiser : public nn::Module<float> {
 public:
  PointDenoiser(int64_t num_classes, int64_t num_timesteps, gm::Generator& g)
      : nn::Module<float>("PointDenoiser"), t_scale_(1000.0 / double(num_timesteps)) {
    if (num_classes > 0) embed = register_module("embed", std::make_shared<nn::Embedding<float>>(num_classes + 1, 128, g));
    lx = register_module("lx", std::make_shared<nn::Linear<float>>(2, 128, true, g));
    lt = register_module("lt", std::make_shared<nn::Linear<float>>(32, 128, true, g));
    l2 = register_module("l2", std::make_shared<nn::Linear<float>>(128, 128, true, g));
    lo = register_module("lo", std::make_shared<nn::Linear<float>>(128, 2, true, g));
  }
  gm::Tensor<float> forward(const gm::Tensor<float>& x, const gm::Tensor<int64_t>& t) { return forward(x, t, {}); }
  gm::Tensor<float> forward(const gm::Tensor<float>& x, const gm::Tensor<int64_t>& t, const gm::Tensor<int64_t>& y) {
    auto c = lt->forward(nn::timestep_embedding(t.to<float>(), 32, {.scale = t_scale_}));
    if (embed) c = gm::add(c, embed->forward(y));
    auto h = gm::silu(gm::add(lx->forward(x), c));
    return lo->forward(gm::silu(l2->forward(h)));
  }
  std::shared_ptr<nn::Linear<float>> lx, lt, l2, lo;
  std::shared_ptr<nn::Embedding<float>> embed;

 private:
  double t_scale_;
};

/// Trains with Adam (lr 5e-3, cosine decay to 0) on batches of 128 from the k-mode mixture.
template <class Model>
std::pair<double, double> train(Model& ddpm, nn::Module<float>& net, int steps, int k, bool labels, uint64_t seed);

// Four modes on the unit circle (1.41 apart), std 0.06; "near" is within 5 std.
constexpr int kModes = 4;
constexpr double kRadius = 1.0, kStd = 0.06, kNear = 5 * kStd;

std::vector<std::array<double, 2>> modes(int k) {
  std::vector<std::array<double, 2>> m;
  for (int i = 0; i < k; ++i)
    m.push_back({kRadius * std::cos(2 * std::numbers::pi * i / k), kRadius * std::sin(2 * std::numbers::pi * i / k)});
  return m;
}

/// A batch from the mixture: points (B, 2) and their mode (B).
std::pair<gm::Tensor<float>, gm::Tensor<int64_t>> mixture_batch(int64_t b, int k, gm::Generator& g) {
  const auto m = modes(k);
  const auto which = gm::randint<int64_t>(0, k, {b}, g);
  auto x = gm::randn<float>({b, 2}, g, 0.0f, float(kStd));
  for (int64_t i = 0; i < b; ++i) {
    x.data()[2 * i] += float(m[which.data()[i]][0]);
    x.data()[2 * i + 1] += float(m[which.data()[i]][1]);
  }
  return {x, which};
}

struct Coverage {
  std::vector<double> share;  // of samples nearest each mode
  double near = 0;            // fraction within kNear of its nearest mode
};

Coverage coverage(const gm::Tensor<float>& x, int k) {
  const auto m = modes(k);
  Coverage c;
  c.share.assign(k, 0.0);
  const int64_t n = x.size(0);
  for (int64_t i = 0; i < n; ++i) {
    int best = 0;
    double bd = 1e30;
    for (int j = 0; j < k; ++j) {
      const double dx = x.data()[2 * i] - m[j][0], dy = x.data()[2 * i + 1] - m[j][1];
      const double d = std::sqrt(dx * dx + dy * dy);
      if (d < bd) bd = d, best = j;
    }
    c.share[best] += 1.0 / n;
    if (bd < kNear) c.near += 1.0 / n;
  }
  return c;
}

template <class Model>
std::pair<double, double> train(Model& ddpm, nn::Module<float>& net, int steps, int k, bool labels, uint64_t seed) {
  const double lr = 5e-3;
  gm::optim::Adam<float> opt(net.parameters(), {.lr = lr});
  gm::Generator data(seed);
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    opt.set_lr(0, lr * 0.5 * (1 + std::cos(std::numbers::pi * step / steps)));
    auto [x, y] = mixture_batch(128, k, data);
    const double l = labels ? ddpm.train_step(x, opt, y) : ddpm.train_step(x, opt);
    if (step < 50) first += l / 50;
    if (step >= steps - 50) last += l / 50;
  }
  return {first, last};
}

}  // namespace

TEST_CASE("DDPM: a tiny model on 4 Gaussians samples every mode (DDPM and DDIM), deterministically",
          "[models][diffusion]") {
  // A sampler that ignored the data (N(0, I)) would put about 11% of its points within
  // kNear of a mode; one that collapsed would leave modes empty; the data itself puts
  // all but 4e-6 there. Bounds: >= 80% near a mode, every mode >= 10% (a fair share is 25%).
  gmtest::ThreadCount one(1);  // tiny matrices: threads only add waiting on a shared machine
  const int64_t T = 100;
  gm::Generator g(2024);
  auto net = std::make_shared<PointDenoiser>(0, T, g);
  models::DDPM ddpm(net, NoiseSchedule<float>({.num_train_timesteps = T, .beta_schedule = models::BetaSchedule::cosine}),
                    {.ema_decay = 0.99, .seed = 1});
  const auto [first, last] = train(ddpm, *net, 1000, kModes, false, 7);
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.7 * first);
  CHECK(ddpm.steps() == 1000);

  const auto live = net->parameters()[0].clone_data();
  std::vector<int64_t> seen;
  auto a = ddpm.sample_ddpm({1000, 2}, 42, {.progress = [&](int64_t i, int64_t n, int64_t t) {
                              CHECK(n == T);
                              CHECK(i == int64_t(seen.size()));
                              seen.push_back(t);
                            }});
  REQUIRE(seen.size() == size_t(T));
  CHECK(seen.front() == T - 1);
  CHECK(seen.back() == 0);
  // The live weights and the training mode are back after sampling with the EMA ones,
  // and the EMA weights differ from the live ones.
  CHECK(max_abs_diff(net->parameters()[0], live) == 0);
  CHECK(max_abs_diff(ddpm.ema().shadow()[0], live) > 0);
  CHECK(net->is_training());

  for (const auto& [name, x] : {std::pair<const char*, gm::Tensor<float>>{"DDPM", a},
                                {"DDIM", ddpm.sample_ddim({1000, 2}, 50, 43, {.eta = 0.0})}}) {
    const auto cov = coverage(x, kModes);
    INFO(name << ": near " << cov.near);
    CHECK(cov.near >= 0.8);
    for (int j = 0; j < kModes; ++j) {
      INFO("mode " << j << " share " << cov.share[j]);
      CHECK(cov.share[j] >= 0.1);
    }
  }
  CHECK(max_abs_diff(a, ddpm.sample_ddpm({1000, 2}, 42)) == 0);
  const auto d = ddpm.sample_ddim({200, 2}, 25, 43);
  CHECK(max_abs_diff(d, ddpm.sample_ddim({200, 2}, 25, 43)) == 0);
  CHECK(max_abs_diff(d, ddpm.sample_ddim({200, 2}, 25, 44)) > 0.1);
  CHECK(max_abs_diff(d, ddpm.sample_ddim({200, 2}, 25, 43, {.use_ema = false})) > 0);
}

TEST_CASE("DDPM: class-conditional with classifier-free guidance puts samples on the asked mode",
          "[models][diffusion]") {
  // The label is the mode. Samples of class k must lie near mode k: an unconditional
  // sampler would manage at most 25%.
  gmtest::ThreadCount one(1);
  const int64_t T = 100;
  gm::Generator g(99);
  auto net = std::make_shared<PointDenoiser>(kModes, T, g);
  models::DDPM ddpm(net, NoiseSchedule<float>({.num_train_timesteps = T, .beta_schedule = models::BetaSchedule::cosine}),
                    {.num_classes = kModes, .ema_decay = 0.99, .seed = 2});
  train(ddpm, *net, 600, kModes, true, 8);
  const int64_t n = 400;
  auto labels = gm::Tensor<int64_t>::empty({n});
  for (int64_t i = 0; i < n; ++i) labels.data()[i] = i % kModes;
  const auto m = modes(kModes);
  for (double scale : {1.0, 3.0}) {
    auto x = ddpm.sample_ddim({n, 2}, 25, 5, {.labels = labels, .guidance_scale = scale});
    double right = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto& c = m[labels.data()[i]];
      const double dx = x.data()[2 * i] - c[0], dy = x.data()[2 * i + 1] - c[1];
      if (std::sqrt(dx * dx + dy * dy) < kNear) right += 1.0 / n;
    }
    INFO("guidance " << scale << ": " << right << " on the asked mode");
    CHECK(right >= 0.8);
  }
  // Sampling without labels (the null label, learnt from the 10% dropped) still covers the modes.
  const auto cov = coverage(ddpm.sample_ddim({n, 2}, 25, 6), kModes);
  for (int j = 0; j < kModes; ++j) {
    INFO("mode " << j << " share " << cov.share[j]);
    CHECK(cov.share[j] >= 0.1);
  }

  CHECK_THROWS_WITH(ddpm.sample_ddim({n, 2}, 25, 5, {.labels = gm::full<int64_t>({n}, 5)}), Contains("outside [0, 5)"));
  CHECK_THROWS_WITH(ddpm.loss(gm::zeros<float>({2, 2}), gm::full<int64_t>({2}, 4)), Contains("outside [0, 4)"));
  auto plain = std::make_shared<PointDenoiser>(0, 10, g);
  models::DDPM unconditional(plain, NoiseSchedule<float>({.num_train_timesteps = 10}));
  CHECK_THROWS_WITH(unconditional.loss(gm::zeros<float>({2, 2}), gm::full<int64_t>({2}, 1)),
                    Contains("unconditional"));
}
