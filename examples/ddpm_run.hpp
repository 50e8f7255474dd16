// examples/ddpm_run.hpp: the ddpm trainer's run after flag parsing, for a
// device: run_ddpm<Dev>(flags). ddpm.cpp parses the flags and runs it on the
// CPU, or with --device cuda through run_ddpm_cuda (ddpm_cuda.cu, nvcc, a
// build with the CUDA backend). Batches come from the host stream and are
// copied to the device; grids, sample files and checkpoints are written from
// host copies, so a checkpoint of either device resumes on the other.
#pragma once

#include <genmodel/genmodel.hpp>
#include <sstream>

#include "training_loop.hpp"

namespace genmodel::examples {

struct DdpmFlags : TrainerFlags {
  bool conditional = false;
  std::string sampler = "ddim";
  int64_t sample_steps = 50;
  double eta = 0;
  bool clip_sample = true;
  double guidance = 3;
  std::string schedule = "linear";
  int64_t timesteps = 1000;
  std::vector<int64_t> channels = {32, 64, 128};
  std::string device = "cpu";  // cpu | cuda
};

/// The run of --device cuda: ddpm_cuda.cu, or an error in a build without the CUDA backend.
int run_ddpm_cuda(const DdpmFlags& f);

namespace ddpm_detail {
inline std::string join(const std::vector<int64_t>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

/// n samples (B, 1, 32, 32) in [-1, 1] by the chosen sampler, on the host;
/// conditional: labels (first + i) % 10.
template <class Dev, class Ddpm>
Tensor<float> draw(Ddpm& ddpm, const DdpmFlags& f, int64_t n, uint64_t seed, int64_t first,
                   const typename Ddpm::Progress& progress = {}) {
  typename Ddpm::SampleOptions o{.guidance_scale = f.guidance, .eta = f.eta, .progress = progress};
  if (f.conditional) o.labels = cycling_labels(n, first).template to<Dev>();
  const Shape shape{n, 1, 32, 32};
  const auto x =
      f.sampler == "ddpm" ? ddpm.sample_ddpm(shape, seed, o) : ddpm.sample_ddim(shape, f.sample_steps, seed, o);
  return x.template to<cpu>();
}

/// The centre 28x28 of (B, 1, 32, 32).
inline Tensor<float> crop28(const Tensor<float>& x) { return narrow(narrow(x, 2, 2, 28), 3, 2, 28); }
}  // namespace ddpm_detail

template <class Dev>
int run_ddpm(const DdpmFlags& f) {
  using Unet = models::UNet<float, Dev>;
  using Ddpm = models::DDPM<Unet>;
  using namespace ddpm_detail;
  std::unique_ptr<Ddpm> ddpm;
  std::unique_ptr<optim::Adam<float, Dev>> opt;
  return run_training("ddpm", f, [&] {
    Generator init(f.seed);
    auto unet = std::make_shared<Unet>(
        models::UNetOptions{.channels = f.channels, .num_classes = f.conditional ? 10 : 0}, init);
    models::NoiseScheduleOptions so{.num_train_timesteps = f.timesteps, .clip_sample = f.clip_sample};
    if (f.schedule == "cosine") so.beta_schedule = models::BetaSchedule::cosine;
    ddpm = std::make_unique<Ddpm>(unet, models::NoiseSchedule<float, Dev>(so),
                                  models::DDPMOptions{.num_classes = f.conditional ? 10 : 0, .seed = f.seed + 1});
    opt = std::make_unique<optim::Adam<float, Dev>>(unet->parameters(),
                                                    optim::AdamOptions{.lr = f.lr > 0 ? f.lr : 2e-4});
    const uint64_t grid_seed = f.seed << 20;

    TrainingRunOn<Dev> run;
    run.identity = {{"trainer", "ddpm"}, {"conditional", f.conditional}, {"schedule", f.schedule},
                    {"timesteps", f.timesteps}, {"channels", join(f.channels)}};
    run.parts.modules = {{"unet", unet.get()}};
    run.parts.optimizers = {{"opt", opt.get()}};
    run.parts.emas = {{"ema", &ddpm->ema()}};
    run.parts.generators = {{"rng", &ddpm->generator()}};
    run.columns = {"loss"};
    run.summary = std::to_string(unet->num_parameters()) + " parameters in the U-Net (" + join(f.channels) + "), " +
                  f.schedule + " schedule, T = " + std::to_string(f.timesteps) +
                  (f.conditional ? ", class-conditional" : "") + (std::is_same_v<Dev, cpu> ? "" : ", on the GPU");
    run.pad = 2;
    run.step = [&](TrainStream& stream) -> io::CsvLogger::Row {
      const DeviceBatch<Dev> b(stream.next());
      return {{"loss", ddpm->train_step(b.images, *opt, f.conditional ? b.labels : Tensor<int64_t, Dev>())}};
    };
    run.write_grids = [&, grid_seed](const std::filesystem::path& out, const std::string& suffix) {
      const int64_t n = f.conditional ? 100 : 64;
      io::save_image_grid(out / ("samples" + suffix + ".png"), draw<Dev>(*ddpm, f, n, grid_seed, 0),
                          {.nrow = f.conditional ? 10 : 8, .lo = -1, .hi = 1});
      if (suffix.empty()) std::printf("sample grid: %s\n", (out / "samples.png").string().c_str());
    };
    run.write_samples = [&, grid_seed] {
      const int64_t steps = f.sampler == "ddpm" ? f.timesteps : f.sample_steps;
      const int64_t chunks = (f.samples + 499) / 500;  // write_generated_samples' chunks
      io::Progress progress(chunks * steps, {.every_steps = steps, .unit = "image steps"});
      write_generated_samples(f, f.conditional, [&](int64_t n, int64_t first, uint64_t chunk) {
        return crop28(draw<Dev>(*ddpm, f, n, grid_seed + 1 + chunk, first,
                           [&](int64_t, int64_t, int64_t) { progress.step(n); }));
      });
    };
    return run;
  });
}

}  // namespace genmodel::examples
