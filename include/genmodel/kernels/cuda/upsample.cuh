// genmodel/kernels/cuda/upsample.cuh: 2-D nearest and bilinear resizing
// (NCHW as nc planes), the device side of kernels/cpu/upsample.hpp. Each
// thread computes its source indices and weights with the CPU's formulas
// (the scales are computed on the host, the products that nvcc could fuse
// with a later add are rounded on their own), so they are the CPU's bit for bit. Backward: one
// thread per input, which gathers the outputs that read it in the CPU's
// scatter order; since the source index is non-decreasing in the output
// index, those outputs form a range found by binary search. No atomics, so
// results repeat run to run. Per-element bodies are host-device functions,
// so they can be checked against the CPU without a GPU.
#pragma once

#include <cmath>
#include <type_traits>

#include "genmodel/core/device.hpp"
#include "genmodel/kernels/cpu/upsample.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

namespace detail {

/// First d in [0, axis.out) with axis.index(d) >= target (axis.out if none);
/// index must be non-decreasing.
template <class Axis>
GENMODEL_HOST_DEVICE inline int64_t first_at_least(const Axis& axis, int64_t target) {
  int64_t lo = 0, hi = axis.out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (axis.index(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/// cpu::detail::nearest_indices, one destination index at a time.
struct NearestAxis {
  int64_t in, out;
  float scale;
  NearestAxis(int64_t in_, int64_t out_) : in(in_), out(out_), scale(float(in_) / float(out_)) {}
  GENMODEL_HOST_DEVICE int64_t index(int64_t d) const {
    if (out == in) return d;
    if (out == 2 * in) return d >> 1;
    const int64_t s = static_cast<int64_t>(std::floor(float(d) * scale));
    return s < in - 1 ? s : in - 1;
  }
};

/// a * b rounded, never fused with a later add: the CPU does not fuse, and
/// a fused src would differ from it in the last bit.
template <class T>
GENMODEL_HOST_DEVICE inline T mul_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) return __fmul_rn(a, b);
  else return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

/// cpu::detail::linear_taps, one destination index at a time.
template <class T>
struct LinearAxis {
  int64_t in, out;
  bool align_corners;
  T scale;
  LinearAxis(int64_t in_, int64_t out_, bool align)
      : in(in_), out(out_), align_corners(align),
        scale(align ? (out_ > 1 ? T(in_ - 1) / T(out_ - 1) : T(0)) : T(in_) / T(out_)) {}
  GENMODEL_HOST_DEVICE cpu::detail::LinearTap<T> tap(int64_t d) const {
    T src;
    if (align_corners) {
      src = mul_rn(scale, T(d));
    } else {
      src = mul_rn(scale, T(d) + T(0.5)) - T(0.5);
      if (src < T(0)) src = T(0);
    }
    int64_t i0 = static_cast<int64_t>(std::floor(src));
    if (i0 > in - 1) i0 = in - 1;
    T l1 = src - T(i0);
    l1 = l1 < T(0) ? T(0) : (l1 > T(1) ? T(1) : l1);
    return {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - l1, l1};
  }
  GENMODEL_HOST_DEVICE int64_t index(int64_t d) const { return tap(d).i0; }
};

template <class T>
GENMODEL_HOST_DEVICE inline void nearest_forward_at(const T* x, T* y, int64_t h, int64_t w, NearestAxis ay,
                                                    NearestAxis ax, int64_t o) {
  const int64_t ohw = ay.out * ax.out, p = o / ohw, i = o % ohw / ax.out, j = o % ax.out;
  y[o] = x[p * h * w + ay.index(i) * w + ax.index(j)];
}

/// dx at input (p, iy, ix): the outputs copying it are rows [first(iy),
/// first(iy + 1)) times the same for columns.
template <class T>
GENMODEL_HOST_DEVICE inline void nearest_backward_at(const T* dy, T* dx, int64_t h, int64_t w, NearestAxis ay,
                                                     NearestAxis ax, int64_t i) {
  const int64_t p = i / (h * w), iy = i % (h * w) / w, ix = i % w;
  const int64_t d0 = first_at_least(ay, iy), d1 = first_at_least(ay, iy + 1);
  const int64_t e0 = first_at_least(ax, ix), e1 = first_at_least(ax, ix + 1);
  const T* dyp = dy + p * ay.out * ax.out;
  T acc = T(0);
  for (int64_t d = d0; d < d1; ++d)
    for (int64_t e = e0; e < e1; ++e) acc += dyp[d * ax.out + e];
  dx[i] = acc;
}

template <class T>
GENMODEL_HOST_DEVICE inline void bilinear_forward_at(const T* x, T* y, int64_t h, int64_t w, LinearAxis<T> ay,
                                                     LinearAxis<T> ax, int64_t o) {
  const int64_t ohw = ay.out * ax.out, p = o / ohw, i = o % ohw / ax.out, j = o % ax.out;
  const cpu::detail::LinearTap<T> a = ay.tap(i), b = ax.tap(j);
  const T* r0 = x + p * h * w + a.i0 * w;
  const T* r1 = x + p * h * w + a.i1 * w;
  y[o] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
}

/// dx at input (p, iy, ix). The rows reading row iy are those with i0 = iy
/// (its first tap) or i0 = iy - 1 (its second), a range as i0 is monotone;
/// likewise the columns. Terms are added in the CPU's order.
template <class T>
GENMODEL_HOST_DEVICE inline void bilinear_backward_at(const T* dy, T* dx, int64_t h, int64_t w,
                                                      LinearAxis<T> ay, LinearAxis<T> ax, int64_t i) {
  const int64_t p = i / (h * w), iy = i % (h * w) / w, ix = i % w;
  const int64_t d0 = first_at_least(ay, iy - 1), d1 = first_at_least(ay, iy + 1);
  const int64_t e0 = first_at_least(ax, ix - 1), e1 = first_at_least(ax, ix + 1);
  const T* dyp = dy + p * ay.out * ax.out;
  T acc = T(0);
  for (int64_t d = d0; d < d1; ++d) {
    const cpu::detail::LinearTap<T> a = ay.tap(d);
    for (int64_t e = e0; e < e1; ++e) {
      const cpu::detail::LinearTap<T> b = ax.tap(e);
      const T g = dyp[d * ax.out + e];
      if (a.i0 == iy) {
        if (b.i0 == ix) acc += a.l0 * b.l0 * g;
        if (b.i1 == ix) acc += a.l0 * b.l1 * g;
      }
      if (a.i1 == iy) {
        if (b.i0 == ix) acc += a.l1 * b.l0 * g;
        if (b.i1 == ix) acc += a.l1 * b.l1 * g;
      }
    }
  }
  dx[i] = acc;
}

template <class T>
__global__ void nearest_forward_kernel(const T* x, T* y, int64_t n, int64_t h, int64_t w, NearestAxis ay,
                                       NearestAxis ax) {
  GM_CUDA_LOOP(o, n) nearest_forward_at(x, y, h, w, ay, ax, o);
}
template <class T>
__global__ void nearest_backward_kernel(const T* dy, T* dx, int64_t n, int64_t h, int64_t w, NearestAxis ay,
                                        NearestAxis ax) {
  GM_CUDA_LOOP(i, n) nearest_backward_at(dy, dx, h, w, ay, ax, i);
}
template <class T>
__global__ void bilinear_forward_kernel(const T* x, T* y, int64_t n, int64_t h, int64_t w, LinearAxis<T> ay,
                                        LinearAxis<T> ax) {
  GM_CUDA_LOOP(o, n) bilinear_forward_at(x, y, h, w, ay, ax, o);
}
template <class T>
__global__ void bilinear_backward_kernel(const T* dy, T* dx, int64_t n, int64_t h, int64_t w, LinearAxis<T> ay,
                                         LinearAxis<T> ax) {
  GM_CUDA_LOOP(i, n) bilinear_backward_at(dy, dx, h, w, ay, ax, i);
}

}  // namespace detail

/// y (nc, oh, ow) = x (nc, h, w) resized by nearest neighbour, as
/// cpu::upsample_nearest2d_forward.
template <class T>
void upsample_nearest2d_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  cpu::detail::check_upsample("upsample_nearest2d", nc, h, w, oh, ow);
  const int64_t n = nc * oh * ow;
  if (n == 0) return;
  detail::nearest_forward_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      x, y, n, h, w, detail::NearestAxis(h, oh), detail::NearestAxis(w, ow));
  check_launch("upsample_nearest2d");
}

