// genmodel/ops/shape_ops.hpp: reshape (a free view), permute/transpose,
// narrow, concat/stack, index_select, gather/scatter_add, broadcast_to and
// clone. Everything but reshape writes a new contiguous tensor; each op's
// backward is its adjoint (narrow <-> embed, gather <-> scatter_add, ...).
#pragma once

#include <algorithm>
#include <cstring>
#include <numeric>

#include "genmodel/ops/reduce.hpp"

namespace genmodel {

namespace detail {
inline Shape infer_shape(const std::vector<int64_t>& dims, int64_t numel, const Shape& from) {
  Shape out;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      GM_CHECK(infer < 0, "reshape: only one dim can be -1 in the new shape of a tensor of shape ", from);
      infer = static_cast<int>(i);
      out.push_back(0);
    } else {
      GM_CHECK(dims[i] >= 0, "reshape: invalid dim ", dims[i], " in the new shape");
      out.push_back(dims[i]);
      known *= dims[i];
    }
  }
  if (infer >= 0) {
    GM_CHECK(known > 0 && numel % known == 0, "reshape: cannot infer -1 to reshape ", from, " (", numel,
             " elements) with the other dims multiplying to ", known);
    out[infer] = numel / known;
  }
  GM_CHECK(out.numel() == numel, "reshape: shape ", out, " (", out.numel(), " elements) is invalid for a tensor of shape ",
           from, " (", numel, " elements)");
  return out;
}

/// Copies x (outer, n, inner) into out (outer, total, inner) at position start along the middle.
template <class D, class T>
void copy_block(const T* x, int64_t outer, int64_t n, int64_t inner, T* out, int64_t total, int64_t start) {
  kernels::Backend<D>::copy_rows(out + start * inner, total * inner, x, n * inner, n * inner, outer);
}

/// The inverse of narrow: g placed at [start, start + len) of dim in zeros of `shape`.
template <class T, class D>
Tensor<T, D> embed(const Tensor<T, D>& g, const Shape& shape, int dim, int64_t start) {
  auto out = zeros<T, D>(shape);
  const int64_t n = g.shape()[dim];
  copy_block<D>(g.data(), shape.prod(0, dim), n, shape.prod(dim + 1, shape.size()), out.data(), shape[dim], start);
  return record(out, "narrow_backward", {&g}, [dim, start, n](const Tensor<T, D>& gg, const Tensor<T, D>&, unsigned) {
    return Grads<T, D>{narrow(gg, dim, start, n)};
  });
}

template <class T, class D>
void check_gather_shapes(const Shape& xs, int dim, const Shape& is, const char* op) {
  GM_CHECK(is.size() == xs.size(), op, ": index of shape ", is, " must have the rank of the data shape ", xs);
  for (int d = 0; d < xs.size(); ++d)
    GM_CHECK(d == dim || is[d] <= xs[d], op, ": index shape ", is, " exceeds data shape ", xs, " at dim ", d);
}

// The ops on indices already known to be in range: the public index ops
// check them once (a host copy on a GPU) and their backward passes, and
// max_pool2d's argmaxes, come here without a second look.
template <class T, class D>
Tensor<T, D> scatter_add_in_range(const Shape& shape, int d, const Tensor<int64_t, D>& index, const Tensor<T, D>& src);

/// x's slices at `index` along d.
template <class T, class D>
Tensor<T, D> index_select_in_range(const Tensor<T, D>& x, int d, const Tensor<int64_t, D>& index);

/// zeros(shape) with g's rows added at `index` along dim (the adjoint of index_select).
template <class T, class D>
Tensor<T, D> index_add(const Shape& shape, int dim, const Tensor<int64_t, D>& index, const Tensor<T, D>& g) {
  auto out = zeros<T, D>(shape);
  const int64_t outer = shape.prod(0, dim), inner = shape.prod(dim + 1, shape.size()), n = index.numel();
  kernels::Backend<D>::index_add_rows(g.data(), outer, n, inner, index.data(), out.data(), shape[dim]);
  return record(out, "index_add", {&g}, [dim, index](const Tensor<T, D>& gg, const Tensor<T, D>&, unsigned) {
    return Grads<T, D>{index_select_in_range(gg, dim, index)};
  });
}

template <class T, class D>
Tensor<T, D> index_select_in_range(const Tensor<T, D>& x, int d, const Tensor<int64_t, D>& index) {
  const int64_t n = index.numel(), limit = x.shape()[d];
  Shape out_shape = x.shape();
  out_shape[d] = n;
  auto out = Tensor<T, D>::empty(out_shape);
  const int64_t outer = x.shape().prod(0, d), inner = x.shape().prod(d + 1, x.dim());
  kernels::Backend<D>::index_select_rows(x.data(), outer, limit, inner, index.data(), n, out.data());
  return record(out, "index_select", {&x}, [shape = x.shape(), d, index](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return Grads<T, D>{index_add(shape, d, index, g)};
  });
}

