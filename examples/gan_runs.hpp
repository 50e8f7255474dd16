// examples/gan_runs.hpp: the four GAN trainers' runs after flag parsing,
// for a device: run_gan<Dev>(name, flags) builds the trainer's networks and
// loss on Dev and runs train_gan. gan_trainers.cpp instantiates it for the
// CPU; gan_trainers_cuda.cu (nvcc, a build with the CUDA backend) for cuda,
// behind run_gan_cuda, which gan_trainers.cpp calls for --device cuda.
#pragma once

#include <string>

#include "gan_trainer.hpp"

namespace genmodel::examples {

/// The run of --device cuda: gan_trainers_cuda.cu, or an error in a build
/// without the CUDA backend.
int run_gan_cuda(const std::string& name, const GanFlags& f);

template <class Dev>
int run_gan(const std::string& name, const GanFlags& f) {
  using Net = nn::Sequential<float, Dev>;
  const char* id = name.c_str();
  // The GAN of one loss, made by make(init, options) -> {G, D}.
  auto with = [&]<class G, class Dis, class Loss>(auto make) {
    using Gan = models::GAN<G, Dis, Loss>;
    return train_gan<Gan>(id, f, [&](Generator& init, const models::GanOptions& o) {
      auto [g, d] = make(init, o);
      return std::make_unique<Gan>(std::move(g), std::move(d), o);
    });
  };
  // The trainers that offer --loss.
  auto choosing = [&]<class G, class Dis>(auto make) {
    return with_loss(f.loss, [&]<class Loss>() { return with.template operator()<G, Dis, Loss>(make); });
  };
  if (name == "mlp_gan")
    return choosing.template operator()<Net, Net>([](Generator& init, const models::GanOptions& o) {
      return std::pair{models::make_mlp_generator<float, Dev>(o.z_dim, init),
                       models::make_mlp_discriminator<float, Dev>(init)};
    });
  if (name == "dcgan")
    return choosing.template operator()<Net, Net>([](Generator& init, const models::GanOptions& o) {
      return std::pair{models::make_dcgan_generator<float, Dev>(o.z_dim, init),
                       models::make_dcgan_discriminator<float, Dev>(init)};
    });
  if (name == "cgan") {
    using G = models::ConditionalGenerator<float, Dev>;
    using Dis = models::ProjectionDiscriminator<float, Dev>;
    return choosing.template operator()<G, Dis>([](Generator& init, const models::GanOptions& o) {
      return std::pair{std::make_shared<G>(o.z_dim, 10, 50, init), std::make_shared<Dis>(10, init)};
    });
  }
  GM_CHECK(name == "wgan_gp", "unknown GAN trainer '", name, "'");
  return with.template operator()<Net, Net, losses::WassersteinGP>([](Generator& init, const models::GanOptions& o) {
    return std::pair{models::make_dcgan_generator<float, Dev>(o.z_dim, init),
                     models::make_dcgan_critic<float, Dev>(init)};
  });
}

}  // namespace genmodel::examples
