// bench_gan_step: one training step of each GAN trainer's model at batch 64
// on random data, on 1 and 2 threads: the same step the trainers take
// (models::GAN::train_step), next to benchmarks/torch_gan.py's `bench`,
// which times the same models in PyTorch.
//
//   ./build/benchmarks/bench_gan_step --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Arguments are (threads). For wgan_gp one step is 5 critic updates (each on
// a fresh batch) and one generator update, as in the trainer.
#include <benchmark/benchmark.h>

#include <memory>

#include "genmodel/genmodel.hpp"

namespace {

namespace gm = genmodel;
namespace models = genmodel::models;
using Net = gm::nn::Sequential<float>;
constexpr int64_t kBatch = 64;

struct RandomBatch {
  gm::Tensor<float> images;
  gm::Tensor<int64_t> labels;
};

template <class Gan>
void run(benchmark::State& state, std::unique_ptr<Gan> gan) {
  gm::set_num_threads(int(state.range(0)));
  gm::Generator data(1);
  const RandomBatch batch{gm::rand<float>({kBatch, 1, 28, 28}, data, -1.0f, 1.0f),
                          gm::randint(0, 10, {kBatch}, data)};
  for (int i = 0; i < 3; ++i) gan->train_step([&] { return batch; });  // warm the allocator pool
  for (auto _ : state) {
    auto m = gan->train_step([&] { return batch; });
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations() * kBatch * gan->options().n_critic);
}

void BM_mlp_gan(benchmark::State& state) {
  gm::Generator init(0);
  run(state, std::make_unique<models::GAN<Net, Net>>(models::make_mlp_generator<float>(100, init),
                                                     models::make_mlp_discriminator<float>(init)));
}

void BM_dcgan(benchmark::State& state) {
  gm::Generator init(0);
  run(state, std::make_unique<models::GAN<Net, Net>>(models::make_dcgan_generator<float>(100, init),
                                                     models::make_dcgan_discriminator<float>(init)));
}

void BM_cgan(benchmark::State& state) {
  gm::Generator init(0);
  using Gan = models::GAN<models::ConditionalGenerator<float>, models::ProjectionDiscriminator<float>>;
  run(state, std::make_unique<Gan>(std::make_shared<models::ConditionalGenerator<float>>(100, 10, 50, init),
                                   std::make_shared<models::ProjectionDiscriminator<float>>(10, init)));
}

void BM_wgan_gp(benchmark::State& state) {
  gm::Generator init(0);
  run(state, std::make_unique<models::GAN<Net, Net, gm::losses::WassersteinGP>>(
                 models::make_dcgan_generator<float>(100, init), models::make_dcgan_critic<float>(init)));
}

}  // namespace

BENCHMARK(BM_mlp_gan)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_dcgan)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_cgan)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_wgan_gp)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
