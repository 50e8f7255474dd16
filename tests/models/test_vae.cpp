// VAE<>: the ELBO pieces against sums written out here (the KL to N(0, I) in
// closed form, BCE in its probability form, squared error), the
// reparameterisation z = mu + exp(logvar / 2) eps with eps replayed from the
// seed, its statistics and its gradient (against finite differences with
// eps held fixed), the ready architectures' shapes and names, conditional
// use, sampling, and a small VAE on Fashion-MNIST whose reconstruction loss
// must fall well below that of predicting the mean image.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "genmodel/data/fashion_mnist.hpp"
#include "genmodel/genmodel.hpp"
#include "genmodel/models/vae.hpp"
#include "genmodel/models/vae_architectures.hpp"
#include "test_util.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
namespace models = genmodel::models;
using Catch::Contains;
using TensorD = gm::Tensor<double>;

namespace {

/// An encoder whose output [mu | logvar] is a parameter, whatever the input (batch B).
class FixedEncoder : public nn::Module<double> {
 public:
  explicit FixedEncoder(TensorD value) : nn::Module<double>("FixedEncoder") { out = register_parameter("out", value); }
  TensorD forward(const TensorD&) { return out; }
  TensorD out;
};

double softplus(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }
double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

}  // namespace

TEST_CASE("VAE: KL in closed form, BCE and MSE reconstruction, total = rec + beta KL, per example", "[models][vae]") {
  gm::Generator g(1);
  const int64_t B = 3, L = 2;
  auto out = gm::randn<double>({B, 2 * L}, g);
  auto x = gm::rand<double>({B, 5}, g);
  for (double beta : {1.0, 0.25}) {
    auto enc = std::make_shared<FixedEncoder>(out.clone_data());
    auto dec = std::make_shared<nn::Linear<double>>(L, 5, true, g);
    models::VAE<FixedEncoder, nn::Linear<double>> vae(enc, dec, L, {.beta = beta, .seed = 77});
    auto f = vae.forward(x);
    // z = mu + exp(logvar / 2) eps, eps the first normals of Generator(seed).
    gm::Generator replay(77);
    const auto eps = gm::randn<double>({B, L}, replay);
    double kl = 0, rec = 0;
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t l = 0; l < L; ++l) {
        const double mu = out.at(b, l), lv = out.at(b, L + l);
        CHECK(f.mu.at(b, l) == mu);
        CHECK(f.logvar.at(b, l) == lv);
        CHECK(f.z.at(b, l) == Approx(mu + std::exp(lv / 2) * eps.at(b, l)).epsilon(1e-14));
        kl += 0.5 * (mu * mu + std::exp(lv) - 1 - lv);  // KL(N(mu, e^lv) || N(0, 1))
      }
      for (int64_t j = 0; j < 5; ++j) {
        const double p = sigmoid(f.output.at(b, j)), t = x.at(b, j);
        rec += -(t * std::log(p) + (1 - t) * std::log(1 - p));
      }
    }
    kl /= B;
    rec /= B;
    auto l = vae.loss(f, x);
    CHECK(l.kl.item() == Approx(kl).epsilon(1e-12));
    CHECK(l.reconstruction.item() == Approx(rec).epsilon(1e-10));
    CHECK(l.total.item() == Approx(rec + beta * kl).epsilon(1e-10));
  }
  // The squared-error policy: sum over pixels of (out - x)^2, averaged per example.
  auto enc = std::make_shared<FixedEncoder>(out.clone_data());
  auto dec = std::make_shared<nn::Linear<double>>(L, 5, true, g);
  models::VAE<FixedEncoder, nn::Linear<double>, models::MseReconstruction> vae(enc, dec, L);
  auto f = vae.forward(x);
  double se = 0;
  for (int64_t i = 0; i < x.numel(); ++i) se += std::pow(f.output.data()[i] - x.data()[i], 2);
  CHECK(vae.loss(f, x).reconstruction.item() == Approx(se / B).epsilon(1e-12));
  CHECK_THROWS_WITH(vae.loss(f, gm::zeros<double>({B, 4})), Contains("must have the input's shape"));
}

