// genmodel/losses/gan.hpp: GAN objectives as policy structs over the
// discriminator's raw outputs (logits, or critic values). Each has
//   d_loss(real, fake): what the discriminator minimises,
//   g_loss(fake):       what the generator minimises,
// both averaged over the batch, and the GanLoss concept says so.
//   NonSaturating: d = BCE(real, 1) + BCE(fake, 0), g = -log sigmoid(fake)
//   LeastSquares:  d = ((real - 1)^2 + fake^2) / 2, g = (fake - 1)^2 / 2  (LSGAN, a=0, b=c=1)
//   Hinge:         d = relu(1 - real) + relu(1 + fake), g = -fake
//   Wasserstein:   d = fake - real, g = -fake  (add a gradient_penalty for WGAN-GP)
//   WassersteinGP: the Wasserstein objective, as a separate type so that
//                  models::GAN adds the gradient penalty (lambda 10, 5 critic
//                  updates per generator update) by default
#pragma once

#include <concepts>

#include "genmodel/losses/reduction.hpp"

namespace genmodel::losses {

template <class L, class T = float, class D = cpu>
concept GanLoss = requires(const Tensor<T, D>& real, const Tensor<T, D>& fake) {
  { L::d_loss(real, fake) } -> std::same_as<Tensor<T, D>>;
  { L::g_loss(fake) } -> std::same_as<Tensor<T, D>>;
};

struct NonSaturating {
  // BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x).
  template <class T, class D>
  static Tensor<T, D> d_loss(const Tensor<T, D>& real, const Tensor<T, D>& fake) {
    return add(mean(softplus(neg(real))), mean(softplus(fake)));
  }
  template <class T, class D>
  static Tensor<T, D> g_loss(const Tensor<T, D>& fake) {
    return mean(softplus(neg(fake)));
  }
};

struct LeastSquares {
  template <class T, class D>
  static Tensor<T, D> d_loss(const Tensor<T, D>& real, const Tensor<T, D>& fake) {
    const auto r = add(real, T(-1));
    return mul(add(mean(mul(r, r)), mean(mul(fake, fake))), T(0.5));
  }
  template <class T, class D>
  static Tensor<T, D> g_loss(const Tensor<T, D>& fake) {
    const auto f = add(fake, T(-1));
    return mul(mean(mul(f, f)), T(0.5));
  }
};

struct Hinge {
  template <class T, class D>
  static Tensor<T, D> d_loss(const Tensor<T, D>& real, const Tensor<T, D>& fake) {
    return add(mean(relu(rsub(T(1), real))), mean(relu(add(fake, T(1)))));
  }
  template <class T, class D>
  static Tensor<T, D> g_loss(const Tensor<T, D>& fake) {
    return neg(mean(fake));
  }
};

struct Wasserstein {
  template <class T, class D>
  static Tensor<T, D> d_loss(const Tensor<T, D>& real, const Tensor<T, D>& fake) {
    return sub(mean(fake), mean(real));
  }
  template <class T, class D>
  static Tensor<T, D> g_loss(const Tensor<T, D>& fake) {
    return neg(mean(fake));
  }
};

struct WassersteinGP : Wasserstein {};

static_assert(GanLoss<NonSaturating> && GanLoss<LeastSquares> && GanLoss<Hinge> && GanLoss<Wasserstein> &&
              GanLoss<WassersteinGP>);

}  // namespace genmodel::losses
