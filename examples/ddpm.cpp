// ddpm: denoising diffusion (genmodel/models/ddpm.hpp) with the U-Net of
// genmodel/models/unet.hpp on Fashion-MNIST padded to 32x32 (pixels in
// [-1, 1], the border -1): epsilon prediction, linear (or cosine) schedule
// over 1000 steps, Adam 2e-4, an EMA (0.999, warmed up as diffusers does) of
// the weights for sampling.
// --conditional adds class conditioning with classifier-free guidance (label
// dropped with probability 0.1 in training; --guidance S at sampling).
// Samples come from DDIM over --sample-steps steps (--eta) or, with
// --sampler ddpm, ancestral sampling over all 1000 steps; both clip the x0
// prediction to [-1, 1] at every step unless --no-clip-sample.
//   ddpm --seconds 3600                          # train; runs/ddpm/samples.png
//   ddpm --conditional --guidance 3 --out runs/ddpm_cond
//   ddpm --resume runs/ddpm/checkpoint.safetensors --sample-only --samples 10000 --samples-out s.idx3
//
// In --out DIR (default runs/ddpm):
//   samples.png, samples_<step>.png  64 samples from fixed noise (conditional: 10 per class, one per column)
//   metrics.csv           step, epoch, loss (the batch's denoising MSE), seconds
//   checkpoint.safetensors  the U-Net, Adam, the EMA weights, the training stream, the data position
// --samples-out FILE gets the samples cropped back to 28x28 (and FILE.labels
// for --conditional, labels cycling 0..9).
#include <genmodel/genmodel.hpp>
#include <sstream>

#include "training_loop.hpp"

namespace gm = genmodel;
namespace ex = genmodel::examples;

