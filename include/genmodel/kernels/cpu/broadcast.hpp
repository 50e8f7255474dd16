// genmodel/kernels/cpu/broadcast.hpp: NumPy broadcasting of two shapes and
// the strided loops behind every binary and ternary elementwise kernel.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "genmodel/core/device.hpp"
#include "genmodel/core/parallel.hpp"
#include "genmodel/core/shape.hpp"

namespace genmodel::kernels::cpu {

/// The broadcast shape of a and b (NumPy rules); throws naming `op`.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - a.size()), ib = i - (n - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    GM_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
             " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

namespace detail {
/// An iteration space of up to kMaxDims merged dims, with per-operand element
/// strides (0 where the operand is broadcast).
template <int N>
struct StridedSpace {
  int ndim = 0;
  std::array<int64_t, Shape::kMaxDims> size{};
  std::array<std::array<int64_t, Shape::kMaxDims>, N> stride{};

  StridedSpace(const Shape& out, const std::array<const Shape*, N>& in) {
    const int n = out.size();
    std::array<int64_t, N> acc;
    acc.fill(1);
    // Walk from the innermost dim outwards, computing strides and merging dims.
    std::array<int64_t, Shape::kMaxDims> sz{};
    std::array<std::array<int64_t, Shape::kMaxDims>, N> st{};
    int m = 0;
    for (int i = n - 1; i >= 0; --i) {
      if (out[i] == 1) continue;
      std::array<int64_t, N> s;
      for (int k = 0; k < N; ++k) {
        const Shape& sh = *in[k];
        const int j = i - (n - sh.size());
        const int64_t d = j >= 0 ? sh[j] : 1;
        s[k] = d == 1 ? 0 : acc[k];
        if (j >= 0) acc[k] *= d;
      }
      bool merge = m > 0;
      for (int k = 0; k < N && merge; ++k) merge = s[k] == st[k][m - 1] * sz[m - 1];
      if (merge) {
        sz[m - 1] *= out[i];
      } else {
        sz[m] = out[i];
        for (int k = 0; k < N; ++k) st[k][m] = s[k];
        ++m;
      }
    }
    // Reverse into outer-to-inner order.
    ndim = m;
    for (int d = 0; d < m; ++d) {
      size[d] = sz[m - 1 - d];
      for (int k = 0; k < N; ++k) stride[k][d] = st[k][m - 1 - d];
    }
  }
};
/// The N input offsets of flat output index i: sp is a StridedSpace on the
/// host or its by-value copy in a CUDA kernel (both have ndim, size, stride).
template <int N, class Space>
GENMODEL_HOST_DEVICE void strided_offsets(const Space& sp, int64_t i, int64_t* off) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = sp.ndim - 1; d >= 0; --d) {
    const int64_t q = i % sp.size[d];
    i /= sp.size[d];
    for (int k = 0; k < N; ++k) off[k] += q * sp.stride[k][d];
  }
}

}  // namespace detail

/// out[i] = f(a[ia], b[ib]) over the broadcast shape `out_shape`.
template <class TA, class TB, class TO, class F>
void broadcast_binary(const TA* a, const Shape& sa, const TB* b, const Shape& sb, TO* out,
                      const Shape& out_shape, F f) {
  const int64_t n = out_shape.numel();
  if (sa == out_shape && sb == out_shape) {
    parallel_for(0, n, 32768, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) out[i] = f(a[i], b[i]);
    });
    return;
  }
  detail::StridedSpace<2> sp(out_shape, {&sa, &sb});
  if (sp.ndim == 0) {  // every dim is 1
    out[0] = f(a[0], b[0]);
    return;
  }
  const int last = sp.ndim - 1;
  const int64_t inner = sp.size[last], rows = n / inner;
  const int64_t sa_in = sp.stride[0][last], sb_in = sp.stride[1][last];
  parallel_for(0, rows, std::max<int64_t>(1, 32768 / inner), [&](int64_t r0, int64_t r1) {
    std::array<int64_t, Shape::kMaxDims> idx{};
    int64_t oa = 0, ob = 0;
    for (int64_t r = r0, d = last - 1; d >= 0; --d) {  // multi-index of row r0
      idx[d] = r % sp.size[d];
      r /= sp.size[d];
      oa += idx[d] * sp.stride[0][d];
      ob += idx[d] * sp.stride[1][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      TO* o = out + r * inner;
      const TA* pa = a + oa;
      const TB* pb = b + ob;
      // Specialised inner loops so the common cases vectorise.
      if (sa_in == 1 && sb_in == 1)
        for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[j], pb[j]);
      else if (sa_in == 1 && sb_in == 0)
        for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[j], pb[0]);
      else if (sa_in == 0 && sb_in == 1)
        for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[0], pb[j]);
      else
        for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[j * sa_in], pb[j * sb_in]);
      for (int d = last - 1; d >= 0; --d) {  // advance the row multi-index
        oa += sp.stride[0][d];
        ob += sp.stride[1][d];
        if (++idx[d] < sp.size[d]) break;
        oa -= sp.stride[0][d] * sp.size[d];
        ob -= sp.stride[1][d] * sp.size[d];
        idx[d] = 0;
      }
    }
  });
}

/// out[i] = f(c[ic], a[ia], b[ib]) over the broadcast shape (used by where).
template <class TC, class T, class F>
void broadcast_ternary(const TC* c, const Shape& sc, const T* a, const Shape& sa, const T* b,
                       const Shape& sb, T* out, const Shape& out_shape, F f) {
  detail::StridedSpace<3> sp(out_shape, {&sc, &sa, &sb});
  const int64_t n = out_shape.numel();
  parallel_for(0, n, 32768, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t o[3];
      detail::strided_offsets<3>(sp, i, o);
      out[i] = f(c[o[0]], a[o[1]], b[o[2]]);
    }
  });
}

/// out = x broadcast to out_shape (a contiguous copy).
template <class T>
void broadcast_to(const T* x, const Shape& sx, T* out, const Shape& out_shape) {
  broadcast_binary(x, sx, x, Shape{}, out, out_shape, [](T v, T) { return v; });
}

}  // namespace genmodel::kernels::cpu
