// The CUDA normalisation kernels (kernels/cuda/norm.cuh) against the CPU ones
// on the same random inputs: batch norm (training with running statistics,
// eval, backward), layer norm and group norm, forward and backward, with and
// without the affine parameters and the optional outputs, over shapes with
// segments longer than a block, odd and tiny ones. The argument errors are
// checked to be the CPU's, without a device.
#include "cuda_test_util.hpp"

#include <string>
#include <tuple>

#include "genmodel/kernels/cpu/norm.hpp"
#include "genmodel/kernels/cuda/norm.cuh"

namespace gm = genmodel;
using gm::cuda;
namespace kc = gm::kernels::cuda;
namespace kh = gm::kernels::cpu;

namespace {

/// Random values in [0.5, 1.5) on both devices (variances).
template <class T>
gmtest::Both<T> positive_both(const gm::Shape& shape, std::mt19937_64& rng) {
  auto b = gmtest::random_both<T>(shape, rng);
  for (int64_t i = 0; i < b.host.numel(); ++i) b.host.data()[i] = std::abs(b.host.data()[i]) + T(0.5);
  b.dev = b.host.template to<cuda>();
  return b;
}

template <class T>
bool parity(const gm::Tensor<T, cuda>& got, const gm::Tensor<T>& want) {
  return gmtest::rel_error(got.to_vector(), want.to_vector()) < gmtest::parity_tol<T>();
}

template <class T>
bool parity(const gmtest::Both<T>& b) {
  return parity(b.dev, b.host);
}

/// An output on both devices, host and device pointers, or nullptr for both when absent.
template <class T>
struct Out {
  // Random, not zero, so an output that is accumulated instead of written shows.
  gmtest::Both<T> b;
  bool on;
  Out(const gm::Shape& shape, bool present, std::mt19937_64& rng)
      : b(gmtest::random_both<T>(shape, rng)), on(present) {}
  T* h() const { return on ? b.host.data() : nullptr; }
  T* d() const { return on ? b.dev.data() : nullptr; }
  bool matches() const { return !on || parity(b); }
};

using Shape3 = std::tuple<int64_t, int64_t, int64_t>;

}  // namespace

TEMPLATE_TEST_CASE("cuda batch norm: training (running statistics) and eval forwards match the CPU",
                   "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(21);
  const T eps = T(1e-5), momentum = T(0.1);
  // n*s > kThreads, BatchNorm1d with an odd batch, small odd spatial, n*s == 2, one channel of 257.
  for (auto [n, c, s] : {Shape3{4, 3, 300}, {7, 5, 1}, {2, 4, 13}, {1, 2, 2}, {3, 1, 257}})
    for (bool affine : {false, true})
      for (bool track : {false, true}) {
        INFO("n " << n << " c " << c << " s " << s << " affine " << affine << " track " << track);
        auto x = gmtest::random_both<T>({n, c, s}, rng);
        auto gamma = gmtest::random_both<T>({c}, rng), beta = gmtest::random_both<T>({c}, rng);
        auto rmean = gmtest::random_both<T>({c}, rng);
        auto rvar = positive_both<T>({c}, rng);
        Out<T> y({n, c, s}, true, rng), mean({c}, true, rng), rstd({c}, !affine, rng);
        kh::batch_norm_forward_train<T>(x.host.data(), affine ? gamma.host.data() : nullptr,
                                        affine ? beta.host.data() : nullptr, y.h(), mean.h(), rstd.h(), n, c,
                                        s, eps, track ? rmean.host.data() : nullptr,
                                        track ? rvar.host.data() : nullptr, momentum);
        kc::batch_norm_forward_train<T>(x.dev.data(), affine ? gamma.dev.data() : nullptr,
                                        affine ? beta.dev.data() : nullptr, y.d(), mean.d(), rstd.d(), n, c,
                                        s, eps, track ? rmean.dev.data() : nullptr,
                                        track ? rvar.dev.data() : nullptr, momentum);
        CHECK(y.matches());
        CHECK(mean.matches());
        CHECK(rstd.matches());
        CHECK(parity(rmean));  // updated when tracked, untouched otherwise
        CHECK(parity(rvar));

        Out<T> ye({n, c, s}, true, rng);
        kh::batch_norm_forward_eval<T>(x.host.data(), affine ? gamma.host.data() : nullptr,
                                       affine ? beta.host.data() : nullptr, ye.h(), n, c, s, eps,
                                       rmean.host.data(), rvar.host.data());
        kc::batch_norm_forward_eval<T>(x.dev.data(), affine ? gamma.dev.data() : nullptr,
                                       affine ? beta.dev.data() : nullptr, ye.d(), n, c, s, eps,
                                       rmean.dev.data(), rvar.dev.data());
        CHECK(ye.matches());
      }
}

