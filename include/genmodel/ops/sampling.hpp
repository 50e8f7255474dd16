// genmodel/ops/sampling.hpp: dropout (a Philox mask times the input, so its
// gradient is the same mask) and embedding lookup (index_select on the
// table's rows, whose gradient is a deterministic scatter-add).
#pragma once

#include "genmodel/kernels/cpu/dropout.hpp"
#include "genmodel/ops/shape_ops.hpp"

namespace genmodel {

template <class T, class D>
Tensor<T, D> dropout(const Tensor<T, D>& x, double p, bool training, Generator& gen) {
  GM_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  auto mask = Tensor<T, D>::empty(x.shape());
  kernels::cpu::dropout_mask(gen, T(p), mask.data(), mask.numel());
  return mul(x, mask);
}

template <class T, class D>
Tensor<T, D> embedding(const Tensor<T, D>& weight, const Tensor<int64_t, D>& index) {
  GM_CHECK(weight.dim() == 2, "embedding: weight must be (num_embeddings, dim), got ", weight.shape());
  auto dims = index.shape().vec();
  dims.push_back(weight.shape()[1]);
  return reshape(index_select(weight, 0, reshape(index, {-1})), dims);
}

}  // namespace genmodel
