// genmodel/kernels/cuda/softmax.cuh: softmax and log_softmax along the middle
// axis of x viewed as (outer, d, inner), forward and backward, the device side
// of kernels/cpu/softmax.hpp with its names, argument checks and arithmetic:
// the max subtracted, exponentials in T, sums accumulated in double, then
// 1 / sum or log(sum) rounded to T. A contiguous line (inner == 1) gets one
// block and fixed-order shared-memory trees; otherwise one thread walks one
// line in the CPU's order. Outputs must not overlap inputs.
#pragma once

#include <cmath>

#include "genmodel/kernels/cpu/softmax.hpp"
#include "genmodel/kernels/cuda/reduce.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
// How the threads sharing a line combine their partials: a block tree when a
// block shares a row, nothing when a thread has its line to itself.
struct BlockShares {
  double* part;
  template <class F> __device__ double operator()(double v, F f) const { return block_tree(v, part, f); }
};
struct OwnLine {
  template <class F> __device__ double operator()(double v, F) const { return v; }
};

// One line is l[k * stride], k < d; this thread takes k = first, first + step,
// ... The max goes through double exactly. exp(-inf) is exactly 0 on the
// device, so masked (-inf) entries drop out as the CPU's exp0 makes them.
template <class T, class Combine>
__device__ void softmax_line(const T* x, T* y, int64_t d, int64_t stride, int64_t first, int64_t step,
                             bool log, Combine all) {
  T mx = x[0];
  for (int64_t k = first; k < d; k += step) mx = MaxOp{}(mx, x[k * stride]);
  mx = T(all(double(mx), MaxOp{}));
  double sum = 0;
  for (int64_t k = first; k < d; k += step) sum += double(T(::exp(x[k * stride] - mx)));
  sum = all(sum, SumOp{});  // a line of all -inf gives NaN, as in PyTorch and on the CPU
  if (log) {
    const T lse = T(::log(sum));
    for (int64_t k = first; k < d; k += step) y[k * stride] = (x[k * stride] - mx) - lse;
  } else {
    const T inv = T(1 / sum);
    for (int64_t k = first; k < d; k += step) y[k * stride] = T(::exp(x[k * stride] - mx)) * inv;
  }
}

// softmax: dx = y (dy - sum(dy y)); log_softmax: dx = dy - exp(y) sum(dy).
template <class T, class Combine>
__device__ void softmax_backward_line(const T* dy, const T* y, T* dx, int64_t d, int64_t stride, int64_t first,
                                      int64_t step, bool log, Combine all) {
  double acc = 0;
  for (int64_t k = first; k < d; k += step) {
    const int64_t e = k * stride;
    acc += log ? double(dy[e]) : double(T(dy[e] * y[e]));
  }
  const T s = T(all(acc, SumOp{}));
  for (int64_t k = first; k < d; k += step) {
    const int64_t e = k * stride;
    dx[e] = log ? dy[e] - T(::exp(y[e])) * s : y[e] * (dy[e] - s);
  }
}

template <class T>
__global__ void softmax_rows_kernel(const T* x, T* y, int64_t rows, int64_t d, bool log) {
  __shared__ double part[kThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x)
    softmax_line(x + row * d, y + row * d, d, 1, threadIdx.x, kThreads, log, BlockShares{part});
}

template <class T>
__global__ void softmax_columns_kernel(const T* x, T* y, int64_t outer, int64_t d, int64_t inner, bool log) {
  GM_CUDA_LOOP(j, outer * inner) {
    const int64_t off = (j / inner) * d * inner + j % inner;
    softmax_line(x + off, y + off, d, inner, 0, 1, log, OwnLine{});
  }
}

template <class T>
__global__ void softmax_backward_rows_kernel(const T* dy, const T* y, T* dx, int64_t rows, int64_t d, bool log) {
  __shared__ double part[kThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t off = row * d;
    softmax_backward_line(dy + off, y + off, dx + off, d, 1, threadIdx.x, kThreads, log, BlockShares{part});
  }
}

template <class T>
__global__ void softmax_backward_columns_kernel(const T* dy, const T* y, T* dx, int64_t outer, int64_t d,
                                                int64_t inner, bool log) {
  GM_CUDA_LOOP(j, outer * inner) {
    const int64_t off = (j / inner) * d * inner + j % inner;
    softmax_backward_line(dy + off, y + off, dx + off, d, inner, 0, 1, log, OwnLine{});
  }
}

template <class T>
void softmax_launch(const T* x, T* y, int64_t outer, int64_t d, int64_t inner, bool log, const char* op) {
  if (outer * d * inner == 0) return;
  const cudaStream_t s = cuda_backend::stream();
  if (inner == 1)
    softmax_rows_kernel<<<row_grid(outer), kThreads, 0, s>>>(x, y, outer, d, log);
  else
    softmax_columns_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(x, y, outer, d, inner, log);
  check_launch(op);
}

template <class T>
void softmax_backward_launch(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner, bool log,
                             const char* op) {
  if (outer * d * inner == 0) return;
  const cudaStream_t s = cuda_backend::stream();
  if (inner == 1)
    softmax_backward_rows_kernel<<<row_grid(outer), kThreads, 0, s>>>(dy, y, dx, outer, d, log);
  else
    softmax_backward_columns_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(dy, y, dx, outer, d, inner, log);
  check_launch(op);
}
}  // namespace detail

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  cpu::softmax_detail::check("softmax", outer, d, inner);
  detail::softmax_launch(x, y, outer, d, inner, false, "softmax");
}

template <class T>
void log_softmax_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  cpu::softmax_detail::check("log_softmax", outer, d, inner);
  detail::softmax_launch(x, y, outer, d, inner, true, "log_softmax");
}

/// dx = y * (dy - sum_d(dy * y)).
template <class T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner) {
  cpu::softmax_detail::check("softmax_backward", outer, d, inner);
  detail::softmax_backward_launch(dy, y, dx, outer, d, inner, false, "softmax_backward");
}

/// dx = dy - exp(y) * sum_d(dy), y being log_softmax's output.
template <class T>
void log_softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner) {
  cpu::softmax_detail::check("log_softmax_backward", outer, d, inner);
  detail::softmax_backward_launch(dy, y, dx, outer, d, inner, true, "log_softmax_backward");
}

}  // namespace genmodel::kernels::cuda