TEST_CASE("VAE: reparameterised samples have mean mu and std exp(logvar / 2)", "[models][vae]") {
  const int64_t B = 20000;
  auto out = TensorD::empty({B, 2});
  for (int64_t b = 0; b < B; ++b) out.at(b, 0) = 1.5, out.at(b, 1) = std::log(0.25);  // std 0.5
  models::VAE<FixedEncoder, nn::Linear<double>> vae(std::make_shared<FixedEncoder>(out),
                                                     std::make_shared<nn::Linear<double>>(1, 1), 1);
  auto f = vae.forward(gm::zeros<double>({B, 1}));
  double m = 0, v = 0;
  for (int64_t b = 0; b < B; ++b) m += f.z.data()[b] / B;
  for (int64_t b = 0; b < B; ++b) v += std::pow(f.z.data()[b] - m, 2) / (B - 1);
  CHECK(m == Approx(1.5).margin(0.02));       // 5 standard errors: 5 * 0.5 / sqrt(B)
  CHECK(std::sqrt(v) == Approx(0.5).margin(0.013));
  // The stream moves on: a second forward draws new eps.
  CHECK(vae.forward(gm::zeros<double>({B, 1})).z.at(0, 0) != f.z.at(0, 0));
}

TEST_CASE("VAE: the reconstruction gradient reaches mu and logvar through z (finite differences, eps fixed)",
          "[models][vae]") {
  gm::Generator g(5);
  const int64_t B = 2, L = 3;
  auto enc = std::make_shared<FixedEncoder>(gm::mul(gm::randn<double>({B, 2 * L}, g), 0.5));
  auto dec = std::make_shared<nn::Linear<double>>(L, 4, true, g);
  const auto x = gm::rand<double>({B, 4}, g);
  // beta = 0: only the reconstruction term, whose only path to logvar is through z.
  models::VAE<FixedEncoder, nn::Linear<double>> vae(enc, dec, L, {.beta = 0, .seed = 3});
  auto loss_at = [&]() {
    vae.generator().set_offset(0);  // the same eps every time
    return vae.loss(x).total;
  };
  enc->zero_grad();
  loss_at().backward();
  const auto grad = enc->out.grad().clone_data();
  double logvar_grad = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l) logvar_grad += std::abs(grad.at(b, L + l));
  CHECK(logvar_grad > 1e-6);
  const double h = 1e-6;
  for (int64_t i = 0; i < grad.numel(); ++i) {
    double& v = enc->out.data()[i];
    const double saved = v;
    v = saved + h;
    const double up = loss_at().item();
    v = saved - h;
    const double down = loss_at().item();
    v = saved;
    INFO("element " << i);
    CHECK(grad.data()[i] == Approx((up - down) / (2 * h)).epsilon(1e-6).margin(1e-9));
  }
}

