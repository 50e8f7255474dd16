// genmodel/kernels/cpu/pool.hpp: raw-pointer 2-D max and average pooling
// (NCHW, floor mode) with their backward kernels. Max pooling never picks a
// padded position; average pooling counts padding as zeros.
// Every kernel works plane by plane (one (n, c) slice at a time) in parallel,
// so no two threads write the same element and results never depend on the
// thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

/// x is (n, c, h, w), y is (n, c, oh, ow); window (kh, kw).
struct Pool2dGeometry {
  int64_t n, c, h, w, kh, kw, stride_h, stride_w, pad_h, pad_w, oh, ow;
};

/// Validates a pooling window and computes the output size in floor mode,
/// oh = (h + 2*pad_h - kh) / stride_h + 1, like PyTorch (padding at most half
/// the kernel). Throws genmodel::Error naming "pool2d" and the values.
inline Pool2dGeometry pool2d_geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                                      int64_t kw, int64_t stride_h, int64_t stride_w,
                                      int64_t pad_h, int64_t pad_w) {
  GM_CHECK(n >= 0 && c >= 0, "pool2d: batch and channel counts must be non-negative, got (", n,
           ", ", c, ")");
  GM_CHECK(h > 0 && w > 0, "pool2d: input size must be positive, got (", h, ", ", w, ")");
  GM_CHECK(kh > 0 && kw > 0, "pool2d: kernel size must be positive, got (", kh, ", ", kw, ")");
  GM_CHECK(stride_h > 0 && stride_w > 0, "pool2d: stride must be positive, got (", stride_h, ", ",
           stride_w, ")");
  GM_CHECK(pad_h >= 0 && pad_w >= 0, "pool2d: padding must be non-negative, got (", pad_h, ", ",
           pad_w, ")");
  GM_CHECK(pad_h <= kh / 2 && pad_w <= kw / 2, "pool2d: padding (", pad_h, ", ", pad_w,
           ") must be at most half the kernel size (", kh, ", ", kw, ")");
  const int64_t eh = h + 2 * pad_h - kh, ew = w + 2 * pad_w - kw;
  GM_CHECK(eh >= 0 && ew >= 0, "pool2d: output size would be empty: input (", h, ", ", w,
           ") with padding (", pad_h, ", ", pad_w, ") is smaller than the kernel (", kh, ", ", kw,
           ")");
  return Pool2dGeometry{n,     c,     h,     w,     kh, kw, stride_h, stride_w,
                        pad_h, pad_w, eh / stride_h + 1, ew / stride_w + 1};
}

namespace detail {
/// Planes per parallel chunk: about 16K output elements.
inline int64_t pool_grain(int64_t plane) {
  return std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(plane, 1));
}
}  // namespace detail

/// y (n, c, oh, ow) = window maxima of x (n, c, h, w); argmax (n, c, oh, ow)
/// gets the flat in-plane index ih*w + iw of each maximum, like PyTorch's
/// indices. NaN propagates (a NaN in the window is the maximum); ties keep
/// the first element in row-major order.
template <class T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, int64_t* argmax) {
  const int64_t hw = g.h * g.w, ohw = g.oh * g.ow;
  parallel_for(0, g.n * g.c, detail::pool_grain(ohw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * hw;
      T* yp = y + p * ohw;
      int64_t* ap = argmax + p * ohw;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = oy * g.stride_h - g.pad_h;
        const int64_t ya = std::max<int64_t>(y0, 0), yb = std::min(y0 + g.kh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = ox * g.stride_w - g.pad_w;
          const int64_t xa = std::max<int64_t>(x0, 0), xb = std::min(x0 + g.kw, g.w);
          int64_t best = ya * g.w + xa;
          T bv = -std::numeric_limits<T>::infinity();
          for (int64_t iy = ya; iy < yb; ++iy)
            for (int64_t ix = xa; ix < xb; ++ix) {
              const T v = xp[iy * g.w + ix];
              if (v > bv || std::isnan(v)) {
                bv = v;
                best = iy * g.w + ix;
              }
            }
          yp[oy * g.ow + ox] = bv;
          ap[oy * g.ow + ox] = best;
        }
      }
    }
  });
}

/// dx (n, c, h, w) = dy (n, c, oh, ow) routed to the argmax positions from
/// max_pool2d_forward (summed where windows share a maximum). dx is
/// overwritten.
template <class T>
void max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* argmax, T* dx) {
  const int64_t hw = g.h * g.w, ohw = g.oh * g.ow;
  parallel_for(0, g.n * g.c, detail::pool_grain(ohw + hw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * hw;
      std::fill(dxp, dxp + hw, T(0));
      const T* dyp = dy + p * ohw;
      const int64_t* ap = argmax + p * ohw;
      for (int64_t i = 0; i < ohw; ++i) dxp[ap[i]] += dyp[i];
    }
  });
}

namespace detail {
/// Window of output (oy, ox) clipped to the input, and its divisor with
/// count_include_pad=true (padded positions count, the part past the padded
/// border does not).
struct AvgWindow {
  int64_t ya, yb, xa, xb;
  int64_t count;
};
inline AvgWindow avg_window(const Pool2dGeometry& g, int64_t oy, int64_t ox) {
  int64_t y0 = oy * g.stride_h - g.pad_h, x0 = ox * g.stride_w - g.pad_w;
  const int64_t y1 = std::min(y0 + g.kh, g.h + g.pad_h), x1 = std::min(x0 + g.kw, g.w + g.pad_w);
  const int64_t count = (y1 - y0) * (x1 - x0);
  return AvgWindow{std::max<int64_t>(y0, 0), std::min(y1, g.h), std::max<int64_t>(x0, 0),
                   std::min(x1, g.w), count};
}
}  // namespace detail

/// y (n, c, oh, ow) = window means of x (n, c, h, w), padding counted as
/// zeros (count_include_pad=true, PyTorch's default).
template <class T>
void avg_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y) {
  const int64_t hw = g.h * g.w, ohw = g.oh * g.ow;
  parallel_for(0, g.n * g.c, detail::pool_grain(ohw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * hw;
      T* yp = y + p * ohw;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const detail::AvgWindow win = detail::avg_window(g, oy, ox);
          T sum = T(0);
          for (int64_t iy = win.ya; iy < win.yb; ++iy)
            for (int64_t ix = win.xa; ix < win.xb; ++ix) sum += xp[iy * g.w + ix];
          yp[oy * g.ow + ox] = sum / T(win.count);
        }
    }
  });
}

/// dx (n, c, h, w) = gradient of avg_pool2d_forward given dy (n, c, oh, ow).
/// dx is overwritten.
template <class T>
void avg_pool2d_backward(const Pool2dGeometry& g, const T* dy, T* dx) {
  const int64_t hw = g.h * g.w, ohw = g.oh * g.ow;
  parallel_for(0, g.n * g.c, detail::pool_grain(ohw + hw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * hw;
      std::fill(dxp, dxp + hw, T(0));
      const T* dyp = dy + p * ohw;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const detail::AvgWindow win = detail::avg_window(g, oy, ox);
          const T v = dyp[oy * g.ow + ox] / T(win.count);
          for (int64_t iy = win.ya; iy < win.yb; ++iy)
            for (int64_t ix = win.xa; ix < win.xb; ++ix) dxp[iy * g.w + ix] += v;
        }
    }
  });
}

}  // namespace genmodel::kernels::cpu
