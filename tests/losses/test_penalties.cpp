// gradient_penalty and r1_penalty: values on a linear critic, whose input
// gradient is its weight in closed form, and their gradients with respect
// to a critic's weights against finite differences (so the penalty reaches
// the weights, through the second derivative).
#include <cmath>

#include "gradcheck.hpp"
#include "genmodel/losses.hpp"

namespace gm = genmodel;
namespace losses = genmodel::losses;
using gmtest::TensorD;
using V = std::vector<TensorD>;

namespace {
/// D(x) = sum over (2, 2) of x * w, per sample: grad_x D = w.
auto linear_critic(const TensorD& w) {
  return [w](const TensorD& x) { return gm::sum(gm::mul(x, w), {1, 2}); };
}
/// D(x) = tanh(flatten(x) W1) w2: a critic whose input gradient depends on x and both weights.
auto mlp_critic(const TensorD& w1, const TensorD& w2) {
  return [w1, w2](const TensorD& x) { return gm::matmul(gm::tanh(gm::matmul(gm::flatten(x, 1), w1)), w2); };
}
}  // namespace

TEST_CASE("gradient_penalty and r1_penalty on a linear critic", "[losses]") {
  gm::Generator data(3);
  const auto real = gm::randn<double>({5, 2, 2}, data), fake = gm::randn<double>({5, 2, 2}, data);
  auto w = gm::tensor<double>({0.5, -1.0, 2.0, 0.25}, {2, 2});
  w.requires_grad_();
  const double wn = std::sqrt(0.25 + 1 + 4 + 0.0625);

  gm::Generator gen(11);
  const auto gp = losses::gradient_penalty(linear_critic(w), real, fake, gen, 10.0);
  CHECK(gp.item() == Approx(10 * (wn - 1) * (wn - 1)));
  // Its gradient reaches the weight: d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w|.
  gp.backward();
  for (int64_t i = 0; i < 4; ++i) CHECK(w.grad().data()[i] == Approx(20 * (wn - 1) * w.data()[i] / wn));

  w.zero_grad();
  const auto r1 = losses::r1_penalty(linear_critic(w), real, 4.0);
  CHECK(r1.item() == Approx(2.0 * wn * wn));
  r1.backward();
  for (int64_t i = 0; i < 4; ++i) CHECK(w.grad().data()[i] == Approx(4.0 * w.data()[i]));

  CHECK_THROWS_WITH(losses::gradient_penalty(linear_critic(w), real, gm::zeros<double>({5, 4}), gen),
                    Catch::Contains("gradient_penalty") && Catch::Contains("[5, 2, 2]") && Catch::Contains("[5, 4]"));
  const auto constant = [](const TensorD& x) { return gm::zeros<double>({x.size(0)}); };
  CHECK_THROWS_WITH(losses::r1_penalty(constant, real), Catch::Contains("r1_penalty") && Catch::Contains("depend"));
}

TEST_CASE("penalties' gradients w.r.t. the critic's weights match finite differences", "[losses][gradcheck]") {
  gm::Generator data(4);
  const auto real = gm::randn<double>({3, 2, 2}, data), fake = gm::randn<double>({3, 2, 2}, data);
  const auto w1 = gm::randn<double>({4, 5}, data), w2 = gm::randn<double>({5, 1}, data);
  gmtest::check_first_order("gradient_penalty (mlp critic)", [&](const V& x) {
    gm::Generator gen(21);  // the same interpolates on every evaluation
    return losses::gradient_penalty(mlp_critic(x[0], x[1]), real, fake, gen, 10.0);
  }, {w1, w2});
  gmtest::check_first_order("r1_penalty (mlp critic)", [&](const V& x) {
    return losses::r1_penalty(mlp_critic(x[0], x[1]), real, 10.0);
  }, {w1, w2});
  const auto w = gm::randn<double>({2, 2}, data);
  gmtest::check_first_order("gradient_penalty (linear critic)", [&](const V& x) {
    gm::Generator gen(21);
    return losses::gradient_penalty(linear_critic(x[0]), real, fake, gen, 10.0);
  }, {w});
}
