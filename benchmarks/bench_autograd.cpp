// bench_autograd: the fixed cost of one tiny op, with and without graph
// recording, and of a tiny op plus its backward. The target is a tiny op
// with recording under 1 microsecond.
//
//   ./build/benchmarks/bench_autograd --benchmark_min_time=0.2
//
// The argument is the number of elements of a and b ({1} or {16}); a and b
// require grad in every benchmark. The result is destroyed every iteration
// (its node and storage go back), as in a training loop.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "genmodel/core/parallel.hpp"
#include "genmodel/ops.hpp"

namespace {

namespace gm = genmodel;
using Tf = gm::Tensor<float>;

struct Leaves {
  Tf a, b;
  explicit Leaves(int64_t n) {
    gm::Generator gen(5);
    a = gm::randn<float>({n}, gen);
    b = gm::randn<float>({n}, gen);
    a.requires_grad_();
    b.requires_grad_();
  }
};

// c = add(a, b) with recording: allocation, kernel and one graph node.
void BM_add_recorded(benchmark::State& state) {
  gm::set_num_threads(1);
  Leaves l(state.range(0));
  for (auto _ : state) {
    auto c = gm::add(l.a, l.b);
    benchmark::DoNotOptimize(c.data());
  }
}

// The same op under NoGradGuard: allocation and kernel only.
void BM_add_no_grad(benchmark::State& state) {
  gm::set_num_threads(1);
  Leaves l(state.range(0));
  gm::NoGradGuard no_grad;
  for (auto _ : state) {
    auto c = gm::add(l.a, l.b);
    benchmark::DoNotOptimize(c.data());
  }
}

// mul(a, b).sum() then backward, with zero_grad first: two recorded ops, the
// engine run, and the gradient of each leaf (mul, sum_to, ones_like...).
void BM_mul_sum_backward(benchmark::State& state) {
  gm::set_num_threads(1);
  Leaves l(state.range(0));
  for (auto _ : state) {
    l.a.zero_grad();
    l.b.zero_grad();
    auto c = gm::mul(l.a, l.b).sum();
    c.backward();
    benchmark::DoNotOptimize(l.a.grad().data());
  }
}

// Only the forward half of BM_mul_sum_backward (both ops recorded), so the
// difference is the backward.
void BM_mul_sum_recorded(benchmark::State& state) {
  gm::set_num_threads(1);
  Leaves l(state.range(0));
  for (auto _ : state) {
    auto c = gm::mul(l.a, l.b).sum();
    benchmark::DoNotOptimize(c.data());
  }
}

BENCHMARK(BM_add_recorded)->ArgNames({"n"})->Arg(1)->Arg(16)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_add_no_grad)->ArgNames({"n"})->Arg(1)->Arg(16)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_mul_sum_recorded)->ArgNames({"n"})->Arg(1)->Arg(16)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_mul_sum_backward)->ArgNames({"n"})->Arg(1)->Arg(16)->Unit(benchmark::kNanosecond);

}  // namespace
