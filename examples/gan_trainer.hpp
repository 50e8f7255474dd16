// examples/gan_trainer.hpp: the training loop shared by the GAN trainers
// (mlp_gan, dcgan, cgan, wgan_gp): flags, resume, metrics, sample grids,
// checkpoints and sample files. A trainer picks its networks and loss and
// calls train_gan<GanType>(name, flags, make).
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

#include "trainer_common.hpp"

namespace genmodel::examples {

struct GanFlags : TrainerFlags {
  std::string loss = "bce";  // bce | lsgan | hinge (trainers that offer --loss)
  double r1 = 0;             // R1 penalty weight
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

/// n samples; conditional ones get labels (first + i) % 10.
template <class Gan>
Tensor<float> gan_samples(Gan& gan, int64_t n, uint64_t seed, int64_t first = 0) {
  if constexpr (Gan::conditional) {
    auto labels = Tensor<int64_t>::empty({n});
    for (int64_t i = 0; i < n; ++i) labels.data()[i] = (first + i) % 10;
    return gan.sample(labels, seed);
  } else {
    return gan.sample(n, seed);
  }
}

/// The fixed-latent grid: 8x8, or 10x10 with one class per column.
template <class Gan>
void write_grid(Gan& gan, const std::filesystem::path& path, uint64_t seed) {
  const int64_t n = Gan::conditional ? 100 : 64;
  io::save_image_grid(path, gan_samples(gan, n, seed), {.nrow = Gan::conditional ? 10 : 8, .lo = -1, .hi = 1});
}

/// --samples N images (labels cycling 0..9 when conditional) to --samples-out.
template <class Gan>
void write_samples(Gan& gan, const TrainerFlags& f, uint64_t seed) {
  constexpr int64_t kChunk = 500;
  std::vector<Tensor<float>> parts;
  for (int64_t done = 0, chunk = 0; done < f.samples; done += kChunk, ++chunk)
    parts.push_back(gan_samples(gan, std::min(kChunk, f.samples - done), seed + 1 + uint64_t(chunk), done));
  const auto images = concat(parts, 0);
  Tensor<int64_t> labels;
  if constexpr (Gan::conditional) {
    labels = Tensor<int64_t>::empty({f.samples});
    for (int64_t i = 0; i < f.samples; ++i) labels.data()[i] = i % 10;
  }
  write_sample_files(f.samples_out, images, labels);
  std::printf("wrote %lld samples to %s%s\n", static_cast<long long>(f.samples), f.samples_out.c_str(),
              Gan::conditional ? " (labels in .labels)" : "");
}

}  // namespace detail

/// The whole run. make(init_generator, options) builds the model as a
/// std::unique_ptr<Gan>; options come from gan_defaults<Loss>() and the flags.
template <class Gan, class Make>
int train_gan(const char* name, const GanFlags& f, Make&& make) {
  return run_reporting_errors(name, [&] {
    namespace fs = std::filesystem;
    if (f.threads > 0) set_num_threads(f.threads);
    Generator init(f.seed);
    models::GanOptions opts = models::gan_defaults<typename Gan::loss_type>();
    opts.seed = f.seed + 1;  // latents: a stream apart from initialisation
    if (f.lr > 0) opts.opt_g.lr = opts.opt_d.lr = f.lr;
    opts.r1_gamma = f.r1;
    std::unique_ptr<Gan> gan = make(init, opts);

    io::TrainingParts<float> parts;
    parts.modules = {{"G", &gan->generator()}, {"D", &gan->discriminator()}};
    parts.optimizers = {{"opt_G", &gan->optimizer_g()}, {"opt_D", &gan->optimizer_d()}};
    parts.generators = {{"rng", &gan->rng()}};

    int64_t step = 0;
    DataPosition pos;
    double seconds_before = 0;
    if (!f.resume.empty()) {
      const io::TrainingState st = io::load_training_state(f.resume, parts);
      const auto& x = st.extra;
      GM_CHECK(x.value("trainer", "") == name && x.value("loss", "") == f.loss, f.resume, ": a checkpoint of '",
               x.value("trainer", "?"), "' with loss '", x.value("loss", "?"), "', not of '", name, "' with loss '",
               f.loss, "'");
      step = st.step;
      pos = {x.value("epoch", int64_t(0)), x.value("batch", int64_t(0))};
      seconds_before = x.value("seconds", 0.0);
      std::printf("resumed %s at step %lld (epoch %lld, batch %lld)\n", f.resume.c_str(), static_cast<long long>(step),
                  static_cast<long long>(pos.epoch), static_cast<long long>(pos.batch));
    }
    const fs::path out(f.out_dir);
    fs::create_directories(out);
    const uint64_t grid_seed = f.seed << 20;
    auto finish = [&] {
      detail::write_grid(*gan, out / "samples.png", grid_seed);
      std::printf("sample grid: %s\n", (out / "samples.png").string().c_str());
      if (f.samples > 0) detail::write_samples(*gan, f, grid_seed);
      return 0;
    };
    if (f.sample_only) return finish();

    BatchStream stream(training_images(f), {.batch_size = f.batch, .shuffle = true, .seed = f.seed, .drop_last = true});
    GM_CHECK(stream.batches_per_epoch() > 0, "--batch ", f.batch, " is larger than the ",
             f.limit > 0 ? "--limit" : "training set", " of images");
    stream.set_position(pos);
    io::CsvLogger log(out / "metrics.csv", f.resume.empty() ? io::CsvLogger::Mode::truncate : io::CsvLogger::Mode::append,
                      {"step", "epoch", "loss_d", "loss_g", "penalty", "d_real", "d_fake", "seconds"});
    const StopRule stop(f);
    auto save = [&] {
      const DataPosition p = stream.position();
      io::save_training_state(out / "checkpoint.safetensors", parts, step,
                              {{"trainer", name}, {"loss", f.loss}, {"epoch", p.epoch}, {"batch", p.batch},
                               {"seconds", seconds_before + stop.elapsed()}});
    };
    const int n_critic = gan->options().n_critic;
    const int64_t planned = stop.planned_steps(stream.batches_per_epoch() / n_critic);
    std::printf("%s: %lld parameters in G, %lld in D; batch %lld, %d threads%s\n", name,
                static_cast<long long>(gan->generator().num_parameters()),
                static_cast<long long>(gan->discriminator().num_parameters()), static_cast<long long>(f.batch),
                num_threads(), n_critic > 1 ? (", " + std::to_string(n_critic) + " critic updates per step").c_str() : "");
    {
      io::Progress progress(planned, {.every_steps = 100, .start_step = step, .unit = "img"});
      while (!stop.done(step, stream.position())) {
        const models::GanMetrics m = gan->train_step([&] { return stream.next(); });
        ++step;
        GM_CHECK(std::isfinite(m.loss_d) && std::isfinite(m.loss_g), "training diverged at step ", step, ": loss_d ",
                 m.loss_d, ", loss_g ", m.loss_g);
        progress.set_epoch(stream.position().epoch + 1, f.epochs);
        progress.step(f.batch * n_critic,
                      {{"loss_d", m.loss_d}, {"loss_g", m.loss_g}, {"D(x)", m.d_real}, {"D(G(z))", m.d_fake}});
        if (step % f.log_every == 0)
          log.log({{"step", double(step)}, {"epoch", double(stream.position().epoch)}, {"loss_d", m.loss_d},
                   {"loss_g", m.loss_g}, {"penalty", m.penalty}, {"d_real", m.d_real}, {"d_fake", m.d_fake},
                   {"seconds", seconds_before + stop.elapsed()}});
        if (f.sample_every > 0 && step % f.sample_every == 0) {
          char file[32];
          std::snprintf(file, sizeof file, "samples_%06lld.png", static_cast<long long>(step));
          detail::write_grid(*gan, out / file, grid_seed);
        }
        if (f.checkpoint_every > 0 && step % f.checkpoint_every == 0) save();
      }
    }
    save();
    std::printf("trained to step %lld (epoch %lld) in %.1f s; checkpoint: %s\n", static_cast<long long>(step),
                static_cast<long long>(stream.position().epoch), stop.elapsed(),
                (out / "checkpoint.safetensors").string().c_str());
    return finish();
  });
}

}  // namespace genmodel::examples
