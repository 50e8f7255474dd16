// genmodel/models/classifier_free_guidance.hpp: the pieces of
// classifier-free guidance (Ho & Salimans 2022) that DDPM<> and VAE<> share.
// Training replaces each label by a null label with probability p, so one
// network learns both the conditional and the unconditional model; sampling
// runs it on the batch twice, [labels; null], in one forward of 2B rows, and
// extrapolates from the unconditional output towards the conditional one:
//   out = uncond + s (cond - uncond)     (s = 1: conditional only, 0: unconditional)
// The network must accept labels in [0, null_label] (one more embedding row
// than classes).
#pragma once

#include <cstdint>

#include "genmodel/core/random.hpp"
#include "genmodel/ops.hpp"

namespace genmodel::models {

/// A copy of labels (B) with each entry replaced by null_label where a uniform draw from
/// gen (B of them, in T) falls below p.
template <class T, class D>
Tensor<int64_t, D> drop_labels(const Tensor<int64_t, D>& labels, double p, int64_t null_label, Generator& gen) {
  const int64_t b = labels.numel();
  // B labels, chosen on the host (the draws come from the device's own stream).
  auto y = Tensor<int64_t, cpu>::empty(labels.shape());
  const auto u = rand<T, D>(Shape{b}, gen).template to<cpu>();
  const auto given = labels.template to<cpu>();
  for (int64_t i = 0; i < b; ++i) y.data()[i] = double(u.data()[i]) < p ? null_label : given.data()[i];
  return y.template to<D>();
}

/// [labels; null_label repeated B times]: the 2B labels of one guided forward.
template <class D>
Tensor<int64_t, D> labels_then_null(const Tensor<int64_t, D>& labels, int64_t null_label) {
  return concat<int64_t, D>({labels, full<int64_t, D>(Shape{labels.size(0)}, null_label)}, 0);
}

/// both (2B, ...), the conditional rows above the unconditional ones -> uncond + s (cond - uncond).
template <class T, class D>
Tensor<T, D> guided(const Tensor<T, D>& both, double guidance_scale) {
  const int64_t b = both.size(0) / 2;
  const Tensor<T, D> cond = narrow(both, 0, 0, b), uncond = narrow(both, 0, b, b);
  return add(uncond, mul(sub(cond, uncond), T(guidance_scale)));
}

}  // namespace genmodel::models
