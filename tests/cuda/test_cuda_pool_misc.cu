// The CUDA pooling, upsampling, embedding and dropout kernels against the
// CPU kernels on the same inputs: values to the parity tolerance, argmax
// indices and dropout masks exactly, and the generator offsets equal.
#include "cuda_test_util.hpp"

#include <string>

#include "genmodel/kernels/cpu/dropout.hpp"
#include "genmodel/kernels/cpu/embedding.hpp"
#include "genmodel/kernels/cpu/pool.hpp"
#include "genmodel/kernels/cpu/upsample.hpp"
#include "genmodel/kernels/cuda/dropout.cuh"
#include "genmodel/kernels/cuda/embedding.cuh"
#include "genmodel/kernels/cuda/pool.cuh"
#include "genmodel/kernels/cuda/upsample.cuh"

namespace gm = genmodel;
using gm::cuda;
namespace kc = gm::kernels::cuda;
namespace kh = gm::kernels::cpu;

TEMPLATE_TEST_CASE("cuda pool2d: max and average, forward and backward, match the CPU", "[device]", float,
                   double) {
  using T = TestType;
  std::mt19937_64 rng(11);
  struct Case {
    const char* name;
    kh::Pool2dGeometry g;
    bool ties;  // inputs rounded to a few values, so windows hold equal maxima
  };
  const Case cases[] = {
      {"2x2 stride 2", kh::pool2d_geometry(2, 3, 8, 8, 2, 2, 2, 2, 0, 0), false},
      {"3x3 stride 1 pad 1", kh::pool2d_geometry(2, 3, 9, 11, 3, 3, 1, 1, 1, 1), false},
      {"3x2 stride 2x1 pad 1x1, odd", kh::pool2d_geometry(1, 4, 7, 5, 3, 2, 2, 1, 1, 1), false},
      {"5x5 stride 3 pad 2", kh::pool2d_geometry(2, 2, 13, 10, 5, 5, 3, 3, 2, 2), false},
      {"3x3 stride 2 pad 1, ties", kh::pool2d_geometry(3, 2, 10, 9, 3, 3, 2, 2, 1, 1), true},
  };
  for (const auto& [name, g, ties] : cases) {
    INFO(name);
    auto x = gmtest::random_both<T>({g.n, g.c, g.h, g.w}, rng);
    if (ties) {
      for (int64_t i = 0; i < x.host.numel(); ++i) x.host.data()[i] = std::round(T(2) * x.host.data()[i]);
      x.dev = x.host.template to<cuda>();
    }
    auto dy = gmtest::random_both<T>({g.n, g.c, g.oh, g.ow}, rng);
    auto yh = gm::Tensor<T>::empty(dy.host.shape());
    auto yd = gm::Tensor<T, cuda>::empty(dy.host.shape());
    auto ah = gm::Tensor<int64_t>::empty(dy.host.shape());
    auto ad = gm::Tensor<int64_t, cuda>::empty(dy.host.shape());
    kh::max_pool2d_forward(g, x.host.data(), yh.data(), ah.data());
    kc::max_pool2d_forward(g, x.dev.data(), yd.data(), ad.data());
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    REQUIRE(ad.to_vector() == ah.to_vector());
    // dx starts as garbage on both sides: the kernels overwrite it.
    auto dx = gmtest::random_both<T>(x.host.shape(), rng);
    kh::max_pool2d_backward(g, dy.host.data(), ah.data(), dx.host.data());
    kc::max_pool2d_backward(g, dy.dev.data(), ad.data(), dx.dev.data());
    CHECK(gmtest::rel_error(dx.dev.to_vector(), dx.host.to_vector()) < gmtest::parity_tol<T>());

    kh::avg_pool2d_forward(g, x.host.data(), yh.data());
    kc::avg_pool2d_forward(g, x.dev.data(), yd.data());
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    kh::avg_pool2d_backward(g, dy.host.data(), dx.host.data());
    kc::avg_pool2d_backward(g, dy.dev.data(), dx.dev.data());
    CHECK(gmtest::rel_error(dx.dev.to_vector(), dx.host.to_vector()) < gmtest::parity_tol<T>());
  }
}

