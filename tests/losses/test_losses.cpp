// Every loss on hand-worked values, its first derivatives against finite
// differences in double, and its shape checks.
#include <cmath>

#include "gradcheck.hpp"
#include "genmodel/losses.hpp"

namespace gm = genmodel;
namespace losses = genmodel::losses;
using gmtest::TensorD;
using V = std::vector<TensorD>;
using losses::Reduction;

namespace {
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
TensorD t(std::initializer_list<double> v) { return gm::tensor<double>(v); }
TensorD t(std::initializer_list<double> v, gm::Shape s) { return gm::tensor<double>(v, s); }
}  // namespace

TEST_CASE("regression losses on hand-worked values", "[losses]") {
  const auto x = t({1, 2, 3}), y = t({1, 0, 5});
  CHECK(losses::mse(x, y).item() == Approx(8.0 / 3));
  CHECK(losses::mse(x, y, Reduction::sum).item() == Approx(8.0));
  CHECK(losses::mse(x, y, Reduction::none).to_vector() == std::vector<double>{0, 4, 4});
  CHECK(losses::l1(x, y).item() == Approx(4.0 / 3));
  CHECK(losses::l1(x, y, Reduction::sum).item() == Approx(4.0));
  CHECK_THROWS_WITH(losses::mse(x, t({1, 2})), Catch::Contains("mse") && Catch::Contains("[3]") && Catch::Contains("[2]"));
  CHECK_THROWS_WITH(losses::l1(x, t({1, 2, 3}, {3, 1})), Catch::Contains("l1") && Catch::Contains("[3, 1]"));
}

TEST_CASE("binary cross-entropy on probabilities and logits", "[losses]") {
  const auto p = t({0.5, 0.9, 0.2}), target = t({1, 0, 0.25});
  const double b2 = -(0.25 * std::log(0.2) + 0.75 * std::log(0.8));
  CHECK(losses::bce(p, target).item() == Approx((std::log(2.0) - std::log(0.1) + b2) / 3));
  CHECK(losses::bce(t({0.0, 1.0}), t({1, 0})).item() == Approx(100.0).epsilon(1e-6));  // clamped logs
  CHECK_THROWS_WITH(losses::bce(t({1.5}), t({1})), Catch::Contains("bce") && Catch::Contains("[0, 1]"));

  const auto x = t({0, 2, -1}), tx = t({1, 0, 0.5});
  const double want = (std::log(2.0) + std::log1p(std::exp(2.0)) + std::log1p(std::exp(-1.0)) + 0.5) / 3;
  CHECK(losses::bce_with_logits(x, tx).item() == Approx(want));
  // Same as bce(sigmoid(x)) where both are accurate.
  CHECK(losses::bce_with_logits(x, tx).item() == Approx(losses::bce(gm::sigmoid(x), tx).item()));
  CHECK_THROWS_WITH(losses::bce_with_logits(x, t({1})), Catch::Contains("bce_with_logits"));
}

TEST_CASE("bce_with_logits is stable at logits of +-100", "[losses]") {
  auto x = gm::tensor<float>({100, -100, 100, -100});
  x.requires_grad_();
  const auto target = gm::tensor<float>({1, 0, 0, 1});
  const auto l = losses::bce_with_logits(x, target, Reduction::none);
  CHECK(l.at(0) == Approx(0).margin(1e-30));
  CHECK(l.at(1) == Approx(0).margin(1e-30));
  CHECK(l.at(2) == Approx(100));
  CHECK(l.at(3) == Approx(100));
  losses::bce_with_logits(x, target, Reduction::sum).backward();
  const auto g = x.grad().to_vector();  // sigmoid(x) - t
  const std::vector<float> want = {0, 0, 1, -1};
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == Approx(want[i]).margin(1e-30));
}

TEST_CASE("cross_entropy and gaussian_kl on hand-worked values", "[losses]") {
  const auto logits = t({1, 2, 3, 1, 1, 1}, {2, 3});
  const auto labels = gm::tensor<int64_t>({2, 0});
  const double ce0 = -(3 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))), ce1 = std::log(3.0);
  CHECK(losses::cross_entropy(logits, labels).item() == Approx((ce0 + ce1) / 2));
  CHECK(losses::cross_entropy(logits, labels, Reduction::sum).item() == Approx(ce0 + ce1));
  CHECK(losses::cross_entropy(logits, labels, Reduction::none).shape() == gm::Shape{2});
  CHECK_THROWS_WITH(losses::cross_entropy(logits, gm::tensor<int64_t>({3, 0})),
                    Catch::Contains("cross_entropy") && Catch::Contains("label 3"));
  CHECK_THROWS_WITH(losses::cross_entropy(logits, gm::tensor<int64_t>({0, 0, 1})),
                    Catch::Contains("cross_entropy") && Catch::Contains("[2, 3]") && Catch::Contains("[3]"));

  const auto mu = t({0, 0, 1, 0}, {2, 2}), logvar = t({0, 0, 0, std::log(2.0)}, {2, 2});
  const double kl1 = 1 - 0.5 * std::log(2.0);  // sample 0 is the prior itself: 0
  CHECK(losses::gaussian_kl(mu, logvar).item() == Approx(kl1 / 2));
  CHECK(losses::gaussian_kl(mu, logvar, Reduction::sum).item() == Approx(kl1));
  const auto per = losses::gaussian_kl(mu, logvar, Reduction::none);
  CHECK(per.at(0) == Approx(0).margin(1e-15));
  CHECK_THROWS_WITH(losses::gaussian_kl(mu, t({0, 0})), Catch::Contains("gaussian_kl") && Catch::Contains("[2, 2]"));
}

