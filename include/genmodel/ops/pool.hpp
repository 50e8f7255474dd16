// genmodel/ops/pool.hpp: max and average pooling, nearest and bilinear
// upsampling. Average pooling and both upsamplings are linear maps, recorded
// as an adjoint pair (the backward of one is the other), and max pooling is a
// gather at the argmax positions, whose adjoint is scatter_add.
#pragma once

#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/shape_ops.hpp"

namespace genmodel {

namespace detail {
/// out = A x for a linear map A given by kernel `fwd` (x -> out) and its
/// adjoint `adj`; the backward is the adjoint applied the same way.
template <class T, class D, class Fwd, class Adj>
Tensor<T, D> apply_linear(const Tensor<T, D>& x, const Shape& out_shape, const char* name, const char* adj_name,
                          Fwd fwd, Adj adj) {
  auto out = Tensor<T, D>::empty(out_shape);
  fwd(x.data(), out.data());
  return record(out, name, {&x}, [in_shape = x.shape(), name, adj_name, fwd, adj](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return Grads<T, D>{apply_linear(g, in_shape, adj_name, name, adj, fwd)};
  });
}

inline void check_nchw(const Shape& s, const char* op) {
  GM_CHECK(s.size() == 4, op, ": input must be (N, C, H, W), got ", s);
}

inline kernels::cpu::Pool2dGeometry pool_geometry(const Shape& s, Size2 kernel, Size2 stride, Size2 padding) {
  return kernels::cpu::pool2d_geometry(s[0], s[1], s[2], s[3], kernel.h, kernel.w, stride.h ? stride.h : kernel.h,
                                       stride.w ? stride.w : kernel.w, padding.h, padding.w);
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& x, Size2 kernel, Size2 stride, Size2 padding) {
  detail::check_nchw(x.shape(), "max_pool2d");
  const auto geo = detail::pool_geometry(x.shape(), kernel, stride, padding);
  auto out = Tensor<T, D>::empty({geo.n, geo.c, geo.oh, geo.ow});
  auto idx = Tensor<int64_t, D>::empty({geo.n * geo.c, geo.oh * geo.ow});
  kernels::Backend<D>::max_pool2d_forward(geo, x.data(), out.data(), idx.data());
  return record(out, "max_pool2d", {&x}, [idx, shape = x.shape()](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    const Shape planes{shape[0] * shape[1], shape[2] * shape[3]};
    return detail::Grads<T, D>{
        reshape(detail::scatter_add_in_range(planes, 1, idx, reshape(g, idx.shape().vec())), shape.vec())};
  });
}

template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& x, Size2 kernel, Size2 stride, Size2 padding) {
  detail::check_nchw(x.shape(), "avg_pool2d");
  const auto geo = detail::pool_geometry(x.shape(), kernel, stride, padding);
  return detail::apply_linear(
      x, Shape{geo.n, geo.c, geo.oh, geo.ow}, "avg_pool2d", "avg_pool2d_backward",
      [geo](const T* in, T* out) { kernels::Backend<D>::avg_pool2d_forward(geo, in, out); },
      [geo](const T* in, T* out) { kernels::Backend<D>::avg_pool2d_backward(geo, in, out); });
}

template <class T, class D>
Tensor<T, D> upsample_nearest2d(const Tensor<T, D>& x, Size2 size) {
  detail::check_nchw(x.shape(), "upsample_nearest2d");
  GM_CHECK(size.h > 0 && size.w > 0, "upsample_nearest2d: output size must be positive, got ", size.h, "x", size.w);
  const int64_t nc = x.shape()[0] * x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  return detail::apply_linear(
      x, Shape{x.shape()[0], x.shape()[1], size.h, size.w}, "upsample_nearest2d", "upsample_nearest2d_backward",
      [=](const T* in, T* out) { kernels::Backend<D>::upsample_nearest2d_forward(in, out, nc, h, w, size.h, size.w); },
      [=](const T* in, T* out) { kernels::Backend<D>::upsample_nearest2d_backward(in, out, nc, h, w, size.h, size.w); });
}

template <class T, class D>
Tensor<T, D> upsample_bilinear2d(const Tensor<T, D>& x, Size2 size, bool align_corners) {
  detail::check_nchw(x.shape(), "upsample_bilinear2d");
  GM_CHECK(size.h > 0 && size.w > 0, "upsample_bilinear2d: output size must be positive, got ", size.h, "x", size.w);
  const int64_t nc = x.shape()[0] * x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  return detail::apply_linear(
      x, Shape{x.shape()[0], x.shape()[1], size.h, size.w}, "upsample_bilinear2d", "upsample_bilinear2d_backward",
      [=](const T* in, T* out) { kernels::Backend<D>::upsample_bilinear2d_forward(in, out, nc, h, w, size.h, size.w, align_corners); },
      [=](const T* in, T* out) { kernels::Backend<D>::upsample_bilinear2d_backward(in, out, nc, h, w, size.h, size.w, align_corners); });
}

}  // namespace genmodel
