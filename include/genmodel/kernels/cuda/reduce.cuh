// genmodel/kernels/cuda/reduce.cuh: sums of x viewed as (outer, r, inner)
// over the middle axis, the device side of cpu::reduce_middle. A contiguous
// reduction (inner == 1) gets one block per output, a shared-memory tree in a
// fixed order; otherwise each thread sums one output's column in order. Both
// orders are fixed, so results repeat run to run.
#pragma once

#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
template <class T>
__global__ void sum_rows_kernel(const T* x, T* y, int64_t r) {
  __shared__ T part[kThreads];
  const T* row = x + int64_t(blockIdx.x) * r;
  T acc = T(0);
  for (int64_t k = threadIdx.x; k < r; k += kThreads) acc += row[k];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = part[0];
}

template <class T>
__global__ void sum_columns_kernel(const T* x, T* y, int64_t outer, int64_t r, int64_t inner) {
  GM_CUDA_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* col = x + o * r * inner + i;
    T acc = T(0);
    for (int64_t k = 0; k < r; ++k) acc += col[k * inner];
    y[j] = acc;
  }
}
}  // namespace detail

/// y[o, i] = sum over k of x[o, k, i]; device pointers, r >= 1.
template <class T>
void sum_middle(const T* x, T* y, int64_t outer, int64_t r, int64_t inner) {
  if (outer * inner == 0) return;
  const cudaStream_t s = cuda_backend::stream();
  if (inner == 1 && outer <= (int64_t(1) << 31) - 1)
    detail::sum_rows_kernel<<<unsigned(outer), kThreads, 0, s>>>(x, y, r);
  else
    detail::sum_columns_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(x, y, outer, r, inner);
  check_launch("sum");
}

}  // namespace genmodel::kernels::cuda
