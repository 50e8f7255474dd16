// genmodel/kernels/cuda/index.cuh: the device side of kernels/cpu/index.hpp:
// fills (the storage's), strided row copies (cudaMemcpy2DAsync), index_select / index_add,
// gather / scatter_add. Index ranges are checked on the host, on a copy of
// the indices (labels, timesteps, pooling argmaxes: small next to the data),
// so a bad index throws the CPU's message instead of faulting in a kernel.
// The adjoints (index_add, scatter_add) give each thread whole output lines
// and walk the indices in order: no float atomics, so sums repeat exactly.
#pragma once

#include <vector>

#include "genmodel/cuda/tensor.hpp"
#include "genmodel/kernels/cpu/index.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
template <class T>
__global__ void index_select_kernel(const T* x, int64_t outer, int64_t limit, int64_t inner, const int64_t* idx,
                                    int64_t n, T* out) {
  GM_CUDA_LOOP(e, outer * n * inner) {
    const int64_t j = e % inner, r = e / inner, i = r % n, o = r / n;
    out[e] = x[(o * limit + idx[i]) * inner + j];
  }
}

template <class T>
__global__ void index_add_kernel(const T* g, int64_t outer, int64_t n, int64_t inner, const int64_t* idx, T* out,
                                 int64_t total) {
  GM_CUDA_LOOP(col, outer * inner) {
    const int64_t o = col / inner, j = col % inner;
    for (int64_t i = 0; i < n; ++i) out[(o * total + idx[i]) * inner + j] += g[(o * n + i) * inner + j];
  }
}

/// Sizes of the index tensor and strides of the data tensor, by value.
struct GatherSpace {
  int ndim, dim;
  int64_t isize[Shape::kMaxDims], xstride[Shape::kMaxDims];
  GatherSpace(const Shape& ishape, const Shape& xshape, int d) : ndim(ishape.size()), dim(d) {
    int64_t acc = 1;
    for (int k = ndim - 1; k >= 0; --k) {
      isize[k] = ishape[k];
      xstride[k] = acc;
      acc *= xshape[k];
    }
  }
  /// The data offset of index element i with its `dim` coordinate dropped.
  __device__ int64_t offset(int64_t i) const {
    int64_t off = 0;
    for (int k = ndim - 1; k >= 0; --k) {
      if (k != dim) off += (i % isize[k]) * xstride[k];
      i /= isize[k];
    }
    return off;
  }
};

template <class T>
__global__ void gather_kernel(const T* x, GatherSpace sp, const int64_t* idx, int64_t n, T* out) {
  GM_CUDA_LOOP(i, n) out[i] = x[sp.offset(i) + idx[i] * sp.xstride[sp.dim]];
}

/// One thread per line of the index along dim (lines = n / len, each `step`
/// apart in the index's own layout), adding its entries in order.
template <class T>
__global__ void scatter_add_kernel(const T* src, GatherSpace sp, const int64_t* idx, int64_t lines, int64_t len,
                                   int64_t step, T* out) {
  GM_CUDA_LOOP(l, lines) {
    const int64_t first = (l / step) * step * len + l % step;  // index position of the line's k = 0
    const int64_t off = sp.offset(first);
    for (int64_t k = 0; k < len; ++k) {
      const int64_t i = first + k * step;
      out[off + idx[i] * sp.xstride[sp.dim]] += src[i];
    }
  }
}
}  // namespace detail

template <class T>
void fill(T* y, int64_t n, T value) {
  StorageTraits<T, ::genmodel::cuda>::fill(y, n, value);
}

template <class T>
void copy_rows(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t width, int64_t rows) {
  if (width == 0 || rows == 0) return;
  GM_CUDA_CHECK(cudaMemcpy2DAsync(dst, sizeof(T) * dst_stride, src, sizeof(T) * src_stride, sizeof(T) * width,
                                  std::size_t(rows), cudaMemcpyDeviceToDevice, cuda_backend::stream()),
                "copy_rows");
}

/// The CPU's check on a host copy of the n device indices.
inline void check_index_range(const int64_t* idx, int64_t n, int64_t limit, const char* op) {
  std::vector<int64_t> host(static_cast<std::size_t>(n));
  cuda_backend::pinned_copy(host.data(), idx, sizeof(int64_t) * host.size(), cudaMemcpyDeviceToHost, op);
  cpu::check_index_range(host.data(), n, limit, op);
}

template <class T>
void index_select_rows(const T* x, int64_t outer, int64_t limit, int64_t inner, const int64_t* idx, int64_t n,
                       T* out) {
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  detail::index_select_kernel<<<grid_for(total), kThreads, 0, cuda_backend::stream()>>>(x, outer, limit, inner, idx,
                                                                                        n, out);
  check_launch("index_select");
}

template <class T>
void index_add_rows(const T* g, int64_t outer, int64_t n, int64_t inner, const int64_t* idx, T* out, int64_t total) {
  if (outer * inner == 0 || n == 0) return;
  detail::index_add_kernel<<<grid_for(outer * inner), kThreads, 0, cuda_backend::stream()>>>(g, outer, n, inner, idx,
                                                                                             out, total);
  check_launch("index_add");
}

template <class T>
void gather(const T* x, const Shape& xshape, int dim, const int64_t* idx, const Shape& ishape, T* out) {
  const int64_t n = ishape.numel();
  if (n == 0) return;
  detail::gather_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      x, detail::GatherSpace(ishape, xshape, dim), idx, n, out);
  check_launch("gather");
}

template <class T>
void scatter_add(const T* src, const Shape& ishape, int dim, const int64_t* idx, const Shape& shape, T* out) {
  const int64_t n = ishape.numel();
  if (n == 0) return;
  const int64_t len = ishape[dim], step = ishape.prod(dim + 1, ishape.size());
  detail::scatter_add_kernel<<<grid_for(n / len), kThreads, 0, cuda_backend::stream()>>>(
      src, detail::GatherSpace(ishape, shape, dim), idx, n / len, len, step, out);
  check_launch("scatter_add");
}

}  // namespace genmodel::kernels::cuda
