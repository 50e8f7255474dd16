// genmodel/ops/conv.hpp: conv2d and conv_transpose2d. Both are built from
// three ops on one geometry (x -> y convolution):
//   y = conv(x, w)          dx = data_grad(gy, w)   dw = weight_grad(x, gy)
//   z = data_grad(u, w)     du = conv(gz, w)        dw = weight_grad(gz, u)
//   v = weight_grad(x, u)   dx = data_grad(u, gv)   du = conv(x, gv)
// Each gradient is again one of the three, so derivatives of any order
// (WGAN-GP, R1) are exact. A transposed convolution is data_grad on the
// geometry of the convolution it transposes.
#pragma once

#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/shape_ops.hpp"

namespace genmodel {

namespace detail {
using kernels::cpu::Conv2dGeometry;

inline Shape conv_x_shape(const Conv2dGeometry& g) { return {g.n, g.c, g.h, g.w}; }
inline Shape conv_y_shape(const Conv2dGeometry& g) { return {g.n, g.o, g.oh, g.ow}; }
inline Shape conv_w_shape(const Conv2dGeometry& g) { return {g.o, g.c / g.groups, g.kh, g.kw}; }

template <class T, class D>
Tensor<T, D> conv_data_grad(const Tensor<T, D>& u, const Tensor<T, D>& w, const Conv2dGeometry& geo);
template <class T, class D>
Tensor<T, D> conv_weight_grad(const Tensor<T, D>& x, const Tensor<T, D>& u, const Conv2dGeometry& geo);

template <class T, class D>
void check_channel_bias(const Tensor<T, D>& bias, int64_t channels, const char* op) {
  GM_CHECK(bias.dim() == 1 && bias.shape()[0] == channels, op, ": bias of shape ", bias.shape(), " for ",
           channels, " output channels");
}

/// conv(x, w) [+ bias per channel, fused into the kernel; its gradient is
/// the sum of gy over the batch and the plane].
template <class T, class D>
Tensor<T, D> conv_forward(const Tensor<T, D>& x, const Tensor<T, D>& w, const Conv2dGeometry& geo,
                          const Tensor<T, D>& bias = {}) {
  if (bias.defined()) check_channel_bias(bias, geo.o, "conv2d");
  auto y = Tensor<T, D>::empty(conv_y_shape(geo));
  kernels::Backend<D>::conv2d_forward(geo, x.data(), w.data(), y.data(), bias.defined() ? bias.data() : nullptr);
  return record(y, "conv2d", {&x, &w, &bias}, [x, w, geo](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    return Grads<T, D>{needs_input(needs, 0) ? conv_data_grad(g, w, geo) : Tensor<T, D>(),
                       needs_input(needs, 1) ? conv_weight_grad(x, g, geo) : Tensor<T, D>(),
                       needs_input(needs, 2) ? sum(g, {0, 2, 3}, false) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> conv_data_grad(const Tensor<T, D>& u, const Tensor<T, D>& w, const Conv2dGeometry& geo) {
  auto z = Tensor<T, D>::empty(conv_x_shape(geo));
  kernels::Backend<D>::conv2d_backward_data(geo, u.data(), w.data(), z.data());
  return record(z, "conv2d_data_grad", {&u, &w}, [u, w, geo](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    return Grads<T, D>{needs_input(needs, 0) ? conv_forward(g, w, geo) : Tensor<T, D>(),
                       needs_input(needs, 1) ? conv_weight_grad(g, u, geo) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> conv_weight_grad(const Tensor<T, D>& x, const Tensor<T, D>& u, const Conv2dGeometry& geo) {
  auto v = Tensor<T, D>::empty(conv_w_shape(geo));
  kernels::Backend<D>::conv2d_backward_weight(geo, x.data(), u.data(), v.data());
  return record(v, "conv2d_weight_grad", {&x, &u}, [x, u, geo](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    return Grads<T, D>{needs_input(needs, 0) ? conv_data_grad(u, g, geo) : Tensor<T, D>(),
                       needs_input(needs, 1) ? conv_forward(x, g, geo) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> add_channel_bias(const Tensor<T, D>& y, const Tensor<T, D>& bias, const char* op) {
  if (!bias.defined()) return y;
  check_channel_bias(bias, y.shape()[1], op);
  return add(y, reshape(bias, {1, y.shape()[1], 1, 1}));
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& weight, const Tensor<T, D>& bias, Size2 stride,
                    Size2 padding, Size2 dilation, int64_t groups) {
  GM_CHECK(x.dim() == 4, "conv2d: input must be (N, C, H, W), got ", x.shape());
  GM_CHECK(weight.dim() == 4, "conv2d: weight must be (out, in/groups, kh, kw), got ", weight.shape());
  GM_CHECK(groups > 0 && weight.shape()[1] * groups == x.shape()[1], "conv2d: weight ", weight.shape(), " with groups=",
           groups, " expects ", weight.shape()[1] * groups, " input channels, but the input ", x.shape(), " has ",
           x.shape()[1]);
  const auto geo = kernels::cpu::conv2d_geometry(x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3], weight.shape()[0],
                                                 weight.shape()[2], weight.shape()[3], stride.h, stride.w, padding.h,
                                                 padding.w, dilation.h, dilation.w, groups);
  return detail::conv_forward(x, weight, geo, bias);
}

template <class T, class D>
Tensor<T, D> conv_transpose2d(const Tensor<T, D>& x, const Tensor<T, D>& weight, const Tensor<T, D>& bias,
                              Size2 stride, Size2 padding, Size2 output_padding, Size2 dilation, int64_t groups) {
  GM_CHECK(x.dim() == 4, "conv_transpose2d: input must be (N, C, H, W), got ", x.shape());
  GM_CHECK(weight.dim() == 4 && weight.shape()[0] == x.shape()[1], "conv_transpose2d: weight must be (in, out/groups, kh, kw) "
           "with in = ", x.shape()[1], " input channels, got ", weight.shape());
  GM_CHECK(groups > 0 && x.shape()[1] % groups == 0, "conv_transpose2d: ", x.shape()[1], " input channels are not divisible by groups=", groups);
  const auto geo = kernels::cpu::conv_transpose2d_geometry(
      x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3], weight.shape()[1] * groups, weight.shape()[2],
      weight.shape()[3], stride.h, stride.w, padding.h, padding.w, output_padding.h, output_padding.w, dilation.h,
      dilation.w, groups);
  return detail::add_channel_bias(detail::conv_data_grad(x, weight, geo), bias, "conv_transpose2d");
}

}  // namespace genmodel
