// examples/gan_trainers.cpp: the four GAN trainers' programs (one object
// file for the four mains in mlp_gan.cpp, dcgan.cpp, cgan.cpp and
// wgan_gp.cpp, so the library's templates are compiled once for all): each
// picks its networks and loss and runs train_gan (gan_trainer.hpp).
#include "gan_trainers.hpp"

#include "gan_trainer.hpp"

namespace genmodel::examples {

namespace {

/// A trainer whose --loss picks the objective: make(init, options) returns
/// the pair {G, D} of shared pointers to G and D.
template <class G, class D, class Make>
int loss_choosing_main(const char* name, const char* title, int64_t epochs, int argc, char** argv, Make make) {
  GanFlags f;
  CLI::App app{title};
  add_gan_flags(app, f, name, epochs, /*choose_loss=*/true);
  if (auto rc = parse_flags(app, f, name, argc, argv)) return *rc;
  return with_loss(f.loss, [&]<class Loss>() {
    using Gan = models::GAN<G, D, Loss>;
    return train_gan<Gan>(name, f, [&](Generator& init, const models::GanOptions& o) {
      auto [g, d] = make(init, o);
      return std::make_unique<Gan>(std::move(g), std::move(d), o);
    });
  });
}

using Net = nn::Sequential<float>;

}  // namespace

int mlp_gan_main(int argc, char** argv) {
  return loss_choosing_main<Net, Net>("mlp_gan", "Train the MLP GAN on Fashion-MNIST", 20, argc, argv,
                                      [](Generator& init, const models::GanOptions& o) {
                                        return std::pair{models::make_mlp_generator<float>(o.z_dim, init),
                                                         models::make_mlp_discriminator<float>(init)};
                                      });
}

int dcgan_main(int argc, char** argv) {
  return loss_choosing_main<Net, Net>("dcgan", "Train the DCGAN on Fashion-MNIST", 10, argc, argv,
                                      [](Generator& init, const models::GanOptions& o) {
                                        return std::pair{models::make_dcgan_generator<float>(o.z_dim, init),
                                                         models::make_dcgan_discriminator<float>(init)};
                                      });
}

int cgan_main(int argc, char** argv) {
  using G = models::ConditionalGenerator<float>;
  using D = models::ProjectionDiscriminator<float>;
  return loss_choosing_main<G, D>("cgan", "Train the conditional DCGAN (projection discriminator) on Fashion-MNIST",
                                  10, argc, argv, [](Generator& init, const models::GanOptions& o) {
                                    return std::pair{std::make_shared<G>(o.z_dim, 10, 50, init),
                                                     std::make_shared<D>(10, init)};
                                  });
}

int wgan_gp_main(int argc, char** argv) {
  GanFlags f;
  f.loss = "wgan-gp";
  CLI::App app{"Train WGAN-GP (DCGAN generator, critic without batch norm) on Fashion-MNIST"};
  add_gan_flags(app, f, "wgan_gp", 10, /*choose_loss=*/false);
  if (auto rc = parse_flags(app, f, "wgan_gp", argc, argv)) return *rc;
  using Gan = models::GAN<Net, Net, losses::WassersteinGP>;
  return train_gan<Gan>("wgan_gp", f, [](Generator& init, const models::GanOptions& o) {
    return std::make_unique<Gan>(models::make_dcgan_generator<float>(o.z_dim, init),
                                 models::make_dcgan_critic<float>(init), o);
  });
}

}  // namespace genmodel::examples
