// examples/gan_trainers.cpp: the four GAN trainers' programs (one object
// file for the four mains in mlp_gan.cpp, dcgan.cpp, cgan.cpp and
// wgan_gp.cpp, so the library's templates are compiled once for all): each
// picks its networks and loss and runs train_gan (gan_trainer.hpp).
#include "gan_trainers.hpp"

#include "gan_trainer.hpp"

namespace genmodel::examples {

int mlp_gan_main(int argc, char** argv) {
  GanFlags f;
  CLI::App app{"Train the MLP GAN on Fashion-MNIST"};
  add_gan_flags(app, f, "mlp_gan", 20, /*choose_loss=*/true);
  if (auto rc = parse_flags(app, f, "mlp_gan", argc, argv)) return *rc;
  return with_loss(f.loss, [&]<class Loss>() {
    using Net = nn::Sequential<float>;
    using Gan = models::GAN<Net, Net, Loss>;
    return train_gan<Gan>("mlp_gan", f, [](Generator& init, const models::GanOptions& o) {
      return std::make_unique<Gan>(models::make_mlp_generator<float>(o.z_dim, init),
                                   models::make_mlp_discriminator<float>(init), o);
    });
  });
}

int dcgan_main(int argc, char** argv) {
  GanFlags f;
  CLI::App app{"Train the DCGAN on Fashion-MNIST"};
  add_gan_flags(app, f, "dcgan", 10, /*choose_loss=*/true);
  if (auto rc = parse_flags(app, f, "dcgan", argc, argv)) return *rc;
  return with_loss(f.loss, [&]<class Loss>() {
    using Net = nn::Sequential<float>;
    using Gan = models::GAN<Net, Net, Loss>;
    return train_gan<Gan>("dcgan", f, [](Generator& init, const models::GanOptions& o) {
      return std::make_unique<Gan>(models::make_dcgan_generator<float>(o.z_dim, init),
                                   models::make_dcgan_discriminator<float>(init), o);
    });
  });
}

int cgan_main(int argc, char** argv) {
  GanFlags f;
  CLI::App app{"Train the conditional DCGAN (projection discriminator) on Fashion-MNIST"};
  add_gan_flags(app, f, "cgan", 10, /*choose_loss=*/true);
  if (auto rc = parse_flags(app, f, "cgan", argc, argv)) return *rc;
  return with_loss(f.loss, [&]<class Loss>() {
    using Gan = models::GAN<models::ConditionalGenerator<float>, models::ProjectionDiscriminator<float>, Loss>;
    return train_gan<Gan>("cgan", f, [](Generator& init, const models::GanOptions& o) {
      return std::make_unique<Gan>(std::make_shared<models::ConditionalGenerator<float>>(o.z_dim, 10, 50, init),
                                   std::make_shared<models::ProjectionDiscriminator<float>>(10, init), o);
    });
  });
}

int wgan_gp_main(int argc, char** argv) {
  GanFlags f;
  f.loss = "wgan-gp";
  CLI::App app{"Train WGAN-GP (DCGAN generator, critic without batch norm) on Fashion-MNIST"};
  add_gan_flags(app, f, "wgan_gp", 10, /*choose_loss=*/false);
  if (auto rc = parse_flags(app, f, "wgan_gp", argc, argv)) return *rc;
  using Net = nn::Sequential<float>;
  using Gan = models::GAN<Net, Net, losses::WassersteinGP>;
  return train_gan<Gan>("wgan_gp", f, [](Generator& init, const models::GanOptions& o) {
    return std::make_unique<Gan>(models::make_dcgan_generator<float>(o.z_dim, init),
                                 models::make_dcgan_critic<float>(init), o);
  });
}

}  // namespace genmodel::examples