TEMPLATE_TEST_CASE("cuda batch norm: an empty batch writes the statistics and leaves the running ones",
                   "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(22);
  const int64_t c = 3;
  auto rmean = gmtest::random_both<T>({c}, rng);
  auto rvar = positive_both<T>({c}, rng);
  Out<T> mean({c}, true, rng), rstd({c}, true, rng);
  kh::batch_norm_forward_train<T>(nullptr, nullptr, nullptr, nullptr, mean.h(), rstd.h(), 0, c, 5, T(1e-5),
                                  rmean.host.data(), rvar.host.data(), T(0.1));
  kc::batch_norm_forward_train<T>(nullptr, nullptr, nullptr, nullptr, mean.d(), rstd.d(), 0, c, 5, T(1e-5),
                                  rmean.dev.data(), rvar.dev.data(), T(0.1));
  CHECK(mean.matches());
  CHECK(rstd.matches());
  CHECK(rmean.dev.to_vector() == rmean.host.to_vector());
  CHECK(rvar.dev.to_vector() == rvar.host.to_vector());
}

TEMPLATE_TEST_CASE("cuda batch norm: backward matches the CPU and repeats bit for bit", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(23);
  for (auto [n, c, s] : {Shape3{4, 3, 300}, {7, 5, 1}, {2, 4, 13}, {3, 2, 1}, {3, 1, 257}})
    for (bool affine : {false, true})
      for (int outs = 0; outs < 3; ++outs) {  // all outputs, dx only, dgamma/dbeta only
        INFO("n " << n << " c " << c << " s " << s << " affine " << affine << " outputs " << outs);
        auto x = gmtest::random_both<T>({n, c, s}, rng), dy = gmtest::random_both<T>({n, c, s}, rng);
        auto gamma = gmtest::random_both<T>({c}, rng);
        // The statistics of x, from the CPU forward, on both devices.
        auto mean = gm::Tensor<T>::empty({c}), rstd = gm::Tensor<T>::empty({c}),
             y = gm::Tensor<T>::empty({n, c, s});
        kh::batch_norm_forward_train<T>(x.host.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(),
                                        n, c, s, T(1e-5), nullptr, nullptr, T(0.1));
        const auto mean_d = mean.template to<cuda>(), rstd_d = rstd.template to<cuda>();
        Out<T> dx({n, c, s}, outs != 2, rng), dgamma({c}, outs != 1, rng), dbeta({c}, outs != 1, rng);
        const T* gh = affine ? gamma.host.data() : nullptr;
        const T* gd = affine ? gamma.dev.data() : nullptr;
        kh::batch_norm_backward<T>(dy.host.data(), x.host.data(), gh, mean.data(), rstd.data(), dx.h(),
                                   dgamma.h(), dbeta.h(), n, c, s);
        kc::batch_norm_backward<T>(dy.dev.data(), x.dev.data(), gd, mean_d.data(), rstd_d.data(), dx.d(),
                                   dgamma.d(), dbeta.d(), n, c, s);
        CHECK(dx.matches());
        CHECK(dgamma.matches());
        CHECK(dbeta.matches());
        if (outs == 0) {
          const auto first = dx.b.dev.to_vector(), first_g = dgamma.b.dev.to_vector();
          kc::batch_norm_backward<T>(dy.dev.data(), x.dev.data(), gd, mean_d.data(), rstd_d.data(), dx.d(),
                                     dgamma.d(), dbeta.d(), n, c, s);
          CHECK(dx.b.dev.to_vector() == first);
          CHECK(dgamma.b.dev.to_vector() == first_g);
        }
      }
}

