// genmodel/ops/sampling.hpp: dropout (a Philox mask times the input, so its
// gradient is the same mask) and embedding lookup (a row gather whose
// gradient is a deterministic scatter-add: the fused kernel, or index_add
// when the backward is recorded).
#pragma once

#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/shape_ops.hpp"

namespace genmodel {

template <class T, class D>
Tensor<T, D> dropout(const Tensor<T, D>& x, double p, bool training, Generator& gen) {
  GM_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  auto mask = Tensor<T, D>::empty(x.shape());
  kernels::Backend<D>::dropout_mask(gen, T(p), mask.data(), mask.numel());
  return mul(x, mask);
}

template <class T, class D>
Tensor<T, D> embedding(const Tensor<T, D>& weight, const Tensor<int64_t, D>& index) {
  GM_CHECK(weight.dim() == 2, "embedding: weight must be (num_embeddings, dim), got ", weight.shape());
  const int64_t num = weight.shape()[0], dim = weight.shape()[1];
  auto dims = index.shape().vec();
  dims.push_back(dim);
  auto out = Tensor<T, D>::empty(Shape(dims));
  kernels::Backend<D>::embedding_forward(index.data(), index.numel(), weight.data(), num, dim, out.data());
  return record(out, "embedding", {&weight}, [index, num, dim](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned) {
    if (!GradMode::is_enabled()) {
      auto dw = Tensor<T, D>::empty({num, dim});
      kernels::Backend<D>::embedding_backward(index.data(), index.numel(), g.data(), num, dim, dw.data());
      return detail::Grads<T, D>{dw};
    }
    return detail::Grads<T, D>{detail::index_add(Shape{num, dim}, 0, reshape(index, {-1}), reshape(g, {-1, dim}))};
  });
}

}  // namespace genmodel