TEMPLATE_TEST_CASE("cuda upsample2d: nearest and bilinear, forward and backward, match the CPU", "[device]",
                   float, double) {
  using T = TestType;
  std::mt19937_64 rng(12);
  struct Case {
    const char* name;
    int64_t nc, h, w, oh, ow;
  };
  const Case cases[] = {
      {"scale 2", 6, 5, 7, 10, 14},       {"same size", 3, 5, 7, 5, 7},
      {"non-integer up", 4, 7, 5, 11, 13}, {"down", 2, 9, 13, 4, 6},
      {"to and from one pixel", 2, 1, 3, 1, 5},
  };
  for (const auto& [name, nc, h, w, oh, ow] : cases) {
    INFO(name);
    auto x = gmtest::random_both<T>({nc, h, w}, rng);
    auto dy = gmtest::random_both<T>({nc, oh, ow}, rng);
    auto dx = gmtest::random_both<T>({nc, h, w}, rng);  // garbage, overwritten
    auto yh = gm::Tensor<T>::empty({nc, oh, ow});
    auto yd = gm::Tensor<T, cuda>::empty({nc, oh, ow});
    kh::upsample_nearest2d_forward(x.host.data(), yh.data(), nc, h, w, oh, ow);
    kc::upsample_nearest2d_forward(x.dev.data(), yd.data(), nc, h, w, oh, ow);
    CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
    kh::upsample_nearest2d_backward(dy.host.data(), dx.host.data(), nc, h, w, oh, ow);
    kc::upsample_nearest2d_backward(dy.dev.data(), dx.dev.data(), nc, h, w, oh, ow);
    CHECK(gmtest::rel_error(dx.dev.to_vector(), dx.host.to_vector()) < gmtest::parity_tol<T>());
    for (bool align : {false, true}) {
      INFO("align_corners " << align);
      kh::upsample_bilinear2d_forward(x.host.data(), yh.data(), nc, h, w, oh, ow, align);
      kc::upsample_bilinear2d_forward(x.dev.data(), yd.data(), nc, h, w, oh, ow, align);
      CHECK(gmtest::rel_error(yd.to_vector(), yh.to_vector()) < gmtest::parity_tol<T>());
      kh::upsample_bilinear2d_backward(dy.host.data(), dx.host.data(), nc, h, w, oh, ow, align);
      kc::upsample_bilinear2d_backward(dy.dev.data(), dx.dev.data(), nc, h, w, oh, ow, align);
      CHECK(gmtest::rel_error(dx.dev.to_vector(), dx.host.to_vector()) < gmtest::parity_tol<T>());
    }
  }
  REQUIRE_THROWS_WITH(kc::upsample_bilinear2d_forward<T>(nullptr, nullptr, 1, 0, 2, 2, 2, false),
                      Catch::Contains("upsample_bilinear2d: input and output sizes must be positive"));
}

