// genmodel/ops/reduce.hpp: reductions over any set of dims with keepdim
// (sum, mean, max, min, var, logsumexp, norm, argmax) and sum_to, the adjoint
// of broadcasting. Reduced dims that are not adjacent are first permuted to
// the end, so the kernel always sees (outer, r, inner).
#pragma once

#include <algorithm>
#include <numeric>

#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/elementwise.hpp"

namespace genmodel {

namespace detail {
/// Sorted, unique, wrapped dims; empty means every dim.
inline std::vector<int> reduce_dims(const Dims& dims, int ndim, const char* op) {
  std::vector<int> out;
  if (dims.empty()) {
    out.resize(ndim);
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  GM_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": a dim appears twice in the reduction dims");
  return out;
}

inline Shape reduced_shape(const Shape& s, const std::vector<int>& dims, bool keepdim) {
  Shape out;
  for (int d = 0; d < s.size(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(s[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

/// Runs `kernel(data, outer, r, inner)` on x arranged so the reduced dims
/// form the middle axis (permuting a copy when they are not adjacent).
template <class T, class D, class K>
void with_middle_axis(const Tensor<T, D>& x, const std::vector<int>& dims, K kernel) {
  const Shape& s = x.shape();
  if (dims.empty() || s.size() == 0) {
    kernel(x.data(), s.numel(), int64_t(1), int64_t(1));
    return;
  }
  if (dims.back() - dims.front() + 1 == static_cast<int>(dims.size())) {
    kernel(x.data(), s.prod(0, dims.front()), s.prod(dims.front(), dims.back() + 1), s.prod(dims.back() + 1, s.size()));
    return;
  }
  std::vector<int> perm;
  for (int d = 0; d < s.size(); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) perm.push_back(d);
  int64_t r = 1;
  for (int d : dims) {
    perm.push_back(d);
    r *= s[d];
  }
  auto tmp = Tensor<T, D>::empty(Shape{s.numel()});
  kernels::Backend<D>::permute(x.data(), s, perm, tmp.data());
  kernel(tmp.data(), s.numel() / std::max<int64_t>(r, 1), r, int64_t(1));
}

template <class T, class D>
Tensor<T, D> reduce_forward(const Tensor<T, D>& x, const std::vector<int>& dims, bool keepdim,
                            kernels::cpu::ReduceOp op, const char* name) {
  const Shape out_shape = reduced_shape(x.shape(), dims, keepdim);
  auto out = Tensor<T, D>::empty(out_shape);
  if (x.numel() == 0) {
    GM_CHECK(op == kernels::cpu::ReduceOp::sum, name, ": cannot reduce an empty tensor of shape ", x.shape());
    kernels::Backend<D>::fill(out.data(), out.numel(), T(0));
    return out;
  }
  with_middle_axis(x, dims, [&](const T* p, int64_t outer, int64_t r, int64_t inner) {
    kernels::Backend<D>::reduce_middle(p, out.data(), outer, r, inner, op);
  });
  return out;
}

/// g (reduced shape) reshaped with kept dims and broadcast back to `shape`.
template <class T, class D>
Tensor<T, D> expand_reduced(const Tensor<T, D>& g, const Shape& shape, const std::vector<int>& dims) {
  return broadcast_to(reshape(g, reduced_shape(shape, dims, true).vec()), shape);
}

template <class T, class D>
Tensor<T, D> extremum(const Tensor<T, D>& x, const Dims& dims_in, bool keepdim, kernels::cpu::ReduceOp op,
                      const char* name) {
  const auto dims = reduce_dims(dims_in, x.dim(), name);
  auto out = reduce_forward(x, dims, keepdim, op, name);
  return record_using_output(out, name, {&x}, [x, dims](const Tensor<T, D>& g, const Tensor<T, D>& out, unsigned) {
    // Ties share the gradient evenly, like torch.amax.
    const auto mask = eq(x, expand_reduced(out.detach(), x.shape(), dims));
    const auto count = sum(mask, Dims(dims.begin(), dims.end()), true);
    return Grads<T, D>{div(mul(expand_reduced(g, x.shape(), dims), mask), count)};
  });
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> sum(const Tensor<T, D>& x, const Dims& dims_in, bool keepdim) {
  const auto dims = detail::reduce_dims(dims_in, x.dim(), "sum");
  auto out = detail::reduce_forward(x, dims, keepdim, kernels::cpu::ReduceOp::sum, "sum");
  return record(out, "sum", {&x}, [shape = x.shape(), dims](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{detail::expand_reduced(g, shape, dims)};
  });
}

template <class T, class D>
Tensor<T, D> sum(const Tensor<T, D>& x) {
  return sum(x, Dims{}, false);
}

template <class T, class D>
Tensor<T, D> mean(const Tensor<T, D>& x, const Dims& dims_in, bool keepdim) {
  const auto dims = detail::reduce_dims(dims_in, x.dim(), "mean");
  int64_t count = 1;
  for (int d : dims) count *= x.shape()[d];
  GM_CHECK(count > 0, "mean: cannot average over zero elements (shape ", x.shape(), ")");
  return mul(sum(x, dims_in, keepdim), T(1) / T(count));
}

template <class T, class D>
Tensor<T, D> mean(const Tensor<T, D>& x) {
  return mean(x, Dims{}, false);
}

template <class T, class D>
Tensor<T, D> max(const Tensor<T, D>& x, const Dims& dims, bool keepdim) {
  return detail::extremum(x, dims, keepdim, kernels::cpu::ReduceOp::max, "max");
}
template <class T, class D>
Tensor<T, D> max(const Tensor<T, D>& x) {
  return max(x, Dims{}, false);
}
template <class T, class D>
Tensor<T, D> min(const Tensor<T, D>& x, const Dims& dims, bool keepdim) {
  return detail::extremum(x, dims, keepdim, kernels::cpu::ReduceOp::min, "min");
}
template <class T, class D>
Tensor<T, D> min(const Tensor<T, D>& x) {
  return min(x, Dims{}, false);
}

template <class T, class D>
Tensor<T, D> var(const Tensor<T, D>& x, const Dims& dims_in, bool keepdim, int64_t correction) {
  const auto dims = detail::reduce_dims(dims_in, x.dim(), "var");
  int64_t count = 1;
  for (int d : dims) count *= x.shape()[d];
  GM_CHECK(count - correction > 0, "var: ", count, " elements with correction ", correction,
           " leave no degrees of freedom");
  const auto centred = sub(x, mean(x, dims_in, true));
  return mul(sum(mul(centred, centred), dims_in, keepdim), T(1) / T(count - correction));
}

template <class T, class D>
Tensor<T, D> logsumexp(const Tensor<T, D>& x, const Dims& dims, bool keepdim) {
  const auto m = max(x, dims, true).detach();  // a constant shift: the gradient is softmax either way
  auto out = add(log(sum(exp(sub(x, m)), dims, true)), m);
  return keepdim ? out : reshape(out, detail::reduced_shape(x.shape(), detail::reduce_dims(dims, x.dim(), "logsumexp"), false).vec());
}

template <class T, class D>
Tensor<T, D> norm(const Tensor<T, D>& x, const Dims& dims, bool keepdim) {
  return sqrt(sum(mul(x, x), dims, keepdim));
}

template <class T, class D>
Tensor<int64_t, D> argmax(const Tensor<T, D>& x, int64_t dim, bool keepdim) {
  const int d = wrap_dim(dim, x.dim(), "argmax");
  GM_CHECK(x.shape()[d] > 0, "argmax: dim ", d, " of shape ", x.shape(), " is empty");
  auto out = Tensor<int64_t, D>::empty(detail::reduced_shape(x.shape(), {d}, keepdim));
  kernels::Backend<D>::argmax_middle(x.data(), out.data(), x.shape().prod(0, d), x.shape()[d], x.shape().prod(d + 1, x.dim()));
  return out;
}

template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int lead = x.dim() - shape.size();
  GM_CHECK(lead >= 0, "sum_to: cannot sum shape ", x.shape(), " to the larger rank of ", shape);
  Dims dims;
  for (int d = 0; d < x.dim(); ++d) {
    if (d < lead) dims.push_back(d);
    else if (shape[d - lead] == 1 && x.shape()[d] != 1) dims.push_back(d);
    else GM_CHECK(shape[d - lead] == x.shape()[d], "sum_to: shape ", x.shape(), " does not broadcast from ", shape);
  }
  if (dims.empty()) return reshape(x, shape.vec());
  return reshape(sum(x, dims, true), shape.vec());
}

}  // namespace genmodel
