// examples/gan_trainer.hpp: what the GAN trainers (mlp_gan, dcgan, cgan,
// wgan_gp) share on top of training_loop.hpp: the GAN flags, the loss
// choice, the checkpoint's parts, grids and sample files. A trainer picks
// its networks and loss and calls train_gan<GanType>(name, flags, make).
//
// In --out DIR (default runs/<name>):
//   samples_<step>.png    every --sample-every steps: 64 samples from fixed latents
//                         (conditional: 10 per class, one class per column)
//   samples.png           the same at the end (its path is printed)
//   metrics.csv           step, epoch, loss_d, loss_g, penalty, d_real, d_fake, seconds
//   checkpoint.safetensors  G, D, both optimizers, the latent stream, the data
//                         position: --resume continues the run exactly
#pragma once

#include <cmath>
#include <genmodel/genmodel.hpp>
#include <string>

#include "training_loop.hpp"

namespace genmodel::examples {

struct GanFlags : TrainerFlags {
  std::string loss = "bce";  // bce | lsgan | hinge (trainers that offer --loss)
  double r1 = 0;             // R1 penalty weight
  std::string device = "cpu";  // cpu | cuda (a build with the CUDA backend)
};

inline void add_gan_flags(CLI::App& app, GanFlags& f, const std::string& name, int64_t epochs, bool choose_loss) {
  add_trainer_flags(app, f, name, epochs);
  if (choose_loss)
    app.add_option("--loss", f.loss, "GAN objective: bce (non-saturating), lsgan (least squares) or hinge")
        ->capture_default_str()
        ->check(CLI::IsMember({"bce", "lsgan", "hinge"}));
  app.add_option("--r1", f.r1, "R1 penalty weight on real images (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device", f.device, "train on the CPU or on the GPU (cuda: a build with the CUDA backend)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

/// fn.template operator()<Loss>() for the policy --loss names.
template <class Fn>
int with_loss(const std::string& loss, Fn&& fn) {
  if (loss == "lsgan") return fn.template operator()<losses::LeastSquares>();
  if (loss == "hinge") return fn.template operator()<losses::Hinge>();
  GM_CHECK(loss == "bce", "unknown loss '", loss, "'");
  return fn.template operator()<losses::NonSaturating>();
}

namespace detail {

/// n samples on the host; conditional ones get labels (first + i) % 10.
template <class Gan>
Tensor<float> gan_samples(Gan& gan, int64_t n, uint64_t seed, int64_t first = 0) {
  using Dev = typename Gan::Dev;
  if constexpr (Gan::conditional)
    return gan.sample(cycling_labels(n, first).template to<Dev>(), seed).template to<cpu>();
  else
    return gan.sample(n, seed).template to<cpu>();
}


/// The fixed-latent grid: 8x8, or 10x10 with one class per column.
template <class Gan>
void write_grid(Gan& gan, const std::filesystem::path& path, uint64_t seed) {
  const int64_t n = Gan::conditional ? 100 : 64;
  io::save_image_grid(path, gan_samples(gan, n, seed), {.nrow = Gan::conditional ? 10 : 8, .lo = -1, .hi = 1});
}

}  // namespace detail

/// The whole run. make(init_generator, options) builds the model as a
/// std::unique_ptr<Gan>; options come from gan_defaults<Loss>() and the flags.
template <class Gan, class Make>
int train_gan(const char* name, const GanFlags& f, Make&& make) {
  std::unique_ptr<Gan> gan;
  return run_training(name, f, [&] {
    Generator init(f.seed);
    models::GanOptions opts = models::gan_defaults<typename Gan::loss_type>();
    opts.seed = f.seed + 1;  // latents: a stream apart from initialisation
    if (f.lr > 0) opts.opt_g.lr = opts.opt_d.lr = f.lr;
    opts.r1_gamma = f.r1;
    gan = make(init, opts);
    const int n_critic = gan->options().n_critic;
    const uint64_t grid_seed = f.seed << 20;

    TrainingRunOn<typename Gan::Dev> run;
    run.identity = {{"trainer", name}, {"loss", f.loss}};
    run.parts.modules = {{"G", &gan->generator()}, {"D", &gan->discriminator()}};
    run.parts.optimizers = {{"opt_G", &gan->optimizer_g()}, {"opt_D", &gan->optimizer_d()}};
    run.parts.generators = {{"rng", &gan->rng()}};
    run.columns = {"loss_d", "loss_g", "penalty", "d_real", "d_fake"};
    run.summary = std::to_string(gan->generator().num_parameters()) + " parameters in G, " +
                  std::to_string(gan->discriminator().num_parameters()) + " in D" +
                  (n_critic > 1 ? ", " + std::to_string(n_critic) + " critic updates per step" : "") +
                  (std::is_same_v<typename Gan::Dev, cpu> ? "" : ", on the GPU");
    run.batches_per_step = n_critic;
    run.step = [&](TrainStream& stream) -> io::CsvLogger::Row {
      const models::GanMetrics m =
          gan->train_step([&] { return DeviceBatch<typename Gan::Dev>(stream.next()); });
      return {{"loss_d", m.loss_d}, {"loss_g", m.loss_g}, {"penalty", m.penalty}, {"d_real", m.d_real},
              {"d_fake", m.d_fake}};
    };
    run.write_grids = [&, grid_seed](const std::filesystem::path& out, const std::string& suffix) {
      detail::write_grid(*gan, out / ("samples" + suffix + ".png"), grid_seed);
      if (suffix.empty()) std::printf("sample grid: %s\n", (out / "samples.png").string().c_str());
    };
    run.write_samples = [&, grid_seed] {
      write_generated_samples(f, Gan::conditional, [&](int64_t n, int64_t first, uint64_t chunk) {
        return detail::gan_samples(*gan, n, grid_seed + 1 + chunk, first);
      });
    };
    return run;
  });
}

}  // namespace genmodel::examples