/// dx (nc, h, w) = sum of dy over the outputs that copied each input; dx is
/// overwritten.
template <class T>
void upsample_nearest2d_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                 int64_t ow) {
  cpu::detail::check_upsample("upsample_nearest2d_backward", nc, h, w, oh, ow);
  const int64_t n = nc * h * w;
  if (n == 0) return;
  detail::nearest_backward_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      dy, dx, n, h, w, detail::NearestAxis(h, oh), detail::NearestAxis(w, ow));
  check_launch("upsample_nearest2d_backward");
}

/// y (nc, oh, ow) = bilinear resize of x (nc, h, w), as
/// cpu::upsample_bilinear2d_forward (align_corners either way).
template <class T>
void upsample_bilinear2d_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                 bool align_corners) {
  cpu::detail::check_upsample("upsample_bilinear2d", nc, h, w, oh, ow);
  const int64_t n = nc * oh * ow;
  if (n == 0) return;
  detail::bilinear_forward_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      x, y, n, h, w, detail::LinearAxis<T>(h, oh, align_corners), detail::LinearAxis<T>(w, ow, align_corners));
  check_launch("upsample_bilinear2d");
}

/// dx (nc, h, w) = gradient of upsample_bilinear2d_forward given dy; dx is
/// overwritten.
template <class T>
void upsample_bilinear2d_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                  int64_t ow, bool align_corners) {
  cpu::detail::check_upsample("upsample_bilinear2d_backward", nc, h, w, oh, ow);
  const int64_t n = nc * h * w;
  if (n == 0) return;
  detail::bilinear_backward_kernel<<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(
      dy, dx, n, h, w, detail::LinearAxis<T>(h, oh, align_corners), detail::LinearAxis<T>(w, ow, align_corners));
  check_launch("upsample_bilinear2d_backward");
}

}  // namespace genmodel::kernels::cuda
