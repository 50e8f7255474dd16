// genmodel/models/dcgan.hpp: the DCGAN pair (Radford et al., 2016) sized for
// 28x28 grey images in [-1, 1], and the WGAN-GP critic:
//   generator:     z (B, z_dim) -> Linear 128*7*7 (no bias) -> BatchNorm1d -> ReLU -> (B, 128, 7, 7)
//                  -> ConvTranspose 128->64 k4 s2 p1 (no bias) -> BatchNorm2d -> ReLU   (B, 64, 14, 14)
//                  -> ConvTranspose 64->1 k4 s2 p1 -> Tanh                              (B, 1, 28, 28)
//   discriminator: the trunk  Conv 1->64 k4 s2 p1 -> LeakyReLU 0.2                       (B, 64, 14, 14)
//                             Conv 64->128 k4 s2 p1 (no bias) -> BatchNorm2d -> LeakyReLU 0.2 (B, 128, 7, 7)
//                             Flatten                                                     (B, 6272)
//                  then Linear 6272 -> 1 (a logit, (B, 1))
//   critic:        the discriminator without batch norm (WGAN-GP's penalty is
//                  per sample, which batch statistics would couple), conv bias kept
// Weights are initialised as in the DCGAN paper: N(0, 0.02) for convolutions,
// linear layers and embeddings, N(1, 0.02) for batch-norm scales, biases 0.
#pragma once

#include <memory>
#include <vector>

#include "genmodel/nn/activation.hpp"
#include "genmodel/nn/batchnorm.hpp"
#include "genmodel/nn/conv.hpp"
#include "genmodel/nn/flatten.hpp"
#include "genmodel/nn/init.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/sequential.hpp"

namespace genmodel::models {

/// Features of the discriminator trunk: 128 channels of 7x7.
inline constexpr int64_t kDcganFeatures = 128 * 7 * 7;

/// DCGAN's initialisation over a module tree (every parameter it holds).
template <class T, class D>
void dcgan_init_(nn::Module<T, D>& m, Generator& gen = default_generator()) {
  const bool is_norm = dynamic_cast<nn::BatchNormBase<T, D>*>(&m) != nullptr;
  for (const auto& [name, p] : m.named_parameters(/*recurse=*/false)) {
    Tensor<T, D> t = p;
    if (name == "bias")
      nn::init::zeros_(t);
    else
      nn::init::normal_(t, is_norm ? 1.0 : 0.0, 0.02, gen);
  }
  for (const auto& c : m.children()) dcgan_init_(*c, gen);
}

/// z (B, z_dim) -> images (B, 1, 28, 28).
template <class T = float, class D = cpu>
std::shared_ptr<nn::Sequential<T, D>> make_dcgan_generator(int64_t z_dim = 100, Generator& gen = default_generator()) {
  auto g = std::make_shared<nn::Sequential<T, D>>();
  g->template emplace_back<nn::Linear<T, D>>(z_dim, kDcganFeatures, false, gen);
  g->template emplace_back<nn::BatchNorm1d<T, D>>(kDcganFeatures);
  g->template emplace_back<nn::ReLU<T, D>>();
  g->template emplace_back<nn::Unflatten<T, D>>(1, std::vector<int64_t>{128, 7, 7});
  g->template emplace_back<nn::ConvTranspose2d<T, D>>(128, 64, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false}, gen);
  g->template emplace_back<nn::BatchNorm2d<T, D>>(64);
  g->template emplace_back<nn::ReLU<T, D>>();
  g->template emplace_back<nn::ConvTranspose2d<T, D>>(64, 1, 4, nn::ConvOptions{.stride = 2, .padding = 1}, gen);
  g->template emplace_back<nn::Tanh<T, D>>();
  dcgan_init_(*g, gen);
  return g;
}

/// images (B, 1, 28, 28) -> features (B, 6272); with or without batch norm.
template <class T = float, class D = cpu>
std::shared_ptr<nn::Sequential<T, D>> make_dcgan_trunk(bool batch_norm, Generator& gen = default_generator()) {
  auto t = std::make_shared<nn::Sequential<T, D>>();
  t->template emplace_back<nn::Conv2d<T, D>>(1, 64, 4, nn::ConvOptions{.stride = 2, .padding = 1}, gen);
  t->template emplace_back<nn::LeakyReLU<T, D>>(0.2);
  t->template emplace_back<nn::Conv2d<T, D>>(64, 128, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = !batch_norm},
                                             gen);
  if (batch_norm) t->template emplace_back<nn::BatchNorm2d<T, D>>(128);
  t->template emplace_back<nn::LeakyReLU<T, D>>(0.2);
  t->template emplace_back<nn::Flatten<T, D>>();
  dcgan_init_(*t, gen);
  return t;
}

namespace detail {
template <class T, class D>
std::shared_ptr<nn::Sequential<T, D>> dcgan_head(bool batch_norm, Generator& gen) {
  auto d = make_dcgan_trunk<T, D>(batch_norm, gen);
  auto& head = *d->template emplace_back<nn::Linear<T, D>>(kDcganFeatures, 1, true, gen);
  dcgan_init_(head, gen);
  return d;
}
}  // namespace detail

/// images (B, 1, 28, 28) -> logits (B, 1).
template <class T = float, class D = cpu>
std::shared_ptr<nn::Sequential<T, D>> make_dcgan_discriminator(Generator& gen = default_generator()) {
  return detail::dcgan_head<T, D>(true, gen);
}

/// images (B, 1, 28, 28) -> critic values (B, 1), no batch norm (for WGAN-GP).
template <class T = float, class D = cpu>
std::shared_ptr<nn::Sequential<T, D>> make_dcgan_critic(Generator& gen = default_generator()) {
  return detail::dcgan_head<T, D>(false, gen);
}

}  // namespace genmodel::models
