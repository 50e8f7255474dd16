// genmodel/kernels/cuda/broadcast_ops.cuh: the rest of kernels/cpu/broadcast.hpp
// and kernels/cpu/unary.hpp on the device, with the CPU's names and
// parameters: the ternary broadcast behind where, broadcast_to, and the maps.
// The functors are the ops' own. broadcast_ternary's and map_scalar's are
// __host__ __device__ callables (GENMODEL_HOST_DEVICE lambdas); map_array's
// and map_array2's are the two-form functors of kernels/functors.hpp, whose
// Eigen operator() serves the CPU and whose `scalar` is called here, one
// element per thread.
#pragma once

#include "genmodel/kernels/cpu/broadcast.hpp"
#include "genmodel/kernels/cuda/elementwise.cuh"

namespace genmodel::kernels::cuda {

namespace detail {
template <class TC, class T, class F>
__global__ void broadcast_ternary_kernel(const TC* c, const T* a, const T* b, T* out, int64_t n,
                                         DeviceSpace<3> sp, F f) {
  GM_CUDA_LOOP(i, n) {
    int64_t o[3];
    cpu::detail::strided_offsets<3>(sp, i, o);
    out[i] = f(c[o[0]], a[o[1]], b[o[2]]);
  }
}

/// The first argument: broadcast_to is broadcast_binary with it, as on the CPU.
struct First {
  template <class T> __device__ T operator()(T a, T) const { return a; }
};

/// f.scalar as a call operator, so map_array and map_array2 run on the
/// kernels of map and of broadcast_binary's same-shape case.
template <class F>
struct CallScalar {
  F f;
  template <class... A> __device__ auto operator()(A... a) const { return f.scalar(a...); }
};
}  // namespace detail

/// out[i] = f(c[ic], a[ia], b[ib]) over the broadcast shape (used by where).
template <class TC, class T, class F>
void broadcast_ternary(const TC* c, const Shape& sc, const T* a, const Shape& sa, const T* b,
                       const Shape& sb, T* out, const Shape& out_shape, F f) {
  const int64_t n = out_shape.numel();
  if (n == 0) return;
  const detail::DeviceSpace<3> sp(cpu::detail::StridedSpace<3>(out_shape, {&sc, &sa, &sb}));
  detail::broadcast_ternary_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(c, a, b, out, n, sp, f);
  check_launch("where");
}

/// out = x broadcast to out_shape (a contiguous copy).
template <class T>
void broadcast_to(const T* x, const Shape& sx, T* out, const Shape& out_shape) {
  cuda::broadcast_binary(x, sx, x, Shape{}, out, out_shape, detail::First{}, "broadcast_to");
}

/// y[i] = f.scalar(x[i]).
template <class T, class F>
void map_array(const T* x, T* y, int64_t n, F f) {
  cuda::map(x, y, n, detail::CallScalar<F>{f}, "map_array");
}

/// y[i] = f.scalar(a[i], b[i]).
template <class T, class F>
void map_array2(const T* a, const T* b, T* y, int64_t n, F f) {
  if (n == 0) return;
  detail::same_shape_binary_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      a, b, y, n, detail::CallScalar<F>{f});
  check_launch("map_array2");
}

/// y[i] = f(x[i]).
template <class TX, class TY, class F>
void map_scalar(const TX* x, TY* y, int64_t n, F f) {
  cuda::map(x, y, n, f, "map_scalar");
}

}  // namespace genmodel::kernels::cuda
