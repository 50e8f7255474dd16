// Tensor<T, cuda>: errors without a device, the caching allocator on the
// device, copies both ways, and the Philox stream on both devices.
#include "cuda_test_util.hpp"

namespace gm = genmodel;
using gm::cuda;
namespace cb = gm::cuda_backend;
using DeviceTensor = gm::Tensor<float, cuda>;

TEST_CASE("cuda errors: a failed CUDA call names the call, its status and the op", "[cuda]") {
  if (!cb::available()) {
    // No GPU (or no driver): the first device call fails, and says so.
    REQUIRE_THROWS_WITH(DeviceTensor::empty({4, 4}),
                        Catch::Matches(".*(cudaGetDevice|cudaMalloc|cudaStreamCreateWithFlags).* failed: cuda.*"));
    REQUIRE_THROWS_AS(gm::Tensor<float>::empty({3}).to<cuda>(), gm::Error);
  } else {
    // Out of memory reports what was asked for and what the pool holds.
    const int64_t huge = int64_t(1) << 50;
    REQUIRE_THROWS_WITH(DeviceTensor::empty({huge}),
                        Catch::Contains("CudaAllocator: out of memory allocating " + std::to_string(huge * 4) +
                                        " bytes") &&
                            Catch::Contains("bytes held by live tensors"));
  }
  // Status strings for every library, whether or not a device is present.
  REQUIRE_THROWS_WITH(cb::check(cudaErrorInvalidValue, "cudaMemcpy", "to<cpu>"),
                      Catch::StartsWith("to<cpu>: cudaMemcpy failed: cudaErrorInvalidValue"));
  REQUIRE_THROWS_WITH(cb::check(CUBLAS_STATUS_INVALID_VALUE, "cublasSgemm", "matmul"),
                      Catch::StartsWith("matmul: cublasSgemm failed: CUBLAS_STATUS_INVALID_VALUE"));
  REQUIRE_THROWS_WITH(cb::check(CUDNN_STATUS_BAD_PARAM, "cudnnConvolutionForward", "conv2d"),
                      Catch::StartsWith("conv2d: cudnnConvolutionForward failed: CUDNN_STATUS_BAD_PARAM"));
}

TEST_CASE("cuda tensor: to<cuda> and to<cpu> round-trip exactly, item and to_vector copy back", "[device]") {
  std::mt19937_64 rng(1);
  auto both = gmtest::random_both<float>({3, 5, 7}, rng);
  REQUIRE(both.dev.shape() == both.host.shape());
  REQUIRE(both.dev.to<gm::cpu>().to_vector() == both.host.to_vector());
  REQUIRE(both.dev.to_vector() == both.host.to_vector());
  auto copy = both.dev.clone_data();
  REQUIRE(!copy.shares_storage(both.dev));
  REQUIRE(copy.to_vector() == both.host.to_vector());
  REQUIRE(both.dev.to<double>().to_vector() == both.host.to<double>().to_vector());
  auto one = gm::Tensor<double>::empty({1});
  one.data()[0] = 2.5;
  REQUIRE(one.to<cuda>().item() == 2.5);
  REQUIRE(gm::Tensor<float, cuda>::empty({0}).to<gm::cpu>().numel() == 0);
}

TEST_CASE("cuda allocator: a repeated step allocates no device memory after the first", "[device]") {
  auto& pool = cb::allocator();
  auto step = [] {
    auto a = gm::Tensor<float, cuda>::empty({64, 128, 7, 7});
    auto b = gm::Tensor<float, cuda>::empty({64, 784});
    auto c = gm::Tensor<double, cuda>::empty({1000});
    return a.numel() + b.numel() + c.numel();
  };
  step();
  const auto before = pool.stats();
  for (int i = 0; i < 5; ++i) step();
  const auto after = pool.stats();
  REQUIRE(after.system_allocs == before.system_allocs);
  REQUIRE(after.pool_hits == before.pool_hits + 15);
  REQUIRE(after.bytes_in_use == before.bytes_in_use);
  pool.reset_peak();
  {
    auto t = gm::Tensor<float, cuda>::empty({1 << 20});
    REQUIRE(pool.stats().bytes_in_use >= before.bytes_in_use + (4u << 20));
  }
  REQUIRE(pool.stats().peak_bytes >= before.bytes_in_use + (4u << 20));
}

TEMPLATE_TEST_CASE("cuda random: rand is the CPU's stream bit for bit, randn to a few ulp", "[device]", float,
                   double) {
  using T = TestType;
  for (int64_t n : {1, 3, 4, 1001, 65536 + 5}) {
    gm::Generator gh(42, 7), gd(42, 7);
    const auto uh = gm::rand<T>({n}, gh, T(-2), T(3));
    const auto ud = gm::rand<T, cuda>({n}, gd, T(-2), T(3));
    REQUIRE(ud.to_vector() == uh.to_vector());
    REQUIRE(gd.offset() == gh.offset());
    const auto zh = gm::randn<T>({n}, gh, T(1), T(2));
    const auto zd = gm::randn<T, cuda>({n}, gd, T(1), T(2));
    REQUIRE(gd.offset() == gh.offset());
    CHECK(gmtest::rel_error(zd.to_vector(), zh.to_vector()) < (std::is_same_v<T, float> ? 1e-6 : 1e-14));
  }
  gm::Generator gh(5), gd(5);
  REQUIRE(gm::randint<int64_t, cuda>(0, 10, {999}, gd).to_vector() == gm::randint(0, 10, {999}, gh).to_vector());
  REQUIRE(gm::bernoulli<T, cuda>({999}, 0.3, gd).to_vector() == gm::bernoulli<T>({999}, 0.3, gh).to_vector());
}

TEST_CASE("cuda factories: full, zeros, ones, arange, linspace and from_vector equal the CPU's", "[device]") {
  REQUIRE(gm::full<float, cuda>({2, 3}, 1.5f).to_vector() == gm::full<float>({2, 3}, 1.5f).to_vector());
  REQUIRE(gm::zeros<double, cuda>({7}).to_vector() == std::vector<double>(7, 0.0));
  REQUIRE(gm::ones_like(gm::Tensor<float, cuda>::empty({4})).to_vector() == std::vector<float>(4, 1.0f));
  REQUIRE(gm::arange<float, cuda>(0.0f, 5.0f, 0.5f).to_vector() == gm::arange<float>(0.0f, 5.0f, 0.5f).to_vector());
  REQUIRE(gm::linspace<double, cuda>(-1.0, 1.0, 9).to_vector() == gm::linspace<double>(-1.0, 1.0, 9).to_vector());
  const std::vector<float> v{1, 2, 3, 4, 5, 6};
  const auto t = gm::from_vector<float, cuda>(v, {2, 3});
  REQUIRE(t.shape() == gm::Shape{2, 3});
  REQUIRE(t.to_vector() == v);
  REQUIRE_THROWS_WITH((gm::from_vector<float, cuda>(v, {4, 2})), Catch::Contains("from_vector: 6 values for shape"));
}