TEST_CASE("VAE architectures: MLP and convolutional pairs, plain and conditional", "[models][vae]") {
  gm::Generator g(6);
  auto x = gm::rand<float>({3, 1, 28, 28}, g);
  auto y = gm::tensor<int64_t>({0, 4, 9});
  {
    auto vae = models::make_mlp_vae<float>({.latent_dim = 8}, {}, g);
    auto [mu, logvar] = vae->encode(x);
    CHECK(mu.shape() == gm::Shape{3, 8});
    CHECK(logvar.shape() == gm::Shape{3, 8});
    CHECK(vae->decode(mu).shape() == gm::Shape{3, 1, 28, 28});
    const auto p = vae->named_parameters();
    CHECK(p["encoder.net.0.weight"].shape() == gm::Shape{512, 784});
    CHECK(p["encoder.net.2.weight"].shape() == gm::Shape{256, 512});
    CHECK(p["encoder.net.4.weight"].shape() == gm::Shape{16, 256});
    CHECK(p["decoder.net.0.weight"].shape() == gm::Shape{256, 8});
    CHECK(p["decoder.net.2.weight"].shape() == gm::Shape{512, 256});
    CHECK(p["decoder.net.4.weight"].shape() == gm::Shape{784, 512});
    CHECK_THROWS_WITH(vae->encode(x, y), Contains("takes no labels"));
  }
  {
    auto vae = models::make_conv_vae<float>({}, {}, g);
    CHECK(vae->latent_dim() == 16);
    auto enc = std::make_shared<models::ConvEncoder<float>>(models::ConvVAEOptions{}, g);
    CHECK(enc->features->forward(x).shape() == gm::Shape{3, 64 * 7 * 7});
    CHECK(enc->forward(x).shape() == gm::Shape{3, 32});
    CHECK(vae->decode(gm::randn<float>({3, 16}, g)).shape() == gm::Shape{3, 1, 28, 28});
    const auto p = vae->named_parameters();
    CHECK(p["encoder.features.0.weight"].shape() == gm::Shape{32, 1, 4, 4});
    CHECK(p["encoder.features.2.weight"].shape() == gm::Shape{64, 32, 4, 4});
    CHECK(p["encoder.fc.weight"].shape() == gm::Shape{32, 3136});
    CHECK(p["decoder.fc.weight"].shape() == gm::Shape{3136, 16});
    CHECK(p["decoder.net.2.weight"].shape() == gm::Shape{64, 32, 4, 4});
    CHECK(p["decoder.net.4.weight"].shape() == gm::Shape{32, 1, 4, 4});
    // One step of the user's optimizer reaches every parameter of both halves.
    gm::optim::Adam<float> opt(vae->parameters(), {.lr = 1e-3});
    const auto m = vae->train_step(x, opt);
    CHECK(m.total == Approx(m.reconstruction + m.kl));
    for (const auto& [name, t] : vae->named_parameters()) {
      INFO(name);
      REQUIRE(t.grad().defined());
      double n2 = 0;
      for (float v : t.grad().to_vector()) n2 += double(v) * v;
      CHECK(n2 > 0);
    }
  }
  for (bool conv : {false, true}) {
    INFO("conv " << conv);
    auto check = [&](auto vae) {
      const auto p = vae->named_parameters();
      CHECK(p["encoder.label_embedding.weight"].shape() == gm::Shape{10, 16});
      CHECK(p["decoder.label_embedding.weight"].shape() == gm::Shape{10, 16});
      auto [mu, logvar] = vae->encode(x, y);
      CHECK(mu.shape() == gm::Shape{3, 16});
      // The label changes the decoding of the same z.
      const auto a = vae->decode(mu, y), b = vae->decode(mu, gm::tensor<int64_t>({1, 2, 3}));
      double d = 0;
      for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, double(std::abs(a.data()[i] - b.data()[i])));
      CHECK(d > 1e-4);
      CHECK(vae->loss(x, y).total.item() > 0);
      CHECK(vae->sample(3, 1, y).shape() == gm::Shape{3, 1, 28, 28});
      CHECK(vae->reconstruct(x, y).shape() == gm::Shape{3, 1, 28, 28});
      CHECK_THROWS_WITH(vae->encode(x), Contains("needs labels"));
      CHECK_THROWS_WITH(vae->sample(2, 1, y), Contains("labels must be (2)"));
    };
    if (conv)
      check(models::make_conv_vae<float>({.num_classes = 10}, {}, g));
    else
      check(models::make_mlp_vae<float>({.num_classes = 10}, {}, g));
  }
}

TEST_CASE("VAE::sample and reconstruct: eval mode, no graph, seeded, pixel means in [0, 1]", "[models][vae]") {
  gm::Generator g(7);
  auto vae = models::make_mlp_vae<float>({.latent_dim = 4, .hidden = {32}}, {}, g);
  const auto s = vae->sample(5, 11);
  CHECK(s.shape() == gm::Shape{5, 1, 28, 28});
  CHECK_FALSE(s.requires_grad());
  for (float v : s.to_vector()) REQUIRE((v >= 0 && v <= 1));
  CHECK(s.to_vector() == vae->sample(5, 11).to_vector());
  CHECK(s.to_vector() != vae->sample(5, 12).to_vector());
  CHECK(vae->is_training());
  vae->eval();
  vae->sample(1, 1);
  CHECK_FALSE(vae->is_training());
  // reconstruct decodes z = mu: no randomness.
  auto x = gm::rand<float>({2, 1, 28, 28}, g);
  CHECK(vae->reconstruct(x).to_vector() == vae->reconstruct(x).to_vector());
  CHECK_THROWS_WITH(vae->sample(0, 1), Contains("n must be positive"));
}

