// genmodel/kernels/cpu/conv.hpp: raw-pointer 2-D convolution kernels (NCHW,
// row-major, optional bias in the forward) with stride, padding, dilation
// and groups: forward, backward-data and backward-weight, built on
// im2col/col2im + gemm. Float convolutions go to oneDNN instead
// (kernels/cpu/conv_onednn.hpp) when the build has it and conv_impl() says
// so; these kernels then serve double (the gradient checks) and stay the
// reference the oneDNN path is tested against.
// Transposed convolution is the same three kernels on
// conv_transpose2d_geometry(): its forward is conv2d_backward_data, its
// backward-data is conv2d_forward and its weight gradient is
// conv2d_backward_weight(g, dy_t, x_t, dw). The backward-data of a stride-1
// layer with padding below the kernel size (3x3 "same") is itself a forward
// convolution of dy with the flipped kernel, which skips col2im.
//
// Threading: images are split into one contiguous range per thread, and each
// thread runs im2col + gemm on one cache-sized column block at a time:
// several whole images when planes are small (so the gemm stays wide), a few
// output rows of one image when they are large. With fewer images than
// threads the work runs on one thread and gemm() uses the configured
// threads. Results are bitwise reproducible for a given thread count and
// agree up to rounding across thread counts; the weight gradient sums one
// partial per thread in a fixed order. Scratch is allocated before any
// parallel region, so nothing throws inside one.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"  // also brings <omp.h> when built with OpenMP
#include "genmodel/core/scratch.hpp"
#include "genmodel/kernels/conv_geometry.hpp"
#include "genmodel/kernels/cpu/conv_onednn.hpp"  // empty unless GENMODEL_CONV_ONEDNN
#include "genmodel/kernels/cpu/gemm.hpp"

