// GAN<G, D, Loss>: a tiny GAN on a 2-D mixture of Gaussians learns to cover
// every mode under each loss policy; the WGAN-GP penalty's weight gradient
// through a convolutional critic matches finite differences; the ready
// architectures have PyTorch's parameter names and counts; sampling is
// seeded; misuse is reported.
#include <array>
#include <cmath>

#include "genmodel/genmodel.hpp"
#include "gradcheck.hpp"
#include "test_util.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
namespace models = genmodel::models;
using Tensor = gm::Tensor<float>;
using Net = nn::Sequential<float>;

namespace {

constexpr int kModes = 4;
constexpr float kRadius = 2.0f, kModeStd = 0.1f;

std::array<float, 2> mode_center(int k) {
  const double a = 2 * M_PI * k / kModes;
  return {float(kRadius * std::cos(a)), float(kRadius * std::sin(a))};
}

/// n points from the mixture: mode k(i) = i % kModes, plus N(0, kModeStd^2) noise.
Tensor mixture_batch(int64_t n, gm::Generator& gen) {
  auto x = gm::randn<float>({n, 2}, gen, 0.0f, kModeStd);
  for (int64_t i = 0; i < n; ++i) {
    const auto c = mode_center(int(i % kModes));
    x.at(i, 0) += c[0];
    x.at(i, 1) += c[1];
  }
  return x;
}

std::shared_ptr<Net> mlp(int64_t in, int64_t out, gm::Generator& gen) {
  auto m = std::make_shared<Net>();
  m->emplace_back<nn::Linear<float>>(in, 64, true, gen);
  m->emplace_back<nn::LeakyReLU<float>>(0.2);
  m->emplace_back<nn::Linear<float>>(64, 64, true, gen);
  m->emplace_back<nn::LeakyReLU<float>>(0.2);
  m->emplace_back<nn::Linear<float>>(64, out, true, gen);
  return m;
}

struct Coverage {
  std::array<int, kModes> per_mode{};
  int near = 0;  // samples within 4 std of their nearest mode
  int n = 0;
};

Coverage coverage(const Tensor& samples) {
  Coverage c;
  c.n = int(samples.size(0));
  for (int64_t i = 0; i < samples.size(0); ++i) {
    int best = 0;
    double best_d = 1e30;
    for (int k = 0; k < kModes; ++k) {
      const auto m = mode_center(k);
      const double d = std::hypot(samples.at(i, 0) - m[0], samples.at(i, 1) - m[1]);
      if (d < best_d) best_d = d, best = k;
    }
    if (best_d < 4 * kModeStd) {
      ++c.near;
      ++c.per_mode[std::size_t(best)];
    }
  }
  return c;
}

/// Adam 1e-3 with beta1 = 0 for both networks; the non-Wasserstein losses
/// with R1 (gamma 1), which keeps their discriminators from oscillating into
/// mode collapse here (Mescheder et al., 2018, study exactly this setting);
/// WGAN-GP with its own penalty and 5 critic updates.
template <class Loss>
Coverage train_mixture_gan(int steps, uint64_t seed) {
  gm::Generator init(seed), data(seed + 1);
  models::GanOptions opts = models::gan_defaults<Loss>();
  opts.z_dim = 8;
  opts.seed = seed + 2;
  opts.opt_g.lr = opts.opt_d.lr = 1e-3;
  opts.opt_g.betas[0] = opts.opt_d.betas[0] = 0.0;
  if (opts.gp_lambda == 0) opts.r1_gamma = 1.0;
  models::GAN<Net, Net, Loss> gan(mlp(8, 2, init), mlp(2, 1, init), opts);
  for (int s = 0; s < steps; ++s) {
    const auto m = gan.train_step(mixture_batch(128, data));
    REQUIRE(std::isfinite(m.loss_d));
    REQUIRE(std::isfinite(m.loss_g));
  }
  return coverage(gan.sample(2000, 7));
}

}  // namespace

// Chance would put an untrained generator's samples near no mode (they sit
// around the origin); a collapsed one covers one or two. Each mode holds a
// quarter of the data, so a fair generator gives each about 25%.
TEMPLATE_TEST_CASE("a tiny GAN covers the modes of a 2-D Gaussian mixture", "[models][gan]", gm::losses::NonSaturating,
                   gm::losses::LeastSquares, gm::losses::Hinge, gm::losses::WassersteinGP) {
  gmtest::ThreadCount one(1);
  const int steps = std::is_same_v<TestType, gm::losses::WassersteinGP> ? 1000 : 1500;
  const Coverage c = train_mixture_gan<TestType>(steps, 1);
  INFO("near a mode: " << c.near << " of " << c.n << "; per mode " << c.per_mode[0] << ", " << c.per_mode[1] << ", "
                       << c.per_mode[2] << ", " << c.per_mode[3]);
  CHECK(c.near >= c.n * 6 / 10);
  for (int k = 0; k < kModes; ++k) CHECK(c.per_mode[std::size_t(k)] >= c.n / 10);
}

