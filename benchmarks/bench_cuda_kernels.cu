// bench_cuda_kernels: the CUDA backend's GEMM (cuBLAS) and convolutions
// (cuDNN, three directions) on the shapes issue 6 names: a 4096 GEMM with
// TF32 off and on, the DCGAN layers at batch 64 and 256, the U-Net's 3x3
// convolutions at batch 64. Times come from CUDA events around each
// iteration (manual time), so they are device times; cuDNN's algorithms are
// chosen by timed trials (set_cudnn_benchmark), as in the PyTorch twin,
// benchmarks/torch_cuda_kernels.py. Without a GPU it says so and exits 0.
#include <benchmark/benchmark.h>

#include <iostream>

#include "conv_shapes.hpp"
#include "genmodel/cuda.hpp"

namespace gm = genmodel;
namespace kc = gm::kernels::cuda;
using gm::cuda;

namespace {

/// Times f() on the device stream with events, one iteration at a time.
template <class F>
void time_device(benchmark::State& state, F f) {
  cudaEvent_t start, stop;
  GM_CUDA_CHECK(cudaEventCreate(&start), "bench");
  GM_CUDA_CHECK(cudaEventCreate(&stop), "bench");
  f();  // warm-up: handles, algorithm choice, workspace
  gm::cuda_backend::synchronize();
  for (auto _ : state) {
    GM_CUDA_CHECK(cudaEventRecord(start, gm::cuda_backend::stream()), "bench");
    f();
    GM_CUDA_CHECK(cudaEventRecord(stop, gm::cuda_backend::stream()), "bench");
    GM_CUDA_CHECK(cudaEventSynchronize(stop), "bench");
    float ms = 0;
    GM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop), "bench");
    state.SetIterationTime(double(ms) / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void BM_gemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  gm::cuda_backend::set_allow_tf32(state.range(1) != 0);
  gm::Generator gen(1);
  const auto a = gm::randn<float, cuda>({n, n}, gen), b = gm::randn<float, cuda>({n, n}, gen);
  auto c = gm::Tensor<float, cuda>::empty({n, n});
  time_device(state, [&] { kc::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); });
  gm::cuda_backend::set_allow_tf32(false);
  state.counters["TFLOPS"] = benchmark::Counter(2.0 * double(n) * n * n * state.iterations() / 1e12,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_gemm)->Args({4096, 0})->Args({4096, 1})->UseManualTime()->Unit(benchmark::kMillisecond);

using bench::ConvShape;
constexpr const auto& kShapes = bench::kConvShapes;

/// Arguments: the shape's index, the batch and the direction (0 forward,
/// 1 backward-data, 2 backward-weight).
void BM_conv(benchmark::State& state) {
  const ConvShape& s = kShapes[state.range(0)];
  const int64_t batch = state.range(1), dir = state.range(2);
  const auto g = gm::kernels::conv2d_geometry(batch, s.c, s.h, s.w, s.o, s.k, s.k, s.stride, s.stride, s.pad,
                                              s.pad, 1, 1, 1);
  gm::Generator gen(2);
  const auto x = gm::randn<float, cuda>({g.n, g.c, g.h, g.w}, gen);
  const auto w = gm::randn<float, cuda>({g.o, g.c, g.kh, g.kw}, gen);
  const auto y = gm::randn<float, cuda>({g.n, g.o, g.oh, g.ow}, gen);
  auto dx = gm::Tensor<float, cuda>::empty(x.shape());
  auto dw = gm::Tensor<float, cuda>::empty(w.shape());
  auto out = gm::Tensor<float, cuda>::empty(y.shape());
  static const char* kDir[] = {"forward", "backward-data", "backward-weight"};
  state.SetLabel(std::string(s.name) + " " + kDir[dir]);
  time_device(state, [&] {
    if (dir == 0) kc::conv2d_forward(g, x.data(), w.data(), out.data());
    if (dir == 1) kc::conv2d_backward_data(g, y.data(), w.data(), dx.data());
    if (dir == 2) kc::conv2d_backward_weight(g, x.data(), y.data(), dw.data());
  });
}

void conv_args(benchmark::internal::Benchmark* b) {
  for (int64_t i = 0; i < int64_t(std::size(kShapes)); ++i)
    for (int64_t batch : {64, 256})
      for (int64_t dir : {0, 1, 2})
        if (batch == 64 || kShapes[i].name[0] == 'd') b->Args({i, batch, dir});
}
BENCHMARK(BM_conv)->Apply(conv_args)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (!gm::cuda_backend::available()) {
    std::cout << "bench_cuda_kernels: no CUDA device, nothing to measure\n";
    return 0;
  }
  gm::cuda_backend::set_cudnn_benchmark(true);  // timed algorithm choice, as torch_common's cudnn.benchmark
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
