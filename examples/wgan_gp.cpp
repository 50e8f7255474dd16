// wgan_gp: WGAN-GP (Gulrajani et al., 2017) with the DCGAN generator and the
// batch-norm-free critic of genmodel/models/dcgan.hpp on Fashion-MNIST:
// gradient penalty lambda 10 on interpolates, 5 critic updates (each on a
// fresh batch) per generator update, Adam 1e-4 (0, 0.9). One step is one
// generator update. metrics.csv's penalty column is the gradient penalty.
//   wgan_gp --epochs 10
#include "gan_trainer.hpp"

namespace gm = genmodel;

int main(int argc, char** argv) {
  gm::examples::GanFlags f;
  f.loss = "wgan-gp";
  CLI::App app{"Train WGAN-GP (DCGAN generator, critic without batch norm) on Fashion-MNIST"};
  gm::examples::add_gan_flags(app, f, "wgan_gp", 10, /*choose_loss=*/false);
  if (auto rc = gm::examples::parse_flags(app, f, "wgan_gp", argc, argv)) return *rc;
  using Net = gm::nn::Sequential<float>;
  using Gan = gm::models::GAN<Net, Net, gm::losses::WassersteinGP>;
  return gm::examples::train_gan<Gan>("wgan_gp", f, [](gm::Generator& init, const gm::models::GanOptions& o) {
    return std::make_unique<Gan>(gm::models::make_dcgan_generator<float>(o.z_dim, init),
                                 gm::models::make_dcgan_critic<float>(init), o);
  });
}
