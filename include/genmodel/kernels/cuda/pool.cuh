// genmodel/kernels/cuda/pool.cuh: 2-D max and average pooling (NCHW, floor
// mode), the device side of kernels/cpu/pool.hpp, on the same Pool2dGeometry.
// Forward: one thread per output, scanning its window in the CPU's order, so
// argmax ties and NaNs resolve alike. Backward: one thread per input, which
// gathers the outputs whose windows cover it in row-major order (the order
// in which the CPU's scatter adds them): no atomics, results repeat run to
// run and match the CPU bit for bit. The per-element bodies are host-device
// functions, so they can be checked against the CPU without a GPU.
#pragma once

#include <limits>

#include "genmodel/core/device.hpp"
#include "genmodel/kernels/cpu/pool.hpp"
#include "genmodel/kernels/cuda/launch.cuh"

namespace genmodel::kernels::cuda {

using cpu::Pool2dGeometry;

namespace detail {

/// Outputs [lo, hi) along one axis whose unclipped window [o*s - pad,
/// o*s - pad + k) holds input position i.
struct CoverRange {
  int64_t lo, hi;
};
GENMODEL_HOST_DEVICE inline CoverRange pool_cover(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t out) {
  const int64_t a = i + pad - k;  // o*s > a: a < 0 lets o = 0 in (no negative division)
  const int64_t hi = (i + pad) / s + 1;
  return {a < 0 ? 0 : a / s + 1, hi < out ? hi : out};
}

/// cpu::detail::avg_window's divisor: padding counts, past the padding not.
GENMODEL_HOST_DEVICE inline int64_t avg_count(const Pool2dGeometry& g, int64_t oy, int64_t ox) {
  const int64_t y0 = oy * g.stride_h - g.pad_h, x0 = ox * g.stride_w - g.pad_w;
  const int64_t y1 = y0 + g.kh < g.h + g.pad_h ? y0 + g.kh : g.h + g.pad_h;
  const int64_t x1 = x0 + g.kw < g.w + g.pad_w ? x0 + g.kw : g.w + g.pad_w;
  return (y1 - y0) * (x1 - x0);
}

/// Output o = (plane, oy, ox) of a max or average pool.
template <class T, bool Max>
GENMODEL_HOST_DEVICE inline void pool_forward_at(const Pool2dGeometry& g, const T* x, T* y, int64_t* argmax,
                                                 int64_t o) {
  const int64_t ohw = g.oh * g.ow, p = o / ohw, oy = o % ohw / g.ow, ox = o % g.ow;
  const T* xp = x + p * g.h * g.w;
  const int64_t y0 = oy * g.stride_h - g.pad_h, x0 = ox * g.stride_w - g.pad_w;
  const int64_t ya = y0 > 0 ? y0 : 0, yb = y0 + g.kh < g.h ? y0 + g.kh : g.h;
  const int64_t xa = x0 > 0 ? x0 : 0, xb = x0 + g.kw < g.w ? x0 + g.kw : g.w;
  if constexpr (Max) {
    int64_t best = ya * g.w + xa;
    T bv = -std::numeric_limits<T>::infinity();
    for (int64_t iy = ya; iy < yb; ++iy)
      for (int64_t ix = xa; ix < xb; ++ix) {
        const T v = xp[iy * g.w + ix];
        if (v > bv || v != v) {  // v != v: NaN wins, like the CPU's isnan
          bv = v;
          best = iy * g.w + ix;
        }
      }
    y[o] = bv;
    argmax[o] = best;
  } else {
    T sum = T(0);
    for (int64_t iy = ya; iy < yb; ++iy)
      for (int64_t ix = xa; ix < xb; ++ix) sum += xp[iy * g.w + ix];
    y[o] = sum / T(avg_count(g, oy, ox));
  }
}

/// Input i = (plane, iy, ix): the sum of dy over the covering outputs (for
/// max, only those whose argmax is this input).
template <class T, bool Max>
GENMODEL_HOST_DEVICE inline void pool_backward_at(const Pool2dGeometry& g, const T* dy, const int64_t* argmax,
                                                  T* dx, int64_t i) {
  const int64_t hw = g.h * g.w, ohw = g.oh * g.ow, p = i / hw, r = i % hw;
  const CoverRange ry = pool_cover(r / g.w, g.kh, g.stride_h, g.pad_h, g.oh);
  const CoverRange rx = pool_cover(r % g.w, g.kw, g.stride_w, g.pad_w, g.ow);
  const T* dyp = dy + p * ohw;
  T acc = T(0);
  for (int64_t oy = ry.lo; oy < ry.hi; ++oy)
    for (int64_t ox = rx.lo; ox < rx.hi; ++ox) {
      const int64_t o = oy * g.ow + ox;
      if constexpr (Max) {
        if (argmax[p * ohw + o] == r) acc += dyp[o];
      } else {
        acc += dyp[o] / T(avg_count(g, oy, ox));
      }
    }
  dx[i] = acc;
}

template <class T, bool Max>
__global__ void pool_forward_kernel(Pool2dGeometry g, const T* x, T* y, int64_t* argmax) {
  GM_CUDA_LOOP(o, g.n * g.c * g.oh * g.ow) pool_forward_at<T, Max>(g, x, y, argmax, o);
}

template <class T, bool Max>
__global__ void pool_backward_kernel(Pool2dGeometry g, const T* dy, const int64_t* argmax, T* dx) {
  GM_CUDA_LOOP(i, g.n * g.c * g.h * g.w) pool_backward_at<T, Max>(g, dy, argmax, dx, i);
}

}  // namespace detail

/// y (n, c, oh, ow) = window maxima of x; argmax gets the in-plane index
/// ih*w + iw of each, as cpu::max_pool2d_forward.
template <class T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, int64_t* argmax) {
  const int64_t n = g.n * g.c * g.oh * g.ow;
  if (n == 0) return;
  detail::pool_forward_kernel<T, true><<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(g, x, y, argmax);
  check_launch("max_pool2d");
}

/// dx (n, c, h, w) = dy routed to the argmax positions of max_pool2d_forward
/// (summed where windows share a maximum); dx is overwritten. argmax must
/// come from the forward: each entry lies in its own window.
template <class T>
void max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* argmax, T* dx) {
  const int64_t n = g.n * g.c * g.h * g.w;
  if (n == 0) return;
  detail::pool_backward_kernel<T, true><<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(g, dy, argmax, dx);
  check_launch("max_pool2d_backward");
}

/// y (n, c, oh, ow) = window means of x, padding counted as zeros
/// (count_include_pad=true), as cpu::avg_pool2d_forward.
template <class T>
void avg_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y) {
  const int64_t n = g.n * g.c * g.oh * g.ow;
  if (n == 0) return;
  detail::pool_forward_kernel<T, false><<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(g, x, y, nullptr);
  check_launch("avg_pool2d");
}

/// dx (n, c, h, w) = gradient of avg_pool2d_forward given dy; dx is
/// overwritten.
template <class T>
void avg_pool2d_backward(const Pool2dGeometry& g, const T* dy, T* dx) {
  const int64_t n = g.n * g.c * g.h * g.w;
  if (n == 0) return;
  detail::pool_backward_kernel<T, false><<<grid_for(n), kThreads, 0, cuda_backend::stream()>>>(g, dy, nullptr, dx);
  check_launch("avg_pool2d_backward");
}

}  // namespace genmodel::kernels::cuda
