// dcgan: the DCGAN of genmodel/models/dcgan.hpp on Fashion-MNIST (batch norm,
// DCGAN initialisation, Adam 2e-4 (0.5, 0.999)); --loss bce|lsgan|hinge picks
// the objective, --r1 adds an R1 penalty. The README's main job runs it for a
// few minutes and prints the path of its sample grid.
//   dcgan --seconds 180                 # train, write runs/dcgan/samples.png
//   dcgan --resume runs/dcgan/checkpoint.safetensors --steps 5000
//   dcgan --resume runs/dcgan/checkpoint.safetensors --sample-only --samples 10000 --samples-out s.idx3
#include "gan_trainer.hpp"

namespace gm = genmodel;

int main(int argc, char** argv) {
  gm::examples::GanFlags f;
  CLI::App app{"Train the DCGAN on Fashion-MNIST"};
  gm::examples::add_gan_flags(app, f, "dcgan", 10, /*choose_loss=*/true);
  if (auto rc = gm::examples::parse_flags(app, f, "dcgan", argc, argv)) return *rc;
  return gm::examples::with_loss(f.loss, [&]<class Loss>() {
    using Net = gm::nn::Sequential<float>;
    using Gan = gm::models::GAN<Net, Net, Loss>;
    return gm::examples::train_gan<Gan>("dcgan", f, [](gm::Generator& init, const gm::models::GanOptions& o) {
      return std::make_unique<Gan>(gm::models::make_dcgan_generator<float>(o.z_dim, init),
                                   gm::models::make_dcgan_discriminator<float>(init), o);
    });
  });
}