TEST_CASE("an untrained generator covers no mode (the coverage check can fail)", "[models][gan]") {
  gm::Generator init(1);
  models::GanOptions opts;
  opts.z_dim = 8;
  models::GAN<Net, Net> gan(mlp(8, 2, init), mlp(2, 1, init), opts);
  const Coverage c = coverage(gan.sample(2000, 7));
  CHECK(c.near < c.n / 10);
}

TEST_CASE("WGAN-GP's penalty reaches a conv critic's weights (finite differences, double)", "[models][gan][gradcheck]") {
  using TensorD = gm::Tensor<double>;
  gm::Generator data(5);
  const auto real = gm::randn<double>({3, 1, 6, 6}, data), fake = gm::randn<double>({3, 1, 6, 6}, data);
  const auto w_conv = gm::mul(gm::randn<double>({4, 1, 4, 4}, data), 0.5);
  const auto b_conv = gm::mul(gm::randn<double>({4}, data), 0.1);
  const auto w_lin = gm::mul(gm::randn<double>({1, 4 * 3 * 3}, data), 0.3);
  // The DCGAN critic in miniature: conv k4 s2 p1 -> LeakyReLU(0.2) -> flatten -> linear.
  gmtest::check_first_order("gradient_penalty (conv critic)", [&](const std::vector<TensorD>& w) {
    auto critic = [&](const TensorD& x) {
      return gm::linear(gm::flatten(gm::leaky_relu(gm::conv2d(x, w[0], w[1], 2, 1), 0.2), 1), w[2]);
    };
    gm::Generator gen(9);  // the same interpolates on every evaluation
    return gm::losses::gradient_penalty(critic, real, fake, gen, 10.0);
  }, {w_conv, b_conv, w_lin});
}

TEST_CASE("the ready GAN architectures: shapes, PyTorch names and parameter counts", "[models][gan]") {
  gm::Generator gen(0);
  const auto z = gm::randn<float>({2, 100}, gen);
  auto labels = gm::tensor<int64_t>({3, 7}, {2});

  auto mlp_g = models::make_mlp_generator<float>(100, gen);
  auto mlp_d = models::make_mlp_discriminator<float>(gen);
  CHECK(mlp_g->forward(z).shape() == gm::Shape{2, 1, 28, 28});
  CHECK(mlp_d->forward(mlp_g->forward(z)).shape() == gm::Shape{2, 1});
  // (100*256 + 256) + (256*512 + 512) + (512*784 + 784), and the mirror.
  CHECK(mlp_g->num_parameters() == 25856 + 131584 + 402192);
  CHECK(mlp_d->num_parameters() == 401920 + 131328 + 257);
  CHECK(mlp_g->state_dict().keys() ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});

  auto g = models::make_dcgan_generator<float>(100, gen);
  auto d = models::make_dcgan_discriminator<float>(gen);
  auto critic = models::make_dcgan_critic<float>(gen);
  const auto x = g->forward(z);
  CHECK(x.shape() == gm::Shape{2, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(std::abs(x.data()[i]) <= 1.0f);
  CHECK(d->forward(x).shape() == gm::Shape{2, 1});
  CHECK(critic->forward(x).shape() == gm::Shape{2, 1});
  // G: 100*6272 + BN1d 2*6272 + 128*64*16 + BN2d 2*64 + 64*1*16 + 1.
  CHECK(g->num_parameters() == 627200 + 12544 + 131072 + 128 + 1024 + 1);
  // D: (16*64 + 64) + 64*128*16 + BN 2*128 + (6272 + 1); the critic has a conv bias instead of BN.
  CHECK(d->num_parameters() == 1088 + 131072 + 256 + 6273);
  CHECK(critic->num_parameters() == 1088 + 131072 + 128 + 6273);
  const auto keys = d->state_dict().keys();
  CHECK(std::find(keys.begin(), keys.end(), "3.running_var") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "6.weight") != keys.end());

  // DCGAN init: conv weights N(0, 0.02), BN scales N(1, 0.02), biases 0.
  const auto sd = g->state_dict();
  const auto& w = sd.at("4.weight");
  CHECK(gm::mean(w).item() == Approx(0.0).margin(0.002));
  CHECK(std::sqrt(gm::var(gm::flatten(w), {0}).item()) == Approx(0.02).epsilon(0.05));
  CHECK(gm::mean(sd.at("1.weight")).item() == Approx(1.0).margin(0.002));
  CHECK(gm::max(gm::abs(sd.at("7.bias"))).item() == 0.0f);

  models::ConditionalGenerator<float> cg(100, 10, 50, gen);
  models::ProjectionDiscriminator<float> pd(10, gen);
  const auto cx = cg.forward(z, labels);
  CHECK(cx.shape() == gm::Shape{2, 1, 28, 28});
  CHECK(pd.forward(cx, labels).shape() == gm::Shape{2, 1});
  CHECK(cg.state_dict().keys().front() == "embed.weight");
  CHECK(pd.state_dict().contains("linear.weight"));
  CHECK(pd.state_dict().at("embed.weight").shape() == gm::Shape{10, 6272});
  CHECK_THROWS_WITH(pd.forward(cx, gm::tensor<int64_t>({1, 2, 3}, {3})),
                    Catch::Contains("ProjectionDiscriminator") && Catch::Contains("labels"));
}

