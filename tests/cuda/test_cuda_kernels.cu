// The CUDA kernels against the CPU kernels on the same random inputs: GEMM
// (cuBLAS), convolution in its three directions (cuDNN), broadcasting
// elementwise, reductions and the fused optimizer steps. Float32 with TF32
// off must agree to 1e-4 relative, double to 1e-12.
#include "cuda_test_util.hpp"

#include "genmodel/kernels/cpu/conv.hpp"
#include "genmodel/kernels/cpu/gemm.hpp"

namespace gm = genmodel;
using gm::cuda;
namespace kc = gm::kernels::cuda;
namespace kh = gm::kernels::cpu;

TEMPLATE_TEST_CASE("cuda gemm: all transpose cases and the batched form match the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(2);
  const int64_t m = 37, n = 53, k = 129;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("trans_a " << ta << " trans_b " << tb);
      auto a = gmtest::random_both<T>(ta ? gm::Shape{k, m} : gm::Shape{m, k}, rng);
      auto b = gmtest::random_both<T>(tb ? gm::Shape{n, k} : gm::Shape{k, n}, rng);
      auto c = gmtest::random_both<T>({m, n}, rng);  // beta = 0.5 reads it
      const int64_t lda = ta ? m : k, ldb = tb ? k : n;
      kh::gemm<T>(ta, tb, m, n, k, T(1.5), a.host.data(), lda, b.host.data(), ldb, T(0.5), c.host.data(), n);
      kc::gemm<T>(ta, tb, m, n, k, T(1.5), a.dev.data(), lda, b.dev.data(), ldb, T(0.5), c.dev.data(), n);
      CHECK(gmtest::rel_error(c.dev.to_vector(), c.host.to_vector()) < gmtest::parity_tol<T>());
    }
  // Batched, with the right operand shared by every entry (stride 0).
  const int64_t batch = 6;
  auto a = gmtest::random_both<T>({batch, m, k}, rng);
  auto b = gmtest::random_both<T>({k, n}, rng);
  auto c = gmtest::random_both<T>({batch, m, n}, rng);
  kh::gemm_batched<T>(false, false, batch, m, n, k, T(1), a.host.data(), m * k, b.host.data(), 0, T(0),
                      c.host.data(), m * n);
  kc::gemm_batched<T>(false, false, batch, m, n, k, T(1), a.dev.data(), m * k, b.dev.data(), 0, T(0),
                      c.dev.data(), m * n);
  CHECK(gmtest::rel_error(c.dev.to_vector(), c.host.to_vector()) < gmtest::parity_tol<T>());
}

