// genmodel/ops/norm.hpp: batch, layer and group normalisation. The forward
// is a fused kernel that also returns the mean and 1/std it used; the
// backward is the fused kernel too, unless the backward itself is being
// recorded (create_graph), in which case it is spelled in ops:
//   xhat = (x - mean) * rstd,  gx = g * gamma
//   dx = rstd * (gx - mean(gx) - xhat * mean(gx * xhat)),  means over the normalised dims
//   dgamma = sum(g * xhat), dbeta = sum(g),  sums over every other dim.
#pragma once

#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/shape_ops.hpp"

namespace genmodel {

namespace detail {
/// The differentiable backward above. xv, gv: x and g viewed so that `norm_dims`
/// are the normalised dims and `affine_dims` the dims the affine parameters
/// are shared over; gamma_b: gamma viewed to broadcast against xv (or undefined).
template <class T, class D>
std::array<Tensor<T, D>, 3> norm_backward_ops(const Tensor<T, D>& xv, const Tensor<T, D>& gv, const Tensor<T, D>& gamma_b,
                                              const Dims& norm_dims, const Dims& affine_dims, double eps) {
  const auto xc = sub(xv, mean(xv, norm_dims, true));
  const auto rstd = rsqrt(add(mean(mul(xc, xc), norm_dims, true), T(eps)));
  const auto xhat = mul(xc, rstd);
  const auto gx = gamma_b.defined() ? mul(gv, gamma_b) : gv;
  const auto dx = mul(rstd, sub(sub(gx, mean(gx, norm_dims, true)), mul(xhat, mean(mul(gx, xhat), norm_dims, true))));
  return {dx, sum(mul(gv, xhat), affine_dims, true), sum(gv, affine_dims, true)};
}

template <class T, class D>
void check_affine(const Tensor<T, D>& p, int64_t numel, const char* op, const char* what) {
  if (p.defined())
    GM_CHECK(p.numel() == numel, op, ": ", what, " of shape ", p.shape(), " should have ", numel, " elements");
}

template <class T, class D>
const T* data_or_null(const Tensor<T, D>& t) {
  return t.defined() ? t.data() : nullptr;
}

template <class T, class D>
Tensor<T, D> empty_if(bool want, const Shape& shape) {
  return want ? Tensor<T, D>::empty(shape) : Tensor<T, D>();
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> batch_norm(const Tensor<T, D>& x, const Tensor<T, D>& running_mean, const Tensor<T, D>& running_var,
                        const Tensor<T, D>& weight, const Tensor<T, D>& bias, bool training, double momentum, double eps) {
  GM_CHECK(x.dim() >= 2, "batch_norm: input must be (N, C) or (N, C, ...), got ", x.shape());
  const int64_t n = x.shape()[0], c = x.shape()[1], s = x.shape().prod(2, x.dim());
  for (const auto* p : {&weight, &bias, &running_mean, &running_var}) detail::check_affine(*p, c, "batch_norm", "parameter");
  std::vector<int64_t> bshape(x.dim(), 1);
  bshape[1] = c;
  if (!training) {  // a fixed affine map: plain ops
    GM_CHECK(running_mean.defined() && running_var.defined(), "batch_norm: eval mode needs running_mean and running_var");
    auto y = mul(sub(x, reshape(running_mean, bshape)), reshape(rsqrt(add(running_var, T(eps))), bshape));
    if (weight.defined()) y = mul(y, reshape(weight, bshape));
    if (bias.defined()) y = add(y, reshape(bias, bshape));
    return y;
  }
  GM_CHECK(n * s > 1, "batch_norm: training needs more than one value per channel, got input ", x.shape());
  auto y = Tensor<T, D>::empty(x.shape());
  auto save_mean = Tensor<T, D>::empty({c}), save_rstd = Tensor<T, D>::empty({c});
  kernels::Backend<D>::batch_norm_forward_train(x.data(), detail::data_or_null(weight), detail::data_or_null(bias), y.data(),
                                         save_mean.data(), save_rstd.data(), n, c, s, T(eps),
                                         running_mean.defined() ? running_mean.data() : nullptr,
                                         running_var.defined() ? running_var.data() : nullptr, T(momentum));
  return record(y, "batch_norm", {&x, &weight, &bias},
                [x, weight, save_mean, save_rstd, n, c, s, eps, bshape](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    if (!GradMode::is_enabled()) {
      auto dx = Tensor<T, D>::empty(x.shape());
      auto dw = detail::empty_if<T, D>(needs_input(needs, 1), {c}), db = detail::empty_if<T, D>(needs_input(needs, 2), {c});
      kernels::Backend<D>::batch_norm_backward(g.data(), x.data(), detail::data_or_null(weight), save_mean.data(), save_rstd.data(),
                                        dx.data(), dw.defined() ? dw.data() : nullptr, db.defined() ? db.data() : nullptr, n, c, s);
      return detail::Grads<T, D>{dx, dw, db};
    }
    const auto gamma_b = weight.defined() ? reshape(weight, {1, c, 1}) : Tensor<T, D>();
    auto [dx, dw, db] = detail::norm_backward_ops(reshape(x, {n, c, s}), reshape(g, {n, c, s}), gamma_b, {0, 2}, {0, 2}, eps);
    return detail::Grads<T, D>{reshape(dx, x.shape().vec()), reshape(dw, {c}), reshape(db, {c})};
  });
}

template <class T, class D>
Tensor<T, D> layer_norm(const Tensor<T, D>& x, int normalized_ndim, const Tensor<T, D>& weight, const Tensor<T, D>& bias,
                        double eps) {
  GM_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.dim(), "layer_norm: cannot normalise the last ", normalized_ndim,
           " dims of a tensor of shape ", x.shape());
  const int lead = x.dim() - normalized_ndim;
  const int64_t rows = x.shape().prod(0, lead), d = x.shape().prod(lead, x.dim());
  detail::check_affine(weight, d, "layer_norm", "weight");
  detail::check_affine(bias, d, "layer_norm", "bias");
  auto y = Tensor<T, D>::empty(x.shape());
  auto save_mean = Tensor<T, D>::empty({rows}), save_rstd = Tensor<T, D>::empty({rows});
  kernels::Backend<D>::layer_norm_forward(x.data(), detail::data_or_null(weight), detail::data_or_null(bias), y.data(),
                                   save_mean.data(), save_rstd.data(), rows, d, T(eps));
  return record(y, "layer_norm", {&x, &weight, &bias},
                [x, weight, bias, save_mean, save_rstd, rows, d, eps](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    if (!GradMode::is_enabled()) {
      auto dx = Tensor<T, D>::empty(x.shape());
      auto dw = detail::empty_if<T, D>(needs_input(needs, 1), weight.defined() ? weight.shape() : Shape{d});
      auto db = detail::empty_if<T, D>(needs_input(needs, 2), bias.defined() ? bias.shape() : Shape{d});
      kernels::Backend<D>::layer_norm_backward(g.data(), x.data(), detail::data_or_null(weight), save_mean.data(), save_rstd.data(),
                                        dx.data(), dw.defined() ? dw.data() : nullptr, db.defined() ? db.data() : nullptr, rows, d);
      return detail::Grads<T, D>{dx, dw, db};
    }
    const auto gamma_b = weight.defined() ? reshape(weight, {1, d}) : Tensor<T, D>();
    auto [dx, dw, db] = detail::norm_backward_ops(reshape(x, {rows, d}), reshape(g, {rows, d}), gamma_b, {1}, {0}, eps);
    return detail::Grads<T, D>{reshape(dx, x.shape().vec()),
                               weight.defined() ? reshape(dw, weight.shape().vec()) : Tensor<T, D>(),
                               bias.defined() ? reshape(db, bias.shape().vec()) : Tensor<T, D>()};
  });
}

template <class T, class D>
Tensor<T, D> group_norm(const Tensor<T, D>& x, int64_t groups, const Tensor<T, D>& weight, const Tensor<T, D>& bias,
                        double eps) {
  GM_CHECK(x.dim() >= 2, "group_norm: input must be (N, C, ...), got ", x.shape());
  const int64_t n = x.shape()[0], c = x.shape()[1], s = x.shape().prod(2, x.dim());
  GM_CHECK(groups > 0 && c % groups == 0, "group_norm: ", c, " channels are not divisible into ", groups, " groups");
  detail::check_affine(weight, c, "group_norm", "weight");
  detail::check_affine(bias, c, "group_norm", "bias");
  auto y = Tensor<T, D>::empty(x.shape());
  auto save_mean = Tensor<T, D>::empty({n * groups}), save_rstd = Tensor<T, D>::empty({n * groups});
  kernels::Backend<D>::group_norm_forward(x.data(), detail::data_or_null(weight), detail::data_or_null(bias), y.data(),
                                   save_mean.data(), save_rstd.data(), n, c, s, groups, T(eps));
  return record(y, "group_norm", {&x, &weight, &bias},
                [x, weight, save_mean, save_rstd, n, c, s, groups, eps](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    if (!GradMode::is_enabled()) {
      auto dx = Tensor<T, D>::empty(x.shape());
      auto dw = detail::empty_if<T, D>(needs_input(needs, 1), {c}), db = detail::empty_if<T, D>(needs_input(needs, 2), {c});
      kernels::Backend<D>::group_norm_backward(g.data(), x.data(), detail::data_or_null(weight), save_mean.data(), save_rstd.data(),
                                        dx.data(), dw.defined() ? dw.data() : nullptr, db.defined() ? db.data() : nullptr, n, c, s,
                                        groups);
      return detail::Grads<T, D>{dx, dw, db};
    }
    const int64_t cg = c / groups;
    const auto gamma_b = weight.defined() ? reshape(weight, {1, groups, cg, 1}) : Tensor<T, D>();
    auto [dx, dw, db] = detail::norm_backward_ops(reshape(x, {n, groups, cg, s}), reshape(g, {n, groups, cg, s}), gamma_b,
                                                  {2, 3}, {0, 3}, eps);
    return detail::Grads<T, D>{reshape(dx, x.shape().vec()), reshape(dw, {c}), reshape(db, {c})};
  });
}

}  // namespace genmodel
