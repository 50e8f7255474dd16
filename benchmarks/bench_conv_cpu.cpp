// bench_conv_cpu: genmodel's two CPU convolution paths side by side on the
// DCGAN and U-Net convolutions at batch 64: the im2col + GEMM kernels and
// oneDNN (the library behind PyTorch's CPU convolutions, the default for
// float when the build has it), for the forward, backward-data and
// backward-weight passes. Threads: GENMODEL_NUM_THREADS (default all cores).
// Built only when the build has oneDNN (Debian: libdnnl-dev).
#include <benchmark/benchmark.h>

#include <vector>

#include "conv_shapes.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/kernels/cpu/conv.hpp"

namespace gm = genmodel;
namespace cpu = gm::kernels::cpu;

namespace {

constexpr const auto& kShapes = bench::kConvShapes;

enum Pass { kForward, kBackwardData, kBackwardWeight };
constexpr const char* kPassNames[] = {"forward", "backward_data", "backward_weight"};

struct Problem {
  gm::kernels::Conv2dGeometry g;
  gm::Tensor<float> x, w, y;
  explicit Problem(const bench::ConvShape& s)
      : g(gm::kernels::conv2d_geometry(64, s.c, s.h, s.w, s.o, s.k, s.k, s.stride, s.stride, s.pad, s.pad, 1, 1,
                                       1)) {
    gm::Generator gen(1);
    x = gm::randn<float>({g.n, g.c, g.h, g.w}, gen);
    w = gm::randn<float>({g.o, g.c, g.kh, g.kw}, gen);
    y = gm::randn<float>({g.n, g.o, g.oh, g.ow}, gen);
  }
  void run(Pass pass) {
    switch (pass) {
      case kForward: cpu::conv2d_forward(g, x.data(), w.data(), y.data()); break;
      case kBackwardData: cpu::conv2d_backward_data(g, y.data(), w.data(), x.data()); break;
      case kBackwardWeight: cpu::conv2d_backward_weight(g, x.data(), y.data(), w.data()); break;
    }
  }
};

void run_pass(benchmark::State& state, cpu::ConvImpl impl) {
  const cpu::ConvImpl saved = cpu::conv_impl();
  cpu::set_conv_impl(impl);
  const auto& shape = kShapes[state.range(0)];
  const auto pass = Pass(state.range(1));
  Problem p(shape);
  state.SetLabel(std::string(shape.name) + " " + kPassNames[pass]);
  p.run(pass);  // builds oneDNN's primitive outside the timing
  for (auto _ : state) p.run(pass);
  cpu::set_conv_impl(saved);
}

void BM_im2col(benchmark::State& state) { run_pass(state, cpu::ConvImpl::im2col); }
void BM_onednn(benchmark::State& state) { run_pass(state, cpu::ConvImpl::onednn); }

void shapes_and_passes(benchmark::internal::Benchmark* b) {
  for (int64_t i = 0; i < int64_t(std::size(kShapes)); ++i)
    for (int64_t pass = 0; pass < 3; ++pass) b->Args({i, pass});
}
BENCHMARK(BM_im2col)->Apply(shapes_and_passes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_onednn)->Apply(shapes_and_passes)->Unit(benchmark::kMillisecond);

}  // namespace
