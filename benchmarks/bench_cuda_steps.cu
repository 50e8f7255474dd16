// bench_cuda_steps: one training step on the GPU of the DCGAN
// (models::GAN::train_step: a discriminator and a generator update) and of
// the DDPM U-Net (models::DDPM::train_step with Adam), at batch 64 and 256,
// on random data already on the device: the step issue 6 compares with
// PyTorch's CUDA (benchmarks/torch_gan.py bench --device cuda,
// benchmarks/torch_ddpm.py bench --device cuda). Each iteration ends with a
// stream synchronize, so the wall time is the step's device time plus the
// host's launch overhead, as in PyTorch's loop. `cudaMalloc_per_step`
// counts the allocator's system allocations over the timed steps: 0 when
// the caching allocator serves the steady state from its pool.
// Without a GPU it says so and exits 0.
//
//   ./build/benchmarks/bench_cuda_steps --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <iostream>
#include <memory>

#include "genmodel/cuda.hpp"
#include "genmodel/genmodel.hpp"

namespace {

namespace gm = genmodel;
namespace models = genmodel::models;
using gm::cuda;
using Net = gm::nn::Sequential<float, cuda>;

/// Runs step() a few times to fill the pool, then times it, synchronising
/// after each step, and reports the system allocations per timed step.
template <class Step>
void time_steps(benchmark::State& state, int64_t batch, Step step) {
  for (int i = 0; i < 3; ++i) step();
  gm::cuda_backend::synchronize();
  auto& pool = gm::cuda_backend::allocator();
  const auto before = pool.stats().system_allocs;
  for (auto _ : state) {
    step();
    gm::cuda_backend::synchronize();
  }
  state.counters["cudaMalloc_per_step"] =
      double(pool.stats().system_allocs - before) / double(std::max<int64_t>(state.iterations(), 1));
  state.counters["peak_MiB"] = double(pool.stats().peak_bytes) / (1 << 20);
  state.SetItemsProcessed(state.iterations() * batch);
}

struct Batch {
  gm::Tensor<float, cuda> images;
  gm::Tensor<int64_t, cuda> labels;
};

void BM_dcgan_step(benchmark::State& state) {
  const int64_t batch = state.range(0);
  gm::Generator init(0), data(1);
  models::GAN<Net, Net> gan(models::make_dcgan_generator<float, cuda>(100, init),
                            models::make_dcgan_discriminator<float, cuda>(init));
  const Batch b{gm::rand<float, cuda>({batch, 1, 28, 28}, data, -1.0f, 1.0f), {}};
  time_steps(state, batch, [&] { benchmark::DoNotOptimize(gan.train_step([&] { return b; })); });
}

void BM_ddpm_step(benchmark::State& state) {
  const int64_t batch = state.range(0);
  gm::Generator init(0), data(1);
  auto unet = std::make_shared<models::UNet<float, cuda>>(models::UNetOptions{}, init);
  models::DDPM<models::UNet<float, cuda>> ddpm(unet, models::NoiseSchedule<float, cuda>(), models::DDPMOptions{});
  gm::optim::Adam<float, cuda> opt(unet->parameters(), gm::optim::AdamOptions{.lr = 2e-4});
  const auto x = gm::rand<float, cuda>({batch, 1, 32, 32}, data, -1.0f, 1.0f);
  time_steps(state, batch, [&] { benchmark::DoNotOptimize(ddpm.train_step(x, opt)); });
}

}  // namespace

BENCHMARK(BM_dcgan_step)->ArgName("batch")->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ddpm_step)->ArgName("batch")->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (!gm::cuda_backend::available()) {
    std::cout << "bench_cuda_steps: no CUDA device, nothing to time\n";
    return 0;
  }
  gm::cuda_backend::set_cudnn_benchmark(true);  // timed algorithm choice, as torch_common's cudnn.benchmark
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
