// genmodel/models/mlp_gan.hpp: the fully connected GAN pair of Goodfellow et
// al. (2014) as most tutorials write it, for 28x28 grey images in [-1, 1]:
//   generator:     z (B, z_dim) -> Linear 256 -> LeakyReLU 0.2 -> Linear 512 -> LeakyReLU 0.2
//                  -> Linear 784 -> Tanh -> (B, 1, 28, 28)
//   discriminator: (B, 1, 28, 28) -> Flatten -> Linear 512 -> LeakyReLU 0.2 -> Linear 256
//                  -> LeakyReLU 0.2 -> Linear 1 (a logit, (B, 1))
// PyTorch's default initialisation. Both are Sequentials, so the state-dict
// keys are "0.weight", "2.bias", ... as torch.nn.Sequential's.
#pragma once

#include <memory>

#include "genmodel/nn/activation.hpp"
#include "genmodel/nn/flatten.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/sequential.hpp"

namespace genmodel::models {

template <class T = float, class D = cpu>
std::shared_ptr<nn::Sequential<T, D>> make_mlp_generator(int64_t z_dim = 100, Generator& gen = default_generator()) {
  auto g = std::make_shared<nn::Sequential<T, D>>();
  g->template emplace_back<nn::Linear<T, D>>(z_dim, 256, true, gen);
  g->template emplace_back<nn::LeakyReLU<T, D>>(0.2);
  g->template emplace_back<nn::Linear<T, D>>(256, 512, true, gen);
  g->template emplace_back<nn::LeakyReLU<T, D>>(0.2);
  g->template emplace_back<nn::Linear<T, D>>(512, 28 * 28, true, gen);
  g->template emplace_back<nn::Tanh<T, D>>();
  g->template emplace_back<nn::Unflatten<T, D>>(1, std::vector<int64_t>{1, 28, 28});
  return g;
}

template <class T = float, class D = cpu>
std::shared_ptr<nn::Sequential<T, D>> make_mlp_discriminator(Generator& gen = default_generator()) {
  auto d = std::make_shared<nn::Sequential<T, D>>();
  d->template emplace_back<nn::Flatten<T, D>>();
  d->template emplace_back<nn::Linear<T, D>>(28 * 28, 512, true, gen);
  d->template emplace_back<nn::LeakyReLU<T, D>>(0.2);
  d->template emplace_back<nn::Linear<T, D>>(512, 256, true, gen);
  d->template emplace_back<nn::LeakyReLU<T, D>>(0.2);
  d->template emplace_back<nn::Linear<T, D>>(256, 1, true, gen);
  return d;
}

}  // namespace genmodel::models