namespace genmodel::kernels::cpu {

// The geometry (shapes, strides, validation) is shared with the CUDA backend.
using kernels::Conv2dGeometry;
using kernels::conv2d_geometry;
using kernels::conv_transpose2d_geometry;

/// Which implementation float convolutions use: oneDNN (the default when the
/// build has it, GENMODEL_WITH_DNNL) or the im2col + gemm kernels below,
/// which always serve double. The switch is global, for tests and
/// benchmarks that compare the two.
enum class ConvImpl { im2col, onednn };

/// Whether this translation unit has oneDNN (not under nvcc: see
/// kernels/cpu/conv_onednn.hpp).
constexpr bool conv_has_onednn() {
#ifdef GENMODEL_CONV_ONEDNN
  return true;
#else
  return false;
#endif
}

namespace detail {
inline ConvImpl& conv_impl_slot() {
  static ConvImpl impl = conv_has_onednn() ? ConvImpl::onednn : ConvImpl::im2col;
  return impl;
}
}  // namespace detail

inline ConvImpl conv_impl() { return detail::conv_impl_slot(); }

inline void set_conv_impl(ConvImpl impl) {
  GM_CHECK(impl != ConvImpl::onednn || conv_has_onednn(),
           "set_conv_impl: this build has no oneDNN (configure with libdnnl-dev installed and GENMODEL_USE_DNNL=ON)");
  detail::conv_impl_slot() = impl;
}

namespace detail {

/// Range [lo, hi) of output columns ox whose input column ox*stride + off
/// lies inside [0, size).
inline void conv_valid_range(int64_t off, int64_t stride, int64_t size, int64_t count,
                             int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = (size - 1 - off) >= 0 ? (size - 1 - off) / stride + 1 : 0;
  lo = std::min(lo, count);
  hi = std::clamp(hi, lo, count);
}

// Short vector loops through Eigen so that they are vectorised at any
// optimisation level (and never become memcpy/memset calls on short rows).
template <class T>
using VecMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstVecMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
inline void vec_zero(T* d, int64_t n) {
  if (n > 0) VecMap<T>(d, n).setZero();
}
template <class T>
inline void vec_copy(const T* s, T* d, int64_t n) {
  if (n > 0) VecMap<T>(d, n) = ConstVecMap<T>(s, n);
}
template <class T>
inline void vec_add(const T* s, T* d, int64_t n) {
  if (n > 0) VecMap<T>(d, n) += ConstVecMap<T>(s, n);
}

/// Whether im2col/col2im go through phase planes: a stride s > 1 (both
/// ways, no dilation) whose output plane is the input plane divided by s, as
/// k4 s2 p1 and k3 s2 p1 on even sizes (DCGAN, the VAEs, the U-Net's
/// down-sampling). Splitting x (c, h, w) once into its s*s phase planes
/// x[ci][s*r + py][s*q + px] (each (h/s, w/s), the output plane's size) makes
/// every kernel tap read one plane at stride 1, where whole runs of output
/// rows are one contiguous copy, instead of a strided gather per output row.
inline bool conv_uses_phases(const Conv2dGeometry& g) {
  const int64_t s = g.stride_h;
  return s > 1 && g.stride_w == s && g.dil_h == 1 && g.dil_w == 1 && g.h % s == 0 && g.w % s == 0 &&
         g.oh == g.h / s && g.ow == g.w / s;
}

/// Scratch elements im2col/col2im need for one image and group of cg channels.
inline int64_t conv_phase_elems(const Conv2dGeometry& g, int64_t cg) {
  return conv_uses_phases(g) ? cg * g.h * g.w : 0;
}

/// Kernel offset `off` (ki*dil - pad) on a phase plane of stride s: the plane
/// (off mod s) and the shift within it (floor(off / s)).
inline void conv_phase_of(int64_t off, int64_t s, int64_t& phase, int64_t& shift) {
  phase = ((off % s) + s) % s;
  shift = (off - phase) / s;
}

/// x (cg, h, w) -> phases (cg, s, s, h/s, w/s), or back adding into x.
template <class T, bool kAddBack>
void conv_phase_split(const Conv2dGeometry& g, int64_t cg, std::conditional_t<kAddBack, T*, const T*> x,
                      std::conditional_t<kAddBack, const T*, T*> phases) {
  const int64_t s = g.stride_h, ph = g.h / s, pw = g.w / s;
  for (int64_t ci = 0; ci < cg; ++ci)
    for (int64_t r = 0; r < g.h; ++r)
      for (int64_t px = 0; px < s; ++px) {
        auto* xr = x + (ci * g.h + r) * g.w + px;
        auto* pr = phases + (((ci * s + r % s) * s + px) * ph + r / s) * pw;
        for (int64_t q = 0; q < pw; ++q) {
          if constexpr (kAddBack) xr[q * s] += pr[q];
          else pr[q] = xr[q * s];
        }
      }
}

/// The im2col row of one kernel tap that reads input rows `offh` and columns
/// `offw` from output position (oy, ox) on an input whose rows are as long
/// as the output's (ow == w): output rows [ya, yb) read inside the input, so
/// they are one contiguous span of xc; the columns outside [lo, hi) and the
/// rows outside [ya, yb) are zeros. row holds output rows [oy0, oy1).
template <class T>
void im2col_flat_row(const T* xc, int64_t w, int64_t offh, int64_t offw, int64_t oy0, int64_t oy1, int64_t ya,
                     int64_t yb, int64_t lo, int64_t hi, T* row) {
  if (lo >= hi) {  // this kernel column only ever reads padding
    vec_zero(row, (oy1 - oy0) * w);
    return;
  }
  vec_zero(row, (ya - oy0) * w);
  vec_zero(row + (yb - oy0) * w, (oy1 - yb) * w);
  if (ya >= yb) return;
  T* dst = row + (ya - oy0) * w;
  vec_copy(xc + (ya + offh) * w + offw + lo, dst + lo, (yb - ya - 1) * w + hi - lo);
  for (int64_t oy = ya; oy < yb; ++oy, dst += w) {
    for (int64_t ox = 0; ox < lo; ++ox) dst[ox] = T(0);
    for (int64_t ox = hi; ox < w; ++ox) dst[ox] = T(0);
  }
}

/// col2im's counterpart of im2col_flat_row: xc += the row's valid entries
/// (the entries outside [lo, hi) are zeroed first; row is scratch).
template <class T>
void col2im_flat_row(T* row, int64_t w, int64_t offh, int64_t offw, int64_t oy0, int64_t ya, int64_t yb,
                     int64_t lo, int64_t hi, T* xc) {
  if (lo >= hi || ya >= yb) return;  // this kernel tap only ever hits padding
  T* src = row + (ya - oy0) * w;
  for (int64_t oy = ya; oy < yb; ++oy, src += w) {
    for (int64_t ox = 0; ox < lo; ++ox) src[ox] = T(0);
    for (int64_t ox = hi; ox < w; ++ox) src[ox] = T(0);
  }
  vec_add(row + (ya - oy0) * w + lo, xc + (ya + offh) * w + offw + lo, (yb - ya - 1) * w + hi - lo);
}

/// Visits the kernel taps of the phase path: f(ci, ki, kj, plane, offh,
/// offw, ya, yb, lo, hi) with the stride-1 offsets on that tap's plane.
template <class T, class F>
void conv_phase_taps(const Conv2dGeometry& g, int64_t cg, int64_t oy0, int64_t oy1, T* phases, F&& f) {
  const int64_t s = g.stride_h, ph = g.h / s, pw = g.w / s;
  for (int64_t ci = 0; ci < cg; ++ci)
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      int64_t py, offh, ya, yb;
      conv_phase_of(ki - g.pad_h, s, py, offh);
      conv_valid_range(offh, 1, ph, g.oh, ya, yb);
      ya = std::clamp(ya, oy0, oy1);
      yb = std::clamp(yb, ya, oy1);
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        int64_t px, offw, lo, hi;
        conv_phase_of(kj - g.pad_w, s, px, offw);
        conv_valid_range(offw, 1, pw, g.ow, lo, hi);
        f(ci, ki, kj, phases + ((ci * s + py) * s + px) * ph * pw, offh, offw, ya, yb, lo, hi);
      }
    }
}

