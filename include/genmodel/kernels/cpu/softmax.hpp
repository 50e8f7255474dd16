// genmodel/kernels/cpu/softmax.hpp: raw-pointer CPU kernels for softmax and
// log_softmax along one dimension, forward and backward (no Tensor, no autograd).
//
// Layout: x viewed as (outer, d, inner), row-major and contiguous; the
// reduction runs over d, whose elements are `inner` apart. inner == 1 (the
// last dimension) takes a row-per-task fast path; otherwise columns of the
// (d, inner) slab are processed in fixed-width blocks, vectorised across inner.
// Max is subtracted before exp; sums are accumulated in double in a fixed order
// that depends only on the shape, so results are bitwise the same for any
// thread count. exp goes through Eigen's vectorised array exp; results
// below the smallest normal (e.g. exp(-inf) of a masked entry) are exactly 0.
// Outputs must not overlap inputs.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/parallel.hpp"

namespace genmodel::kernels::cpu {

namespace softmax_detail {

constexpr int64_t kGrain = int64_t(1) << 14;  // elements per task below which splitting does not pay
constexpr int64_t kBlock = 64;                // inner columns per task when inner > 1

template <class T>
using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

inline int64_t grain_rows(int64_t len) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)); }

/// Sum of f(i), i in [0, n), in double: 8 interleaved lanes combined pairwise.
template <class F>
inline double lane_sum(int64_t n, F&& f) {
  double a[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) a[l] += f(i + l);
  for (int l = 0; i < n; ++i, ++l) a[l] += f(i);
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/// exp(z) is flushed to exactly 0 below log(smallest normal), so masked
/// entries (-inf) get probability 0 (Eigen's vectorised exp clamps its input).
template <class T>
constexpr T exp_floor() {
  return std::is_same_v<T, float> ? T(-87.33f) : T(-708.39);
}

/// dst[j] = exp(src[j] - m), j < w, flushed as above; dst must not overlap src.
template <class T>
inline void exp_shifted(const T* src, T m, T* dst, int64_t w) {
  Arr<T>(dst, w) = (CArr<T>(src, w) - m).exp();
  const T lo = exp_floor<T>();
  for (int64_t j = 0; j < w; ++j) dst[j] = (src[j] - m) < lo ? T(0) : dst[j];
}

/// dst[j] = exp(src[j] - m[j]), j < w, flushed as above.
template <class T>
inline void exp_shifted(const T* src, const T* m, T* dst, int64_t w) {
  Arr<T>(dst, w) = (CArr<T>(src, w) - CArr<T>(m, w)).exp();
  const T lo = exp_floor<T>();
  for (int64_t j = 0; j < w; ++j) dst[j] = (src[j] - m[j]) < lo ? T(0) : dst[j];
}

inline void check(const char* op, int64_t outer, int64_t d, int64_t inner) {
  GM_CHECK(outer >= 0 && d >= 0 && inner >= 0, op, ": sizes must be non-negative, got outer=", outer,
           ", d=", d, ", inner=", inner);
}

/// Calls f(o, i0, w) for every (outer index, block of w <= kBlock inner columns).
template <class F>
void for_blocks(int64_t outer, int64_t d, int64_t inner, F&& f) {
  const int64_t nb = (inner + kBlock - 1) / kBlock;
  parallel_for(0, outer * nb, std::max<int64_t>(1, kGrain / std::max<int64_t>(d * std::min(inner, kBlock), 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / nb, i0 = (t % nb) * kBlock;
                   f(o, i0, std::min(kBlock, inner - i0));
                 }
               });
}

/// Forward for both: y = softmax (log == false) or log_softmax (log == true).
template <bool Log, class T>
void forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  if (outer == 0 || d == 0 || inner == 0) return;
  if (inner == 1) {
    parallel_for(0, outer, grain_rows(d), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* xr = x + o * d;
        T* yr = y + o * d;
        CArr<T> xa(xr, d);
        Arr<T> ya(yr, d);
        const T mx = xa.maxCoeff();  // a NaN anywhere makes the row NaN either way
        exp_shifted(xr, mx, yr, d);
        const double sum = lane_sum(d, [yr](int64_t j) { return double(yr[j]); });
        if constexpr (Log) ya = (xa - mx) - T(std::log(sum));
        else ya *= T(1.0 / sum);
      }
    });
    return;
  }
  for_blocks(outer, d, inner, [&](int64_t o, int64_t i0, int64_t w) {
    const int64_t base = o * d * inner + i0;
    T mx[kBlock];
    double sum[kBlock];
    std::copy(x + base, x + base + w, mx);
    std::fill(sum, sum + w, 0.0);
    Arr<T> mxa(mx, w);
    for (int64_t k = 1; k < d; ++k) mxa = mxa.max(CArr<T>(x + base + k * inner, w));
    for (int64_t k = 0; k < d; ++k) {
      T* yk = y + base + k * inner;
      exp_shifted(x + base + k * inner, mx, yk, w);
      for (int64_t j = 0; j < w; ++j) sum[j] += double(yk[j]);
    }
    T f[kBlock];
    for (int64_t j = 0; j < w; ++j) f[j] = Log ? T(std::log(sum[j])) : T(1.0 / sum[j]);
    CArr<T> fa(f, w);
    for (int64_t k = 0; k < d; ++k) {
      Arr<T> ya(y + base + k * inner, w);
      if constexpr (Log) ya = (CArr<T>(x + base + k * inner, w) - mxa) - fa;
      else ya *= fa;
    }
  });
}

}  // namespace softmax_detail