TEST_CASE("VAE::sample at a temperature decodes z ~ N(0, T^2 I) from the same stream", "[models][vae]") {
  gm::Generator g(8);
  auto vae = models::make_mlp_vae<float>({.latent_dim = 4, .hidden = {32}}, {}, g);
  gm::Generator z_stream(11);
  const auto z = gm::mul(gm::randn<float>({5, 4}, z_stream), 0.5f);
  vae->eval();
  gm::Tensor<float> want;
  {
    gm::NoGradGuard no_grad;
    want = gm::sigmoid(vae->decode(z));
  }
  const auto got = vae->sample(5, 11, {}, 0.5);
  for (int64_t i = 0; i < got.numel(); ++i) REQUIRE(got.data()[i] == Approx(want.data()[i]).margin(1e-6));
  // Temperature 0 decodes z = 0 for every row: five equal images (up to the
  // GEMM's rounding, which may differ between rows of one product).
  const auto flat = vae->sample(5, 11, {}, 0.0);
  for (int64_t i = 0; i < 784; ++i)
    for (int64_t r = 1; r < 5; ++r) REQUIRE(flat.data()[r * 784 + i] == Approx(flat.data()[i]).margin(1e-6));
  CHECK_THROWS_WITH(vae->sample(5, 11, {}, -0.5), Contains("temperature must be >= 0"));
}

TEST_CASE("drop_labels: each label becomes the null label with probability p, the rest are kept", "[models][vae]") {
  gm::Generator g(9);
  const auto labels = gm::randint<int64_t>(0, 5, {10000}, g);
  const auto dropped = models::drop_labels<float>(labels, 0.3, 5, g);
  int64_t nulls = 0;
  for (int64_t i = 0; i < labels.numel(); ++i) {
    if (dropped.data()[i] == 5) ++nulls;
    else REQUIRE(dropped.data()[i] == labels.data()[i]);
  }
  CHECK(nulls > 2850);  // 3000 expected, sd 46
  CHECK(nulls < 3150);
  const auto none = models::drop_labels<float>(labels, 0.0, 5, g);
  CHECK(none.to_vector() == labels.to_vector());
  const auto all = models::drop_labels<float>(labels, 1.0, 5, g);
  CHECK(std::all_of(all.data(), all.data() + all.numel(), [](int64_t v) { return v == 5; }));
}

TEST_CASE("Conditional VAE with classifier-free guidance: null label, label dropout, guided samples",
          "[models][vae]") {
  gm::Generator g(10);
  const models::MLPVAEOptions arch{.latent_dim = 4, .hidden = {32}, .num_classes = 3};
  auto vae = models::make_mlp_vae<float>(arch, {.label_dropout = 1.0}, g);
  const auto p = vae->named_parameters();
  CHECK(p["encoder.label_embedding.weight"].shape() == gm::Shape{4, 16});  // 3 classes + the null label
  CHECK(p["decoder.label_embedding.weight"].shape() == gm::Shape{4, 16});

  // Training mode drops every label at p = 1: the same pass as with the null label
  // given outright (same weights, same eps stream); eval mode keeps the labels.
  auto x = gm::rand<float>({4, 1, 28, 28}, g);
  const auto y = gm::tensor<int64_t>({0, 1, 2, 1});
  const auto null_y = gm::full<int64_t>(gm::Shape{4}, 3);
  auto twin = models::make_mlp_vae<float>(arch, {.label_dropout = 1.0}, g);
  twin->load_state_dict(vae->state_dict());
  CHECK(vae->forward(x, y).output.to_vector() == twin->forward(x, null_y).output.to_vector());
  vae->eval();
  twin->eval();
  CHECK(vae->encode(x, y).first.to_vector() != vae->encode(x, null_y).first.to_vector());
  vae->train();

  // sample(s) = sigmoid(u + s (c - u)) on the same z; s = 1 is the plain conditional sample.
  const auto labels = gm::tensor<int64_t>({0, 1, 2, 0, 1});
  gm::Generator z_stream(21);
  const auto z = gm::randn<float>({5, 4}, z_stream);
  gm::Tensor<float> c, u;
  {
    vae->eval();
    gm::NoGradGuard no_grad;
    c = vae->decode(z, labels);
    u = vae->decode(z, gm::full<int64_t>(gm::Shape{5}, 3));
    vae->train();
  }
  for (double s : {0.0, 1.0, 2.5}) {
    INFO("guidance " << s);
    const auto got = vae->sample(5, 21, labels, 1.0, s);
    for (int64_t i = 0; i < got.numel(); ++i) {
      const double want = sigmoid(double(u.data()[i]) + s * (double(c.data()[i]) - double(u.data()[i])));
      REQUIRE(got.data()[i] == Approx(want).margin(1e-5));
    }
  }
  CHECK(vae->is_training());
  CHECK_THROWS_WITH(vae->sample(5, 21, {}, 1.0, 2.0), Contains("needs labels"));

  // Guidance and dropout need the null label; bad values are named.
  auto plain = models::make_mlp_vae<float>(arch, {}, g);
  CHECK(plain->named_parameters()["decoder.label_embedding.weight"].shape() == gm::Shape{3, 16});
  CHECK_THROWS_WITH(plain->sample(5, 21, labels, 1.0, 2.0), Contains("trained with label_dropout"));
  CHECK_THROWS_WITH(models::make_mlp_vae<float>({.latent_dim = 4, .hidden = {32}}, {.label_dropout = 0.1}, g),
                    Contains("needs num_classes > 0"));
  CHECK_THROWS_WITH(models::make_mlp_vae<float>(arch, {.label_dropout = 1.5}, g), Contains("label_dropout must be in [0, 1]"));
  auto enc = std::make_shared<models::MLPEncoder<float>>(arch, g);
  auto dec = std::make_shared<models::MLPDecoder<float>>(arch, g);
  CHECK_THROWS_WITH(models::MLPVAE<float>(enc, dec, 4, {.label_dropout = 0.1}), Contains("needs a conditional VAE"));
}

