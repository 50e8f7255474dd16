// genmodel/autograd/engine.hpp: the reverse-mode engine. `backward` runs the
// recorded graph from one or more roots and accumulates into the leaves'
// .grad; `grad` returns the gradients of chosen inputs instead, and with
// create_graph the returned gradients are themselves recorded, so a penalty
// on them (WGAN-GP, R1) can be backpropagated again.
#pragma once

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "genmodel/autograd/node.hpp"

namespace genmodel {

// Defined in ops/elementwise.hpp; gradient accumulation is an ordinary add,
// so it is recorded when create_graph is set.
template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D>
Tensor<T, D> ones_like(const Tensor<T, D>& t);

namespace detail {

/// Gradients in flight, keyed by what identifies a tensor in the graph: its
/// producing node, or for a leaf the leaf itself (a node's inputs are edges,
/// not the tensors the user holds; see node.hpp).
template <class T, class D>
class GradMap {
 public:
  using TensorT = Tensor<T, D>;
  using ImplPtr = std::shared_ptr<TensorImpl<T, D>>;

  static const void* key(const TensorImpl<T, D>& impl) {
    return impl.grad_fn ? static_cast<const void*>(impl.grad_fn.get()) : static_cast<const void*>(&impl);
  }

  void accumulate(const ImplPtr& impl, const TensorT& g) {
    auto [it, inserted] = grads_.try_emplace(key(*impl), Entry{impl->grad_fn ? nullptr : impl, g});
    if (!inserted) it->second.grad = add(it->second.grad, g);
  }
  const TensorT* find(const void* k) const {
    auto it = grads_.find(k);
    return it == grads_.end() ? nullptr : &it->second.grad;
  }
  void erase(const void* k) { grads_.erase(k); }

  /// Each leaf's accumulated gradient.
  template <class F>
  void for_each_leaf(F&& f) const {
    for (const auto& [k, e] : grads_)
      if (e.leaf) f(e.leaf, e.grad);
  }

 private:
  struct Entry {
    ImplPtr leaf;  // null for a node's output
    TensorT grad;
  };
  std::unordered_map<const void*, Entry> grads_;
};

template <class T, class D>
class Engine {
  using TensorT = Tensor<T, D>;
  using ImplPtr = std::shared_ptr<TensorImpl<T, D>>;
  using NodeT = Node<T, D>;

 public:
  /// Propagates grads from `roots`. Returns the gradient reaching each leaf
  /// and each tensor whose key (GradMap::key) is in `keep`; the gradient of
  /// any other tensor is dropped as soon as its producing node has used it
  /// (as PyTorch does), so backward holds the frontier, not every activation's.
  GradMap<T, D> run(const std::vector<TensorT>& roots, const std::vector<TensorT>& root_grads, bool retain_graph,
                    bool create_graph, const std::unordered_set<const void*>& keep = {}) {
    GradMap<T, D> grads;
    for (size_t i = 0; i < roots.size(); ++i) grads.accumulate(roots[i].impl_ptr(), root_grads[i]);
    GradModeGuard mode(create_graph);
    for (NodeT* node : topological_order(roots)) {
      const TensorT* flowing = grads.find(node);
      if (!flowing) continue;  // no gradient flowed into this node
      GM_CHECK(node->backward, "backward: the graph through op '", node->name,
               "' has already been freed by an earlier backward; pass retain_graph=true to the "
               "first call to backward through it again");
      const TensorT grad_out = *flowing;
      std::vector<TensorT> in_grads;
      try {
        in_grads = node->backward(grad_out, node->output_for_backward(), node->needs_mask());
      } catch (const Error& e) {  // say which backward failed (anomaly mode, shape errors)
        throw Error(concat("backward of op '", node->name, "': ", e.what()));
      }
      for (size_t i = 0; i < node->inputs.size(); ++i) {
        const ImplPtr& in = node->inputs[i];
        if (!in || i >= in_grads.size() || !in_grads[i].defined()) continue;
        GM_CHECK(in_grads[i].shape() == in->shape, "backward of '", node->name, "': gradient of shape ",
                 in_grads[i].shape(), " for an input of shape ", in->shape);
        if (AnomalyMode::is_enabled() && !all_finite(in_grads[i]))
          throw Error(concat("anomaly: backward of op '", node->name,
                             "' produced NaN or Inf in the gradient of its input ", i, " (shape ",
                             in->shape, ")"));
        grads.accumulate(in, in_grads[i]);
      }
      if (!retain_graph) {  // free what the backward saved
        node->backward = nullptr;
        node->saved_output = {};
      }
      if (!keep.count(node)) grads.erase(node);
    }
    return grads;
  }

