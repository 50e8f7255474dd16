// The pooled allocator reuses freed blocks and keeps honest statistics; the
// thread count is configurable and parallel_for covers its range exactly.
#include <catch2/catch.hpp>
#include <atomic>

#include "genmodel/genmodel.hpp"

namespace gm = genmodel;

TEST_CASE("allocator: size classes waste at most a quarter", "[allocator]") {
  for (std::size_t b : {1ul, 63ul, 64ul, 65ul, 4096ul, 4097ul, 10000ul, 1ul << 20, (1ul << 20) + 1, 123456789ul}) {
    const std::size_t c = gm::size_class(b);
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

namespace {
// A raw allocator with a fixed budget, counting its calls, to check the
// caching logic that the host and CUDA pools share without a device.
struct BudgetMemory {
  static constexpr const char* name = "BudgetMemory";
  static inline std::size_t budget = 0, used = 0, allocs = 0, frees = 0;
  static inline std::unordered_map<void*, std::size_t> sizes;
  static void* allocate(std::size_t bytes) {
    if (used + bytes > budget) return nullptr;
    used += bytes;
    ++allocs;
    void* p = std::malloc(bytes);
    sizes[p] = bytes;
    return p;
  }
  static void free(void* p) {
    used -= sizes.at(p);
    sizes.erase(p);
    ++frees;
    std::free(p);
  }
};
}  // namespace

TEST_CASE("caching allocator: blocks are reused only on the stream that freed them", "[allocator]") {
  BudgetMemory::budget = 1 << 20;
  gm::CachingAllocator<BudgetMemory> a;
  int s1 = 0, s2 = 0;  // two distinct stream handles
  void* p = a.allocate(1000, &s1);
  a.deallocate(p, 1000, &s1);
  void* q = a.allocate(1000, &s2);  // other stream: a fresh block
  REQUIRE(q != p);
  REQUIRE(a.stats().system_allocs == 2);
  void* r = a.allocate(990, &s1);  // same stream and size class: the cached block
  REQUIRE(r == p);
  REQUIRE(a.stats().pool_hits == 1);
  a.deallocate(q, 1000, &s2);
  a.deallocate(r, 990, &s1);
  REQUIRE(a.stats().bytes_in_use == 0);
  REQUIRE(a.stats().bytes_cached == 2 * gm::size_class(1000));
  a.empty_cache();
  REQUIRE(BudgetMemory::used == 0);
}

TEST_CASE("caching allocator: out of memory frees the cache, retries, then names the sizes", "[allocator]") {
  BudgetMemory::budget = 3 * gm::size_class(100000);
  gm::CachingAllocator<BudgetMemory> a;
  void* held = a.allocate(100000);
  void* cached = a.allocate(200000);  // two size classes' worth of budget
  a.deallocate(cached, 200000);
  // The cached block must go back to the system for this one to fit.
  void* big = a.allocate(150000);
  REQUIRE(a.stats().bytes_cached == 0);
  REQUIRE(BudgetMemory::frees >= 1);
  a.deallocate(big, 150000);
  REQUIRE_THROWS_WITH(a.allocate(1000000), Catch::Contains("BudgetMemory: out of memory allocating 1000000 bytes") &&
                                               Catch::Contains(std::to_string(gm::size_class(100000)) + " bytes held by live tensors"));
  REQUIRE(a.stats().bytes_in_use == gm::size_class(100000));  // the failure changed nothing
  a.deallocate(held, 100000);
  a.empty_cache();
  REQUIRE(BudgetMemory::used == 0);
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
