// genmodel/ops/matmul.hpp: matrix products. Every product is one
// `matmul_t(a, b, ta, tb)` = op(a) @ op(b) (op = transpose when the flag is
// set), batched over a leading dim; its gradients are products of the same
// kind, so derivatives of any order come for free.
#pragma once

#include "genmodel/kernels/backend.hpp"
#include "genmodel/ops/shape_ops.hpp"

namespace genmodel {

/// op(a) @ op(b) for 2-d operands, or batched 3-d operands with equal batch.
template <class T, class D>
Tensor<T, D> matmul_t(const Tensor<T, D>& a, const Tensor<T, D>& b, bool ta, bool tb) {
  GM_CHECK(a.dim() == b.dim() && (a.dim() == 2 || a.dim() == 3), "matmul: operands of shapes ", a.shape(),
           " and ", b.shape(), " must both be 2-d or both 3-d");
  const bool batched = a.dim() == 3;
  const int r = batched ? 1 : 0;
  GM_CHECK(!batched || a.shape()[0] == b.shape()[0], "matmul: batch sizes differ in shapes ", a.shape(), " and ", b.shape());
  const int64_t batch = batched ? a.shape()[0] : 1;
  const int64_t m = a.shape()[r + (ta ? 1 : 0)], k = a.shape()[r + (ta ? 0 : 1)];
  const int64_t kb = b.shape()[r + (tb ? 1 : 0)], n = b.shape()[r + (tb ? 0 : 1)];
  GM_CHECK(k == kb, "matmul: inner dimensions differ: ", a.shape(), (ta ? "^T" : ""), " @ ", b.shape(), (tb ? "^T" : ""),
           " (", k, " vs ", kb, ")");
  auto out = Tensor<T, D>::empty(batched ? Shape{batch, m, n} : Shape{m, n});
  kernels::Backend<D>::gemm_batched(ta, tb, batch, m, n, k, T(1), a.data(), m * k, b.data(), k * n, T(0), out.data(), m * n);
  return record(out, "matmul", {&a, &b}, [a, b, ta, tb](const Tensor<T, D>& g, const Tensor<T, D>&, unsigned needs) {
    // C = op(A) op(B): dA = G op(B)^T (or its transpose), dB = op(A)^T G (or its transpose).
    Tensor<T, D> da, db;
    if (needs_input(needs, 0)) da = ta ? matmul_t(b, g, tb, true) : matmul_t(g, b, false, !tb);
    if (needs_input(needs, 1)) db = tb ? matmul_t(g, a, true, ta) : matmul_t(a, g, !ta, false);
    return detail::Grads<T, D>{da, db};
  });
}

template <class T, class D>
Tensor<T, D> matmul(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  if (a.dim() == 3 && b.dim() == 2) {  // a shared right operand: one 2-d product
    GM_CHECK(a.shape()[2] == b.shape()[0], "matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape());
    auto flat = matmul_t(reshape(a, {a.shape()[0] * a.shape()[1], a.shape()[2]}), b, false, false);
    return reshape(flat, {a.shape()[0], a.shape()[1], b.shape()[1]});
  }
  return matmul_t(a, b, false, false);
}

template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& x, const Tensor<T, D>& weight, const Tensor<T, D>& bias) {
  GM_CHECK(weight.dim() == 2, "linear: weight must be (out_features, in_features), got ", weight.shape());
  GM_CHECK(x.dim() >= 1 && x.shape().back() == weight.shape()[1], "linear: input of shape ", x.shape(),
           " does not end in in_features = ", weight.shape()[1], " (weight ", weight.shape(), ")");
  const auto x2 = x.dim() == 2 ? x : reshape(x, {-1, weight.shape()[1]});
  auto y = matmul_t(x2, weight, false, true);
  if (bias.defined()) {
    GM_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], "linear: bias of shape ", bias.shape(),
             " for ", weight.shape()[0], " output features");
    y = add(y, bias);
  }
  if (x.dim() == 2) return y;
  auto dims = x.shape().vec();
  dims.back() = weight.shape()[0];
  return reshape(y, dims);
}

}  // namespace genmodel