/// im2col of one image and one group for output rows [oy0, oy1): x is
/// (cg, h, w); col is (cg*kh*kw, (oy1-oy0)*ow) with row stride ldc, row
/// (ci*kh + ki)*kw + kj, column (oy-oy0)*ow + ox. phases: conv_phase_elems
/// scratch elements (unused unless conv_uses_phases).
template <class T>
void im2col(const Conv2dGeometry& g, const T* x, int64_t cg, int64_t oy0, int64_t oy1, T* col,
            int64_t ldc, T* phases) {
  if (conv_uses_phases(g)) {
    conv_phase_split<T, false>(g, cg, x, phases);
    conv_phase_taps(g, cg, oy0, oy1, phases,
                    [&](int64_t ci, int64_t ki, int64_t kj, const T* plane, int64_t offh, int64_t offw, int64_t ya,
                        int64_t yb, int64_t lo, int64_t hi) {
                      im2col_flat_row(plane, g.ow, offh, offw, oy0, oy1, ya, yb, lo, hi,
                                      col + ((ci * g.kh + ki) * g.kw + kj) * ldc);
                    });
    return;
  }
  const int64_t hw = g.h * g.w, ow = g.ow, sw = g.stride_w;
  // Stride 1 with output rows as long as input rows: (oy, ox) -> input
  // offset (oy*w + ox) + constant, so a run of rows is one contiguous span.
  const bool flat = g.stride_h == 1 && sw == 1 && ow == g.w;
  for (int64_t ci = 0; ci < cg; ++ci) {
    const T* xc = x + ci * hw;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      // Output rows [ya, yb) read input rows inside the image.
      const int64_t offh = ki * g.dil_h - g.pad_h;
      int64_t ya, yb;
      conv_valid_range(offh, g.stride_h, g.h, g.oh, ya, yb);
      ya = std::clamp(ya, oy0, oy1);
      yb = std::clamp(yb, ya, oy1);
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((ci * g.kh + ki) * g.kw + kj) * ldc;
        const int64_t offw = kj * g.dil_w - g.pad_w;
        int64_t lo, hi;
        conv_valid_range(offw, sw, g.w, ow, lo, hi);
        if (flat) {
          im2col_flat_row(xc, ow, offh, offw, oy0, oy1, ya, yb, lo, hi, row);
          continue;
        }
        if (lo >= hi) {  // this kernel column only ever reads padding
          vec_zero(row, (oy1 - oy0) * ow);
          continue;
        }
        vec_zero(row, (ya - oy0) * ow);
        vec_zero(row + (yb - oy0) * ow, (oy1 - yb) * ow);
        for (int64_t oy = ya; oy < yb; ++oy) {
          T* __restrict dst = row + (oy - oy0) * ow;
          const T* __restrict src = xc + (oy * g.stride_h + offh) * g.w + offw;
          for (int64_t ox = 0; ox < lo; ++ox) dst[ox] = T(0);
          if (sw == 1) {
            vec_copy(src + lo, dst + lo, hi - lo);
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[ox * sw];
          }
          for (int64_t ox = hi; ox < ow; ++ox) dst[ox] = T(0);
        }
      }
    }
  }
}

