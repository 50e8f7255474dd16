// genmodel/kernels/cpu/upsample.hpp: raw-pointer 2-D nearest and bilinear
// resizing (NCHW) with their backward kernels, index and weight formulas
// taken from PyTorch's CPU kernels. x is (n, c, h, w) seen as nc = n*c planes
// of (h, w); y is (nc, oh, ow). Every kernel works plane by plane in
// parallel, so no two threads write the same element and the backward sums
// are deterministic whatever the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

namespace detail {

inline void check_upsample(const char* op, int64_t nc, int64_t h, int64_t w, int64_t oh,
                           int64_t ow) {
  GM_CHECK(nc >= 0, op, ": plane count must be non-negative, got ", nc);
  GM_CHECK(h > 0 && w > 0 && oh > 0 && ow > 0, op,
           ": input and output sizes must be positive, got input (", h, ", ", w, ") output (",
           oh, ", ", ow, ")");
}

/// Planes per parallel chunk: about 16K elements.
inline int64_t upsample_grain(int64_t plane) {
  return std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(plane, 1));
}

/// PyTorch's nearest_idx: identity for equal sizes, dst/2 for exact 2x, else
/// min(floor(dst * (float)in/out), in-1) computed in float. For ratios that
/// are not exact this can differ from the integer floor(dst*in/out) by one,
/// exactly as PyTorch does.
inline std::vector<int64_t> nearest_indices(int64_t in, int64_t out) {
  std::vector<int64_t> idx(static_cast<std::size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    if (out == in) idx[d] = d;
    else if (out == 2 * in) idx[d] = d >> 1;
    else
      idx[d] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * scale)), in - 1);
  }
  return idx;
}

/// Source taps of one output coordinate for bilinear interpolation: value =
/// l0 * in[i0] + l1 * in[i1].
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T l0, l1;
};

/// PyTorch's area_pixel_compute_scale / area_pixel_compute_source_index /
/// guard_index_and_lambda, in T arithmetic (float for float, like PyTorch's
/// opmath for float tensors).
template <class T>
std::vector<LinearTap<T>> linear_taps(int64_t in, int64_t out, bool align_corners) {
  std::vector<LinearTap<T>> taps(static_cast<std::size_t>(out));
  const T scale = align_corners ? (out > 1 ? T(in - 1) / T(out - 1) : T(0)) : T(in) / T(out);
  for (int64_t d = 0; d < out; ++d) {
    T src;
    if (align_corners) {
      src = scale * T(d);
    } else {
      src = scale * (T(d) + T(0.5)) - T(0.5);
      if (src < T(0)) src = T(0);
    }
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const T l1 = std::min(std::max(src - T(i0), T(0)), T(1));
    taps[d] = LinearTap<T>{i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - l1, l1};
  }
  return taps;
}

}  // namespace detail

/// y (nc, oh, ow) = x (nc, h, w) resized by nearest neighbour: y[i][j] =
/// x[src(i)][src(j)] with src = floor(dst * in / out) as PyTorch 'nearest'
/// (see detail::nearest_indices for PyTorch's float rounding).
template <class T>
void upsample_nearest2d_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                int64_t ow) {
  detail::check_upsample("upsample_nearest2d", nc, h, w, oh, ow);
  const std::vector<int64_t> ry = detail::nearest_indices(h, oh), rx = detail::nearest_indices(w, ow);
  const int64_t hw = h * w, ohw = oh * ow;
  parallel_for(0, nc, detail::upsample_grain(ohw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * hw;
      T* yp = y + p * ohw;
      for (int64_t i = 0; i < oh; ++i) {
        const T* src = xp + ry[i] * w;
        T* dst = yp + i * ow;
        for (int64_t j = 0; j < ow; ++j) dst[j] = src[rx[j]];
      }
    }
  });
}

/// dx (nc, h, w) = sum of dy (nc, oh, ow) over the outputs that copied each
/// input. dx is overwritten.
template <class T>
void upsample_nearest2d_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                 int64_t ow) {
  detail::check_upsample("upsample_nearest2d_backward", nc, h, w, oh, ow);
  const std::vector<int64_t> ry = detail::nearest_indices(h, oh), rx = detail::nearest_indices(w, ow);
  const int64_t hw = h * w, ohw = oh * ow;
  parallel_for(0, nc, detail::upsample_grain(ohw + hw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * hw;
      std::fill(dxp, dxp + hw, T(0));
      const T* dyp = dy + p * ohw;
      for (int64_t i = 0; i < oh; ++i) {
        T* dst = dxp + ry[i] * w;
        const T* src = dyp + i * ow;
        for (int64_t j = 0; j < ow; ++j) dst[rx[j]] += src[j];
      }
    }
  });
}

/// y (nc, oh, ow) = bilinear resize of x (nc, h, w). align_corners=false:
/// src = max((dst + 0.5) * in/out - 0.5, 0); align_corners=true:
/// src = dst * (in-1)/(out-1) (0 when out == 1). Same formula as PyTorch.
template <class T>
void upsample_bilinear2d_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                 int64_t ow, bool align_corners) {
  detail::check_upsample("upsample_bilinear2d", nc, h, w, oh, ow);
  const auto ty = detail::linear_taps<T>(h, oh, align_corners);
  const auto tx = detail::linear_taps<T>(w, ow, align_corners);
  const int64_t hw = h * w, ohw = oh * ow;
  parallel_for(0, nc, detail::upsample_grain(ohw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * hw;
      T* yp = y + p * ohw;
      for (int64_t i = 0; i < oh; ++i) {
        const auto& a = ty[i];
        const T* r0 = xp + a.i0 * w;
        const T* r1 = xp + a.i1 * w;
        T* dst = yp + i * ow;
        for (int64_t j = 0; j < ow; ++j) {
          const auto& b = tx[j];
          dst[j] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) +
                   a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
        }
      }
    }
  });
}

/// dx (nc, h, w) = gradient of upsample_bilinear2d_forward given
/// dy (nc, oh, ow). dx is overwritten.
template <class T>
void upsample_bilinear2d_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                  int64_t ow, bool align_corners) {
  detail::check_upsample("upsample_bilinear2d_backward", nc, h, w, oh, ow);
  const auto ty = detail::linear_taps<T>(h, oh, align_corners);
  const auto tx = detail::linear_taps<T>(w, ow, align_corners);
  const int64_t hw = h * w, ohw = oh * ow;
  parallel_for(0, nc, detail::upsample_grain(ohw + hw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * hw;
      std::fill(dxp, dxp + hw, T(0));
      const T* dyp = dy + p * ohw;
      for (int64_t i = 0; i < oh; ++i) {
        const auto& a = ty[i];
        T* r0 = dxp + a.i0 * w;
        T* r1 = dxp + a.i1 * w;
        const T* src = dyp + i * ow;
        for (int64_t j = 0; j < ow; ++j) {
          const auto& b = tx[j];
          const T g = src[j];
          r0[b.i0] += a.l0 * b.l0 * g;
          r0[b.i1] += a.l0 * b.l1 * g;
          r1[b.i0] += a.l1 * b.l0 * g;
          r1[b.i1] += a.l1 * b.l1 * g;
        }
      }
    }
  });
}

}  // namespace genmodel::kernels::cpu
