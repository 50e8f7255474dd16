// genmodel/losses/penalty.hpp: gradient penalties on a critic D, a callable
// Tensor -> Tensor (batch-first input, one output per sample). The input
// gradient is taken with create_graph, so the penalty's own backward reaches
// the critic's weights (the mistake to avoid is a penalty that only changes
// the loss value).
//   gradient_penalty (WGAN-GP): lambda * mean_i (||grad_x D(x_hat_i)||_2 - 1)^2
//     at x_hat = a real + (1 - a) fake, a ~ U[0, 1) per sample
//   r1_penalty: gamma / 2 * mean_i ||grad_x D(x_i)||^2 at the real samples
#pragma once

#include "genmodel/losses/reduction.hpp"

namespace genmodel::losses {

namespace detail {
/// d sum(D(x)) / dx, recorded; x a leaf that requires grad.
template <class Critic, class T, class D>
Tensor<T, D> critic_input_grad(Critic& critic, const Tensor<T, D>& x, const char* loss) {
  const Tensor<T, D> out = critic(x);
  GM_CHECK(out.defined() && out.requires_grad(), loss, ": the critic's output does not depend on its input "
           "(or was computed under NoGradGuard)");
  return grad<T, D>({out}, {x}, {ones_like(out)}, /*create_graph=*/true)[0];
}
}  // namespace detail

template <class Critic, class T, class D>
Tensor<T, D> gradient_penalty(Critic&& critic, const Tensor<T, D>& real, const Tensor<T, D>& fake,
                              Generator& gen, double lambda = 10.0) {
  detail::check_same_shape("gradient_penalty", "real", real, "fake", fake);
  GM_CHECK(real.dim() >= 1 && real.numel() > 0, "gradient_penalty: real and fake must be (N, ...), got shape ",
           real.shape());
  const int64_t n = real.size(0);
  Tensor<T, D> x_hat;
  {
    NoGradGuard no_grad;  // the interpolates are a fresh leaf
    Shape alpha_shape = real.shape();
    for (int d = 1; d < alpha_shape.size(); ++d) alpha_shape[d] = 1;
    alpha_shape[0] = n;
    const auto alpha = rand<T, D>(alpha_shape, gen);
    x_hat = add(mul(alpha, real.detach()), mul(rsub(T(1), alpha), fake.detach()));
  }
  x_hat.requires_grad_();
  const auto g = detail::critic_input_grad(critic, x_hat, "gradient_penalty");
  const auto norms = norm(reshape(g, {n, -1}), {1});
  const auto dev = add(norms, T(-1));
  return mul(mean(mul(dev, dev)), T(lambda));
}

template <class Critic, class T, class D>
Tensor<T, D> r1_penalty(Critic&& critic, const Tensor<T, D>& real, double gamma = 10.0) {
  GM_CHECK(real.defined() && real.dim() >= 1 && real.numel() > 0, "r1_penalty: real must be (N, ...), got ",
           real.defined() ? real.shape() : Shape{});
  const int64_t n = real.size(0);
  Tensor<T, D> x = real.detach();
  x.requires_grad_();
  const auto g = detail::critic_input_grad(critic, x, "r1_penalty");
  return mul(mean(sum(reshape(mul(g, g), {n, -1}), {1})), T(gamma / 2));
}

}  // namespace genmodel::losses