TEMPLATE_TEST_CASE("cuda layer norm: forward and backward match the CPU", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(24);
  const T eps = T(1e-5);
  // Rows longer than a block, more rows than the 64 chunks of the dgamma sums, odd and tiny rows.
  const std::pair<int64_t, int64_t> shapes[] = {{5, 1000}, {130, 40}, {64, 33}, {3, 257}, {2, 3}, {1, 1}};
  for (const auto& [rows, d] : shapes) {
    for (int affine = 0; affine < 4; ++affine) {  // bit 0: gamma, bit 1: beta
      INFO("rows " << rows << " d " << d << " affine " << affine);
      auto x = gmtest::random_both<T>({rows, d}, rng);
      auto gamma = gmtest::random_both<T>({d}, rng), beta = gmtest::random_both<T>({d}, rng);
      Out<T> y({rows, d}, true, rng), mean({rows}, true, rng), rstd({rows}, affine != 3, rng);
      kh::layer_norm_forward<T>(x.host.data(), (affine & 1) ? gamma.host.data() : nullptr,
                                (affine & 2) ? beta.host.data() : nullptr, y.h(), mean.h(), rstd.h(), rows, d,
                                eps);
      kc::layer_norm_forward<T>(x.dev.data(), (affine & 1) ? gamma.dev.data() : nullptr,
                                (affine & 2) ? beta.dev.data() : nullptr, y.d(), mean.d(), rstd.d(), rows, d,
                                eps);
      CHECK(y.matches());
      CHECK(mean.matches());
      CHECK(rstd.matches());
    }
    // d <= 2 makes dx vanish mathematically (rounding noise on both sides): forward only.
    if (d <= 2) continue;
    auto x = gmtest::random_both<T>({rows, d}, rng), dy = gmtest::random_both<T>({rows, d}, rng);
    auto gamma = gmtest::random_both<T>({d}, rng);
    auto mean = gm::Tensor<T>::empty({rows}), rstd = gm::Tensor<T>::empty({rows}),
         y = gm::Tensor<T>::empty({rows, d});
    kh::layer_norm_forward<T>(x.host.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), rows, d,
                              eps);
    const auto mean_d = mean.template to<cuda>(), rstd_d = rstd.template to<cuda>();
    for (bool affine : {false, true})
      for (int outs = 0; outs < 4; ++outs) {  // all, dx only, dgamma/dbeta only, dx and dbeta
        INFO("rows " << rows << " d " << d << " backward, affine " << affine << " outputs " << outs);
        Out<T> dx({rows, d}, outs != 2, rng), dgamma({d}, outs == 0 || outs == 2, rng),
            dbeta({d}, outs != 1, rng);
        kh::layer_norm_backward<T>(dy.host.data(), x.host.data(), affine ? gamma.host.data() : nullptr,
                                   mean.data(), rstd.data(), dx.h(), dgamma.h(), dbeta.h(), rows, d);
        kc::layer_norm_backward<T>(dy.dev.data(), x.dev.data(), affine ? gamma.dev.data() : nullptr,
                                   mean_d.data(), rstd_d.data(), dx.d(), dgamma.d(), dbeta.d(), rows, d);
        CHECK(dx.matches());
        CHECK(dgamma.matches());
        CHECK(dbeta.matches());
      }
  }
  // No rows: dgamma and dbeta are zeroed, as on the CPU.
  Out<T> dgamma({7}, true, rng), dbeta({7}, true, rng);
  kh::layer_norm_backward<T>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, dgamma.h(), dbeta.h(), 0,
                             7);
  kc::layer_norm_backward<T>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, dgamma.d(), dbeta.d(), 0,
                             7);
  CHECK(dgamma.b.dev.to_vector() == dgamma.b.host.to_vector());
  CHECK(dbeta.b.dev.to_vector() == dbeta.b.host.to_vector());
}

TEMPLATE_TEST_CASE("cuda group norm: forward and backward match the CPU", "[device]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(25);
  const T eps = T(1e-5);
  struct Case {
    int64_t n, c, s, groups;
  };
  // Groups of 100 and of 600 (> a block) values, one channel a group with odd s,
  // s == 1, one group of 3 values.
  const Case cases[] = {{2, 6, 50, 3}, {2, 4, 300, 2}, {3, 5, 7, 5}, {2, 8, 1, 2}, {1, 3, 1, 1}};
  for (const auto& [n, c, s, groups] : cases)
    for (bool affine : {false, true}) {
      INFO("n " << n << " c " << c << " s " << s << " groups " << groups << " affine " << affine);
      auto x = gmtest::random_both<T>({n, c, s}, rng), dy = gmtest::random_both<T>({n, c, s}, rng);
      auto gamma = gmtest::random_both<T>({c}, rng), beta = gmtest::random_both<T>({c}, rng);
      const T* gh = affine ? gamma.host.data() : nullptr;
      const T* gd = affine ? gamma.dev.data() : nullptr;
      Out<T> y({n, c, s}, true, rng), mean({n, groups}, true, rng), rstd({n, groups}, true, rng);
      kh::group_norm_forward<T>(x.host.data(), gh, affine ? beta.host.data() : nullptr, y.h(), mean.h(),
                                rstd.h(), n, c, s, groups, eps);
      kc::group_norm_forward<T>(x.dev.data(), gd, affine ? beta.dev.data() : nullptr, y.d(), mean.d(),
                                rstd.d(), n, c, s, groups, eps);
      CHECK(y.matches());
      CHECK(mean.matches());
      CHECK(rstd.matches());

      // The backward takes the CPU's statistics on both sides.
      const auto mean_d = mean.b.host.template to<cuda>(), rstd_d = rstd.b.host.template to<cuda>();
      for (int outs = 0; outs < 3; ++outs) {  // all outputs, dx only, dgamma/dbeta only
        INFO("backward, outputs " << outs);
        Out<T> dx({n, c, s}, outs != 2, rng), dgamma({c}, outs != 1, rng), dbeta({c}, outs != 1, rng);
        kh::group_norm_backward<T>(dy.host.data(), x.host.data(), gh, mean.b.host.data(), rstd.b.host.data(),
                                   dx.h(), dgamma.h(), dbeta.h(), n, c, s, groups);
        kc::group_norm_backward<T>(dy.dev.data(), x.dev.data(), gd, mean_d.data(), rstd_d.data(), dx.d(),
                                   dgamma.d(), dbeta.d(), n, c, s, groups);
        CHECK(dx.matches());
        CHECK(dgamma.matches());
        CHECK(dbeta.matches());
      }
    }
  // No spatial extent: dgamma and dbeta are zeroed, as on the CPU.
  Out<T> dgamma({4}, true, rng), dbeta({4}, true, rng);
  kh::group_norm_backward<T>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, dgamma.h(), dbeta.h(), 2,
                             4, 0, 2);
  kc::group_norm_backward<T>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, dgamma.d(), dbeta.d(), 2,
                             4, 0, 2);
  CHECK(dgamma.b.dev.to_vector() == dgamma.b.host.to_vector());
  CHECK(dbeta.b.dev.to_vector() == dbeta.b.host.to_vector());
}