TEST_CASE("VAE on 256 Fashion-MNIST images: reconstruction well below the mean image's", "[models][vae][fashion]") {
  // Every term is a sum over the 784 pixels of BCE, averaged over images. Two
  // reference points, computed here: predicting the mean image for every input
  // (what a VAE whose latent carries nothing does), and the floor no prediction
  // can beat, sum_j H(x_j) with H the binary entropy of the grey level. The VAE
  // must remove at least half of the mean image's excess over the floor, and
  // its whole ELBO (KL included) must beat the mean image.
  gmtest::ThreadCount one(1);  // small matrices: threads only add waiting on a shared machine
  const gm::data::FashionMNIST ds(gm::data::Split::train);
  const int64_t n = 256;
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  const auto all = ds.get_batch(idx).images;  // (n, 1, 28, 28) in [0, 1]
  const int64_t P = 784;
  std::vector<double> mean_img(P, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < P; ++j) mean_img[j] += all.data()[i * P + j] / double(n);
  auto bce = [](double t, double p) {
    p = std::clamp(p, 1e-12, 1 - 1e-12);
    return -(t * std::log(p) + (1 - t) * std::log(1 - p));
  };
  double mean_loss = 0, floor = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < P; ++j) {
      const double t = all.data()[i * P + j];
      mean_loss += bce(t, mean_img[j]) / n;
      floor += bce(t, t) / n;
    }
  const double bound = floor + 0.5 * (mean_loss - floor);

  gm::Generator g(8);
  auto vae = models::make_mlp_vae<float>({.latent_dim = 16, .hidden = {128}}, {.seed = 1}, g);  // 784-128-32
  gm::optim::Adam<float> opt(vae->parameters(), {.lr = 2e-3});
  const int64_t batch = 32;
  for (int epoch = 0; epoch < 30; ++epoch)
    for (int64_t s = 0; s < n; s += batch) vae->train_step(gm::narrow(all, 0, s, batch), opt);

  double rec = 0, total = 0;
  {
    gm::NoGradGuard no_grad;
    for (int64_t s = 0; s < n; s += batch) {
      const auto l = vae->loss(gm::narrow(all, 0, s, batch));
      rec += l.reconstruction.item() * batch / n;
      total += l.total.item() * batch / n;
    }
  }
  INFO("floor " << floor << ", mean image " << mean_loss << ", bound " << bound << "; VAE reconstruction " << rec
                << ", ELBO loss " << total);
  CHECK(rec < bound);
  CHECK(total < mean_loss);
}
