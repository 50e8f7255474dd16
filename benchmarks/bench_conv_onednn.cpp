// bench_conv_onednn: genmodel's CPU convolution (im2col + GEMM) next to
// oneDNN's, the library behind PyTorch's CPU convolutions, on the forward
// convolutions of the DCGAN and U-Net at batch 64, one thread. oneDNN runs
// as PyTorch uses it on NCHW tensors: the primitive picks its own layouts
// and the input, weight and output are reordered to and from them, and the
// reorders are part of the time. Built only when CMake finds oneDNN
// (Debian: libdnnl-dev). It measures whether oneDNN should serve the CPU
// convolutions (see benchmarks/RESULTS.md); genmodel does not use it yet.
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <vector>

#include "conv_shapes.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/kernels/cpu/conv.hpp"

namespace gm = genmodel;

namespace {

using bench::ConvShape;
constexpr const auto& kShapes = bench::kConvShapes;

struct Problem {
  gm::kernels::Conv2dGeometry g;
  gm::Tensor<float> x, w, y;
  explicit Problem(const ConvShape& s)
      : g(gm::kernels::conv2d_geometry(64, s.c, s.h, s.w, s.o, s.k, s.k, s.stride, s.stride, s.pad, s.pad, 1, 1, 1)) {
    gm::Generator gen(1);
    x = gm::randn<float>({g.n, g.c, g.h, g.w}, gen);
    w = gm::randn<float>({g.o, g.c, g.kh, g.kw}, gen);
    y = gm::Tensor<float>::empty({g.n, g.o, g.oh, g.ow});
  }
};

void BM_genmodel(benchmark::State& state) {
  gm::set_num_threads(1);
  Problem p(kShapes[state.range(0)]);
  state.SetLabel(kShapes[state.range(0)].name);
  for (auto _ : state) gm::kernels::cpu::conv2d_forward(p.g, p.x.data(), p.w.data(), p.y.data());
}

void BM_onednn(benchmark::State& state) {
  using namespace dnnl;
  using tag = memory::format_tag;
  omp_set_num_threads(1);
  Problem p(kShapes[state.range(0)]);
  state.SetLabel(kShapes[state.range(0)].name);
  const auto& g = p.g;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::dims xd{g.n, g.c, g.h, g.w}, wd{g.o, g.c, g.kh, g.kw}, yd{g.n, g.o, g.oh, g.ow};
  const auto any = [](const memory::dims& d) { return memory::desc(d, memory::data_type::f32, tag::any); };
  const convolution_forward::primitive_desc pd(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, any(xd), any(wd),
                                any(yd), {g.stride_h, g.stride_w}, {g.pad_h, g.pad_w}, {g.pad_h, g.pad_w}),
      eng);
  memory ux({xd, memory::data_type::f32, tag::nchw}, eng, p.x.data());
  memory uw({wd, memory::data_type::f32, tag::oihw}, eng, p.w.data());
  memory uy({yd, memory::data_type::f32, tag::nchw}, eng, p.y.data());
  const convolution_forward conv(pd);
  state.counters["jit"] = std::string(pd.impl_info_str()).find("jit") != std::string::npos;
  for (auto _ : state) {
    memory mx = ux, mw = uw, my = uy;
    if (pd.src_desc() != ux.get_desc()) reorder(ux, mx = memory(pd.src_desc(), eng)).execute(s, ux, mx);
    if (pd.weights_desc() != uw.get_desc()) reorder(uw, mw = memory(pd.weights_desc(), eng)).execute(s, uw, mw);
    if (pd.dst_desc() != uy.get_desc()) my = memory(pd.dst_desc(), eng);
    conv.execute(s, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, my}});
    if (my != uy) reorder(my, uy).execute(s, my, uy);
    s.wait();
  }
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t i = 0; i < int64_t(std::size(kShapes)); ++i) b->Arg(i);
}
BENCHMARK(BM_genmodel)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_onednn)->Apply(shapes)->Unit(benchmark::kMillisecond);

}  // namespace
