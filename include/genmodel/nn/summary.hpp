// genmodel/nn/summary.hpp: a printed model summary like torchinfo's: for a
// module tree and an input shape, one row per module with its name, type,
// output shape and parameter count, then the totals.
//
// Output shapes come from running the model once on zeros, in eval mode
// and without a graph (the training flags are restored afterwards). Inside
// a Sequential every step's output is known; the children of any other
// module are listed with "--", as torchinfo does for shapes it cannot see.
#pragma once

#include <algorithm>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "genmodel/nn/module.hpp"
#include "genmodel/nn/sequential.hpp"

namespace genmodel::nn {

struct SummaryRow {
  std::string name;  // the dotted path, "" for the root
  std::string type;
  int depth;
  std::string output_shape;  // "--" when not observed
  int64_t params;            // this module's parameters, children included
};

namespace detail {

/// Puts a tree in eval mode and restores every module's own flag on exit.
template <class T, class D>
class EvalScope {
 public:
  explicit EvalScope(Module<T, D>& root) {
    save(root);
    root.eval();
  }
  ~EvalScope() {
    for (auto [m, on] : saved_) m->train(on);  // pre-order: a child's flag lands after its parent's
  }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  void save(Module<T, D>& m) {
    saved_.emplace_back(&m, m.is_training());
    for (auto& c : m.children()) save(*c);
  }
  std::vector<std::pair<Module<T, D>*, bool>> saved_;
};

inline std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

/// Rows for the children of a module whose inner shapes are not observed.
template <class T, class D>
void child_rows(const Module<T, D>& m, const std::string& prefix, int depth, int max_depth,
                std::vector<SummaryRow>& rows) {
  if (depth > max_depth) return;
  for (const auto& [name, c] : m.named_children()) {
    rows.push_back({join(prefix, name), c->type_name(), depth, "--", c->num_parameters()});
    child_rows(*c, join(prefix, name), depth + 1, max_depth, rows);
  }
}

/// Runs seq step by step from x, adding a row per step; returns the output.
template <class T, class D>
Tensor<T, D> sequential_rows(Sequential<T, D>& seq, const std::string& prefix, int depth, int max_depth,
                             Tensor<T, D> x, std::vector<SummaryRow>& rows) {
  for (std::size_t i = 0; i < seq.size(); ++i) {
    const auto child = seq[i];
    const std::string name = join(prefix, std::to_string(i));
    const std::size_t at = rows.size();
    if (depth <= max_depth) rows.push_back({name, child->type_name(), depth, "", child->num_parameters()});
    if (auto inner = std::dynamic_pointer_cast<Sequential<T, D>>(child)) {
      x = sequential_rows(*inner, name, depth + 1, max_depth, x, rows);
    } else {
      x = seq.forward_step(i, x);
      child_rows(*child, name, depth + 1, max_depth, rows);
    }
    if (depth <= max_depth) rows[at].output_shape = x.shape().str();
  }
  return x;
}

}  // namespace detail

/// The rows of the summary: the root first, then its descendants down to
/// max_depth, depth first.
template <UnaryModule M>
std::vector<SummaryRow> summary_rows(M& model, const Shape& input_shape, int max_depth = 3) {
  using T = typename M::value_type;
  using D = typename M::device_type;
  detail::EvalScope<T, D> eval_scope(model);
  NoGradGuard no_grad;
  std::vector<SummaryRow> rows{{"", model.type_name(), 0, "", model.num_parameters()}};
  const auto x = zeros<T, D>(input_shape);
  Tensor<T, D> y;
  if constexpr (std::is_base_of_v<Sequential<T, D>, M>) {
    y = detail::sequential_rows<T, D>(model, "", 1, max_depth, x, rows);
  } else {
    y = model.forward(x);
    detail::child_rows<T, D>(model, "", 1, max_depth, rows);
  }
  rows[0].output_shape = y.shape().str();
  return rows;
}

/// The summary as a table: "Layer (type)", "Output Shape", "Param #", then
/// total, trainable and non-trainable parameter counts.
template <UnaryModule M>
std::string summary(M& model, const Shape& input_shape, int max_depth = 3) {
  const auto rows = summary_rows(model, input_shape, max_depth);
  std::vector<std::string> first;
  std::size_t w0 = 12, w1 = 12;
  for (const auto& r : rows) {
    first.push_back(std::string(2 * r.depth, ' ') + (r.name.empty() ? "" : r.name + " ") + "(" + r.type + ")");
    w0 = std::max(w0, first.back().size());
    w1 = std::max(w1, r.output_shape.size());
  }
  std::ostringstream os;
  const std::string rule(w0 + w1 + 16, '=');
  os << rule << "\n"
     << std::left << std::setw(w0 + 2) << "Layer (type)" << std::setw(w1 + 2) << "Output Shape" << std::right
     << std::setw(12) << "Param #" << "\n"
     << rule << "\n";
  for (std::size_t i = 0; i < rows.size(); ++i)
    os << std::left << std::setw(w0 + 2) << first[i] << std::setw(w1 + 2) << rows[i].output_shape << std::right
       << std::setw(12) << rows[i].params << "\n";
  const int64_t total = model.num_parameters(), trainable = model.num_parameters(true);
  os << rule << "\n"
     << "Input shape: " << input_shape << "\n"
     << "Total params: " << total << "\n"
     << "Trainable params: " << trainable << "\n"
     << "Non-trainable params: " << total - trainable << "\n"
     << rule << "\n";
  return os.str();
}

}  // namespace genmodel::nn
