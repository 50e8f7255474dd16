// genmodel/core/parallel.hpp: the thread count and parallel_for used by every
// kernel. OpenMP is the pool; work is split into contiguous chunks, and kernels
// partition by output element so that results never depend on the count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "genmodel/core/error.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace genmodel {

namespace detail {
inline int& thread_count_slot() {
  static int n = [] {
    if (const char* env = std::getenv("GENMODEL_NUM_THREADS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v > 0) return static_cast<int>(v);
      throw Error(detail::concat("GENMODEL_NUM_THREADS must be a positive integer, got '", env, "'"));
    }
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }();
  return n;
}
}  // namespace detail

/// Threads the kernels use: GENMODEL_NUM_THREADS if set, else all cores.
inline int num_threads() { return detail::thread_count_slot(); }

inline void set_num_threads(int n) {
  GM_CHECK(n > 0, "set_num_threads: thread count must be positive, got ", n);
  detail::thread_count_slot() = n;
}

/// Calls f(begin, end) on disjoint chunks of [begin, end) in parallel. Runs
/// inline when the range is below `grain` items, when one thread is
/// configured, or when already inside a parallel region.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  int nt = num_threads();
#ifdef _OPENMP
  if (omp_in_parallel()) nt = 1;
#endif
  nt = static_cast<int>(std::min<int64_t>(nt, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1))));
  if (nt <= 1) {
    f(begin, end);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t b = begin + n * t / nt, e = begin + n * (t + 1) / nt;
    if (b < e) f(b, e);
  }
#else
  f(begin, end);
#endif
}

}  // namespace genmodel