/// col2im of one image and one group for output rows [oy0, oy1),
/// accumulating: x (cg, h, w) += the columns of col (laid out as in im2col)
/// scattered back. Entries of col that map to padding may be zeroed.
/// phases: as for im2col.
template <class T>
void col2im(const Conv2dGeometry& g, T* col, int64_t ldc, int64_t cg, int64_t oy0,
            int64_t oy1, T* x, T* phases) {
  if (conv_uses_phases(g)) {
    std::fill(phases, phases + cg * g.h * g.w, T(0));
    conv_phase_taps(g, cg, oy0, oy1, phases,
                    [&](int64_t ci, int64_t ki, int64_t kj, T* plane, int64_t offh, int64_t offw, int64_t ya,
                        int64_t yb, int64_t lo, int64_t hi) {
                      col2im_flat_row(col + ((ci * g.kh + ki) * g.kw + kj) * ldc, g.ow, offh, offw, oy0, ya, yb,
                                      lo, hi, plane);
                    });
    conv_phase_split<T, true>(g, cg, x, phases);
    return;
  }
  const int64_t hw = g.h * g.w, ow = g.ow, sw = g.stride_w;
  // Stride 1 with output rows as long as input rows: (oy, ox) -> input
  // offset (oy*w + ox) + constant, so a run of rows is one contiguous span.
  const bool flat = g.stride_h == 1 && sw == 1 && ow == g.w;
  for (int64_t ci = 0; ci < cg; ++ci) {
    T* xc = x + ci * hw;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t offh = ki * g.dil_h - g.pad_h;
      int64_t ya, yb;
      conv_valid_range(offh, g.stride_h, g.h, g.oh, ya, yb);
      ya = std::clamp(ya, oy0, oy1);
      yb = std::clamp(yb, ya, oy1);
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((ci * g.kh + ki) * g.kw + kj) * ldc;
        const int64_t offw = kj * g.dil_w - g.pad_w;
        int64_t lo, hi;
        conv_valid_range(offw, sw, g.w, ow, lo, hi);
        if (flat) {
          col2im_flat_row(row, ow, offh, offw, oy0, ya, yb, lo, hi, xc);
          continue;
        }
        if (lo >= hi) continue;  // this kernel column only ever hits padding
        for (int64_t oy = ya; oy < yb; ++oy) {
          const T* __restrict src = row + (oy - oy0) * ow;
          T* __restrict dst = xc + (oy * g.stride_h + offh) * g.w + offw;
          if (sw == 1) {
            vec_add(src + lo, dst + lo, hi - lo);
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox * sw] += src[ox];
          }
        }
      }
    }
  }
}

/// A 1x1, stride-1, unpadded convolution whose output plane is the input
/// plane: the image itself is the column matrix.
inline bool conv_is_pointwise(const Conv2dGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
         g.pad_w == 0 && g.oh == g.h && g.ow == g.w;
}

