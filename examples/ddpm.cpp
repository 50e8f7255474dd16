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
//   ddpm --device cuda --seconds 600             # the same on the GPU (a CUDA build)
//   ddpm --conditional --guidance 3 --out runs/ddpm_cond
//   ddpm --resume runs/ddpm/checkpoint.safetensors --sample-only --samples 10000 --samples-out s.idx3
//
// In --out DIR (default runs/ddpm):
//   samples.png, samples_<step>.png  64 samples from fixed noise (conditional: 10 per class, one per column)
//   metrics.csv           step, epoch, loss (the batch's denoising MSE), seconds
//   checkpoint.safetensors  the U-Net, Adam, the EMA weights, the training stream, the data position
// --samples-out FILE gets the samples cropped back to 28x28 (and FILE.labels
// for --conditional, labels cycling 0..9).
#include "ddpm_run.hpp"

namespace gm = genmodel;
namespace ex = genmodel::examples;

#if !defined(GENMODEL_TRAINERS_WITH_CUDA)
int genmodel::examples::run_ddpm_cuda(const DdpmFlags&) {
  std::fprintf(stderr, "ddpm: --device cuda: this build has no CUDA backend (configure with GENMODEL_WITH_CUDA=ON "
               "and a CUDA compiler)\n");
  return 2;
}
#endif

int main(int argc, char** argv) {
  ex::DdpmFlags f;
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
  app.add_option("--device", f.device, "train on the CPU or on the GPU (cuda: a build with the CUDA backend)")
      ->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  if (auto rc = ex::parse_flags(app, f, "ddpm", argc, argv)) return *rc;
  return f.device == "cuda" ? ex::run_ddpm_cuda(f) : ex::run_ddpm<gm::cpu>(f);
}