namespace {

struct DdpmFlags : ex::TrainerFlags {
  bool conditional = false;
  std::string sampler = "ddim";
  int64_t sample_steps = 50;
  double eta = 0;
  bool clip_sample = true;
  double guidance = 3;
  std::string schedule = "linear";
  int64_t timesteps = 1000;
  std::vector<int64_t> channels = {32, 64, 128};
};

using Unet = gm::models::UNet<float>;
using Ddpm = gm::models::DDPM<Unet>;

std::string join(const std::vector<int64_t>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

/// n samples (B, 1, 32, 32) in [-1, 1] by the chosen sampler; conditional: labels (first + i) % 10.
gm::Tensor<float> draw(Ddpm& ddpm, const DdpmFlags& f, int64_t n, uint64_t seed, int64_t first,
                       const Ddpm::Progress& progress = {}) {
  Ddpm::SampleOptions o{.guidance_scale = f.guidance, .eta = f.eta, .progress = progress};
  if (f.conditional) o.labels = ex::cycling_labels(n, first);
  const gm::Shape shape{n, 1, 32, 32};
  return f.sampler == "ddpm" ? ddpm.sample_ddpm(shape, seed, o) : ddpm.sample_ddim(shape, f.sample_steps, seed, o);
}

/// The centre 28x28 of (B, 1, 32, 32).
gm::Tensor<float> crop28(const gm::Tensor<float>& x) { return gm::narrow(gm::narrow(x, 2, 2, 28), 3, 2, 28); }

}  // namespace

int main(int argc, char** argv) {
  DdpmFlags f;
  CLI::App app{"Train a DDPM (U-Net denoiser) on Fashion-MNIST padded to 32x32"};
  f.sample_every = 0;
  f.checkpoint_every = 500;
  ex::add_trainer_flags(app, f, "ddpm", 0);
  app.add_flag("--conditional", f.conditional, "class-conditional, with classifier-free guidance");
  app.add_option("--sampler", f.sampler, "ddim (--sample-steps steps) or ddpm (ancestral, all timesteps)")
      ->capture_default_str()->check(CLI::IsMember({"ddim", "ddpm"}));
  app.add_option("--sample-steps", f.sample_steps, "DDIM steps")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--eta", f.eta, "DDIM eta (0: deterministic)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_flag("--clip-sample,!--no-clip-sample", f.clip_sample,
               "clip the x0 prediction to [-1, 1] at every sampling step (diffusers' clip_sample; default on)");
  app.add_option("--guidance", f.guidance, "classifier-free guidance scale (--conditional; 1: no guidance)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--schedule", f.schedule, "beta schedule: linear (1e-4..0.02) or cosine")
      ->capture_default_str()->check(CLI::IsMember({"linear", "cosine"}));
  app.add_option("--timesteps", f.timesteps, "diffusion steps T")->capture_default_str()->check(CLI::Range(2, 100000));
  app.add_option("--channels", f.channels, "U-Net widths per level (each a multiple of 8)")
      ->capture_default_str()->delimiter(',')->expected(1, 8)->check(CLI::Range(8, 4096));
  if (auto rc = ex::parse_flags(app, f, "ddpm", argc, argv)) return *rc;

  std::unique_ptr<Ddpm> ddpm;
  std::unique_ptr<gm::optim::Adam<float>> opt;
  return ex::run_training("ddpm", f, [&] {
    gm::Generator init(f.seed);
    auto unet = std::make_shared<Unet>(
        gm::models::UNetOptions{.channels = f.channels, .num_classes = f.conditional ? 10 : 0}, init);
    gm::models::NoiseScheduleOptions so{.num_train_timesteps = f.timesteps, .clip_sample = f.clip_sample};
    if (f.schedule == "cosine") so.beta_schedule = gm::models::BetaSchedule::cosine;
    ddpm = std::make_unique<Ddpm>(unet, gm::models::NoiseSchedule<float>(so),
                                  gm::models::DDPMOptions{.num_classes = f.conditional ? 10 : 0, .seed = f.seed + 1});
    opt = std::make_unique<gm::optim::Adam<float>>(unet->parameters(),
                                                   gm::optim::AdamOptions{.lr = f.lr > 0 ? f.lr : 2e-4});
    const uint64_t grid_seed = f.seed << 20;

    ex::TrainingRun run;
    run.identity = {{"trainer", "ddpm"}, {"conditional", f.conditional}, {"schedule", f.schedule},
                    {"timesteps", f.timesteps}, {"channels", join(f.channels)}};
    run.parts.modules = {{"unet", unet.get()}};
    run.parts.optimizers = {{"opt", opt.get()}};
    run.parts.emas = {{"ema", &ddpm->ema()}};
    run.parts.generators = {{"rng", &ddpm->generator()}};
    run.columns = {"loss"};
    run.summary = std::to_string(unet->num_parameters()) + " parameters in the U-Net (" + join(f.channels) + "), " +
                  f.schedule + " schedule, T = " + std::to_string(f.timesteps) +
                  (f.conditional ? ", class-conditional" : "");
    run.pad = 2;
    run.step = [&](ex::TrainStream& stream) -> gm::io::CsvLogger::Row {
      const gm::data::Batch b = stream.next();
      return {{"loss", ddpm->train_step(b.images, *opt, f.conditional ? b.labels : gm::Tensor<int64_t>())}};
    };
    run.write_grids = [&, grid_seed](const std::filesystem::path& out, const std::string& suffix) {
      const int64_t n = f.conditional ? 100 : 64;
      gm::io::save_image_grid(out / ("samples" + suffix + ".png"), draw(*ddpm, f, n, grid_seed, 0),
                              {.nrow = f.conditional ? 10 : 8, .lo = -1, .hi = 1});
      if (suffix.empty()) std::printf("sample grid: %s\n", (out / "samples.png").string().c_str());
    };
    run.write_samples = [&, grid_seed] {
      const int64_t steps = f.sampler == "ddpm" ? f.timesteps : f.sample_steps;
      const int64_t chunks = (f.samples + 499) / 500;  // write_generated_samples' chunks
      gm::io::Progress progress(chunks * steps, {.every_steps = steps, .unit = "image steps"});
      ex::write_generated_samples(f, f.conditional, [&](int64_t n, int64_t first, uint64_t chunk) {
        return crop28(draw(*ddpm, f, n, grid_seed + 1 + chunk, first,
                           [&](int64_t, int64_t, int64_t) { progress.step(n); }));
      });
    };
    return run;
  });
}