/// gemm from a kernel. Inside a parallel region it is single-threaded:
/// OpenBLAS when the build has it (ConvBlasSerial has set its thread count to
/// 1 for the region), Eigen otherwise, as gemm() would choose by size.
/// Outside one it is gemm() with the configured threads.
template <class T>
void conv_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
               int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#ifdef _OPENMP
  if (omp_in_parallel()) {
#ifdef GENMODEL_WITH_CBLAS
    // Only when OpenBLAS is single-threaded (the kernel's own regions make
    // sure of it; a caller's region might not).
    if (m * n * k >= (int64_t(1) << 15) && k > 0 && openblas_get_num_threads() == 1) {
      const auto ca = ta ? CblasTrans : CblasNoTrans, cb = tb ? CblasTrans : CblasNoTrans;
      if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, ca, cb, int(m), int(n), int(k), alpha, a, int(lda), b,
                    int(ldb), beta, c, int(ldc));
      else
        cblas_dgemm(CblasRowMajor, ca, cb, int(m), int(n), int(k), alpha, a, int(lda), b,
                    int(ldb), beta, c, int(ldc));
      return;
    }
#endif
    gemm_eigen(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// While alive around a parallel region with `parallel` true, OpenBLAS (when
/// the build uses it) runs single-threaded, so that each kernel thread can
/// call it; the previous setting comes back afterwards.
class ConvBlasSerial {
 public:
  explicit ConvBlasSerial(bool parallel) {
#ifdef GENMODEL_WITH_CBLAS
    if (parallel) {
      saved_ = openblas_get_num_threads();
      openblas_set_num_threads(1);
    }
#else
    (void)parallel;
#endif
  }
  ~ConvBlasSerial() {
#ifdef GENMODEL_WITH_CBLAS
    if (saved_ > 0) openblas_set_num_threads(saved_);
#endif
  }
  ConvBlasSerial(const ConvBlasSerial&) = delete;
  ConvBlasSerial& operator=(const ConvBlasSerial&) = delete;

 private:
  [[maybe_unused]] int saved_ = 0;
};

/// How the work is split. The batch goes to `slots` contiguous image ranges
/// (one per thread). Each product covers about `cols` output positions so
/// the column block stays in cache: either `images` whole images at once
/// (small planes) or one image `rows` output rows at a time (large planes).
struct ConvPlan {
  int64_t slots, images, rows, cols;
  int64_t begin(int64_t s, int64_t n) const { return n * s / slots; }
};

template <class T>
ConvPlan conv_plan(const Conv2dGeometry& g) {
  int64_t nt = num_threads();
#ifdef _OPENMP
  if (omp_in_parallel()) nt = 1;
#endif
  const int64_t p = g.oh * g.ow;
  const int64_t k = (g.c / g.groups) * g.kh * g.kw;
  // One slot per thread, but at least ~128k multiply-adds each: waking the
  // pool for less costs more than it saves.
  const int64_t macs = g.n * g.o * p * k;
  const int64_t slots = std::clamp<int64_t>(macs >> 17, 1, std::max<int64_t>(1, std::min<int64_t>(nt, g.n)));
  const int64_t per_slot = std::max<int64_t>(1, (g.n + slots - 1) / slots);
  // Column block of about 256 KiB (half a typical L2), with at least 128
  // columns so the gemm stays efficient, at most 1024.
  const int64_t target =
      std::clamp<int64_t>((int64_t(256) << 10) / int64_t(sizeof(T)) / std::max<int64_t>(k, 1),
                          128, 1024);
  if (p <= 2 * target) {
    const int64_t images = std::clamp<int64_t>(target / p, 1, per_slot);
    return ConvPlan{slots, images, g.oh, images * p};
  }
  const int64_t tiles = (p + target - 1) / target;
  const int64_t rows = (g.oh + tiles - 1) / tiles;
  return ConvPlan{slots, 1, rows, rows * g.ow};
}

/// Visits the blocks of slot s: f(i0, b, oy0, oy1) for images [i0, i0+b)
/// and output rows [oy0, oy1) (b > 1 only with whole images).
template <class F>
void conv_blocks(const ConvPlan& plan, const Conv2dGeometry& g, int64_t s, F&& f) {
  const int64_t i_end = plan.begin(s + 1, g.n);
  for (int64_t i0 = plan.begin(s, g.n); i0 < i_end; i0 += plan.images) {
    const int64_t b = std::min(plan.images, i_end - i0);
    for (int64_t oy0 = 0; oy0 < g.oh; oy0 += plan.rows) f(i0, b, oy0, std::min(g.oh, oy0 + plan.rows));
  }
}

/// Gathers dy (n, o, P) for images [i0, i0+b) into dyb (o, b*P): column
/// j*P + p of row oc is dy[i0+j][oc][p].
template <class T>
void conv_gather_rows(const T* dy, int64_t o, int64_t p, int64_t i0, int64_t b, T* dyb) {
  for (int64_t j = 0; j < b; ++j)
    for (int64_t oc = 0; oc < o; ++oc)
      std::copy(dy + ((i0 + j) * o + oc) * p, dy + ((i0 + j) * o + oc + 1) * p,
                dyb + oc * b * p + j * p);
}

}  // namespace detail

