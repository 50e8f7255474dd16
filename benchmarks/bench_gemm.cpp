// bench_gemm: C = A * B (row-major, float) through genmodel's gemm (OpenBLAS
// when the build found it, else Eigen) and through Eigen alone (gemm_eigen),
// for square sizes and the small-GAN layer shapes, on 1 and 2 threads.
//
//   ./build/benchmarks/bench_gemm --benchmark_min_time=0.1
//   ./build/benchmarks/bench_gemm --benchmark_filter='BM_gemm/.*/2$'
//
// Arguments are (M, K, N, threads); the GFLOP/s counter is 2*M*N*K per call.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "genmodel/core/parallel.hpp"
#include "genmodel/kernels/cpu/gemm.hpp"

namespace {

namespace cpu = genmodel::kernels::cpu;

struct Operands {
  std::vector<float> a, b, c;
  Operands(int64_t m, int64_t k, int64_t n) : a(m * k), b(k * n), c(m * n, 0.0f) {
    // Deterministic, non-trivial values in [-1, 1).
    uint32_t s = 12345u;
    auto next = [&s] {
      s = s * 1664525u + 1013904223u;
      return float(s >> 8) / float(1u << 23) - 1.0f;
    };
    for (auto& x : a) x = next();
    for (auto& x : b) x = next();
  }
};

void set_flops(benchmark::State& state, int64_t m, int64_t k, int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  // Printed as flop/s with SI prefixes (base 1000): "35.2G/s" is 35.2 GFLOP/s.
}

// genmodel's gemm: the path every op uses (BLAS when GENMODEL_WITH_CBLAS).
void BM_gemm(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  genmodel::set_num_threads(int(state.range(3)));
  Operands op(m, k, n);
  for (auto _ : state) {
    cpu::gemm<float>(false, false, m, n, k, 1.0f, op.a.data(), k, op.b.data(), n, 0.0f,
                     op.c.data(), n);
    benchmark::DoNotOptimize(op.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, m, k, n);
#ifdef GENMODEL_WITH_CBLAS
  state.SetLabel("openblas");
#else
  state.SetLabel("eigen");
#endif
}

// Eigen's own product, for comparison.
void BM_gemm_eigen(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  genmodel::set_num_threads(int(state.range(3)));
  Eigen::setNbThreads(int(state.range(3)));
  Operands op(m, k, n);
  for (auto _ : state) {
    cpu::gemm_eigen<float>(false, false, m, n, k, 1.0f, op.a.data(), k, op.b.data(), n, 0.0f,
                           op.c.data(), n);
    benchmark::DoNotOptimize(op.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, m, k, n);
  state.SetLabel("eigen");
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N", "threads"});
  for (int threads : {1, 2}) {
    for (int64_t s : {64, 128, 256, 512, 1024, 2048}) b->Args({s, s, s, threads});
    // Small-GAN layers at batch 64: (M, K, N) = (batch, in, out).
    b->Args({64, 100, 256, threads});
    b->Args({64, 784, 512, threads});
    b->Args({64, 512, 256, threads});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK(BM_gemm)->Apply(shapes);
BENCHMARK(BM_gemm_eigen)->Apply(shapes);

}  // namespace
