// Autograd behaviour: accumulation, zero_grad, detach, no-grad scopes,
// grad() with create_graph and allow_unused, the gradient penalty reaching a
// critic's weights, anomaly mode, and every misuse error.
#include <catch2/catch.hpp>

#include "gradcheck.hpp"

namespace gm = genmodel;
using gmtest::TensorD;

TEST_CASE("autograd: backward accumulates into leaves until zero_grad", "[autograd]") {
  auto x = gm::tensor<double>({1, 2, 3});
  x.requires_grad_();
  (x * x).sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  (x * 3.0).sum().backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{5, 7, 9});
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
  auto y = x * 2.0;
  y.backward(gm::tensor<double>({1, 0, -1}));
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, 0, -2});
}

TEST_CASE("autograd: a tensor used twice gets both contributions", "[autograd]") {
  auto x = gm::tensor<double>({3});
  x.requires_grad_();
  auto y = x * x + gm::exp(x) * x;  // dy/dx = 2x + e^x (1 + x)
  y.sum().backward();
  REQUIRE(x.grad().item() == Approx(6 + std::exp(3.0) * 4));
}

TEST_CASE("autograd: detach and NoGradGuard stop the gradient", "[autograd]") {
  auto x = gm::tensor<double>({2});
  x.requires_grad_();
  auto y = x * x.detach();
  y.sum().backward();
  REQUIRE(x.grad().item() == 2.0);
  {
    gm::NoGradGuard guard;
    auto z = x * x;
    REQUIRE_FALSE(z.requires_grad());
    REQUIRE(z.is_leaf());
  }
  REQUIRE(gm::GradMode::is_enabled());
  auto c = gm::tensor<double>({1});
  REQUIRE_FALSE((c * 2.0).requires_grad());
}

TEST_CASE("autograd: grad() returns gradients without touching .grad", "[autograd]") {
  auto x = gm::tensor<double>({1, -2});
  auto w = gm::tensor<double>({3, 4});
  x.requires_grad_();
  w.requires_grad_();
  auto y = gm::sum(x * w);
  auto g = gm::grad<double, gm::cpu>({y}, {x, w});
  REQUIRE(g[0].to_vector() == std::vector<double>{3, 4});
  REQUIRE(g[1].to_vector() == std::vector<double>{1, -2});
  REQUIRE_FALSE(x.grad().defined());
}

TEST_CASE("autograd: allow_unused gives an undefined gradient, otherwise an error", "[autograd][errors]") {
  auto x = gm::tensor<double>({1});
  auto unused = gm::tensor<double>({1});
  x.requires_grad_();
  unused.requires_grad_();
  auto y = (x * 2.0).sum();
  REQUIRE_THROWS_WITH((gm::grad<double, gm::cpu>({y}, {x, unused}, {}, false, false, true)),
                      Catch::Contains("input 1 (shape [1]) was not used"));
  auto g = gm::grad<double, gm::cpu>({y}, {x, unused}, {}, false, true);
  REQUIRE(g[0].item() == 2.0);
  REQUIRE_FALSE(g[1].defined());
}

TEST_CASE("autograd: create_graph gives exact higher derivatives", "[autograd]") {
  auto x = gm::tensor<double>({0.7, -1.3});
  x.requires_grad_();
  auto y = gm::sum(gm::pow(x, 4.0));
  auto g1 = gm::grad<double, gm::cpu>({y}, {x}, {}, true)[0];           // 4 x^3
  auto g2 = gm::grad<double, gm::cpu>({gm::sum(g1)}, {x}, {}, true)[0];  // 12 x^2
  auto g3 = gm::grad<double, gm::cpu>({gm::sum(g2)}, {x})[0];            // 24 x
  for (int i = 0; i < 2; ++i) {
    const double v = x.data()[i];
    REQUIRE(g1.data()[i] == Approx(4 * v * v * v));
    REQUIRE(g2.data()[i] == Approx(12 * v * v));
    REQUIRE(g3.data()[i] == Approx(24 * v));
  }
  auto t = gm::tanh(x);
  auto d1 = gm::grad<double, gm::cpu>({gm::sum(t)}, {x}, {}, true)[0];
  auto d2 = gm::grad<double, gm::cpu>({gm::sum(d1)}, {x})[0];
  for (int i = 0; i < 2; ++i) {
    const double th = std::tanh(x.data()[i]);
    REQUIRE(d2.data()[i] == Approx(-2 * th * (1 - th * th)));
  }
}