 private:
  /// Nodes reachable from the roots, each after every node that consumes its
  /// output (iterative DFS post-order, reversed).
  static std::vector<NodeT*> topological_order(const std::vector<TensorT>& roots) {
    std::vector<NodeT*> post;
    std::unordered_set<NodeT*> seen;
    std::vector<std::pair<NodeT*, size_t>> stack;
    for (const auto& r : roots) {
      NodeT* start = r.grad_fn().get();
      if (!start || !seen.insert(start).second) continue;
      stack.push_back({start, 0});
      while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
          const ImplPtr& in = node->inputs[next++];
          NodeT* child = in ? in->grad_fn.get() : nullptr;
          if (child && seen.insert(child).second) stack.push_back({child, 0});
        } else {
          post.push_back(node);
          stack.pop_back();
        }
      }
    }
    std::reverse(post.begin(), post.end());
    return post;
  }
};

template <class T, class D>
void check_root(const Tensor<T, D>& root, const Tensor<T, D>& grad, const char* op) {
  GM_CHECK(root.requires_grad(), op, ": the tensor does not require grad (no input of its graph "
           "has requires_grad set, or it was computed under NoGradGuard)");
  if (grad.defined())
    GM_CHECK(grad.shape() == root.shape(), op, ": gradient of shape ", grad.shape(),
             " for an output of shape ", root.shape());
  else
    GM_CHECK(root.numel() == 1, op, ": a gradient can be implied only for a scalar output; this "
             "output has shape ", root.shape(), ", so pass its gradient explicitly");
}

}  // namespace detail

/// Accumulates d(root)/d(leaf) into the .grad of every leaf that requires
/// grad. `grad` is required for a non-scalar root.
template <class T, class D>
void backward(const Tensor<T, D>& root, const Tensor<T, D>& grad = {}, bool retain_graph = false,
              bool create_graph = false) {
  detail::check_root(root, grad, "backward");
  const Tensor<T, D> g = grad.defined() ? grad : ones_like(root);
  auto grads = detail::Engine<T, D>().run({root}, {g}, retain_graph || create_graph, create_graph);
  GradModeGuard mode(create_graph);
  grads.for_each_leaf([&](const auto& impl, const Tensor<T, D>& gi) {
    if (!impl->requires_grad) return;
    impl->grad = impl->grad ? add(Tensor<T, D>(impl->grad), gi).impl_ptr()
                            : (create_graph ? gi : gi.detach()).impl_ptr();
  });
}

/// Gradients of sum_i <outputs[i], grad_outputs[i]> with respect to each of
/// `inputs`, like torch.autograd.grad. Leaves' .grad are left untouched.
/// With create_graph the results are recorded and can be differentiated.
/// An input that the outputs do not depend on is an error unless
/// allow_unused, in which case its gradient is undefined.
template <class T, class D>
std::vector<Tensor<T, D>> grad(const std::vector<Tensor<T, D>>& outputs,
                               const std::vector<Tensor<T, D>>& inputs,
                               const std::vector<Tensor<T, D>>& grad_outputs = {},
                               bool create_graph = false, bool allow_unused = false,
                               bool retain_graph = false) {
  GM_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "grad: ",
           grad_outputs.size(), " grad_outputs for ", outputs.size(), " outputs");
  std::vector<Tensor<T, D>> gs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor<T, D> g = grad_outputs.empty() ? Tensor<T, D>() : grad_outputs[i];
    detail::check_root(outputs[i], g, "grad");
    gs.push_back(g.defined() ? g : ones_like(outputs[i]));
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    GM_CHECK(inputs[i].requires_grad(), "grad: input ", i, " (shape ", inputs[i].shape(),
             ") does not require grad");
  std::unordered_set<const void*> wanted;
  for (const auto& in : inputs) wanted.insert(detail::GradMap<T, D>::key(in.impl()));
  auto grads = detail::Engine<T, D>().run(outputs, gs, retain_graph || create_graph, create_graph, wanted);
  std::vector<Tensor<T, D>> result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor<T, D>* g = grads.find(detail::GradMap<T, D>::key(inputs[i].impl()));
    GM_CHECK(g || allow_unused, "grad: input ", i, " (shape ", inputs[i].shape(),
             ") was not used to compute the outputs; pass allow_unused=true to get an undefined "
             "gradient for it");
    result.push_back(!g ? Tensor<T, D>() : (create_graph ? *g : g->detach()));
  }
  return result;
}

}  // namespace genmodel