/// x at `index` along d (index has x's rank).
template <class T, class D>
Tensor<T, D> gather_in_range(const Tensor<T, D>& x, int d, const Tensor<int64_t, D>& index) {
  auto out = Tensor<T, D>::empty(index.shape());
  kernels::Backend<D>::gather(x.data(), x.shape(), d, index.data(), index.shape(), out.data());
  return record(out, "gather", {&x}, [shape = x.shape(), d, index](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return Grads<T, D>{scatter_add_in_range(shape, d, index, g)};
  });
}

template <class T, class D>
Tensor<T, D> scatter_add_in_range(const Shape& shape, int d, const Tensor<int64_t, D>& index, const Tensor<T, D>& src) {
  auto out = zeros<T, D>(shape);
  kernels::Backend<D>::scatter_add(src.data(), index.shape(), d, index.data(), shape, out.data());
  return record(out, "scatter_add", {&src}, [d, index](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return Grads<T, D>{gather_in_range(g, d, index)};
  });
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> reshape(const Tensor<T, D>& x, const std::vector<int64_t>& dims) {
  const Shape shape = detail::infer_shape(dims, x.numel(), x.shape());
  auto out = Tensor<T, D>::from_storage(x.storage(), shape, x.storage_offset());
  if constexpr (!std::is_same_v<T, int64_t>)
    record(out, "reshape", {&x}, [from = x.shape()](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
      return detail::Grads<T, D>{reshape(g, from.vec())};
    });
  return out;
}

template <class T, class D>
Tensor<T, D> flatten(const Tensor<T, D>& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const int s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  GM_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  std::vector<int64_t> dims(x.shape().begin(), x.shape().begin() + s);
  dims.push_back(x.shape().prod(s, e + 1));
  dims.insert(dims.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, dims);
}

template <class T, class D>
Tensor<T, D> unsqueeze(const Tensor<T, D>& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  auto dims = x.shape().vec();
  dims.insert(dims.begin() + d, 1);
  return reshape(x, dims);
}

template <class T, class D>
Tensor<T, D> squeeze(const Tensor<T, D>& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "squeeze");
  GM_CHECK(x.shape()[d] == 1, "squeeze: dim ", dim, " of shape ", x.shape(), " has size ", x.shape()[d], ", not 1");
  auto dims = x.shape().vec();
  dims.erase(dims.begin() + d);
  return reshape(x, dims);
}

template <class T, class D>
Tensor<T, D> permute(const Tensor<T, D>& x, const std::vector<int>& perm_in) {
  GM_CHECK(static_cast<int>(perm_in.size()) == x.dim(), "permute: ", perm_in.size(), " dims given for a tensor of shape ", x.shape());
  std::vector<int> perm, seen(x.dim(), 0);
  Shape out_shape;
  for (int p : perm_in) {
    const int d = wrap_dim(p, x.dim(), "permute");
    GM_CHECK(!seen[d]++, "permute: dim ", p, " appears twice");
    perm.push_back(d);
    out_shape.push_back(x.shape()[d]);
  }
  auto out = Tensor<T, D>::empty(out_shape);
  kernels::Backend<D>::permute(x.data(), x.shape(), perm, out.data());
  return record(out, "permute", {&x}, [perm](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    std::vector<int> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int>(i);
    return detail::Grads<T, D>{permute(g, inverse)};
  });
}

template <class T, class D>
Tensor<T, D> transpose(const Tensor<T, D>& x, int64_t d0, int64_t d1) {
  std::vector<int> perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[wrap_dim(d0, x.dim(), "transpose")], perm[wrap_dim(d1, x.dim(), "transpose")]);
  return permute(x, perm);
}

template <class T, class D>
Tensor<T, D> narrow(const Tensor<T, D>& x, int64_t dim, int64_t start, int64_t length) {
  const int d = wrap_dim(dim, x.dim(), "narrow");
  GM_CHECK(start >= 0 && length >= 0 && start + length <= x.shape()[d], "narrow: [", start, ", ", start + length,
           ") is out of range for dim ", d, " of shape ", x.shape());
  Shape out_shape = x.shape();
  out_shape[d] = length;
  auto out = Tensor<T, D>::empty(out_shape);
  const int64_t outer = x.shape().prod(0, d), inner = x.shape().prod(d + 1, x.dim()), total = x.shape()[d];
  kernels::Backend<D>::copy_rows(out.data(), length * inner, x.data() + start * inner, total * inner, length * inner, outer);
  return record(out, "narrow", {&x}, [shape = x.shape(), d, start](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{detail::embed(g, shape, d, start)};
  });
}

