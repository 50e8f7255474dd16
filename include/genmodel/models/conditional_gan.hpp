// genmodel/models/conditional_gan.hpp: a class-conditional DCGAN pair.
//   ConditionalGenerator: z (B, z_dim), labels (B) -> images (B, 1, 28, 28):
//     the DCGAN generator applied to concat(z, Embedding(num_classes, embed_dim)(labels))
//   ProjectionDiscriminator (Miyato & Koyama, 2018): images, labels -> logits (B, 1):
//     phi = the DCGAN trunk (B, 6272); out = Linear(phi) + sum(Embedding(labels) * phi)
// The label enters the discriminator as an inner product with its features
// rather than as extra input channels, which is what makes the projection
// discriminator condition strongly. DCGAN initialisation throughout.
// State-dict keys: "embed.weight", "body.0.weight", ...; "trunk.0.weight",
// "linear.weight", "embed.weight".
#pragma once

#include <memory>

#include "genmodel/models/dcgan.hpp"
#include "genmodel/nn/embedding.hpp"

namespace genmodel::models {

template <class T = float, class D = cpu>
class ConditionalGenerator : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  ConditionalGenerator(int64_t z_dim = 100, int64_t num_classes = 10, int64_t embed_dim = 50,
                       Generator& gen = default_generator())
      : nn::Module<T, D>("ConditionalGenerator"), z_dim_(z_dim) {
    embed = this->register_module("embed", std::make_shared<nn::Embedding<T, D>>(num_classes, embed_dim, gen));
    body = this->register_module("body", make_dcgan_generator<T, D>(z_dim + embed_dim, gen));
    dcgan_init_(*embed, gen);
  }

  Tensor forward(const Tensor& z, const genmodel::Tensor<int64_t, D>& labels) {
    GM_CHECK(z.dim() == 2 && z.size(1) == z_dim_, "ConditionalGenerator: z must be (B, ", z_dim_, "), got ", z.shape());
    GM_CHECK(labels.dim() == 1 && labels.size(0) == z.size(0), "ConditionalGenerator: labels must be (", z.size(0),
             "), got ", labels.shape());
    return body->forward(concat<T, D>({z, embed->forward(labels)}, 1));
  }

  std::shared_ptr<nn::Embedding<T, D>> embed;
  std::shared_ptr<nn::Sequential<T, D>> body;

 private:
  int64_t z_dim_;
};

template <class T = float, class D = cpu>
class ProjectionDiscriminator : public nn::Module<T, D> {
 public:
  using Tensor = genmodel::Tensor<T, D>;

  explicit ProjectionDiscriminator(int64_t num_classes = 10, Generator& gen = default_generator())
      : nn::Module<T, D>("ProjectionDiscriminator") {
    trunk = this->register_module("trunk", make_dcgan_trunk<T, D>(true, gen));
    linear = this->register_module("linear", std::make_shared<nn::Linear<T, D>>(kDcganFeatures, 1, true, gen));
    embed = this->register_module("embed", std::make_shared<nn::Embedding<T, D>>(num_classes, kDcganFeatures, gen));
    dcgan_init_(*linear, gen);
    dcgan_init_(*embed, gen);
  }

  Tensor forward(const Tensor& x, const genmodel::Tensor<int64_t, D>& labels) {
    GM_CHECK(labels.dim() == 1 && x.dim() == 4 && labels.size(0) == x.size(0),
             "ProjectionDiscriminator: need images (B, 1, 28, 28) and labels (B), got ", x.shape(), " and ",
             labels.shape());
    const Tensor phi = trunk->forward(x);
    return add(linear->forward(phi), sum(mul(embed->forward(labels), phi), {1}, true));
  }

  std::shared_ptr<nn::Sequential<T, D>> trunk;
  std::shared_ptr<nn::Linear<T, D>> linear;
  std::shared_ptr<nn::Embedding<T, D>> embed;
};

}  // namespace genmodel::models
