// genmodel/kernels/cpu/index.hpp: the copies and index kernels under the
// shape ops: strided row blocks (narrow, concat), row selection and its
// adjoint (index_select, index_add), gather and scatter_add along one dim,
// and constant fills. Contiguous buffers, no autograd.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/core/shape.hpp"

namespace genmodel::kernels::cpu {

/// Throws naming `op` unless every idx[i] is in [0, limit).
inline void check_index_range(const int64_t* idx, int64_t n, int64_t limit, const char* op) {
  for (int64_t i = 0; i < n; ++i)
    GM_CHECK(idx[i] >= 0 && idx[i] < limit, op, ": index ", idx[i], " at position ", i,
             " is out of range for a dim of size ", limit);
}

template <class T>
void fill(T* y, int64_t n, T value) {
  std::fill_n(y, n, value);
}

/// rows blocks of `width` elements: dst + r * dst_stride <- src + r * src_stride.
template <class T>
void copy_rows(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t width, int64_t rows) {
  if (width == 0) return;
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / width), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::memcpy(dst + r * dst_stride, src + r * src_stride, sizeof(T) * width);
  });
}

/// out (outer, n, inner) = x (outer, limit, inner) at rows idx[0..n) of the middle axis.
template <class T>
void index_select_rows(const T* x, int64_t outer, int64_t limit, int64_t inner, const int64_t* idx, int64_t n,
                       T* out) {
  parallel_for(0, outer * n, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / n, i = r % n;
      std::memcpy(out + r * inner, x + (o * limit + idx[i]) * inner, sizeof(T) * inner);
    }
  });
}

/// out (outer, total, inner) += g (outer, n, inner) at rows idx of the middle
/// axis; each output row is written by one thread, in index order, so the
/// sums of repeated indices are deterministic.
template <class T>
void index_add_rows(const T* g, int64_t outer, int64_t n, int64_t inner, const int64_t* idx, T* out, int64_t total) {
  parallel_for(0, inner, 256, [&](int64_t j0, int64_t j1) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < n; ++i) {
        T* dst = out + (o * total + idx[i]) * inner;
        const T* src = g + (o * n + i) * inner;
        for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
      }
  });
}

namespace detail {
/// Visits every element of an index tensor of `ishape`: f(flat index position,
/// offset in a tensor of `xshape` with the `dim` coordinate removed, stride of dim).
template <class F>
void for_each_index(const Shape& ishape, const Shape& xshape, int dim, F f) {
  const int n = ishape.size();
  std::array<int64_t, Shape::kMaxDims> xstride{}, idx{};
  int64_t acc = 1;
  for (int d = n - 1; d >= 0; --d) {
    xstride[d] = acc;
    acc *= xshape[d];
  }
  for (int64_t i = 0, total = ishape.numel(); i < total; ++i) {
    int64_t off = 0;
    for (int d = 0; d < n; ++d)
      if (d != dim) off += idx[d] * xstride[d];
    f(i, off, xstride[dim]);
    for (int d = n - 1; d >= 0; --d) {
      if (++idx[d] < ishape[d]) break;
      idx[d] = 0;
    }
  }
}
}  // namespace detail

/// out[i] = x at index i with its `dim` coordinate replaced by idx[i]; out has ishape.
template <class T>
void gather(const T* x, const Shape& xshape, int dim, const int64_t* idx, const Shape& ishape, T* out) {
  detail::for_each_index(ishape, xshape, dim, [&](int64_t i, int64_t off, int64_t stride) {
    out[i] = x[off + idx[i] * stride];
  });
}

/// out (shape) += src (ishape) at the positions gather reads; in order, so deterministic.
template <class T>
void scatter_add(const T* src, const Shape& ishape, int dim, const int64_t* idx, const Shape& shape, T* out) {
  detail::for_each_index(ishape, shape, dim, [&](int64_t i, int64_t off, int64_t stride) {
    out[off + idx[i] * stride] += src[i];
  });
}

}  // namespace genmodel::kernels::cpu