/// y (n, o, oh, ow) = conv(x (n, c, h, w), weight (o, c/groups, kh, kw))
/// [+ bias (o) per channel]. y is overwritten. The bias costs nothing extra:
/// the product adds onto rows filled with it instead of onto rows the BLAS
/// would zero.
template <class T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* weight, T* y, const T* bias = nullptr) {
#ifdef GENMODEL_CONV_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (conv_impl() == ConvImpl::onednn && onednn::conv2d_forward(g, x, weight, y, bias)) return;
#endif
  if (g.n <= 0) return;
  const int64_t G = g.groups, cg = g.c / G, og = g.o / G;
  const int64_t K = cg * g.kh * g.kw, P = g.oh * g.ow, HW = g.h * g.w;
  const bool pointwise = detail::conv_is_pointwise(g);
  const detail::ConvPlan plan = detail::conv_plan<T>(g);
  // Per slot: the column block of one group (K, cols) unless the image is its
  // own column matrix, and the product (o, cols) of a multi-image block.
  const int64_t col_elems = (pointwise && plan.images == 1) ? 0 : K * plan.cols;
  const int64_t out_elems = plan.images > 1 ? g.o * plan.cols : 0;
  const int64_t per_slot = col_elems + out_elems + detail::conv_phase_elems(g, cg);
  Scratch<T> scratch(std::max<int64_t>(1, per_slot * plan.slots));

  const detail::ConvBlasSerial blas_serial(plan.slots > 1);
  parallel_for(0, plan.slots, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      T* col = scratch.data() + s * per_slot;
      T* out = col + col_elems;
      T* phases = out + out_elems;
      detail::conv_blocks(plan, g, s, [&](int64_t i0, int64_t b, int64_t oy0, int64_t oy1) {
        const int64_t ncols = b * (oy1 - oy0) * g.ow, off = oy0 * g.ow;
        // The product's destination rows (o of them): y's for one image, else the block's.
        T* dst = b == 1 ? y + i0 * g.o * P + off : out;
        const int64_t ld = b == 1 ? P : ncols;
        if (bias)
          for (int64_t oc = 0; oc < g.o; ++oc) std::fill(dst + oc * ld, dst + oc * ld + ncols, bias[oc]);
        const T beta = bias ? T(1) : T(0);
        for (int64_t gi = 0; gi < G; ++gi) {
          const T* colp = col;
          int64_t ldcol = ncols;
          if (pointwise && b == 1) {
            colp = x + (i0 * g.c + gi * cg) * HW + off;
            ldcol = P;
          } else {
            for (int64_t j = 0; j < b; ++j)
              detail::im2col(g, x + ((i0 + j) * g.c + gi * cg) * HW, cg, oy0, oy1,
                             col + j * (ncols / b), ncols, phases);
          }
          detail::conv_gemm(false, false, og, ncols, K, T(1), weight + gi * og * K, K, colp, ldcol, beta,
                            dst + gi * og * ld, ld);
        }
        if (b > 1)  // scatter (o, b*P) back to (b, o, P)
          for (int64_t j = 0; j < b; ++j)
            for (int64_t oc = 0; oc < g.o; ++oc)
              std::copy(out + oc * ncols + j * P, out + oc * ncols + (j + 1) * P,
                        y + ((i0 + j) * g.o + oc) * P);
      });
    }
  });
}

