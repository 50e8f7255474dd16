// genmodel/kernels/cpu/reduce.hpp: reductions of x viewed as (outer, r, inner)
// over the middle axis, and the n-d permute copy that brings any set of
// reduced dims into that form. Each output element is reduced in a fixed
// order by one thread, and a full reduction sums fixed-size chunks in order,
// so results do not depend on the thread count.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "genmodel/core/parallel.hpp"
#include "genmodel/core/scratch.hpp"
#include "genmodel/core/shape.hpp"

namespace genmodel::kernels::cpu {

enum class ReduceOp { sum, max, min };

namespace detail {
template <class T>
T reduce_contiguous(const T* x, int64_t n, ReduceOp op) {
  Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> a(x, n);
  switch (op) {
    case ReduceOp::sum: return a.sum();
    case ReduceOp::max: return a.maxCoeff();
    default: return a.minCoeff();
  }
}
template <class T>
T combine(T a, T b, ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return a + b;
    case ReduceOp::max: return std::max(a, b);
    default: return std::min(a, b);
  }
}
}  // namespace detail

/// y[o, i] = op over k of x[o, k, i]; x is (outer, r, inner), y is (outer, inner). r >= 1.
template <class T>
void reduce_middle(const T* x, T* y, int64_t outer, int64_t r, int64_t inner, ReduceOp op) {
  if (inner == 1) {
    if (outer == 1 && r > 4 * 32768) {  // one long row: ordered chunks
      constexpr int64_t kChunk = 32768;
      const int64_t chunks = (r + kChunk - 1) / kChunk;
      Scratch<T> part(chunks);
      parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c)
          part.data()[c] = detail::reduce_contiguous(x + c * kChunk, std::min(kChunk, r - c * kChunk), op);
      });
      T acc = part.data()[0];
      for (int64_t c = 1; c < chunks; ++c) acc = detail::combine(acc, part.data()[c], op);
      y[0] = acc;
      return;
    }
    parallel_for(0, outer, std::max<int64_t>(1, 32768 / r), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) y[o] = detail::reduce_contiguous(x + o * r, r, op);
    });
    return;
  }
  // Rows of length `inner` combined elementwise; split over outer, or over
  // inner when outer is too small to occupy the threads.
  auto run = [&](int64_t o, int64_t i0, int64_t i1) {
    T* yo = y + o * inner;
    const T* xo = x + o * r * inner;
    std::copy(xo + i0, xo + i1, yo + i0);
    for (int64_t k = 1; k < r; ++k) {
      const T* xk = xo + k * inner;
      switch (op) {
        case ReduceOp::sum: for (int64_t i = i0; i < i1; ++i) yo[i] += xk[i]; break;
        case ReduceOp::max: for (int64_t i = i0; i < i1; ++i) yo[i] = std::max(yo[i], xk[i]); break;
        default: for (int64_t i = i0; i < i1; ++i) yo[i] = std::min(yo[i], xk[i]); break;
      }
    }
  };
  if (outer >= num_threads()) {
    parallel_for(0, outer, std::max<int64_t>(1, 32768 / (r * inner)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) run(o, 0, inner);
    });
  } else {
    for (int64_t o = 0; o < outer; ++o)
      parallel_for(0, inner, std::max<int64_t>(64, 32768 / r), [&](int64_t i0, int64_t i1) { run(o, i0, i1); });
  }
}

/// idx[o, i] = argmax over k of x[o, k, i] (first maximum).
template <class T>
void argmax_middle(const T* x, int64_t* idx, int64_t outer, int64_t r, int64_t inner) {
  parallel_for(0, outer * inner, 4096, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t o = j / inner, i = j % inner;
      const T* p = x + o * r * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < r; ++k)
        if (p[k * inner] > p[best * inner]) best = k;
      idx[j] = best;
    }
  });
}

/// y = x permuted: y's dim d is x's dim perm[d]. Both contiguous.
template <class T>
void permute(const T* x, const Shape& xs, const std::vector<int>& perm, T* y) {
  const int n = xs.size();
  std::array<int64_t, Shape::kMaxDims> xstride{}, ysize{}, ystride_in_x{};
  int64_t acc = 1;
  for (int d = n - 1; d >= 0; --d) {
    xstride[d] = acc;
    acc *= xs[d];
  }
  for (int d = 0; d < n; ++d) {
    ysize[d] = xs[perm[d]];
    ystride_in_x[d] = xstride[perm[d]];
  }
  const int64_t total = xs.numel();
  if (n == 0 || total == 0) {
    if (total) y[0] = x[0];
    return;
  }
  const int64_t inner = ysize[n - 1], rows = total / inner, s_in = ystride_in_x[n - 1];
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off = 0;
      for (int64_t q = r, d = n - 2; d >= 0; --d) {
        off += (q % ysize[d]) * ystride_in_x[d];
        q /= ysize[d];
      }
      T* yr = y + r * inner;
      const T* xr = x + off;
      for (int64_t j = 0; j < inner; ++j) yr[j] = xr[j * s_in];
    }
  });
}

}  // namespace genmodel::kernels::cpu