TEST_CASE("GAN sampling is seeded and leaves the training mode alone; misuse is reported", "[models][gan]") {
  gm::Generator init(4);
  models::GAN<Net, Net> gan(models::make_dcgan_generator<float>(100, init), models::make_dcgan_discriminator<float>(init));
  const auto a = gan.sample(3, 11), b = gan.sample(3, 11), c = gan.sample(3, 12);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());
  CHECK(gan.generator().is_training());
  CHECK_FALSE(a.requires_grad());

  // One step changes both networks and reports D's view of both batches.
  gm::Generator data(5);
  const auto real = gm::rand<float>({8, 1, 28, 28}, data, -1.0f, 1.0f);
  const auto g_before = gan.generator().state_dict().at("0.weight").clone_data();
  const auto d_before = gan.discriminator().state_dict().at("6.weight").clone_data();
  const auto m = gan.train_step(real);
  CHECK(gan.generator().state_dict().at("0.weight").to_vector() != g_before.to_vector());
  CHECK(gan.discriminator().state_dict().at("6.weight").to_vector() != d_before.to_vector());
  CHECK(m.d_real > 0.0);
  CHECK(m.d_real < 1.0);
  CHECK(m.loss_d > 0.0);
  CHECK(m.penalty == 0.0);

  CHECK_THROWS_WITH(gan.train_step(gm::zeros<float>({8, 1, 14, 14})),
                    Catch::Contains("Conv2d") || Catch::Contains("GAN"));
  CHECK_THROWS_WITH(gan.sample(0, 1), Catch::Contains("GAN::sample") && Catch::Contains("positive"));
  CHECK_THROWS_WITH((models::GAN<Net, Net>(nullptr, models::make_dcgan_discriminator<float>(init))),
                    Catch::Contains("generator is null"));
  models::GanOptions bad;
  bad.n_critic = 0;
  CHECK_THROWS_WITH((models::GAN<Net, Net>(models::make_mlp_generator<float>(100, init),
                                           models::make_mlp_discriminator<float>(init), bad)),
                    Catch::Contains("n_critic"));

  using CGan = models::GAN<models::ConditionalGenerator<float>, models::ProjectionDiscriminator<float>>;
  CGan cgan(std::make_shared<models::ConditionalGenerator<float>>(100, 10, 50, init),
            std::make_shared<models::ProjectionDiscriminator<float>>(10, init));
  const auto labels = gm::tensor<int64_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
  CHECK(cgan.sample(labels, 3).shape() == gm::Shape{8, 1, 28, 28});
  CHECK_THROWS_WITH(cgan.train_step(real), Catch::Contains("needs labels"));
  CHECK(std::isfinite(cgan.train_step(real, labels).loss_g));
}

TEST_CASE("an R1 penalty is added to the discriminator loss and reported", "[models][gan]") {
  gm::Generator init(6), data(7);
  models::GanOptions opts;
  opts.r1_gamma = 10;
  models::GAN<Net, Net, gm::losses::Hinge> gan(models::make_mlp_generator<float>(100, init),
                                                models::make_mlp_discriminator<float>(init), opts);
  const auto m = gan.train_step(gm::rand<float>({4, 1, 28, 28}, data, -1.0f, 1.0f));
  CHECK(m.penalty > 0.0);
  CHECK(std::isfinite(m.loss_d));
}
