// cgan: the class-conditional DCGAN of genmodel/models/conditional_gan.hpp
// (label embedding concatenated to z; projection discriminator) on
// Fashion-MNIST. Its sample grid has one class per column; --samples-out also
// writes the labels (cycling 0..9) to FILE.labels for the evaluator.
//   cgan --epochs 10
#include "gan_trainer.hpp"

namespace gm = genmodel;

int main(int argc, char** argv) {
  gm::examples::GanFlags f;
  CLI::App app{"Train the conditional DCGAN (projection discriminator) on Fashion-MNIST"};
  gm::examples::add_gan_flags(app, f, "cgan", 10, /*choose_loss=*/true);
  if (auto rc = gm::examples::parse_flags(app, f, "cgan", argc, argv)) return *rc;
  return gm::examples::with_loss(f.loss, [&]<class Loss>() {
    using Gan = gm::models::GAN<gm::models::ConditionalGenerator<float>, gm::models::ProjectionDiscriminator<float>, Loss>;
    return gm::examples::train_gan<Gan>("cgan", f, [](gm::Generator& init, const gm::models::GanOptions& o) {
      return std::make_unique<Gan>(std::make_shared<gm::models::ConditionalGenerator<float>>(o.z_dim, 10, 50, init),
                                   std::make_shared<gm::models::ProjectionDiscriminator<float>>(10, init), o);
    });
  });
}
