// The pooled allocator reuses freed blocks and keeps honest statistics; the
// thread count is configurable and parallel_for covers its range exactly.
#include <catch2/catch.hpp>
#include <atomic>

#include "genmodel/genmodel.hpp"

namespace gm = genmodel;

TEST_CASE("allocator: size classes waste at most a quarter", "[allocator]") {
  for (std::size_t b : {1ul, 63ul, 64ul, 65ul, 4096ul, 4097ul, 10000ul, 1ul << 20, (1ul << 20) + 1, 123456789ul}) {
    const std::size_t c = gm::CpuAllocator::bucket(b);
    REQUIRE(c >= b);
    REQUIRE(c % 64 == 0);
    if (b > 4096) REQUIRE(double(c) <= 1.25 * double(b) + 64);
  }
}

TEST_CASE("allocator: a repeated shape is served from the pool, not the system", "[allocator]") {
  auto& a = gm::CpuAllocator::instance();
  const gm::Shape shape{123, 457};
  { auto warm = gm::Tensor<float>::empty(shape); }
  const auto before = a.stats();
  for (int i = 0; i < 10; ++i) {
    auto t = gm::Tensor<float>::empty(shape);
    REQUIRE(reinterpret_cast<std::uintptr_t>(t.data()) % gm::CpuAllocator::kAlignment == 0);
  }
  const auto after = a.stats();
  REQUIRE(after.system_allocs == before.system_allocs);
  REQUIRE(after.pool_hits >= before.pool_hits + 10);
}

TEST_CASE("allocator: bytes in use and peak follow live tensors", "[allocator]") {
  auto& a = gm::CpuAllocator::instance();
  const std::size_t base = a.stats().bytes_in_use;
  a.reset_peak();
  {
    auto t1 = gm::Tensor<double>::empty({1000, 100});  // 800000 bytes
    auto t2 = gm::Tensor<double>::empty({1000, 100});
    REQUIRE(a.stats().bytes_in_use >= base + 1600000);
    REQUIRE(a.stats().bytes_in_use <= base + 2000000);
  }
  REQUIRE(a.stats().bytes_in_use == base);
  REQUIRE(a.stats().peak_bytes >= base + 1600000);
  a.empty_cache();
  REQUIRE(a.stats().bytes_cached == 0);
}

TEST_CASE("threads: set_num_threads validates, parallel_for covers the range once", "[threads]") {
  const int saved = gm::num_threads();
  REQUIRE_THROWS_WITH(gm::set_num_threads(0), Catch::Contains("thread count must be positive, got 0"));
  for (int nt : {1, 2, 3}) {
    gm::set_num_threads(nt);
    REQUIRE(gm::num_threads() == nt);
    std::vector<std::atomic<int>> hits(1001);
    gm::parallel_for(0, 1001, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[i];
    });
    for (auto& h : hits) REQUIRE(h.load() == 1);
  }
  gm::set_num_threads(saved);
}