namespace detail {
/// Whether conv2d_backward_data runs as a forward convolution of dy: a
/// stride-1, undilated, ungrouped, non-pointwise convolution with padding
/// at most kernel - 1 (the U-Net's 3x3 "same" layers), and dy not much wider
/// than x (its columns have o rows per tap where col2im's have c).
inline bool conv_backward_data_is_conv(const Conv2dGeometry& g) {
  return g.groups == 1 && g.stride_h == 1 && g.stride_w == 1 && g.dil_h == 1 && g.dil_w == 1 &&
         g.pad_h <= g.kh - 1 && g.pad_w <= g.kw - 1 && !conv_is_pointwise(g) && g.o <= 2 * g.c;
}
}  // namespace detail

/// dx (n, c, h, w) = gradient of conv2d_forward with respect to x, given
/// dy (n, o, oh, ow) and weight (o, c/groups, kh, kw). dx is overwritten.
template <class T>
void conv2d_backward_data(const Conv2dGeometry& g, const T* dy, const T* weight, T* dx) {
#ifdef GENMODEL_CONV_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (conv_impl() == ConvImpl::onednn && onednn::conv2d_backward_data(g, dy, weight, dx)) return;
#endif
  if (g.n <= 0) return;
  if (detail::conv_backward_data_is_conv(g)) {
    // dx = conv(dy, the weight transposed (c, o, kh, kw) and flipped, padding
    // k - 1 - p): one im2col of dy and a product straight into dx, instead
    // of a product into (c kh kw) column rows, zeroed by the BLAS first,
    // that col2im then adds back tap by tap.
    const Conv2dGeometry gt = conv2d_geometry(g.n, g.o, g.oh, g.ow, g.c, g.kh, g.kw, 1, 1, g.kh - 1 - g.pad_h,
                                              g.kw - 1 - g.pad_w, 1, 1, 1);
    Scratch<T> flipped(g.c * g.o * g.kh * g.kw);
    for (int64_t oc = 0; oc < g.o; ++oc)
      for (int64_t ci = 0; ci < g.c; ++ci)
        for (int64_t ki = 0; ki < g.kh; ++ki)
          for (int64_t kj = 0; kj < g.kw; ++kj)
            flipped.data()[((ci * g.o + oc) * g.kh + ki) * g.kw + kj] =
                weight[((oc * g.c + ci) * g.kh + (g.kh - 1 - ki)) * g.kw + (g.kw - 1 - kj)];
    conv2d_forward(gt, dy, flipped.data(), dx);
    return;
  }
  const int64_t G = g.groups, cg = g.c / G, og = g.o / G;
  const int64_t K = cg * g.kh * g.kw, P = g.oh * g.ow, HW = g.h * g.w;
  const bool pointwise = detail::conv_is_pointwise(g);
  const detail::ConvPlan plan = detail::conv_plan<T>(g);
  // Per slot: dy of a multi-image block gathered to (o, cols), and the column
  // gradient of one group (K, cols) unless the product lands in dx directly.
  const int64_t dy_elems = plan.images > 1 ? g.o * plan.cols : 0;
  const int64_t col_elems = (pointwise && plan.images == 1) ? 0 : K * plan.cols;
  const int64_t per_slot = dy_elems + col_elems + detail::conv_phase_elems(g, cg);
  Scratch<T> scratch(std::max<int64_t>(1, per_slot * plan.slots));

  const detail::ConvBlasSerial blas_serial(plan.slots > 1);
  parallel_for(0, plan.slots, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      T* dyb = scratch.data() + s * per_slot;
      T* dcol = dyb + dy_elems;
      T* phases = dcol + col_elems;
      detail::conv_blocks(plan, g, s, [&](int64_t i0, int64_t b, int64_t oy0, int64_t oy1) {
        const int64_t ncols = b * (oy1 - oy0) * g.ow, off = oy0 * g.ow;
        const T* dyp = dy + i0 * g.o * P + off;
        int64_t lddy = P;
        if (b > 1) {
          detail::conv_gather_rows(dy, g.o, P, i0, b, dyb);
          dyp = dyb;
          lddy = ncols;
        }
        if (pointwise && b == 1) {  // dx[i0, group] rows [oy0, oy1) = W_g^T dy_g
          for (int64_t gi = 0; gi < G; ++gi)
            detail::conv_gemm(true, false, cg, ncols, og, T(1), weight + gi * og * K, K,
                              dyp + gi * og * lddy, lddy, T(0),
                              dx + (i0 * g.c + gi * cg) * HW + off, HW);
          return;
        }
        if (oy0 == 0) std::fill(dx + i0 * g.c * HW, dx + (i0 + b) * g.c * HW, T(0));
        for (int64_t gi = 0; gi < G; ++gi) {
          detail::conv_gemm(true, false, K, ncols, og, T(1), weight + gi * og * K, K,
                            dyp + gi * og * lddy, lddy, T(0), dcol, ncols);
          for (int64_t j = 0; j < b; ++j)
            detail::col2im(g, dcol + j * (ncols / b), ncols, cg, oy0, oy1,
                           dx + ((i0 + j) * g.c + gi * cg) * HW, phases);
        }
      });
    }
  });
}

