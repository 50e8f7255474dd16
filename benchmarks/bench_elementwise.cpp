// bench_elementwise: the elementwise ops (float), each call allocating its
// output from the pool as an op in a model does: add of two same-shape
// tensors at 1 element (the fixed cost of an op) and at 1M elements (memory
// bandwidth), mul with channel broadcasting (64,128,14,14) * (1,128,1,1) as a
// per-channel scale does, and exp at 1M; on 1 and 2 threads. A raw loop into
// a preallocated buffer gives the bandwidth the machine allows.
//
//   ./build/benchmarks/bench_elementwise --benchmark_min_time=0.2
//
// The bytes/s counter counts bytes read plus bytes written per call (add:
// 3 * 4 * n; broadcast mul: 2 * 4 * n + the scale; exp: 2 * 4 * n).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "genmodel/core/parallel.hpp"
#include "genmodel/ops.hpp"

namespace {

namespace gm = genmodel;
using Tf = gm::Tensor<float>;

void set_bytes(benchmark::State& state, double bytes_per_call) {
  state.counters["bytes/s"] = benchmark::Counter(bytes_per_call, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  // Printed with SI prefixes (base 1000): "12.3G/s" is 12.3 GB/s.
}

// add(a, b), a and b of n elements, no grad.
void BM_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  gm::set_num_threads(int(state.range(1)));
  gm::Generator gen(1);
  const Tf a = gm::randn<float>({n}, gen), b = gm::randn<float>({n}, gen);
  for (auto _ : state) {
    Tf c = gm::add(a, b);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  set_bytes(state, 3.0 * 4.0 * double(n));
}

// The same sum as a plain loop into a preallocated buffer (no op, no
// allocation, one thread): the bandwidth reference for BM_add.
void BM_add_raw_loop(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n);
  for (auto _ : state) {
    const float* pa = a.data();
    const float* pb = b.data();
    float* pc = c.data();
    for (int64_t i = 0; i < n; ++i) pc[i] = pa[i] + pb[i];
    benchmark::DoNotOptimize(pc);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  set_bytes(state, 3.0 * 4.0 * double(n));
}

// x (64, 128, 14, 14) * s (1, 128, 1, 1): a per-channel scale.
void BM_mul_broadcast(benchmark::State& state) {
  gm::set_num_threads(int(state.range(0)));
  gm::Generator gen(2);
  const Tf x = gm::randn<float>({64, 128, 14, 14}, gen), s = gm::randn<float>({1, 128, 1, 1}, gen);
  for (auto _ : state) {
    Tf y = gm::mul(x, s);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
  set_bytes(state, 2.0 * 4.0 * double(x.numel()) + 4.0 * double(s.numel()));
}

// exp(x), x of n elements.
void BM_exp(benchmark::State& state) {
  const int64_t n = state.range(0);
  gm::set_num_threads(int(state.range(1)));
  gm::Generator gen(3);
  const Tf x = gm::randn<float>({n}, gen);
  for (auto _ : state) {
    Tf y = gm::exp(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  set_bytes(state, 2.0 * 4.0 * double(n));
}

BENCHMARK(BM_add)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{1, 1 << 20}, {1, 2}})
    ->UseRealTime();
BENCHMARK(BM_add_raw_loop)->ArgNames({"n"})->Arg(1 << 20)->UseRealTime();
BENCHMARK(BM_mul_broadcast)->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_exp)->ArgNames({"n", "threads"})->ArgsProduct({{1 << 20}, {1, 2}})->UseRealTime();

}  // namespace