TEST_CASE("autograd: the graph keeps what backward saves, and backward frees it", "[autograd]") {
  auto x = gm::tensor<double>({0.5, -1.0, 2.0});
  x.requires_grad_();
  std::weak_ptr<double> scaled_storage, exp_storage;
  gm::Tensor<double> y;
  {
    auto scaled = x * 3.0;             // mul_scalar's backward needs nothing of its input
    auto e = gm::exp(scaled + 1.0);    // exp's backward is written with its output
    scaled_storage = scaled.storage();
    exp_storage = e.storage();
    y = gm::sum(e * 2.0);
  }
  CHECK(scaled_storage.expired());     // gone with the last handle: no node holds it
  CHECK_FALSE(exp_storage.expired());  // saved for exp's backward
  y.backward();
  CHECK(exp_storage.expired());        // freed by backward (retain_graph false)
  for (int i = 0; i < 3; ++i)
    CHECK(x.grad().data()[i] == Approx(6 * std::exp(3 * x.data()[i] + 1)).epsilon(1e-14));
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("already been freed"));

  // Through an output no handle holds, create_graph still differentiates:
  // d2/dx2 sum(exp(2 x)) = 4 exp(2 x).
  gm::Tensor<double> s;
  { s = gm::sum(gm::exp(x * 2.0)); }
  auto d1 = gm::grad<double, gm::cpu>({s}, {x}, {}, true)[0];
  auto d2 = gm::grad<double, gm::cpu>({gm::sum(d1)}, {x})[0];
  for (int i = 0; i < 3; ++i) CHECK(d2.data()[i] == Approx(4 * std::exp(2 * x.data()[i])).epsilon(1e-14));
}

TEST_CASE("autograd: a gradient penalty is backpropagated into the critic's weights", "[autograd]") {
  // D(x) = sum(W2 leaky_relu(conv(x, W1)));  P = mean((||dD/dx||_2 - 1)^2) over the batch.
  gm::Generator g(3);
  auto x = gm::randn<double>({3, 1, 4, 4}, g);
  auto w1 = gm::mul(gm::randn<double>({2, 1, 3, 3}, g), 0.5);
  auto w2 = gm::randn<double>({1, 2 * 2 * 2}, g);
  auto penalty = [&](const std::vector<TensorD>& p) {
    auto xi = p[0].detach();
    xi.requires_grad_();
    auto h = gm::leaky_relu(gm::conv2d(xi, p[1], {}, 1, 0), 0.2);
    auto d = gm::sum(gm::linear(gm::flatten(h, 1), p[2]));
    auto gx = gm::grad<double, gm::cpu>({d}, {xi}, {}, /*create_graph=*/true)[0];
    auto norms = gm::norm(gm::flatten(gx, 1), {1});
    return gm::mean(gm::pow(gm::add(norms, -1.0), 2.0));
  };
  // The penalty's gradient in W1 and W2 equals finite differences of the penalty.
  gmtest::check_first_order("gradient penalty", penalty, {x, w1, w2});
  auto params = gmtest::leaves({x, w1, w2});
  auto p = penalty(params);
  p.backward();
  REQUIRE(params[1].grad().defined());
  REQUIRE(gm::norm(params[1].grad()).item() > 0);
  REQUIRE(gm::norm(params[2].grad()).item() > 0);
}

TEST_CASE("autograd: misuse throws genmodel::Error naming the op", "[autograd][errors]") {
  auto x = gm::tensor<double>({1, 2});
  REQUIRE_THROWS_WITH(gm::sum(x).backward(), Catch::Contains("backward: the tensor does not require grad"));
  x.requires_grad_();
  auto y = x * 2.0;
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("implied only for a scalar output; this output has shape [2]"));
  REQUIRE_THROWS_WITH(y.backward(gm::ones<double>({3})), Catch::Contains("gradient of shape [3] for an output of shape [2]"));
  REQUIRE_THROWS_WITH(y.requires_grad_(), Catch::Contains("only leaf tensors can be marked"));
  auto z = gm::sum(gm::exp(x));
  z.backward();
  REQUIRE_THROWS_WITH(z.backward(), Catch::Contains("the graph through op 'sum' has already been freed"));
  auto r = gm::sum(gm::exp(x));
  r.backward({}, /*retain_graph=*/true);
  REQUIRE_NOTHROW(r.backward());
  REQUIRE_THROWS_WITH((gm::grad<double, gm::cpu>({gm::sum(x)}, {gm::tensor<double>({1})})),
                      Catch::Contains("grad: input 0 (shape [1]) does not require grad"));
}

TEST_CASE("autograd: anomaly mode names the op that produced NaN or Inf", "[autograd][errors]") {
  auto x = gm::tensor<double>({-1.0, 0.0});
  x.requires_grad_();
  REQUIRE_NOTHROW(gm::log(x));  // off by default: NaN and -Inf pass silently
  gm::DetectAnomalyGuard anomaly;
  REQUIRE_THROWS_WITH(gm::log(x), Catch::Contains("anomaly: op 'log' produced NaN or Inf"));
  auto s = gm::sqrt(gm::mul(x, x));  // finite forward, infinite derivative at 0
  REQUIRE_THROWS_WITH(gm::sum(s).backward(), Catch::Contains("backward of op 'sqrt': anomaly: op 'div' produced NaN or Inf"));
}