TEST_CASE("GAN losses on hand-worked values", "[losses]") {
  const auto real = t({1, -1}), fake = t({0.5, -2});
  using namespace losses;
  CHECK(NonSaturating::d_loss(real, fake).item() ==
        Approx((softplus(-1) + softplus(1)) / 2 + (softplus(0.5) + softplus(-2)) / 2));
  CHECK(NonSaturating::g_loss(fake).item() == Approx(-(std::log(1 / (1 + std::exp(-0.5))) + std::log(1 / (1 + std::exp(2.0)))) / 2));
  CHECK(LeastSquares::d_loss(real, fake).item() == Approx(0.5 * (0 + 4) / 2 + 0.5 * (0.25 + 4) / 2));
  CHECK(LeastSquares::g_loss(fake).item() == Approx(0.5 * (0.25 + 9) / 2));
  CHECK(Hinge::d_loss(real, fake).item() == Approx((0 + 2) / 2.0 + (1.5 + 0) / 2));
  CHECK(Hinge::g_loss(fake).item() == Approx(0.75));
  CHECK(Wasserstein::d_loss(real, fake).item() == Approx(-0.75 - 0));
  CHECK(Wasserstein::g_loss(fake).item() == Approx(0.75));
}

TEST_CASE("losses' gradients match finite differences", "[losses][gradcheck]") {
  gm::Generator gen(5);
  const auto a = gm::randn<double>({3, 4}, gen), b = gm::randn<double>({3, 4}, gen);
  const auto prob = gm::rand<double>({3, 4}, gen, 0.1, 0.9), target = gm::rand<double>({3, 4}, gen);
  auto l1_input = a.clone_data();
  for (int64_t i = 0; i < l1_input.numel(); ++i)  // away from the kink at input == target
    if (std::abs(l1_input.data()[i] - b.data()[i]) < 0.05) l1_input.data()[i] += 0.1;
  const auto labels = gm::tensor<int64_t>({1, 3, 0});
  // Critic outputs kept away from the hinge's kinks at +-1.
  const auto real = t({2.0, -0.3, 0.4}), fake = t({-2.5, 0.2, 1.7});

  gmtest::check_first_order("mse", [](const V& x) { return losses::mse(x[0], x[1]); }, {a, b});
  gmtest::check_first_order("l1", [](const V& x) { return losses::l1(x[0], x[1], Reduction::sum); }, {l1_input, b});
  gmtest::check_first_order("bce", [](const V& x) { return losses::bce(x[0], x[1]); }, {prob, target});
  gmtest::check_first_order("bce_with_logits", [](const V& x) { return losses::bce_with_logits(x[0], x[1]); },
                            {a, target});
  gmtest::check_first_order("cross_entropy",
                            [&](const V& x) { return losses::cross_entropy(x[0], labels, Reduction::none); }, {a});
  gmtest::check_first_order("gaussian_kl", [](const V& x) { return losses::gaussian_kl(x[0], x[1]); }, {a, b});
  auto gan = [&]<class L>(const char* name, L) {
    gmtest::check_first_order(std::string(name) + " d_loss", [](const V& x) { return L::d_loss(x[0], x[1]); },
                              {real, fake});
    gmtest::check_first_order(std::string(name) + " g_loss", [](const V& x) { return L::g_loss(x[0]); }, {fake});
  };
  gan("non-saturating", losses::NonSaturating{});
  gan("least squares", losses::LeastSquares{});
  gan("hinge", losses::Hinge{});
  gan("wasserstein", losses::Wasserstein{});
}

TEST_CASE("smooth losses have exact second derivatives", "[losses][gradcheck]") {
  gm::Generator gen(6);
  const auto a = gm::randn<double>({2, 3}, gen), b = gm::randn<double>({2, 3}, gen);
  const auto prob = gm::rand<double>({2, 3}, gen, 0.1, 0.9), target = gm::rand<double>({2, 3}, gen);
  const auto labels = gm::tensor<int64_t>({2, 0});
  gmtest::check_second_order("mse", [](const V& x) { return losses::mse(x[0], x[1]); }, {a, b});
  gmtest::check_second_order("bce", [](const V& x) { return losses::bce(x[0], x[1]); }, {prob, target});
  gmtest::check_second_order("bce_with_logits", [](const V& x) { return losses::bce_with_logits(x[0], x[1]); },
                             {a, target});
  gmtest::check_second_order("cross_entropy", [&](const V& x) { return losses::cross_entropy(x[0], labels); }, {a});
  gmtest::check_second_order("gaussian_kl", [](const V& x) { return losses::gaussian_kl(x[0], x[1]); }, {a, b});
  gmtest::check_second_order("non-saturating d_loss",
                             [](const V& x) { return losses::NonSaturating::d_loss(x[0], x[1]); }, {a, b});
}
