// bench_vae_ddpm_step: one training step of the vae / cvae trainers' model
// and of the ddpm trainer's U-Net at batch 64 on random data, on 1 and 2
// threads, and DDIM-50 sampling of 64 images: the same calls the trainers
// make (VAE::train_step, DDPM::train_step, DDPM::sample_ddim), next to
// benchmarks/torch_vae.py's and torch_ddpm.py's `bench`.
//
//   ./build/benchmarks/bench_vae_ddpm_step --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Arguments are (threads). The DDPM step reports peak_MiB: the pooled
// allocator's peak bytes in use during one step (parameters, gradients and
// Adam state included, as they are live), the figure to set next to
// PyTorch's resident-set growth.
#include <benchmark/benchmark.h>

#include <memory>

#include "genmodel/genmodel.hpp"

namespace {

namespace gm = genmodel;
namespace models = genmodel::models;
constexpr int64_t kBatch = 64;

void run_vae(benchmark::State& state, bool conditional) {
  gm::set_num_threads(int(state.range(0)));
  gm::Generator init(0), data(1);
  auto vae = models::make_conv_vae<float>({.num_classes = conditional ? 10 : 0}, {}, init);
  gm::optim::Adam<float> opt(vae->parameters(), {.lr = 1e-3});
  const auto x = gm::rand<float>({kBatch, 1, 28, 28}, data);
  const auto y = conditional ? gm::randint(0, 10, {kBatch}, data) : gm::Tensor<int64_t>();
  for (int i = 0; i < 3; ++i) vae->train_step(x, opt, y);  // warm the allocator pool
  for (auto _ : state) benchmark::DoNotOptimize(vae->train_step(x, opt, y));
  state.SetItemsProcessed(state.iterations() * kBatch);
}

struct Ddpm {
  using Model = models::DDPM<models::UNet<float>>;
  std::shared_ptr<models::UNet<float>> unet;
  std::unique_ptr<Model> ddpm;
  std::unique_ptr<gm::optim::Adam<float>> opt;
  explicit Ddpm(bool conditional) {
    gm::Generator init(0);
    unet = std::make_shared<models::UNet<float>>(models::UNetOptions{.num_classes = conditional ? 10 : 0}, init);
    ddpm = std::make_unique<Model>(unet, models::NoiseSchedule<float>(),
                                   models::DDPMOptions{.num_classes = conditional ? 10 : 0});
    opt = std::make_unique<gm::optim::Adam<float>>(unet->parameters(), gm::optim::AdamOptions{.lr = 2e-4});
  }
};

void run_ddpm(benchmark::State& state, bool conditional) {
  gm::set_num_threads(int(state.range(0)));
  Ddpm m(conditional);
  gm::Generator data(1);
  const auto x = gm::rand<float>({kBatch, 1, 32, 32}, data, -1.0f, 1.0f);
  const auto y = conditional ? gm::randint(0, 10, {kBatch}, data) : gm::Tensor<int64_t>();
  m.ddpm->train_step(x, *m.opt, y);  // Adam's state exists from here on
  auto& pool = gm::CpuAllocator::instance();
  pool.reset_peak();
  const std::size_t before = pool.stats().bytes_in_use;
  m.ddpm->train_step(x, *m.opt, y);
  state.counters["peak_MiB"] = double(pool.stats().peak_bytes) / (1 << 20);
  state.counters["step_MiB"] = double(pool.stats().peak_bytes - before) / (1 << 20);
  for (auto _ : state) benchmark::DoNotOptimize(m.ddpm->train_step(x, *m.opt, y));
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_vae(benchmark::State& state) { run_vae(state, false); }
void BM_cvae(benchmark::State& state) { run_vae(state, true); }
void BM_ddpm(benchmark::State& state) { run_ddpm(state, false); }
void BM_ddpm_cond(benchmark::State& state) { run_ddpm(state, true); }

void BM_ddim50_sample64(benchmark::State& state) {
  gm::set_num_threads(int(state.range(0)));
  Ddpm m(false);
  uint64_t seed = 0;
  for (auto _ : state) benchmark::DoNotOptimize(m.ddpm->sample_ddim({kBatch, 1, 32, 32}, 50, ++seed));
  state.SetItemsProcessed(state.iterations() * kBatch);
}

}  // namespace

BENCHMARK(BM_vae)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_cvae)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ddpm)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ddpm_cond)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ddim50_sample64)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
