// nn::init: each initialiser's distribution (mean, std, bounds of a large
// tensor within a few standard errors), fans and gains as PyTorch computes
// them, and every layer's default initialisation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "genmodel/nn.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
namespace init = genmodel::nn::init;
using TensorF = gm::Tensor<float>;

namespace {

struct Stats {
  double mean, std, lo, hi;
};

Stats stats(const TensorF& t) {
  double s = 0, s2 = 0, lo = 1e30, hi = -1e30;
  for (float v : t.to_vector()) {
    s += v;
    s2 += double(v) * v;
    lo = std::min(lo, double(v));
    hi = std::max(hi, double(v));
  }
  const double n = double(t.numel()), m = s / n;
  return {m, std::sqrt(s2 / n - m * m), lo, hi};
}

/// Mean within 5 standard errors of 0 and std within 3% of `std`.
void check_centered(const TensorF& t, double std) {
  const auto st = stats(t);
  CHECK(std::abs(st.mean) < 5 * std / std::sqrt(double(t.numel())));
  CHECK(st.std == Approx(std).epsilon(0.03));
}

/// U(-b, b): inside the bounds, reaching near them, std b / sqrt(3).
void check_uniform(const TensorF& t, double b) {
  const auto st = stats(t);
  CHECK(st.lo >= -b);
  CHECK(st.hi <= b);
  CHECK(st.lo < -0.99 * b);
  CHECK(st.hi > 0.99 * b);
  check_centered(t, b / std::sqrt(3.0));
}

}  // namespace

TEST_CASE("nn::init: fans and gains as in PyTorch", "[nn][init]") {
  CHECK(init::fan_in_and_fan_out(TensorF::empty({30, 20})) == std::pair<int64_t, int64_t>{20, 30});
  CHECK(init::fan_in_and_fan_out(TensorF::empty({8, 4, 3, 3})) == std::pair<int64_t, int64_t>{36, 72});
  CHECK(init::calculate_gain(init::Nonlinearity::relu) == Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(init::Nonlinearity::leaky_relu, 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::calculate_gain(init::Nonlinearity::tanh) == Approx(5.0 / 3.0));
  CHECK(init::calculate_gain(init::Nonlinearity::sigmoid) == 1.0);
  CHECK_THROWS_WITH(init::fan_in_and_fan_out(TensorF::empty({5})), Catch::Contains("at least 2 dims"));
}

TEST_CASE("nn::init: distributions of the initialisers", "[nn][init]") {
  gm::Generator g(11);
  auto t = TensorF::empty({200, 300});  // fan_in 300, fan_out 200

  init::uniform_(t, -2.0, 3.0, g);
  const auto u = stats(t);
  CHECK((u.lo >= -2 && u.hi <= 3));
  CHECK(u.mean == Approx(0.5).margin(5 * 5 / std::sqrt(12.0 * 60000)));

  init::normal_(t, 1.0, 2.0, g);
  CHECK(stats(t).mean == Approx(1.0).margin(5 * 2 / std::sqrt(60000.0)));
  CHECK(stats(t).std == Approx(2.0).epsilon(0.03));

  init::xavier_uniform_(t, 1.0, g);
  check_uniform(t, std::sqrt(6.0 / 500));
  init::xavier_normal_(t, 2.0, g);
  check_centered(t, 2 * std::sqrt(2.0 / 500));

  init::kaiming_uniform_(t, 0.0, init::FanMode::fan_in, init::Nonlinearity::relu, g);
  check_uniform(t, std::sqrt(6.0 / 300));
  init::kaiming_normal_(t, 0.0, init::FanMode::fan_out, init::Nonlinearity::relu, g);
  check_centered(t, std::sqrt(2.0 / 200));
  init::kaiming_normal_(t, 0.2, init::FanMode::fan_in, init::Nonlinearity::leaky_relu, g);
  check_centered(t, std::sqrt(2.0 / 1.04) / std::sqrt(300.0));

  init::zeros_(t);
  CHECK((stats(t).lo == 0 && stats(t).hi == 0));
  init::ones_(t);
  CHECK((stats(t).lo == 1 && stats(t).hi == 1));
}

TEST_CASE("nn::init: a seed gives the same weights, in place", "[nn][init]") {
  gm::Generator a(5), b(5);
  nn::Linear<> l1(10, 10, true, a), l2(10, 10, true, b);
  CHECK(l1.weight.to_vector() == l2.weight.to_vector());
  CHECK(l1.bias.to_vector() == l2.bias.to_vector());
  auto w = l1.weight;
  init::normal_(l1.weight, 0.0, 1.0, a);
  CHECK(w.data() == l1.weight.data());  // the handle the module registered sees the new values
  CHECK(l1.named_parameters()["weight"].to_vector() == l1.weight.to_vector());
}

TEST_CASE("nn: layers start from PyTorch's default distributions", "[nn][init]") {
  gm::Generator g(12);
  nn::Linear<> lin(400, 300, true, g);
  check_uniform(lin.weight, 1 / 20.0);
  const auto lb = stats(lin.bias);
  CHECK((lb.lo >= -1 / 20.0 && lb.hi <= 1 / 20.0 && lb.hi - lb.lo > 0.09));

  nn::Conv2d<> conv(16, 256, 3, {}, g);  // fan_in 16 * 9 = 144
  check_uniform(conv.weight, 1 / 12.0);
  CHECK(stats(conv.bias).hi <= 1 / 12.0);
  CHECK(stats(conv.bias).lo >= -1 / 12.0);

  nn::ConvTranspose2d<> convt(256, 16, 3, {}, g);  // weight (256, 16, 3, 3): fan_in from dim 1, 16 * 9
  check_uniform(convt.weight, 1 / 12.0);
  CHECK(stats(convt.bias).hi <= 1 / 12.0);

  nn::Embedding<> emb(300, 200, g);
  CHECK(std::abs(stats(emb.weight).mean) < 5 / std::sqrt(60000.0));
  CHECK(stats(emb.weight).std == Approx(1.0).epsilon(0.03));

  nn::BatchNorm2d<> bn(8);
  nn::GroupNorm<> gn(2, 8);
  nn::LayerNorm<> ln({8});
  for (const TensorF& w : {bn.weight, gn.weight, ln.weight}) CHECK((stats(w).lo == 1 && stats(w).hi == 1));
  for (const TensorF& b : {bn.bias, gn.bias, ln.bias}) CHECK((stats(b).lo == 0 && stats(b).hi == 0));
  CHECK((stats(bn.running_mean).hi == 0 && stats(bn.running_var).lo == 1));
}