TEST_CASE("cuda norm: argument errors are the CPU's, raised before any device call", "[cuda]") {
  using F = float;
  F* p = nullptr;
  auto same = [](auto cpu_call, auto cuda_call) {
    const std::string want = gmtest::error_of(cpu_call);
    CHECK(want != "no error");
    CHECK(gmtest::error_of(cuda_call) == want);
  };
  same([&] { kh::batch_norm_forward_train<F>(p, p, p, p, p, p, -1, 2, 3, F(1e-5), p, p, F(0.1)); },
       [&] { kc::batch_norm_forward_train<F>(p, p, p, p, p, p, -1, 2, 3, F(1e-5), p, p, F(0.1)); });
  same([&] { kh::batch_norm_forward_train<F>(p, p, p, p, p, p, 1, 2, 1, F(1e-5), p, p, F(0.1)); },
       [&] { kc::batch_norm_forward_train<F>(p, p, p, p, p, p, 1, 2, 1, F(1e-5), p, p, F(0.1)); });
  same([&] { kh::batch_norm_forward_train<F>(p, p, p, p, p, p, 2, 2, 1, F(-1), p, p, F(0.1)); },
       [&] { kc::batch_norm_forward_train<F>(p, p, p, p, p, p, 2, 2, 1, F(-1), p, p, F(0.1)); });
  same([&] { kh::batch_norm_forward_eval<F>(p, p, p, p, 2, 2, 1, F(1e-5), p, p); },
       [&] { kc::batch_norm_forward_eval<F>(p, p, p, p, 2, 2, 1, F(1e-5), p, p); });
  same([&] { kh::batch_norm_backward<F>(p, p, p, p, p, p, p, p, 2, -2, 1); },
       [&] { kc::batch_norm_backward<F>(p, p, p, p, p, p, p, p, 2, -2, 1); });
  same([&] { kh::layer_norm_forward<F>(p, p, p, p, p, p, -1, 4, F(1e-5)); },
       [&] { kc::layer_norm_forward<F>(p, p, p, p, p, p, -1, 4, F(1e-5)); });
  same([&] { kh::layer_norm_forward<F>(p, p, p, p, p, p, 1, 4, F(-1)); },
       [&] { kc::layer_norm_forward<F>(p, p, p, p, p, p, 1, 4, F(-1)); });
  same([&] { kh::layer_norm_backward<F>(p, p, p, p, p, p, p, p, 3, -4); },
       [&] { kc::layer_norm_backward<F>(p, p, p, p, p, p, p, p, 3, -4); });
  same([&] { kh::group_norm_forward<F>(p, p, p, p, p, p, 2, 6, 4, 4, F(1e-5)); },
       [&] { kc::group_norm_forward<F>(p, p, p, p, p, p, 2, 6, 4, 4, F(1e-5)); });
  same([&] { kh::group_norm_forward<F>(p, p, p, p, p, p, 2, 6, 4, 0, F(1e-5)); },
       [&] { kc::group_norm_forward<F>(p, p, p, p, p, p, 2, 6, 4, 0, F(1e-5)); });
  same([&] { kh::group_norm_forward<F>(p, p, p, p, p, p, 2, 6, 4, 3, F(-1)); },
       [&] { kc::group_norm_forward<F>(p, p, p, p, p, p, 2, 6, 4, 3, F(-1)); });
  same([&] { kh::group_norm_backward<F>(p, p, p, p, p, p, p, p, 2, 6, 4, 4); },
       [&] { kc::group_norm_backward<F>(p, p, p, p, p, p, p, p, 2, 6, 4, 4); });
}
