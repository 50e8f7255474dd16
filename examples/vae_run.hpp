// examples/vae_run.hpp: the vae and cvae trainers' run after flag parsing,
// for a device: run_vae<Dev>(name, conditional, flags). vae_trainer.cpp
// parses the flags and runs it on the CPU, or with --device cuda through
// run_vae_cuda (vae_trainer_cuda.cu, nvcc, a build with the CUDA backend).
// The test images are copied to the device once; grids, sample files and
// checkpoints are written from host copies.
#pragma once

#include <genmodel/genmodel.hpp>
#include <numeric>
#include <optional>
#include <string>

#include "training_loop.hpp"

namespace genmodel::examples {

struct VaeFlags : TrainerFlags {
  double beta = 1.0;
  int64_t latent = 16;
  int64_t test_images = 10000;
  double temperature = 1.0;
  double label_dropout = 0.1;  // cvae: classifier-free guidance
  double guidance = 2.0;       // cvae (measured best of 1, 2, 3, 4 on label accuracy and FID; see README)
  std::string device = "cpu";  // cpu | cuda
};

/// The run of --device cuda: vae_trainer_cuda.cu, or an error in a build without the CUDA backend.
int run_vae_cuda(const char* name, bool conditional, const VaeFlags& f);

namespace vae_detail {

/// The mean ELBO (beta 1) of `images` over batches of 500, eval mode, one z
/// per image from Generator(seed), so the training stream is left alone.
template <class Dev>
double test_elbo(models::ConvVAE<float, Dev>& vae, const DeviceBatch<Dev>& test, bool conditional, uint64_t seed) {
  const bool was_training = vae.is_training();
  vae.eval();
  NoGradGuard no_grad;
  Generator g(seed);
  const int64_t n = test.images.size(0);
  double total = 0;
  for (int64_t i = 0; i < n; i += 500) {
    const int64_t b = std::min<int64_t>(500, n - i);
    const auto x = narrow(test.images, 0, i, b);
    const auto y = conditional ? narrow(test.labels, 0, i, b) : Tensor<int64_t, Dev>();
    const auto [mu, logvar] = vae.encode(x, y);
    const auto z = add(mu, mul(exp(mul(logvar, 0.5f)), randn<float, Dev>(mu.shape(), g)));
    const auto rec = models::BceReconstruction::per_example(vae.decode(z, y), x);
    const auto kl = losses::gaussian_kl(mu, logvar, losses::Reduction::none);
    total -= double(sum(add(rec, kl)).item());
  }
  vae.train(was_training);
  return total / double(n);
}

/// 8 rows of 10: from the latent mean of test image 2r to that of 2r + 1.
template <class Dev>
Tensor<float, Dev> interpolation(models::ConvVAE<float, Dev>& vae, const DeviceBatch<Dev>& test, bool conditional) {
  const bool was_training = vae.is_training();
  vae.eval();
  NoGradGuard no_grad;
  constexpr int64_t kRows = 8, kSteps = 10;
  const auto x = narrow(test.images, 0, 0, 2 * kRows);
  const auto y = conditional ? narrow(test.labels, 0, 0, 2 * kRows) : Tensor<int64_t, Dev>();
  const auto y_host = y.defined() ? y.template to<cpu>() : Tensor<int64_t>();
  const auto mu = vae.encode(x, y).first;  // (16, L)
  std::vector<Tensor<float, Dev>> rows;
  for (int64_t r = 0; r < kRows; ++r) {
    const auto a = narrow(mu, 0, 2 * r, 1), b = narrow(mu, 0, 2 * r + 1, 1);
    std::vector<Tensor<float, Dev>> zs;
    for (int64_t k = 0; k < kSteps; ++k) zs.push_back(add(a, mul(sub(b, a), float(k) / float(kSteps - 1))));
    const auto z = concat(zs, 0);
    Tensor<int64_t, Dev> labels;
    if (conditional) labels = full<int64_t, Dev>(Shape{kSteps}, y_host.data()[2 * r]);
    rows.push_back(sigmoid(vae.decode(z, labels)));
  }
  vae.train(was_training);
  return concat(rows, 0);
}

}  // namespace vae_detail

template <class Dev>
int run_vae(const char* name, bool conditional, const VaeFlags& f) {
  using namespace vae_detail;
  std::shared_ptr<models::ConvVAE<float, Dev>> vae;
  std::unique_ptr<optim::Adam<float, Dev>> opt;
  std::optional<DeviceBatch<Dev>> test_on_device;  // the test images, copied to Dev once
  double epoch_elbo = 0, epoch_rec = 0, epoch_kl = 0;  // sums over the epoch's batches so far
  int64_t epoch_batches = 0;
  const uint64_t grid_seed = f.seed << 20;
  return run_training(name, f, [&] {
    Generator init(f.seed);
    vae = models::make_conv_vae<float, Dev>({.latent_dim = f.latent, .num_classes = conditional ? 10 : 0},
                                       {.beta = f.beta, .seed = f.seed + 1, .label_dropout = f.label_dropout}, init);
    opt = std::make_unique<optim::Adam<float, Dev>>(vae->parameters(),
                                                    optim::AdamOptions{.lr = f.lr > 0 ? f.lr : 1e-3});
    try {
      data::FashionMNIST ds(data::Split::test, {.dir = f.data_dir, .range = data::PixelRange::unit});
      std::vector<int64_t> first(static_cast<std::size_t>(f.test_images));
      std::iota(first.begin(), first.end(), int64_t(0));
      test_on_device.emplace(ds.get_batch(first));
    } catch (const Error& e) {
      throw Error(std::string("the test images (--data ") + (f.data_dir.empty() ? "default" : f.data_dir) +
                  "): " + e.what());
    }
    const DeviceBatch<Dev>& test = *test_on_device;
    TrainingRunOn<Dev> run;
    run.identity = {{"trainer", name}, {"beta", f.beta}, {"latent", f.latent}};
    if (conditional) run.identity["label_dropout"] = f.label_dropout;  // vae's checkpoints stay as they were
    run.parts.modules = {{"vae", vae.get()}};
    run.parts.optimizers = {{"opt", opt.get()}};
    run.parts.generators = {{"rng", &vae->generator()}};
    run.columns = {"elbo", "reconstruction", "kl", "test_elbo"};
    run.summary = std::to_string(vae->num_parameters()) + " parameters, latent " + std::to_string(f.latent) +
                  ", beta " + std::to_string(f.beta) + (std::is_same_v<Dev, cpu> ? "" : ", on the GPU");
    run.range = data::PixelRange::unit;
    run.step = [&](TrainStream& stream) -> io::CsvLogger::Row {
      const DeviceBatch<Dev> b(stream.next());
      const auto m = vae->train_step(b.images, *opt, conditional ? b.labels : Tensor<int64_t, Dev>());
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
      const auto labels = conditional ? cycling_labels(n).template to<Dev>() : Tensor<int64_t, Dev>();
      const auto samples = vae->sample(n, grid_seed, labels, f.temperature, f.guidance);
      io::save_image_grid(out / ("samples" + suffix + ".png"), samples.template to<cpu>(),
                          {.nrow = conditional ? 10 : 8});
      const auto x = narrow(test.images, 0, 0, std::min<int64_t>(32, test.images.size(0)));
      const auto y = conditional ? narrow(test.labels, 0, 0, x.size(0)) : Tensor<int64_t, Dev>();
      io::save_image_grid(out / ("reconstructions" + suffix + ".png"),
                          concat<float, Dev>({x, vae->reconstruct(x, y)}, 0).template to<cpu>(), {.nrow = 8});
      if (test.images.size(0) >= 16)
        io::save_image_grid(out / ("interpolation" + suffix + ".png"),
                            interpolation(*vae, test, conditional).template to<cpu>(),
                            {.nrow = 10});
      if (suffix.empty())
        std::printf("sample grid: %s (and reconstructions.png, interpolation.png)\n",
                    (out / "samples.png").string().c_str());
    };
    run.write_samples = [&] {
      write_generated_samples(f, conditional, [&](int64_t n, int64_t first, uint64_t chunk) {
        const uint64_t seed = grid_seed + 1 + chunk;
        const auto labels = conditional ? cycling_labels(n, first).template to<Dev>() : Tensor<int64_t, Dev>();
        const auto x = vae->sample(n, seed, labels, f.temperature, f.guidance);
        return add(mul(x, 2.0f), -1.0f).template to<cpu>();  // [0, 1] -> the files' [-1, 1]
      });
    };
    return run;
  });
}

}  // namespace genmodel::examples
