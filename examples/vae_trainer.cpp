// examples/vae_trainer.cpp: the trainers vae and cvae (one object file, two
// mains): the convolutional VAE of genmodel/models/vae_architectures.hpp
// (16-d latent, BCE reconstruction on pixels in [0, 1]; cvae: a label
// embedding fed to encoder and decoder) on Fashion-MNIST with Adam 1e-3,
// through training_loop.hpp. --beta B weighs the KL term (beta-VAE);
// --temperature T samples z ~ N(0, T^2 I) instead of N(0, I). cvae trains
// with --label-dropout 0.1 (the null label, as the DDPM trainer's) so that
// --guidance S (default 2) samples with classifier-free guidance.
//
// In --out DIR (default runs/<name>):
//   samples.png           64 images decoded from fixed z ~ N(0, T^2 I) (cvae: 10 per class, one per column)
//   reconstructions.png   32 test images (upper four rows) above their reconstructions (lower four)
//   interpolation.png     8 rows: the decoded line between the latent means of two test images
//                         (cvae: decoded with the left image's label)
//   *_<step>.png          the same every --sample-every steps
//   metrics.csv           one row per epoch: step, epoch, elbo (training: the mean over the
//                         epoch's batches), reconstruction, kl, test_elbo (--test-images test
//                         images, one z each), seconds; ELBOs in nats per image, beta = 1
//   checkpoint.safetensors  the VAE, Adam, the eps stream, the data position
// --samples N --samples-out FILE writes N decoded samples (cvae: labels
// cycling 0..9 in FILE.labels).
#include "vae_trainer.hpp"

#include "vae_run.hpp"

namespace genmodel::examples {

#if !defined(GENMODEL_TRAINERS_WITH_CUDA)
int run_vae_cuda(const char* name, bool, const VaeFlags&) {
  std::fprintf(stderr, "%s: --device cuda: this build has no CUDA backend (configure with GENMODEL_WITH_CUDA=ON "
               "and a CUDA compiler)\n", name);
  return 2;
}
#endif

int train_vae(const char* name, bool conditional, int argc, char** argv) {
  VaeFlags f;
  CLI::App app{conditional ? "Train the conditional convolutional VAE on Fashion-MNIST"
                           : "Train the convolutional VAE on Fashion-MNIST"};
  f.sample_every = 0;
  add_trainer_flags(app, f, name, 20);
  app.add_option("--beta", f.beta, "weight of the KL term (1: the VAE; other values: beta-VAE)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--latent", f.latent, "latent dimensions")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--temperature", f.temperature, "sampling: z ~ N(0, T^2 I) for the grids and --samples-out")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  CLI::Option* guidance_flag = nullptr;
  if (conditional) {
    app.add_option("--label-dropout", f.label_dropout,
                   "P(a training label -> the null label): learns the unconditional model too (0: off)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    guidance_flag = app.add_option("--guidance", f.guidance,
                   "classifier-free guidance scale of the grids and --samples-out (1: conditional only, "
                   "the default with --label-dropout 0; other values need --label-dropout > 0)")
        ->capture_default_str();
  } else {
    f.label_dropout = 0;
    f.guidance = 1;
  }
  app.add_option("--device", f.device, "train on the CPU or on the GPU (cuda: a build with the CUDA backend)")
      ->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--test-images", f.test_images, "test images for the test ELBO of each epoch")
      ->capture_default_str()->check(CLI::Range(1, 10000));
  if (auto rc = parse_flags(app, f, name, argc, argv)) return *rc;
  if (f.label_dropout == 0 && guidance_flag && guidance_flag->count() == 0) f.guidance = 1;
  if (f.guidance != 1.0 && f.label_dropout == 0) {
    std::fprintf(stderr, "%s: --guidance %g needs --label-dropout > 0 (the unconditional model)\n", name, f.guidance);
    return 2;
  }

  return f.device == "cuda" ? run_vae_cuda(name, conditional, f) : run_vae<cpu>(name, conditional, f);
}

}  // namespace genmodel::examples
