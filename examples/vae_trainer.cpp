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
#include <genmodel/genmodel.hpp>
#include <numeric>
#include <string>

#include "vae_trainer.hpp"

#include "training_loop.hpp"

namespace genmodel::examples {

struct VaeFlags : TrainerFlags {
  double beta = 1.0;
  int64_t latent = 16;
  int64_t test_images = 10000;
  double temperature = 1.0;
  double label_dropout = 0.1;  // cvae: classifier-free guidance
  double guidance = 2.0;       // cvae (measured best of 1, 2, 3, 4 on label accuracy and FID; see README)
};

namespace {

using ConvVae = models::ConvVAE<float>;

/// The mean ELBO (beta 1) of `images` over batches of 500, eval mode, one z
/// per image from Generator(seed), so the training stream is left alone.
double test_elbo(ConvVae& vae, const data::Batch& test, bool conditional, uint64_t seed) {
  const bool was_training = vae.is_training();
  vae.eval();
  NoGradGuard no_grad;
  Generator g(seed);
  const int64_t n = test.images.size(0);
  double total = 0;
  for (int64_t i = 0; i < n; i += 500) {
    const int64_t b = std::min<int64_t>(500, n - i);
    const auto x = narrow(test.images, 0, i, b);
    const auto y = conditional ? narrow(test.labels, 0, i, b) : Tensor<int64_t>();
    const auto [mu, logvar] = vae.encode(x, y);
    const auto z = add(mu, mul(exp(mul(logvar, 0.5f)), randn<float>(mu.shape(), g)));
    const auto rec = models::BceReconstruction::per_example(vae.decode(z, y), x);
    const auto kl = losses::gaussian_kl(mu, logvar, losses::Reduction::none);
    total -= double(sum(add(rec, kl)).item());
  }
  vae.train(was_training);
  return total / double(n);
}

/// 8 rows of 10: from the latent mean of test image 2r to that of 2r + 1.
Tensor<float> interpolation(ConvVae& vae, const data::Batch& test, bool conditional) {
  const bool was_training = vae.is_training();
  vae.eval();
  NoGradGuard no_grad;
  constexpr int64_t kRows = 8, kSteps = 10;
  const auto x = narrow(test.images, 0, 0, 2 * kRows);
  const auto y = conditional ? narrow(test.labels, 0, 0, 2 * kRows) : Tensor<int64_t>();
  const auto mu = vae.encode(x, y).first;  // (16, L)
  std::vector<Tensor<float>> rows;
  for (int64_t r = 0; r < kRows; ++r) {
    const auto a = narrow(mu, 0, 2 * r, 1), b = narrow(mu, 0, 2 * r + 1, 1);
    std::vector<Tensor<float>> zs;
    for (int64_t k = 0; k < kSteps; ++k) zs.push_back(add(a, mul(sub(b, a), float(k) / float(kSteps - 1))));
    const auto z = concat(zs, 0);
    Tensor<int64_t> labels;
    if (conditional) labels = full<int64_t>(Shape{kSteps}, y.data()[2 * r]);
    rows.push_back(sigmoid(vae.decode(z, labels)));
  }
  vae.train(was_training);
  return concat(rows, 0);
}

}  // namespace

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
  app.add_option("--test-images", f.test_images, "test images for the test ELBO of each epoch")
      ->capture_default_str()->check(CLI::Range(1, 10000));
  if (auto rc = parse_flags(app, f, name, argc, argv)) return *rc;
  if (f.label_dropout == 0 && guidance_flag && guidance_flag->count() == 0) f.guidance = 1;
  if (f.guidance != 1.0 && f.label_dropout == 0) {
    std::fprintf(stderr, "%s: --guidance %g needs --label-dropout > 0 (the unconditional model)\n", name, f.guidance);
    return 2;
  }