/// dw (o, c/groups, kh, kw) = gradient of conv2d_forward with respect to the
/// weight, given x (n, c, h, w) and dy (n, o, oh, ow). dw is overwritten.
/// Each thread sums its own images into a partial; partials are added in
/// slot order, so the result depends on the thread count only by rounding.
template <class T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
#ifdef GENMODEL_CONV_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (conv_impl() == ConvImpl::onednn && onednn::conv2d_backward_weight(g, x, dy, dw)) return;
#endif
  const int64_t G = g.groups, cg = g.c / G, og = g.o / G;
  const int64_t K = cg * g.kh * g.kw, P = g.oh * g.ow, HW = g.h * g.w;
  const int64_t wsize = g.o * K;
  std::fill(dw, dw + wsize, T(0));
  if (g.n <= 0) return;
  const bool pointwise = detail::conv_is_pointwise(g);
  const detail::ConvPlan plan = detail::conv_plan<T>(g);
  // Per slot: gathered dy (o, cols) of a multi-image block, the column block
  // of one group (K, cols) unless the image is its own, and a partial dw
  // (slot 0 accumulates into dw itself).
  const int64_t dy_elems = plan.images > 1 ? g.o * plan.cols : 0;
  const int64_t col_elems = (pointwise && plan.images == 1) ? 0 : K * plan.cols;
  const int64_t phase_elems = detail::conv_phase_elems(g, cg);
  const int64_t per_slot = dy_elems + col_elems + phase_elems + wsize;
  Scratch<T> scratch(std::max<int64_t>(1, per_slot * plan.slots));

  const detail::ConvBlasSerial blas_serial(plan.slots > 1);
  parallel_for(0, plan.slots, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      T* dyb = scratch.data() + s * per_slot;
      T* col = dyb + dy_elems;
      T* phases = col + col_elems;
      T* part = s == 0 ? dw : phases + phase_elems;
      if (s != 0) std::fill(part, part + wsize, T(0));
      detail::conv_blocks(plan, g, s, [&](int64_t i0, int64_t b, int64_t oy0, int64_t oy1) {
        const int64_t ncols = b * (oy1 - oy0) * g.ow, off = oy0 * g.ow;
        const T* dyp = dy + i0 * g.o * P + off;
        int64_t lddy = P;
        if (b > 1) {
          detail::conv_gather_rows(dy, g.o, P, i0, b, dyb);
          dyp = dyb;
          lddy = ncols;
        }
        for (int64_t gi = 0; gi < G; ++gi) {
          const T* colp = col;
          int64_t ldcol = ncols;
          if (pointwise && b == 1) {
            colp = x + (i0 * g.c + gi * cg) * HW + off;
            ldcol = P;
          } else {
            for (int64_t j = 0; j < b; ++j)
              detail::im2col(g, x + ((i0 + j) * g.c + gi * cg) * HW, cg, oy0, oy1,
                             col + j * (ncols / b), ncols, phases);
          }
          detail::conv_gemm(false, true, og, K, ncols, T(1), dyp + gi * og * lddy, lddy, colp,
                            ldcol, T(1), part + gi * og * K, K);
        }
      });
    }
  });
  for (int64_t s = 1; s < plan.slots; ++s) {
    const T* part = scratch.data() + s * per_slot + dy_elems + col_elems + phase_elems;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += part[i];
  }
}

}  // namespace genmodel::kernels::cpu
