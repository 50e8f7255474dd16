// genmodel/autograd/node.hpp: one recorded operation of the define-by-run
// graph, and `record`, which every differentiable op calls after computing
// its forward result.
//
// A node keeps its inputs only as graph edges: a leaf input by its tensor
// (parameters accumulate .grad), any other input by a storage-free alias that
// carries the shape and the producing node. What a backward formula needs of
// an input's values it captures itself, so the graph keeps alive exactly the
// saved tensors (as PyTorch does), not every intermediate activation.
//
// The output is held weakly (no cycle output -> node -> output). A formula
// that needs it (exp, tanh, softmax) is recorded with record_using_output:
// the node then keeps the output's storage, and the engine hands the
// backward a graph tensor on it, so create_graph differentiates through it.
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
struct Node : std::enable_shared_from_this<Node<T, D>> {
  using TensorT = Tensor<T, D>;
  /// Gradients of the inputs, given the output's gradient, the output itself
  /// and a bit mask of the inputs that need one (bit i for input i); an
  /// undefined tensor for an input that needs none.
  using BackwardFn =
      std::function<std::vector<TensorT>(const TensorT& grad_out, const TensorT& out, unsigned needs)>;

  const char* name;
  std::vector<std::shared_ptr<TensorImpl<T, D>>> inputs;  // edges as above; null where no grad is needed
  BackwardFn backward;                                     // cleared when the graph is freed
  std::weak_ptr<TensorImpl<T, D>> output;
  TensorT saved_output;  // the output's storage, graph-free; only for record_using_output

  /// The output as a graph tensor (grad_fn = this node), for the backward
  /// formula; undefined unless the op was recorded with record_using_output,
  /// so that a formula which uses `out` without saying so fails every time.
  TensorT output_for_backward() {
    if (!saved_output.defined()) return {};
    if (auto out = output.lock()) return TensorT(std::move(out));
    auto impl = std::make_shared<TensorImpl<T, D>>(saved_output.impl());
    impl->requires_grad = true;
    impl->grad_fn = this->shared_from_this();
    return TensorT(std::move(impl));
  }

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
  const auto host = t.template to<cpu>();  // anomaly mode is for debugging: a copy is fine
  const T* p = host.data();
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

namespace detail {
/// The edge a node keeps to input t: t itself for a leaf, else an alias
/// with t's shape and producer but no storage.
template <class T, class D>
std::shared_ptr<TensorImpl<T, D>> graph_edge(const Tensor<T, D>& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.is_leaf()) return t.impl_ptr();
  auto edge = std::make_shared<TensorImpl<T, D>>();
  edge->shape = t.shape();
  edge->requires_grad = true;
  edge->grad_fn = t.grad_fn();
  return edge;
}
}  // namespace detail

/// Attaches a node named `name` to `out` when any input requires grad and
/// recording is on. `backward(grad_out, out, needs)` returns one gradient per
/// input, in order, written with differentiable ops. A formula that uses
/// `out` must be recorded with record_using_output: otherwise `out` is
/// defined only while something else still holds the output.
template <class T, class D, class Range, class F>
const Tensor<T, D>& record_range(const Tensor<T, D>& out, const char* name, const Range& inputs, F&& backward,
                                 bool uses_output = false) {
  if (AnomalyMode::is_enabled() && !detail::all_finite(out))
    throw Error(detail::concat("anomaly: op '", name, "' produced NaN or Inf in its output of shape ",
                               out.shape()));
  if (!needs_grad<T, D>(inputs)) return out;
  auto node = std::make_shared<Node<T, D>>();
  node->name = name;
  node->inputs.reserve(std::size(inputs));
  for (const Tensor<T, D>* t : inputs) node->inputs.push_back(detail::graph_edge(*t));
  node->backward = std::forward<F>(backward);
  node->output = out.impl_ptr();
  if (uses_output) node->saved_output = out.detach();
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::move(node);
  return out;
}

template <class T, class D, class F>
const Tensor<T, D>& record(const Tensor<T, D>& out, const char* name,
                           std::initializer_list<const Tensor<T, D>*> inputs, F&& backward) {
  return record_range(out, name, inputs, std::forward<F>(backward));
}

/// record for a backward formula written in terms of the op's output.
template <class T, class D, class F>
const Tensor<T, D>& record_using_output(const Tensor<T, D>& out, const char* name,
                                        std::initializer_list<const Tensor<T, D>*> inputs, F&& backward) {
  return record_range(out, name, inputs, std::forward<F>(backward), /*uses_output=*/true);
}

}  // namespace genmodel
