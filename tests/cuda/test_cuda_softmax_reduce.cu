// The CUDA softmax, reduction, permute, broadcast and map kernels against the
// CPU kernels on the same random inputs, over (outer, d, inner) shapes that
// take each kernel's paths: contiguous rows shorter and longer than a block,
// strided columns, d == 1 and empty outputs. Float32 must agree to 1e-4
// relative, double to 1e-12; what is selected rather than computed (argmax,
// max, min, permute, broadcast_to, where) must agree exactly.
#include "cuda_test_util.hpp"

#include <cmath>
#include <limits>
#include <span>
#include <tuple>

#include "genmodel/kernels/cpu/reduce.hpp"
#include "genmodel/kernels/cpu/softmax.hpp"
#include "genmodel/kernels/cpu/unary.hpp"
#include "genmodel/kernels/cuda/broadcast_ops.cuh"
#include "genmodel/kernels/cuda/reduce.cuh"
#include "genmodel/kernels/cuda/softmax.cuh"

namespace gm = genmodel;
using gm::cuda;
namespace kc = gm::kernels::cuda;
namespace kh = gm::kernels::cpu;

namespace {

using Dims3 = std::tuple<int64_t, int64_t, int64_t>;

/// (outer, d, inner): rows within and past a block, d == 1, strided columns, empty.
const Dims3 kLineShapes[] = {{4, 10, 1}, {3, 1000, 1}, {2, 257, 1}, {5, 1, 1}, {2, 7, 5},
                             {3, 300, 4}, {2, 1, 9},   {1, 4, 600}, {0, 6, 1}, {3, 5, 0}};

/// Each element's class (0 finite, 1 -inf, 2 NaN) and the values with the
/// non-finite ones zeroed, compared apart: rel_error would skip a NaN (its
/// std::max drops one) and a -inf would make its scale infinite.
template <class T>
std::pair<std::vector<T>, std::vector<int>> split_nonfinite(std::vector<T> v) {
  std::vector<int> cls(v.size(), 0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    cls[i] = std::isnan(v[i]) ? 2 : v[i] == -std::numeric_limits<T>::infinity() ? 1 : 0;
    if (cls[i] != 0) v[i] = T(0);
  }
  return {v, cls};
}

template <class T>
void check_nonfinite_parity(const std::vector<T>& got, const std::vector<T>& want) {
  const auto [got_v, got_cls] = split_nonfinite(got);
  const auto [want_v, want_cls] = split_nonfinite(want);
  REQUIRE(got_cls == want_cls);
  CHECK(gmtest::rel_error(got_v, want_v) < gmtest::parity_tol<T>());
}

// Two-form functors, as in kernels/functors.hpp: an Eigen operator() for the
// CPU's map_array and a `scalar` for the device, static or const member.
struct ExpMinusHalf {
  template <class A> auto operator()(const A& x) const {
    using S = typename A::Scalar;
    return (x - S(0.5)).exp();
  }
  template <class T> __host__ __device__ static T scalar(T x) { return std::exp(x - T(0.5)); }
};
struct ScaledProduct {
  double scale;
  template <class A, class B> auto operator()(const A& a, const B& b) const {
    using S = typename A::Scalar;
    return a * b * S(scale) - a;
  }
  template <class T> __host__ __device__ T scalar(T a, T b) const { return a * b * T(scale) - a; }
};
/// map_scalar's functor, one form for both devices.
struct LeakyClamp {
  double slope;
  template <class T> __host__ __device__ T operator()(T x) const {
    return x > T(0.5) ? T(0.5) : x > T(0) ? x : T(slope) * x;
  }
};
/// A different output type: the index of x's bucket of width 1/4.
struct Bucket {
  template <class T> __host__ __device__ int64_t operator()(T x) const { return int64_t(std::floor(x * T(4))); }
};
/// where's functor, and an arithmetic one.
struct Select {
  template <class T> __host__ __device__ T operator()(T c, T x, T y) const { return c > T(0) ? x : y; }
};
struct Lerp {
  template <class T> __host__ __device__ T operator()(T c, T x, T y) const { return c * x + (T(1) - c) * y; }
};

}  // namespace

