// mlp_gan: the fully connected GAN of genmodel/models/mlp_gan.hpp on
// Fashion-MNIST (Adam 2e-4 (0.5, 0.999)); --loss bce|lsgan|hinge picks the
// objective.
//   mlp_gan --epochs 20                 # writes runs/mlp_gan/samples.png
#include "gan_trainer.hpp"

namespace gm = genmodel;

int main(int argc, char** argv) {
  gm::examples::GanFlags f;
  CLI::App app{"Train the MLP GAN on Fashion-MNIST"};
  gm::examples::add_gan_flags(app, f, "mlp_gan", 20, /*choose_loss=*/true);
  if (auto rc = gm::examples::parse_flags(app, f, "mlp_gan", argc, argv)) return *rc;
  return gm::examples::with_loss(f.loss, [&]<class Loss>() {
    using Net = gm::nn::Sequential<float>;
    using Gan = gm::models::GAN<Net, Net, Loss>;
    return gm::examples::train_gan<Gan>("mlp_gan", f, [](gm::Generator& init, const gm::models::GanOptions& o) {
      return std::make_unique<Gan>(gm::models::make_mlp_generator<float>(o.z_dim, init),
                                   gm::models::make_mlp_discriminator<float>(init), o);
    });
  });
}
