// bench_conv: conv2d and conv_transpose2d (float, batch 64) on the DCGAN
// layer shapes for 28x28 images, through the differentiable ops: forward
// alone, backward alone (input and weight require grad, a fixed upstream
// gradient, only `y.backward(g)` is timed) and forward + backward, on 1 and 2
// threads. For comparison, one gemm of the shape the layer reduces to.
//
//   ./build/benchmarks/bench_conv --benchmark_min_time=0.2
//   ./build/benchmarks/bench_conv --benchmark_filter='fwd/.*/threads:2'
//
// Arguments are (layer, threads). GFLOP/s counts 2*N*O*OH*OW*(C/groups)*KH*KW
// per forward (for a transposed convolution, of the convolution it
// transposes), twice that for the backward (data + weight gradient) and three
// times for forward + backward; items/s are images.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/gemm.hpp"
#include "genmodel/ops.hpp"

namespace {

namespace gm = genmodel;
using Tf = gm::Tensor<float>;

struct Layer {
  const char* name;
  bool transposed;
  int64_t in, out, h, w;  // input channels, output channels, input size
  int64_t k, stride, pad;
};

constexpr int64_t kBatch = 64;

// DCGAN for 28x28 images: discriminator convs and generator transposed convs.
const Layer kLayers[] = {
    {"D.conv1 1->64 28->14", false, 1, 64, 28, 28, 4, 2, 1},
    {"D.conv2 64->128 14->7", false, 64, 128, 14, 14, 4, 2, 1},
    {"G.convT1 128->64 7->14", true, 128, 64, 7, 7, 4, 2, 1},
    {"G.convT2 64->1 14->28", true, 64, 1, 14, 14, 4, 2, 1},
};

/// The convolution geometry of a layer (for a transposed layer, of the
/// convolution it transposes).
gm::kernels::cpu::Conv2dGeometry geometry(const Layer& l) {
  namespace cpu = gm::kernels::cpu;
  if (l.transposed)
    return cpu::conv_transpose2d_geometry(kBatch, l.in, l.h, l.w, l.out, l.k, l.k, l.stride, l.stride,
                                          l.pad, l.pad, 0, 0, 1, 1, 1);
  return cpu::conv2d_geometry(kBatch, l.in, l.h, l.w, l.out, l.k, l.k, l.stride, l.stride, l.pad, l.pad,
                              1, 1, 1);
}

double forward_flops(const Layer& l) {
  const auto g = geometry(l);
  return 2.0 * double(g.n) * double(g.o) * double(g.oh * g.ow) * double(g.c / g.groups) *
         double(g.kh * g.kw);
}

struct Operands {
  Tf x, w;
  explicit Operands(const Layer& l, bool requires_grad) {
    gm::Generator gen(42);
    x = gm::randn<float>({kBatch, l.in, l.h, l.w}, gen);
    // conv2d weight (out, in, k, k); conv_transpose2d weight (in, out, k, k).
    w = l.transposed ? gm::randn<float>({l.in, l.out, l.k, l.k}, gen, 0.0f, 0.02f)
                     : gm::randn<float>({l.out, l.in, l.k, l.k}, gen, 0.0f, 0.02f);
    if (requires_grad) {
      x.requires_grad_();
      w.requires_grad_();
    }
  }
  Tf run(const Layer& l) const {
    return l.transposed ? gm::conv_transpose2d(x, w, Tf(), l.stride, l.pad)
                        : gm::conv2d(x, w, Tf(), l.stride, l.pad);
  }
};

void set_counters(benchmark::State& state, const Layer& l, double passes) {
  state.counters["GFLOP/s"] = benchmark::Counter(passes * forward_flops(l),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(l.name);
}

// Forward only; nothing requires grad, so no graph is recorded.
void BM_conv_fwd(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  gm::set_num_threads(int(state.range(1)));
  Operands op(l, false);
  for (auto _ : state) {
    Tf y = op.run(l);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, l, 1.0);
}

// Backward only: the forward (recorded) and zero_grad are untimed; the timed
// region is y.backward(g), i.e. the data and weight gradients.
void BM_conv_bwd(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  gm::set_num_threads(int(state.range(1)));
  Operands op(l, true);
  gm::Generator gen(7);
  const Tf g = gm::randn<float>(op.run(l).shape(), gen);
  for (auto _ : state) {
    op.x.zero_grad();
    op.w.zero_grad();
    Tf y = op.run(l);
    const auto t0 = std::chrono::steady_clock::now();
    y.backward(g);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(op.w.grad().data());
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  set_counters(state, l, 2.0);
}

// One training step of the layer: zero_grad, recorded forward, backward.
void BM_conv_fwd_bwd(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  gm::set_num_threads(int(state.range(1)));
  Operands op(l, true);
  gm::Generator gen(7);
  const Tf g = gm::randn<float>(op.run(l).shape(), gen);
  for (auto _ : state) {
    op.x.zero_grad();
    op.w.zero_grad();
    Tf y = op.run(l);
    y.backward(g);
    benchmark::DoNotOptimize(op.w.grad().data());
    benchmark::ClobberMemory();
  }
  set_counters(state, l, 3.0);
}

// The gemm a layer's forward reduces to, as one product over the whole
// batch: (O, C*KH*KW) x (C*KH*KW, N*OH*OW). An upper bound for im2col + gemm.
void BM_conv_equiv_gemm(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  gm::set_num_threads(int(state.range(1)));
  const auto g = geometry(l);
  const int64_t m = g.o, k = g.c * g.kh * g.kw, n = g.n * g.oh * g.ow;
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  for (auto _ : state) {
    gm::kernels::cpu::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, l, 1.0);
}

void layers(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layer", "threads"});
  for (int threads : {1, 2})
    for (int64_t i = 0; i < int64_t(std::size(kLayers)); ++i) b->Args({i, threads});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_conv_fwd)->Apply(layers)->UseRealTime();
BENCHMARK(BM_conv_bwd)->Apply(layers)->UseManualTime();
BENCHMARK(BM_conv_fwd_bwd)->Apply(layers)->UseRealTime();
BENCHMARK(BM_conv_equiv_gemm)->Apply(layers)->UseRealTime();

}  // namespace