/// y = exp(x - max) / sum(exp(x - max)) along d of x (outer, d, inner).
template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  static_assert(std::is_floating_point_v<T>, "softmax: floating-point types only");
  softmax_detail::check("softmax", outer, d, inner);
  softmax_detail::forward<false>(x, y, outer, d, inner);
}

/// y = (x - max) - log(sum(exp(x - max))) along d of x (outer, d, inner).
template <class T>
void log_softmax_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  static_assert(std::is_floating_point_v<T>, "log_softmax: floating-point types only");
  softmax_detail::check("log_softmax", outer, d, inner);
  softmax_detail::forward<true>(x, y, outer, d, inner);
}

/// dx = y * (dy - sum_d(dy * y)), y the softmax output; all (outer, d, inner).
template <class T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner) {
  static_assert(std::is_floating_point_v<T>, "softmax: floating-point types only");
  using namespace softmax_detail;
  check("softmax_backward", outer, d, inner);
  if (outer == 0 || d == 0 || inner == 0) return;
  if (inner == 1) {
    parallel_for(0, outer, grain_rows(d), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T *dyr = dy + o * d, *yr = y + o * d;
        T* dxr = dx + o * d;
        const T s = T(lane_sum(d, [dyr, yr](int64_t j) { return double(dyr[j]) * double(yr[j]); }));
        for (int64_t j = 0; j < d; ++j) dxr[j] = yr[j] * (dyr[j] - s);
      }
    });
    return;
  }
  for_blocks(outer, d, inner, [&](int64_t o, int64_t i0, int64_t w) {
    const int64_t base = o * d * inner + i0;
    double sum[kBlock];
    std::fill(sum, sum + w, 0.0);
    for (int64_t k = 0; k < d; ++k) {
      const T *dyk = dy + base + k * inner, *yk = y + base + k * inner;
      for (int64_t j = 0; j < w; ++j) sum[j] += double(dyk[j]) * double(yk[j]);
    }
    T s[kBlock];
    for (int64_t j = 0; j < w; ++j) s[j] = T(sum[j]);
    for (int64_t k = 0; k < d; ++k) {
      const T *dyk = dy + base + k * inner, *yk = y + base + k * inner;
      T* dxk = dx + base + k * inner;
      for (int64_t j = 0; j < w; ++j) dxk[j] = yk[j] * (dyk[j] - s[j]);
    }
  });
}

/// dx = dy - exp(y) * sum_d(dy), y the log_softmax output; all (outer, d, inner).
template <class T>
void log_softmax_backward(const T* dy, const T* y, T* dx, int64_t outer, int64_t d, int64_t inner) {
  static_assert(std::is_floating_point_v<T>, "log_softmax: floating-point types only");
  using namespace softmax_detail;
  check("log_softmax_backward", outer, d, inner);
  if (outer == 0 || d == 0 || inner == 0) return;
  if (inner == 1) {
    parallel_for(0, outer, grain_rows(d), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* dyr = dy + o * d;
        const T s = T(lane_sum(d, [dyr](int64_t j) { return double(dyr[j]); }));
        T* dxr = dx + o * d;
        exp_shifted(y + o * d, T(0), dxr, d);
        Arr<T>(dxr, d) = CArr<T>(dyr, d) - Arr<T>(dxr, d) * s;
      }
    });
    return;
  }
  for_blocks(outer, d, inner, [&](int64_t o, int64_t i0, int64_t w) {
    const int64_t base = o * d * inner + i0;
    double sum[kBlock];
    std::fill(sum, sum + w, 0.0);
    for (int64_t k = 0; k < d; ++k) {
      const T* dyk = dy + base + k * inner;
      for (int64_t j = 0; j < w; ++j) sum[j] += double(dyk[j]);
    }
    T s[kBlock];
    for (int64_t j = 0; j < w; ++j) s[j] = T(sum[j]);
    CArr<T> sa(s, w);
    for (int64_t k = 0; k < d; ++k) {
      const int64_t off = base + k * inner;
      exp_shifted(y + off, T(0), dx + off, w);
      Arr<T>(dx + off, w) = CArr<T>(dy + off, w) - Arr<T>(dx + off, w) * sa;
    }
  });
}

}  // namespace genmodel::kernels::cpu
