// genmodel/autograd/node.hpp: one recorded operation of the define-by-run
// graph, and `record`, which every differentiable op calls after computing
// its forward result.
//
// A node keeps strong references to its inputs (the graph upstream) and a
// weak one to its output, which the engine hands back to the backward
// function: a formula that needs the output (exp, tanh, softmax) uses it as a
// graph tensor, so create_graph differentiates through it too, and no
// reference cycle output -> node -> output arises.
#pragma once

#include <cmath>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "genmodel/autograd/grad_mode.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel {

template <class T, class D>
struct Node {
  using TensorT = Tensor<T, D>;
  /// Gradients of the inputs, given the output's gradient, the output itself
  /// and a bit mask of the inputs that need one (bit i for input i); an
  /// undefined tensor for an input that needs none.
  using BackwardFn =
      std::function<std::vector<TensorT>(const TensorT& grad_out, const TensorT& out, unsigned needs)>;

  const char* name;
  std::vector<std::shared_ptr<TensorImpl<T, D>>> inputs;  // null where no grad is needed
  BackwardFn backward;                                     // cleared when the graph is freed
  std::weak_ptr<TensorImpl<T, D>> output;

  unsigned needs_mask() const {
    unsigned m = 0;
    for (size_t i = 0; i < inputs.size() && i < 32; ++i)
      if (inputs[i]) m |= 1u << i;
    return m;
  }
};

/// Whether input i is in a backward function's `needs` mask (inputs past
/// the 32nd are always computed).
inline bool needs_input(unsigned needs, int i) { return i >= 32 || ((needs >> i) & 1u); }

namespace detail {
template <class T, class D>
bool all_finite(const Tensor<T, D>& t) {
  const T* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}
}  // namespace detail

/// True when an op on these inputs must be recorded.
template <class T, class D, class Range>
bool needs_grad(const Range& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor<T, D>* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

/// Attaches a node named `name` to `out` when any input requires grad and
/// recording is on. `backward(grad_out, out, needs)` returns one gradient per
/// input, in order, written with differentiable ops.
template <class T, class D, class Range, class F>
const Tensor<T, D>& record_range(const Tensor<T, D>& out, const char* name, const Range& inputs, F&& backward) {
  if (AnomalyMode::is_enabled() && !detail::all_finite(out))
    throw Error(detail::concat("anomaly: op '", name, "' produced NaN or Inf in its output of shape ",
                               out.shape()));
  if (!needs_grad<T, D>(inputs)) return out;
  auto node = std::make_shared<Node<T, D>>();
  node->name = name;
  node->inputs.reserve(std::size(inputs));
  for (const Tensor<T, D>* t : inputs)
    node->inputs.push_back(t->defined() && t->requires_grad() ? t->impl_ptr() : nullptr);
  node->backward = std::forward<F>(backward);
  node->output = out.impl_ptr();
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::move(node);
  return out;
}

template <class T, class D, class F>
const Tensor<T, D>& record(const Tensor<T, D>& out, const char* name,
                           std::initializer_list<const Tensor<T, D>*> inputs, F&& backward) {
  return record_range(out, name, inputs, std::forward<F>(backward));
}

}  // namespace genmodel