TEST_CASE("cuda softmax, reduce_middle: bad sizes throw before any device call, softmax the CPU's errors",
          "[cuda]") {
  auto message = [](auto f) {
    try {
      f();
    } catch (const gm::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  float* p = nullptr;
  const std::string fwd = message([&] { kh::softmax_forward(p, p, 2, -3, 1); });
  const std::string lfwd = message([&] { kh::log_softmax_forward(p, p, -1, 3, 1); });
  const std::string bwd = message([&] { kh::softmax_backward(p, p, p, 2, 3, -1); });
  const std::string lbwd = message([&] { kh::log_softmax_backward(p, p, p, 2, -3, 1); });
  REQUIRE(fwd.starts_with("softmax: sizes must be non-negative"));
  REQUIRE(message([&] { kc::softmax_forward(p, p, 2, -3, 1); }) == fwd);
  REQUIRE(message([&] { kc::log_softmax_forward(p, p, -1, 3, 1); }) == lfwd);
  REQUIRE(message([&] { kc::softmax_backward(p, p, p, 2, 3, -1); }) == bwd);
  REQUIRE(message([&] { kc::log_softmax_backward(p, p, p, 2, -3, 1); }) == lbwd);
  REQUIRE_THROWS_WITH(kc::reduce_middle(p, p, 2, 0, 3, kh::ReduceOp::max),
                      Catch::StartsWith("reduce_middle: the reduced extent must be at least 1"));
}

TEMPLATE_TEST_CASE("cuda softmax: forward and backward, plain and log, match the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(11);
  for (auto [outer, d, inner] : kLineShapes) {
    INFO(outer << " x " << d << " x " << inner);
    const gm::Shape shape{outer, d, inner};
    auto x = gmtest::random_both<T>(shape, rng);
    for (T& v : std::span(x.host.data(), std::size_t(x.host.numel()))) v *= T(8);  // logits of some spread
    x.dev = x.host.template to<cuda>();
    auto dy = gmtest::random_both<T>(shape, rng);
    for (bool log : {false, true}) {
      INFO("log " << log);
      auto yh = gm::Tensor<T>::empty(shape);
      auto yd = gm::Tensor<T, cuda>::empty(shape);
      (log ? kh::log_softmax_forward<T> : kh::softmax_forward<T>)(x.host.data(), yh.data(), outer, d, inner);
      (log ? kc::log_softmax_forward<T> : kc::softmax_forward<T>)(x.dev.data(), yd.data(), outer, d, inner);
      CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
      // Backward on the CPU's y, so only the backward kernels differ.
      const auto y_on_dev = yh.template to<cuda>();
      auto dxh = gm::Tensor<T>::empty(shape);
      auto dxd = gm::Tensor<T, cuda>::empty(shape);
      (log ? kh::log_softmax_backward<T> : kh::softmax_backward<T>)(dy.host.data(), yh.data(), dxh.data(), outer,
                                                                    d, inner);
      (log ? kc::log_softmax_backward<T> : kc::softmax_backward<T>)(dy.dev.data(), y_on_dev.data(), dxd.data(),
                                                                    outer, d, inner);
      CHECK(gmtest::rel_error(dxd.to_vector(), dxh.to_vector()) < gmtest::parity_tol<T>());
    }
  }
}

TEMPLATE_TEST_CASE("cuda softmax: masked (-inf) entries give exactly 0, a fully masked line NaN", "[device]",
                   float, double) {
  using T = TestType;
  std::mt19937_64 rng(12);
  for (auto [outer, d, inner] : {Dims3{3, 300, 1}, Dims3{2, 9, 6}}) {
    INFO(outer << " x " << d << " x " << inner);
    const gm::Shape shape{outer, d, inner};
    // Every third k is masked, and all of line (0, 0), which comes out NaN as in PyTorch.
    auto masked = [&](int64_t e) { return (e / inner) % d % 3 == 1; };
    auto dead = [&](int64_t e) { return e / (d * inner) == 0 && e % inner == 0; };
    auto x = gmtest::random_both<T>(shape, rng);
    for (int64_t e = 0; e < x.host.numel(); ++e)
      if (masked(e) || dead(e)) x.host.data()[e] = -std::numeric_limits<T>::infinity();
    x.dev = x.host.template to<cuda>();
    auto yh = gm::Tensor<T>::empty(shape);
    auto yd = gm::Tensor<T, cuda>::empty(shape);
    kh::softmax_forward(x.host.data(), yh.data(), outer, d, inner);
    kc::softmax_forward(x.dev.data(), yd.data(), outer, d, inner);
    const auto got = yd.to_vector();
    for (int64_t e = 0; e < x.host.numel(); ++e)
      if (masked(e) && !dead(e)) REQUIRE(got[std::size_t(e)] == T(0));
    check_nonfinite_parity(got, yh.to_vector());
    kh::log_softmax_forward(x.host.data(), yh.data(), outer, d, inner);
    kc::log_softmax_forward(x.dev.data(), yd.data(), outer, d, inner);
    check_nonfinite_parity(yd.to_vector(), yh.to_vector());
    // log_softmax's backward through the -inf entries: exp(-inf) = 0 there.
    auto dy = gmtest::random_both<T>(shape, rng);
    const auto y_on_dev = yh.template to<cuda>();
    auto dxh = gm::Tensor<T>::empty(shape);
    auto dxd = gm::Tensor<T, cuda>::empty(shape);
    kh::log_softmax_backward(dy.host.data(), yh.data(), dxh.data(), outer, d, inner);
    kc::log_softmax_backward(dy.dev.data(), y_on_dev.data(), dxd.data(), outer, d, inner);
    check_nonfinite_parity(dxd.to_vector(), dxh.to_vector());
  }
}

TEMPLATE_TEST_CASE("cuda reduce_middle: sum, max and min match the CPU", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(13);
  for (auto [outer, r, inner] : {Dims3{1, 100000, 1}, Dims3{64, 784, 1}, Dims3{3, 300, 1}, Dims3{7, 1, 1},
                                 Dims3{8, 64, 49}, Dims3{1, 3, 1000}, Dims3{5, 1, 7}, Dims3{0, 5, 3}}) {
    INFO(outer << " x " << r << " x " << inner);
    auto x = gmtest::random_both<T>({outer, r, inner}, rng);
    for (auto op : {kh::ReduceOp::sum, kh::ReduceOp::max, kh::ReduceOp::min}) {
      INFO("op " << int(op));
      auto yh = gm::Tensor<T>::empty({outer, inner});
      auto yd = gm::Tensor<T, cuda>::empty({outer, inner});
      kh::reduce_middle(x.host.data(), yh.data(), outer, r, inner, op);
      kc::reduce_middle(x.dev.data(), yd.data(), outer, r, inner, op);
      if (op == kh::ReduceOp::sum)
        CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
      else
        CHECK(yd.to_vector() == yh.to_vector());  // a selection: any order picks the same element
    }
  }
}

TEMPLATE_TEST_CASE("cuda argmax_middle: the first maximum, ties and NaN as on the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(14);
  for (auto [outer, r, inner] : {Dims3{16, 10, 1}, Dims3{3, 1000, 1}, Dims3{1, 100000, 1}, Dims3{6, 1, 1},
                                 Dims3{4, 37, 5}, Dims3{2, 1, 8}, Dims3{0, 3, 2}}) {
    INFO(outer << " x " << r << " x " << inner);
    for (bool with_nan : {false, true}) {
      INFO("NaN " << with_nan);
      auto x = gmtest::random_both<T>({outer, r, inner}, rng);
      // Five levels, so most rows hold their maximum more than once.
      for (T& v : std::span(x.host.data(), std::size_t(x.host.numel()))) v = std::round(v * T(2));
      if (with_nan)  // a NaN first in some lines (the answer is then 0) and inside others
        for (int64_t e = 0; e < x.host.numel(); e += 7) x.host.data()[e] = std::numeric_limits<T>::quiet_NaN();
      x.dev = x.host.template to<cuda>();
      auto ih = gm::Tensor<int64_t>::empty({outer, inner});
      auto id = gm::Tensor<int64_t, cuda>::empty({outer, inner});
      kh::argmax_middle(x.host.data(), ih.data(), outer, r, inner);
      kc::argmax_middle(x.dev.data(), id.data(), outer, r, inner);
      CHECK(id.to_vector() == ih.to_vector());
    }
  }
}

TEMPLATE_TEST_CASE("cuda permute: every layout matches the CPU exactly", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(15);
  const std::pair<gm::Shape, std::vector<int>> cases[] = {
      {{2, 3, 4}, {2, 0, 1}},          {{2, 3, 4}, {0, 1, 2}},       {{5, 1, 7, 3}, {3, 1, 0, 2}},
      {{64, 300}, {1, 0}},             {{6}, {0}},                   {{}, {}},
      {{0, 3}, {1, 0}},                {{2, 3, 4, 5, 2}, {4, 2, 0, 3, 1}},
      {{2, 1, 2, 3, 1, 2, 2, 3}, {7, 6, 5, 4, 3, 2, 1, 0}}};
  for (const auto& [shape, perm] : cases) {
    INFO(shape);
    auto x = gmtest::random_both<T>(shape, rng);
    auto yh = gm::Tensor<T>::empty({shape.numel()});
    auto yd = gm::Tensor<T, cuda>::empty({shape.numel()});
    kh::permute(x.host.data(), shape, perm, yh.data());
    kc::permute(x.dev.data(), shape, perm, yd.data());
    CHECK(yd.to_vector() == yh.to_vector());
  }
}

TEMPLATE_TEST_CASE("cuda broadcast: where-style ternary and broadcast_to match the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(16);
  const std::tuple<gm::Shape, gm::Shape, gm::Shape> ternary[] = {{{4, 1, 6}, {1, 5, 6}, {6}},
                                                                 {{3}, {2, 3}, {2, 1}},
                                                                 {{2, 3}, {2, 3}, {2, 3}},
                                                                 {{1}, {}, {5}},
                                                                 {{0, 3}, {3}, {1}}};
  for (const auto& [sc, sa, sb] : ternary) {
    INFO(sc << ", " << sa << ", " << sb);
    const auto so = kh::broadcast_shapes(kh::broadcast_shapes(sc, sa, "test"), sb, "test");
    auto c = gmtest::random_both<T>(sc, rng);
    auto a = gmtest::random_both<T>(sa, rng);
    auto b = gmtest::random_both<T>(sb, rng);
    auto oh = gm::Tensor<T>::empty(so);
    auto od = gm::Tensor<T, cuda>::empty(so);
    kh::broadcast_ternary(c.host.data(), sc, a.host.data(), sa, b.host.data(), sb, oh.data(), so, Select{});
    kc::broadcast_ternary(c.dev.data(), sc, a.dev.data(), sa, b.dev.data(), sb, od.data(), so, Select{});
    CHECK(od.to_vector() == oh.to_vector());
    kh::broadcast_ternary(c.host.data(), sc, a.host.data(), sa, b.host.data(), sb, oh.data(), so, Lerp{});
    kc::broadcast_ternary(c.dev.data(), sc, a.dev.data(), sa, b.dev.data(), sb, od.data(), so, Lerp{});
    CHECK(gmtest::rel_error(od.to_vector(), oh.to_vector()) < gmtest::parity_tol<T>());
  }
  const std::pair<gm::Shape, gm::Shape> to[] = {
      {{3, 1}, {2, 3, 4}}, {{4}, {3, 4}}, {{}, {2, 2}}, {{2, 3}, {2, 3}}, {{1, 5}, {0, 5}}};
  for (const auto& [sx, so] : to) {
    INFO(sx << " to " << so);
    auto x = gmtest::random_both<T>(sx, rng);
    auto oh = gm::Tensor<T>::empty(so);
    auto od = gm::Tensor<T, cuda>::empty(so);
    kh::broadcast_to(x.host.data(), sx, oh.data(), so);
    kc::broadcast_to(x.dev.data(), sx, od.data(), so);
    CHECK(od.to_vector() == oh.to_vector());
  }
}

TEMPLATE_TEST_CASE("cuda maps: map_array, map_array2 and map_scalar match the CPU", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(17);
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(1000), int64_t(100003)}) {
    INFO("n " << n);
    auto a = gmtest::random_both<T>({n}, rng);
    auto b = gmtest::random_both<T>({n}, rng);
    auto yh = gm::Tensor<T>::empty({n});
    auto yd = gm::Tensor<T, cuda>::empty({n});
    kh::map_array(a.host.data(), yh.data(), n, ExpMinusHalf{});
    kc::map_array(a.dev.data(), yd.data(), n, ExpMinusHalf{});
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    kh::map_array2(a.host.data(), b.host.data(), yh.data(), n, ScaledProduct{1.5});
    kc::map_array2(a.dev.data(), b.dev.data(), yd.data(), n, ScaledProduct{1.5});
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    kh::map_scalar(a.host.data(), yh.data(), n, LeakyClamp{0.1});
    kc::map_scalar(a.dev.data(), yd.data(), n, LeakyClamp{0.1});
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    auto bh = gm::Tensor<int64_t>::empty({n});
    auto bd = gm::Tensor<int64_t, cuda>::empty({n});
    kh::map_scalar(a.host.data(), bh.data(), n, Bucket{});
    kc::map_scalar(a.dev.data(), bd.data(), n, Bucket{});
    CHECK(bd.to_vector() == bh.to_vector());
  }
}