template <class T, class D>
Tensor<T, D> concat(const std::vector<Tensor<T, D>>& xs, int64_t dim) {
  GM_CHECK(!xs.empty(), "concat: no tensors given");
  const int d = wrap_dim(dim, xs[0].dim(), "concat");
  Shape out_shape = xs[0].shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    GM_CHECK(xs[i].dim() == out_shape.size(), "concat: tensor ", i, " has shape ", xs[i].shape(), ", rank differs from ", xs[0].shape());
    for (int k = 0; k < out_shape.size(); ++k)
      GM_CHECK(k == d || xs[i].shape()[k] == xs[0].shape()[k], "concat: tensor ", i, " has shape ", xs[i].shape(),
               ", which differs from ", xs[0].shape(), " outside dim ", d);
    out_shape[d] += xs[i].shape()[d];
  }
  auto out = Tensor<T, D>::empty(out_shape);
  const int64_t outer = out_shape.prod(0, d), inner = out_shape.prod(d + 1, out_shape.size());
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const auto& x : xs) {
    detail::copy_block<D>(x.data(), outer, x.shape()[d], inner, out.data(), out_shape[d], start);
    starts.push_back(start);
    start += x.shape()[d];
  }
  std::vector<const Tensor<T, D>*> inputs;
  std::vector<int64_t> lengths;
  for (const auto& x : xs) {
    inputs.push_back(&x);
    lengths.push_back(x.shape()[d]);
  }
  record_range(out, "concat", inputs, [d, starts, lengths](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    detail::Grads<T, D> gs;
    for (size_t i = 0; i < starts.size(); ++i)
      gs.push_back(needs_input(needs, int(i)) ? narrow(g, d, starts[i], lengths[i]) : Tensor<T, D>());
    return gs;
  });
  return out;
}

template <class T, class D>
Tensor<T, D> stack(const std::vector<Tensor<T, D>>& xs, int64_t dim) {
  GM_CHECK(!xs.empty(), "stack: no tensors given");
  std::vector<Tensor<T, D>> parts;
  for (const auto& x : xs) {
    GM_CHECK(x.shape() == xs[0].shape(), "stack: shapes ", xs[0].shape(), " and ", x.shape(), " differ");
    parts.push_back(unsqueeze(x, dim < 0 ? dim + x.dim() + 1 : dim));
  }
  return concat(parts, dim < 0 ? dim + xs[0].dim() + 1 : dim);
}

template <class T, class D>
Tensor<T, D> index_select(const Tensor<T, D>& x, int64_t dim, const Tensor<int64_t, D>& index) {
  const int d = wrap_dim(dim, x.dim(), "index_select");
  GM_CHECK(index.dim() <= 1, "index_select: index must be 1-d, got shape ", index.shape());
  kernels::Backend<D>::check_index_range(index.data(), index.numel(), x.shape()[d], "index_select");
  return detail::index_select_in_range(x, d, index);
}

template <class T, class D>
Tensor<T, D> gather(const Tensor<T, D>& x, int64_t dim, const Tensor<int64_t, D>& index) {
  const int d = wrap_dim(dim, x.dim(), "gather");
  detail::check_gather_shapes<T, D>(x.shape(), d, index.shape(), "gather");
  kernels::Backend<D>::check_index_range(index.data(), index.numel(), x.shape()[d], "gather");
  return detail::gather_in_range(x, d, index);
}

template <class T, class D>
Tensor<T, D> scatter_add(const Shape& shape, int64_t dim, const Tensor<int64_t, D>& index, const Tensor<T, D>& src) {
  const int d = wrap_dim(dim, shape.size(), "scatter_add");
  detail::check_gather_shapes<T, D>(shape, d, index.shape(), "scatter_add");
  GM_CHECK(src.shape() == index.shape(), "scatter_add: src of shape ", src.shape(), " must match index shape ", index.shape());
  kernels::Backend<D>::check_index_range(index.data(), index.numel(), shape[d], "scatter_add");
  return detail::scatter_add_in_range(shape, d, index, src);
}

template <class T, class D>
Tensor<T, D> broadcast_to(const Tensor<T, D>& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  GM_CHECK(kernels::cpu::broadcast_shapes(x.shape(), shape, "broadcast_to") == shape, "broadcast_to: shape ",
           x.shape(), " cannot be broadcast to ", shape);
  auto out = Tensor<T, D>::empty(shape);
  kernels::Backend<D>::broadcast_to(x.data(), x.shape(), out.data(), shape);
  return record(out, "broadcast_to", {&x}, [from = x.shape()](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{sum_to(g, from)};
  });
}

template <class T, class D>
Tensor<T, D> clone(const Tensor<T, D>& x) {
  auto out = x.clone_data();
  return record(out, "clone", {&x}, [](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    return detail::Grads<T, D>{g};
  });
}

}  // namespace genmodel