  std::shared_ptr<ConvVae> vae;
  std::unique_ptr<optim::Adam<float>> opt;
  data::Batch test;
  double epoch_elbo = 0, epoch_rec = 0, epoch_kl = 0;  // sums over the epoch's batches so far
  int64_t epoch_batches = 0;
  const uint64_t grid_seed = f.seed << 20;
  return run_training(name, f, [&] {
    Generator init(f.seed);
    vae = models::make_conv_vae<float>({.latent_dim = f.latent, .num_classes = conditional ? 10 : 0},
                                       {.beta = f.beta, .seed = f.seed + 1, .label_dropout = f.label_dropout}, init);
    opt = std::make_unique<optim::Adam<float>>(vae->parameters(), optim::AdamOptions{.lr = f.lr > 0 ? f.lr : 1e-3});
    try {
      data::FashionMNIST ds(data::Split::test, {.dir = f.data_dir, .range = data::PixelRange::unit});
      std::vector<int64_t> first(static_cast<std::size_t>(f.test_images));
      std::iota(first.begin(), first.end(), int64_t(0));
      test = ds.get_batch(first);
    } catch (const Error& e) {
      throw Error(std::string("the test images (--data ") + (f.data_dir.empty() ? "default" : f.data_dir) +
                  "): " + e.what());
    }
    TrainingRun run;
    run.identity = {{"trainer", name}, {"beta", f.beta}, {"latent", f.latent}};
    if (conditional) run.identity["label_dropout"] = f.label_dropout;  // vae's checkpoints stay as they were
    run.parts.modules = {{"vae", vae.get()}};
    run.parts.optimizers = {{"opt", opt.get()}};
    run.parts.generators = {{"rng", &vae->generator()}};
    run.columns = {"elbo", "reconstruction", "kl", "test_elbo"};
    run.summary = std::to_string(vae->num_parameters()) + " parameters, latent " + std::to_string(f.latent) +
                  ", beta " + std::to_string(f.beta);
    run.range = data::PixelRange::unit;
    run.step = [&](TrainStream& stream) -> io::CsvLogger::Row {
      const data::Batch b = stream.next();
      const auto m = vae->train_step(b.images, *opt, conditional ? b.labels : Tensor<int64_t>());
      epoch_elbo -= m.reconstruction + m.kl;
      epoch_rec += m.reconstruction;
      epoch_kl += m.kl;
      ++epoch_batches;
      return {{"loss", m.total}, {"reconstruction", m.reconstruction}, {"kl", m.kl}};
    };
    run.epoch_metrics = [&](int64_t epoch) -> io::CsvLogger::Row {
      const double n = double(epoch_batches);
      io::CsvLogger::Row row = {{"elbo", epoch_elbo / n},
                                {"reconstruction", epoch_rec / n},
                                {"kl", epoch_kl / n},
                                {"test_elbo", test_elbo(*vae, test, conditional, grid_seed + uint64_t(epoch))}};
      epoch_elbo = epoch_rec = epoch_kl = 0;
      epoch_batches = 0;
      return row;
    };
    run.save_extra = [&] {
      return nlohmann::json{{"elbo", epoch_elbo}, {"reconstruction", epoch_rec}, {"kl", epoch_kl},
                            {"batches", epoch_batches}};
    };
    run.load_extra = [&](const nlohmann::json& j) {
      epoch_elbo = j.value("elbo", 0.0);
      epoch_rec = j.value("reconstruction", 0.0);
      epoch_kl = j.value("kl", 0.0);
      epoch_batches = j.value("batches", int64_t(0));
    };
    run.write_grids = [&](const std::filesystem::path& out, const std::string& suffix) {
      const int64_t n = conditional ? 100 : 64;
      const auto samples = vae->sample(n, grid_seed, conditional ? cycling_labels(n) : Tensor<int64_t>(), f.temperature,
                                     f.guidance);
      io::save_image_grid(out / ("samples" + suffix + ".png"), samples, {.nrow = conditional ? 10 : 8});
      const auto x = narrow(test.images, 0, 0, std::min<int64_t>(32, test.images.size(0)));
      const auto y = conditional ? narrow(test.labels, 0, 0, x.size(0)) : Tensor<int64_t>();
      io::save_image_grid(out / ("reconstructions" + suffix + ".png"), concat<float, cpu>({x, vae->reconstruct(x, y)}, 0),
                          {.nrow = 8});
      if (test.images.size(0) >= 16)
        io::save_image_grid(out / ("interpolation" + suffix + ".png"), interpolation(*vae, test, conditional),
                            {.nrow = 10});
      if (suffix.empty())
        std::printf("sample grid: %s (and reconstructions.png, interpolation.png)\n",
                    (out / "samples.png").string().c_str());
    };
    run.write_samples = [&] {
      write_generated_samples(f, conditional, [&](int64_t n, int64_t first, uint64_t chunk) {
        const uint64_t seed = grid_seed + 1 + chunk;
        const auto x = vae->sample(n, seed, conditional ? cycling_labels(n, first) : Tensor<int64_t>(), f.temperature,
                                     f.guidance);
        return add(mul(x, 2.0f), -1.0f);  // [0, 1] -> the files' [-1, 1]
      });
    };
    return run;
  });
}

}  // namespace genmodel::examples
