// genmodel/kernels/cuda/elementwise.cuh: broadcasting binary and unary
// elementwise kernels, the device side of kernels/cpu/broadcast.hpp and
// kernels/cpu/unary.hpp. The host merges dims and computes strides exactly as
// the CPU kernels do (StridedSpace); each thread then maps its flat output
// index to the two input offsets (strided_offsets, shared with the CPU). The
// functors are the ops' __host__ __device__ lambdas (--extended-lambda).
#pragma once

#include "genmodel/kernels/cpu/broadcast.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
/// StridedSpace<N> in a form a kernel takes by value.
template <int N>
struct DeviceSpace {
  int ndim;
  int64_t size[Shape::kMaxDims];
  int64_t stride[N][Shape::kMaxDims];

  explicit DeviceSpace(const cpu::detail::StridedSpace<N>& s) : ndim(s.ndim) {
    for (int d = 0; d < Shape::kMaxDims; ++d) {
      size[d] = s.size[d];
      for (int k = 0; k < N; ++k) stride[k][d] = s.stride[k][d];
    }
  }
};

template <class TA, class TB, class TO, class F>
__global__ void broadcast_binary_kernel(const TA* a, const TB* b, TO* out, int64_t n,
                                        DeviceSpace<2> sp, F f) {
  GM_CUDA_LOOP(i, n) {
    int64_t o[2];
    cpu::detail::strided_offsets<2>(sp, i, o);
    out[i] = f(a[o[0]], b[o[1]]);
  }
}

template <class TA, class TB, class TO, class F>
__global__ void same_shape_binary_kernel(const TA* a, const TB* b, TO* out, int64_t n, F f) {
  GM_CUDA_LOOP(i, n) out[i] = f(a[i], b[i]);
}

template <class T>
__global__ void channel_bias_kernel(T* y, const T* bias, int64_t n, int64_t channels, int64_t plane) {
  GM_CUDA_LOOP(i, n) y[i] += bias[(i / plane) % channels];
}

template <class TI, class TO, class F>
__global__ void map_kernel(const TI* x, TO* y, int64_t n, F f) {
  GM_CUDA_LOOP(i, n) y[i] = f(x[i]);
}
}  // namespace detail

/// out[i] = f(a[ia], b[ib]) over the broadcast shape `out_shape` (device
/// pointers; the shapes were checked with cpu::broadcast_shapes).
template <class TA, class TB, class TO, class F>
void broadcast_binary(const TA* a, const Shape& sa, const TB* b, const Shape& sb, TO* out,
                      const Shape& out_shape, F f, const char* op = "elementwise") {
  const int64_t n = out_shape.numel();
  if (n == 0) return;
  const cudaStream_t s = cuda_backend::stream();
  if (sa == out_shape && sb == out_shape) {
    detail::same_shape_binary_kernel<<<grid_for(n), kThreads, 0, s>>>(a, b, out, n, f);
  } else {
    const detail::DeviceSpace<2> sp(cpu::detail::StridedSpace<2>(out_shape, {&sa, &sb}));
    detail::broadcast_binary_kernel<<<grid_for(n), kThreads, 0, s>>>(a, b, out, n, sp, f);
  }
  check_launch(op);
}

/// y[i] = f(x[i]) over n elements.
template <class TI, class TO, class F>
void map(const TI* x, TO* y, int64_t n, F f, const char* op) {
  if (n == 0) return;
  detail::map_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(x, y, n, f);
  check_launch(op);
}

/// y (n, channels, plane...) += bias[channel], in place.
template <class T>
void add_channel_bias(T* y, const T* bias, int64_t n, int64_t channels, int64_t plane, const char* op) {
  if (n == 0) return;
  detail::channel_bias_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(y, bias, n, channels, plane);
  check_launch(op);
}

}  // namespace genmodel::kernels::cuda
