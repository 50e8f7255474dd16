// genmodel/core/allocator.hpp: the pooled host allocator behind every CPU
// tensor. Freed blocks are kept in size buckets and handed out again, so a
// training loop whose shapes repeat stops calling malloc after its first step.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "genmodel/core/error.hpp"

namespace genmodel {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;    // held by live tensors (bucket sizes)
  std::size_t peak_bytes = 0;      // highest bytes_in_use since reset_peak()
  std::size_t bytes_cached = 0;    // free blocks kept for reuse
  std::size_t system_allocs = 0;   // calls that reached the system allocator
  std::size_t pool_hits = 0;       // requests served from the cache
};

class CpuAllocator {
 public:
  static constexpr std::size_t kAlignment = 64;  // one cache line, any SIMD width

  static CpuAllocator& instance() {
    static CpuAllocator* a = new CpuAllocator;  // never destroyed: tensors may outlive statics
    return *a;
  }

  /// Size class of a request: multiples of 64 bytes up to 4 KiB, then four
  /// classes per power of two, so at most 25% of a block is slack.
  static std::size_t bucket(std::size_t bytes) {
    if (bytes <= 4096) return (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0);
    std::size_t p = 4096;
    while (p * 2 < bytes) p *= 2;
    const std::size_t step = p / 4;
    return (bytes + step - 1) / step * step;
  }

  void* allocate(std::size_t bytes) {
    const std::size_t b = bucket(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(b);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= b;
        ++stats_.pool_hits;
        note_in_use(b);
        return p;
      }
      ++stats_.system_allocs;
      note_in_use(b);
    }
    void* p = std::aligned_alloc(kAlignment, b);
    if (!p) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.bytes_in_use -= b;
      throw Error(detail::concat("CpuAllocator: out of memory allocating ", b,
                                 " bytes (", stats_.bytes_in_use, " in use, ",
                                 stats_.bytes_cached, " cached)"));
    }
    return p;
  }

  void deallocate(void* p, std::size_t bytes) {
    const std::size_t b = bucket(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.bytes_in_use -= b;
    stats_.bytes_cached += b;
    free_[b].push_back(p);
  }

  AllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_bytes = stats_.bytes_in_use;
  }

  /// Returns every cached block to the system.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }

 private:
  CpuAllocator() = default;

  void note_in_use(std::size_t b) {
    stats_.bytes_in_use += b;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
  }

  mutable std::mutex mu_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

}  // namespace genmodel
