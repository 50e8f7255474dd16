// genmodel/core/allocator.hpp: the caching allocator behind every tensor.
// Freed blocks are kept in size classes and handed out again, so a training
// loop whose shapes repeat stops calling the system allocator after its first
// step. One template serves the host pool (CpuAllocator, below) and the CUDA
// device pool (cuda/allocator.hpp); they differ only in the raw memory calls.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "genmodel/core/error.hpp"

namespace genmodel {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;    // held by live tensors (size-class bytes)
  std::size_t peak_bytes = 0;      // highest bytes_in_use since reset_peak()
  std::size_t bytes_cached = 0;    // free blocks kept for reuse
  std::size_t system_allocs = 0;   // calls that reached the raw allocator (malloc, cudaMalloc)
  std::size_t pool_hits = 0;       // requests served from the cache
};

/// Size class of a request: multiples of 64 bytes up to 4 KiB, then four
/// classes per power of two, so at most 25% of a block is slack.
inline std::size_t size_class(std::size_t bytes) {
  if (bytes <= 4096) return (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0);
  std::size_t p = 4096;
  while (p * 2 < bytes) p *= 2;
  const std::size_t step = p / 4;
  return (bytes + step - 1) / step * step;
}

/// A size-class caching allocator over `Raw`, which provides
///   static void* allocate(std::size_t bytes);   // nullptr when out of memory
///   static void free(void* p);
///   static constexpr const char* name;          // for error messages
/// Blocks are cached per (stream, size class): a block freed on one stream is
/// handed out again only on that stream, so work queued there before the
/// free is ordered before any new use (the rule of PyTorch's CUDA caching
/// allocator). Host memory has a single stream, nullptr.
template <class Raw>
class CachingAllocator {
 public:
  using Stream = const void*;

  void* allocate(std::size_t bytes, Stream stream = nullptr) {
    const std::size_t b = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(Key{stream, b});
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= b;
        ++stats_.pool_hits;
        note_in_use(b);
        return p;
      }
    }
    void* p = Raw::allocate(b);
    if (!p) {  // give the cached blocks back to the system and try once more
      empty_cache();
      p = Raw::allocate(b);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!p)
      throw Error(detail::concat(Raw::name, ": out of memory allocating ", bytes, " bytes (",
                                 stats_.bytes_in_use, " bytes held by live tensors, ",
                                 stats_.bytes_cached, " cached)"));
    ++stats_.system_allocs;
    note_in_use(b);
    return p;
  }

  /// Returns a block to the cache of the stream it was allocated on.
  void deallocate(void* p, std::size_t bytes, Stream stream = nullptr) {
    const std::size_t b = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.bytes_in_use -= b;
    stats_.bytes_cached += b;
    free_[Key{stream, b}].push_back(p);
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
    for (auto& [key, blocks] : free_)
      for (void* p : blocks) Raw::free(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }

 private:
  struct Key {
    Stream stream;
    std::size_t size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<Stream>()(k.stream) * 31 + std::hash<std::size_t>()(k.size);
    }
  };

  void note_in_use(std::size_t b) {
    stats_.bytes_in_use += b;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
  }

  mutable std::mutex mu_;
  std::unordered_map<Key, std::vector<void*>, KeyHash> free_;
  AllocatorStats stats_;
};

/// Host memory aligned to a cache line, enough for any SIMD width.
struct HostMemory {
  static constexpr std::size_t kAlignment = 64;
  static constexpr const char* name = "CpuAllocator";
  // Size classes are multiples of 64, as aligned_alloc requires.
  static void* allocate(std::size_t bytes) { return std::aligned_alloc(kAlignment, bytes); }
  static void free(void* p) { std::free(p); }
};

/// The pooled host allocator of every CPU tensor and kernel scratch buffer.
class CpuAllocator : public CachingAllocator<HostMemory> {
 public:
  static constexpr std::size_t kAlignment = HostMemory::kAlignment;

  static CpuAllocator& instance() {
    static CpuAllocator* a = new CpuAllocator;  // never destroyed: tensors may outlive statics
    return *a;
  }

 private:
  CpuAllocator() = default;
};

}  // namespace genmodel