TEMPLATE_TEST_CASE("cuda embedding: lookup and the gradient over repeated indices match the CPU", "[device]",
                   float, double) {
  using T = TestType;
  std::mt19937_64 rng(13);
  const int64_t num_embeddings = 10, dim = 7;
  // Rows 2 and 9 repeat, rows 5 and 8 are never used (their gradient is zero).
  std::vector<int64_t> idx{2, 9, 0, 2, 1, 9, 2, 3, 4, 6, 7, 9, 2};
  for (int i = 0; i < 24; ++i) idx.push_back(std::vector<int64_t>{0, 1, 2, 3, 4, 6, 7, 9}[rng() % 8]);
  const auto n_idx = int64_t(idx.size());
  const auto ih = gm::from_vector<int64_t>(idx, {n_idx});
  const auto id = ih.template to<cuda>();
  auto table = gmtest::random_both<T>({num_embeddings, dim}, rng);
  auto oh = gm::Tensor<T>::empty({n_idx, dim});
  auto od = gm::Tensor<T, cuda>::empty({n_idx, dim});
  kh::embedding_forward(ih.data(), n_idx, table.host.data(), num_embeddings, dim, oh.data());
  kc::embedding_forward(id.data(), n_idx, table.dev.data(), num_embeddings, dim, od.data());
  REQUIRE(od.to_vector() == oh.to_vector());  // a copy: exact

  auto dout = gmtest::random_both<T>({n_idx, dim}, rng);
  auto dtable = gmtest::random_both<T>({num_embeddings, dim}, rng);  // garbage, overwritten
  kh::embedding_backward(ih.data(), n_idx, dout.host.data(), num_embeddings, dim, dtable.host.data());
  kc::embedding_backward(id.data(), n_idx, dout.dev.data(), num_embeddings, dim, dtable.dev.data());
  CHECK(gmtest::rel_error(dtable.dev.to_vector(), dtable.host.to_vector()) < gmtest::parity_tol<T>());
  const auto got = dtable.dev.to_vector();
  for (int64_t t : {5, 8})
    for (int64_t j = 0; j < dim; ++j) CHECK(got[std::size_t(t * dim + j)] == T(0));
}

TEST_CASE("cuda embedding: an out-of-range index throws the CPU's error", "[device]") {
  const int64_t num_embeddings = 10, dim = 4;
  for (const std::vector<int64_t>& idx : {std::vector<int64_t>{0, 3, 10}, std::vector<int64_t>{1, -1}}) {
    const auto n_idx = int64_t(idx.size());
    const auto ih = gm::from_vector<int64_t>(idx, {n_idx});
    const auto id = ih.to<cuda>();
    auto th = gm::Tensor<float>::empty({num_embeddings, dim});
    auto td = gm::Tensor<float, cuda>::empty({num_embeddings, dim});
    auto oh = gm::Tensor<float>::empty({n_idx, dim});
    auto od = gm::Tensor<float, cuda>::empty({n_idx, dim});
    // The CPU's message, then the device's for the same call.
    const auto fwd =
        gmtest::error_of([&] { kh::embedding_forward(ih.data(), n_idx, th.data(), num_embeddings, dim, oh.data()); });
    const auto fwd_dev =
        gmtest::error_of([&] { kc::embedding_forward(id.data(), n_idx, td.data(), num_embeddings, dim, od.data()); });
    CHECK_THAT(fwd, Catch::Contains("is out of range for num_embeddings = 10"));
    CHECK(fwd_dev == fwd);
    const auto bwd =
        gmtest::error_of([&] { kh::embedding_backward(ih.data(), n_idx, oh.data(), num_embeddings, dim, th.data()); });
    const auto bwd_dev =
        gmtest::error_of([&] { kc::embedding_backward(id.data(), n_idx, od.data(), num_embeddings, dim, td.data()); });
    CHECK_THAT(bwd, Catch::Contains("embedding_backward: index"));
    CHECK(bwd_dev == bwd);
  }
}

TEMPLATE_TEST_CASE("cuda dropout: the mask and the generator offset equal the CPU's bit for bit", "[device]",
                   float, double) {
  using T = TestType;
  for (int64_t n : {0, 1, 3, 5, 1000, 4097})
    for (T p : {T(0), T(0.3), T(0.9)}) {
      INFO("n " << n << " p " << p);
      gm::Generator gh(1234, 77), gd(1234, 77);
      std::vector<T> want(std::size_t(n), T(-1));
      auto got = gm::Tensor<T, cuda>::empty({n});
      kh::dropout_mask(gh, p, want.data(), n);
      kc::dropout_mask(gd, p, got.data(), n);
      REQUIRE(gd.offset() == gh.offset());
      REQUIRE(got.to_vector() == want);
    }
  gm::Generator g(1);
  auto m = gm::Tensor<float, cuda>::empty({4});
  REQUIRE_THROWS_WITH(kc::dropout_mask(g, 1.0f, m.data(), 4),
                      Catch::Contains("dropout: probability p must be in [0, 1)"));
  REQUIRE(g.offset() == 0);
}