TEMPLATE_TEST_CASE("cuda conv2d: forward, backward-data and backward-weight match the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(3);
  struct Case {
    const char* name;
    gm::kernels::Conv2dGeometry g;
  };
  const Case cases[] = {
      // DCGAN discriminator: 1 -> 64, 4x4 stride 2 pad 1 on 28x28.
      {"dcgan d1", gm::kernels::conv2d_geometry(8, 1, 28, 28, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1)},
      // U-Net residual block: 3x3 "same".
      {"unet 3x3", gm::kernels::conv2d_geometry(4, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
      {"grouped dilated", gm::kernels::conv2d_geometry(2, 8, 11, 13, 12, 3, 3, 2, 1, 2, 1, 2, 1, 4)},
      // DCGAN generator 128 -> 64 transposed, as the forward conv it inverts.
      {"dcgan g transposed",
       gm::kernels::conv_transpose2d_geometry(8, 128, 7, 7, 64, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1)},
  };
  for (const auto& [name, g] : cases) {
    INFO(name);
    auto x = gmtest::random_both<T>({g.n, g.c, g.h, g.w}, rng);
    auto w = gmtest::random_both<T>({g.o, g.c / g.groups, g.kh, g.kw}, rng);
    auto dy = gmtest::random_both<T>({g.n, g.o, g.oh, g.ow}, rng);
    auto yh = gm::Tensor<T>::empty(dy.host.shape());
    auto yd = gm::Tensor<T, cuda>::empty(dy.host.shape());
    kh::conv2d_forward(g, x.host.data(), w.host.data(), yh.data());
    kc::conv2d_forward(g, x.dev.data(), w.dev.data(), yd.data());
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    auto dxh = gm::Tensor<T>::empty(x.host.shape());
    auto dxd = gm::Tensor<T, cuda>::empty(x.host.shape());
    kh::conv2d_backward_data(g, dy.host.data(), w.host.data(), dxh.data());
    kc::conv2d_backward_data(g, dy.dev.data(), w.dev.data(), dxd.data());
    CHECK(gmtest::rel_error(dxd.to_vector(), dxh.to_vector()) < gmtest::parity_tol<T>());
    auto dwh = gm::Tensor<T>::empty(w.host.shape());
    auto dwd = gm::Tensor<T, cuda>::empty(w.host.shape());
    kh::conv2d_backward_weight(g, x.host.data(), dy.host.data(), dwh.data());
    kc::conv2d_backward_weight(g, x.dev.data(), dy.dev.data(), dwd.data());
    CHECK(gmtest::rel_error(dwd.to_vector(), dwh.to_vector()) < gmtest::parity_tol<T>());
  }
}

TEST_CASE("cuda conv2d: the algorithm is chosen once and its workspace reused", "[device]") {
  std::mt19937_64 rng(4);
  const auto g = gm::kernels::conv2d_geometry(16, 64, 14, 14, 128, 4, 4, 2, 2, 1, 1, 1, 1, 1);
  auto x = gmtest::random_both<float>({g.n, g.c, g.h, g.w}, rng);
  auto w = gmtest::random_both<float>({g.o, g.c, g.kh, g.kw}, rng);
  auto y = gm::Tensor<float, cuda>::empty({g.n, g.o, g.oh, g.ow});
  kc::conv2d_forward(g, x.dev.data(), w.dev.data(), y.data());
  const auto first = y.to_vector();
  const auto before = gm::cuda_backend::allocator().stats();
  for (int i = 0; i < 3; ++i) kc::conv2d_forward(g, x.dev.data(), w.dev.data(), y.data());
  REQUIRE(gm::cuda_backend::allocator().stats().system_allocs == before.system_allocs);
  REQUIRE(y.to_vector() == first);  // same algorithm: the same bits
}

TEST_CASE("cuda conv2d: with cudnn benchmark on, the timed choice matches the CPU and is kept", "[device]") {
  // A shape of its own, so that the plan is made here with the setting on.
  std::mt19937_64 rng(5);
  const auto g = gm::kernels::conv2d_geometry(6, 24, 12, 12, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  auto x = gmtest::random_both<float>({g.n, g.c, g.h, g.w}, rng);
  auto w = gmtest::random_both<float>({g.o, g.c, g.kh, g.kw}, rng);
  auto dy = gmtest::random_both<float>({g.n, g.o, g.oh, g.ow}, rng);
  gm::cuda_backend::set_cudnn_benchmark(true);
  struct Off {
    ~Off() { gm::cuda_backend::set_cudnn_benchmark(false); }
  } off;
  auto yh = gm::Tensor<float>::empty(dy.host.shape());
  auto dxh = gm::Tensor<float>::empty(x.host.shape());
  auto dwh = gm::Tensor<float>::empty(w.host.shape());
  kh::conv2d_forward(g, x.host.data(), w.host.data(), yh.data());
  kh::conv2d_backward_data(g, dy.host.data(), w.host.data(), dxh.data());
  kh::conv2d_backward_weight(g, x.host.data(), dy.host.data(), dwh.data());
  auto yd = gm::Tensor<float, cuda>::empty(dy.host.shape());
  auto dxd = gm::Tensor<float, cuda>::empty(x.host.shape());
  auto dwd = gm::Tensor<float, cuda>::empty(w.host.shape());
  auto all = [&] {
    kc::conv2d_forward(g, x.dev.data(), w.dev.data(), yd.data());
    kc::conv2d_backward_data(g, dy.dev.data(), w.dev.data(), dxd.data());
    kc::conv2d_backward_weight(g, x.dev.data(), dy.dev.data(), dwd.data());
  };
  all();  // the trials write the outputs too; the chosen algorithm overwrites them
  CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<float>());
  CHECK(gmtest::rel_error(dxd.to_vector(), dxh.to_vector()) < gmtest::parity_tol<float>());
  CHECK(gmtest::rel_error(dwd.to_vector(), dwh.to_vector()) < gmtest::parity_tol<float>());
  const auto y_first = yd.to_vector();
  const auto before = gm::cuda_backend::allocator().stats();
  all();
  CHECK(gm::cuda_backend::allocator().stats().system_allocs == before.system_allocs);
  CHECK(yd.to_vector() == y_first);  // no second trial: the same algorithm
}

TEMPLATE_TEST_CASE("cuda elementwise: broadcasting binary ops and maps match the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(5);
  const std::pair<gm::Shape, gm::Shape> shapes[] = {
      {{4, 5, 6}, {4, 5, 6}}, {{4, 5, 6}, {6}}, {{4, 1, 6}, {1, 5, 1}}, {{3, 1}, {1, 7}}, {{1}, {2, 3}}};
  for (const auto& [sa, sb] : shapes) {
    INFO(sa << " with " << sb);
    const auto so = kh::broadcast_shapes(sa, sb, "test");
    auto a = gmtest::random_both<T>(sa, rng);
    auto b = gmtest::random_both<T>(sb, rng);
    // One __host__ __device__ functor for both kernels, as the ops pass them.
    auto run = [&](auto op) {
      auto oh = gm::Tensor<T>::empty(so);
      auto od = gm::Tensor<T, cuda>::empty(so);
      kh::broadcast_binary(a.host.data(), sa, b.host.data(), sb, oh.data(), so, op);
      kc::broadcast_binary(a.dev.data(), sa, b.dev.data(), sb, od.data(), so, op, "test");
      CHECK(gmtest::rel_error(od.to_vector(), oh.to_vector()) < gmtest::parity_tol<T>());
    };
    run([] __host__ __device__(T x, T y) { return x + y; });
    run([] __host__ __device__(T x, T y) { return x - y; });
    run([] __host__ __device__(T x, T y) { return x * y; });
    run([] __host__ __device__(T x, T y) { return std::max(x, y); });
  }
  // Div on a divisor bounded away from zero, where relative errors are fair.
  {
    auto a = gmtest::random_both<T>({100}, rng);
    auto bh = gm::Tensor<T>::empty({100});
    for (int i = 0; i < 100; ++i) bh.data()[i] = T(1.5) + T(i) / 100;
    auto bd = bh.template to<cuda>();
    auto oh = gm::Tensor<T>::empty({100});
    auto od = gm::Tensor<T, cuda>::empty({100});
    const auto div = [] __host__ __device__(T x, T y) { return x / y; };
    kh::broadcast_binary(a.host.data(), a.host.shape(), bh.data(), bh.shape(), oh.data(), oh.shape(), div);
    kc::broadcast_binary(a.dev.data(), a.host.shape(), bd.data(), bd.shape(), od.data(), od.shape(), div, "div");
    CHECK(gmtest::rel_error(od.to_vector(), oh.to_vector()) < gmtest::parity_tol<T>());
  }
  auto x = gmtest::random_both<T>({1000}, rng);
  auto map = [&](auto op) {
    auto yd = gm::Tensor<T, cuda>::empty({1000});
    kc::map(x.dev.data(), yd.data(), 1000, op, "test");
    std::vector<T> want(1000);
    for (int i = 0; i < 1000; ++i) want[i] = op(x.host.data()[i]);
    CHECK(gmtest::rel_error(yd.to_vector(), want) < gmtest::parity_tol<T>());
  };
  map([] __host__ __device__(T v) { return -v; });
  map([] __host__ __device__(T v) { return std::exp(v); });
  map([] __host__ __device__(T v) { return std::tanh(v); });
  map([] __host__ __device__(T v) { return v > 0 ? v : T(0.2) * v; });
}

TEMPLATE_TEST_CASE("cuda optim: ten Adam, AdamW, SGD and EMA steps match the CPU", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(7);
  const int64_t n = 10007;
  for (bool decoupled : {false, true}) {
    INFO("decoupled " << decoupled);
    auto p = gmtest::random_both<T>({n}, rng);
    auto m = gmtest::random_both<T>({n}, rng), v = gmtest::random_both<T>({n}, rng);
    for (int64_t i = 0; i < n; ++i) v.host.data()[i] = std::abs(v.host.data()[i]);  // exp_avg_sq >= 0
    v.dev = v.host.template to<cuda>();
    for (int step = 1; step <= 10; ++step) {
      auto g = gmtest::random_both<T>({n}, rng);
      const kh::AdamCoeffs c{1e-3, 0.5, 0.999, 1e-8, 0.01, decoupled, step};
      kh::adam_step(p.host.data(), g.host.data(), m.host.data(), v.host.data(), n, c);
      kc::adam_step(p.dev.data(), g.dev.data(), m.dev.data(), v.dev.data(), n, c);
    }
    CHECK(gmtest::rel_error(p.dev.to_vector(), p.host.to_vector()) < gmtest::parity_tol<T>());
    CHECK(gmtest::rel_error(v.dev.to_vector(), v.host.to_vector()) < gmtest::parity_tol<T>());
  }
  for (bool nesterov : {false, true}) {
    auto p = gmtest::random_both<T>({n}, rng);
    auto buf = gmtest::random_both<T>({n}, rng);
    for (int step = 0; step < 10; ++step) {
      auto g = gmtest::random_both<T>({n}, rng);
      const kh::SgdCoeffs c{0.1, 0.9, 0.0, 1e-4, nesterov};
      kh::sgd_step(p.host.data(), g.host.data(), buf.host.data(), n, c, step == 0);
      kc::sgd_step(p.dev.data(), g.dev.data(), buf.dev.data(), n, c, step == 0);
    }
    CHECK(gmtest::rel_error(p.dev.to_vector(), p.host.to_vector()) < gmtest::parity_tol<T>());
  }
  auto shadow = gmtest::random_both<T>({n}, rng);
  auto w = gmtest::random_both<T>({n}, rng);
  kh::ema_update(shadow.host.data(), w.host.data(), n, 0.999);
  kc::ema_update(shadow.dev.data(), w.dev.data(), n, 0.999);
  CHECK(gmtest::rel_error(shadow.dev.to_vector(), shadow.host.to_vector()) < gmtest::parity_tol<T>());
}
