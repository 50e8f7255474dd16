// genmodel/losses/classification.hpp: binary cross-entropy on
// probabilities and on logits, and cross-entropy over classes, like
// torch.nn.functional.binary_cross_entropy(_with_logits) and cross_entropy.
#pragma once

#include <cmath>

#include "genmodel/losses/reduction.hpp"

namespace genmodel::losses {

/// -(t log p + (1 - t) log(1 - p)), p in [0, 1]. The logs are kept above
/// about -100 (p is clamped at e^-100), as PyTorch clamps them, so p = 0 or 1
/// gives a finite loss. Prefer bce_with_logits: it is exact for any logit.
template <class T, class D>
Tensor<T, D> bce(const Tensor<T, D>& prob, const Tensor<T, D>& target, Reduction r = Reduction::mean) {
  detail::check_same_shape("bce", "prob", prob, "target", target);
  const auto host = prob.template to<cpu>();  // prob itself on the CPU
  const T* p = host.data();
  for (int64_t i = 0, n = prob.numel(); i < n; ++i)
    GM_CHECK(p[i] >= T(0) && p[i] <= T(1), "bce: prob must lie in [0, 1], element ", i, " of shape ",
             prob.shape(), " is ", p[i]);
  const T tiny = T(std::exp(-100.0));
  const auto log_p = log(clamp(prob, tiny, T(1)));
  const auto log_1mp = log(clamp(rsub(T(1), prob), tiny, T(1)));
  return detail::reduce(neg(add(mul(target, log_p), mul(rsub(T(1), target), log_1mp))), r);
}

/// bce(sigmoid(x), t) = max(x, 0) - x t + log(1 + e^-|x|), computed as
/// softplus(x) - x t: the softplus op evaluates exactly that stable form and
/// differentiates to sigmoid(x), where composing relu and abs would give the
/// wrong gradient at x = 0.
template <class T, class D>
Tensor<T, D> bce_with_logits(const Tensor<T, D>& logits, const Tensor<T, D>& target, Reduction r = Reduction::mean) {
  detail::check_same_shape("bce_with_logits", "logits", logits, "target", target);
  return detail::reduce(sub(softplus(logits), mul(logits, target)), r);
}

/// -log softmax(logits)[label] per row; logits (N, C), labels (N) in [0, C).
/// Reduction::none gives shape (N).
template <class T, class D>
Tensor<T, D> cross_entropy(const Tensor<T, D>& logits, const Tensor<int64_t, D>& labels,
                           Reduction r = Reduction::mean) {
  GM_CHECK(logits.defined() && labels.defined(), "cross_entropy: undefined logits or labels");
  GM_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0),
           "cross_entropy: logits must be (N, C) and labels (N), got logits of shape ", logits.shape(),
           " and labels of shape ", labels.shape());
  const int64_t n = logits.size(0), c = logits.size(1);
  const auto given = labels.template to<cpu>();  // labels itself on the CPU
  for (int64_t i = 0; i < n; ++i)
    GM_CHECK(given.data()[i] >= 0 && given.data()[i] < c, "cross_entropy: label ", given.data()[i],
             " at row ", i, " is outside [0, ", c, ") for logits of shape ", logits.shape());
  const auto index = Tensor<int64_t, D>::from_storage(labels.storage(), Shape{n, 1}, labels.storage_offset());
  const auto picked = gather(log_softmax(logits, 1), 1, index);  // (N, 1)
  return detail::reduce(neg(reshape(picked, {n})), r);
}

}  // namespace genmodel::losses
