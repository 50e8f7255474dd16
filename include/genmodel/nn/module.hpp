// genmodel/nn/module.hpp: the Module base of every layer (like
// torch::nn::Module), the ordered name -> tensor dictionary it returns
// (named_parameters, state_dict), and the UnaryModule concept.
//
// A network is a runtime tree: each module owns named parameters, named
// buffers and named child modules, and the dotted path of a tensor in that
// tree ("net.0.weight") is its state-dict key, as in PyTorch.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "genmodel/ops.hpp"

namespace genmodel::nn {

/// Name -> tensor pairs in registration order (PyTorch's OrderedDict).
template <class T = float, class D = cpu>
class NamedTensors {
 public:
  using Item = std::pair<std::string, Tensor<T, D>>;

  void insert(std::string key, Tensor<T, D> value) {
    GM_CHECK(!contains(key), "NamedTensors: duplicate key '", key, "'");
    index_.emplace(key, items_.size());
    items_.emplace_back(std::move(key), std::move(value));
  }
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  const Tensor<T, D>& at(const std::string& key) const {
    auto it = index_.find(key);
    GM_CHECK(it != index_.end(), "NamedTensors: no key '", key, "'");
    return items_[it->second].second;
  }
  const Tensor<T, D>& operator[](const std::string& key) const { return at(key); }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& it : items_) k.push_back(it.first);
    return k;
  }
  std::size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, std::size_t> index_;
};

/// A model's parameters and buffers by PyTorch's names.
template <class T = float, class D = cpu>
using StateDict = NamedTensors<T, D>;

template <class T = float, class D = cpu>
class Module {
 public:
  using value_type = T;
  using device_type = D;
  using Tensor = genmodel::Tensor<T, D>;
  using ModulePtr = std::shared_ptr<Module>;

  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;  // children are shared; copying would alias them silently
  Module& operator=(const Module&) = delete;

  /// The class name shown by summaries and errors ("Conv2d").
  const std::string& type_name() const { return type_name_; }

  // ---- registration ------------------------------------------------------
  /// Registers a trainable tensor (marked requires_grad) and returns the
  /// handle to keep as a member. An op result is detached into a new leaf.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true) {
    check_new_name(name);
    GM_CHECK(t.defined(), type_name_, ": register_parameter('", name, "') got an undefined tensor");
    if (!t.is_leaf()) t = t.detach();
    t.requires_grad_(requires_grad);
    params_.emplace_back(name, t);
    return t;
  }

  /// Registers a non-trainable tensor saved in the state dict (running stats).
  Tensor register_buffer(const std::string& name, Tensor t) {
    check_new_name(name);
    GM_CHECK(t.defined(), type_name_, ": register_buffer('", name, "') got an undefined tensor");
    buffers_.emplace_back(name, t);
    return t;
  }

  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    static_assert(std::derived_from<M, Module>, "register_module: M must derive from nn::Module<T, D>");
    check_new_name(name);
    GM_CHECK(m != nullptr, type_name_, ": register_module('", name, "') got a null module");
    children_.emplace_back(name, m);
    return m;
  }

  // ---- traversal ---------------------------------------------------------
  NamedTensors<T, D> named_parameters(bool recurse = true) const {
    NamedTensors<T, D> out;
    collect(out, "", recurse, &Module::params_);
    return out;
  }
  NamedTensors<T, D> named_buffers(bool recurse = true) const {
    NamedTensors<T, D> out;
    collect(out, "", recurse, &Module::buffers_);
    return out;
  }
  std::vector<Tensor> parameters(bool recurse = true) const { return values(named_parameters(recurse)); }
  std::vector<Tensor> buffers(bool recurse = true) const { return values(named_buffers(recurse)); }

  const std::vector<std::pair<std::string, ModulePtr>>& named_children() const { return children_; }
  std::vector<ModulePtr> children() const {
    std::vector<ModulePtr> out;
    for (const auto& c : children_) out.push_back(c.second);
    return out;
  }

  /// Number of parameter elements in the tree (trainable ones only if asked).
  int64_t num_parameters(bool trainable_only = false) const {
    int64_t n = 0;
    for (const auto& p : parameters())
      if (!trainable_only || p.requires_grad()) n += p.numel();
    return n;
  }

  // ---- state dict --------------------------------------------------------
  /// Parameters then buffers of each module, depth first, under PyTorch's keys.
  /// The tensors share storage with the model (clone to snapshot).
  StateDict<T, D> state_dict() const {
    StateDict<T, D> out;
    collect_state(out, "");
    return out;
  }

  /// Copies each entry's values into the model's tensor of the same key, in
  /// place. Strict: a missing key, an unexpected key or a shape mismatch
  /// throws, naming the key (and both shapes). Non-strict: only keys present
  /// in both with equal shapes are copied. The dict may live on another
  /// device: loading a CPU model's state_dict() into the same model built
  /// for cuda is how a model moves to the GPU (and back).
  template <class DictDevice>
  void load_state_dict(const StateDict<T, DictDevice>& dict, bool strict = true) {
    const auto own = state_dict();
    if (strict) {
      for (const auto& [key, t] : own)
        GM_CHECK(dict.contains(key), type_name_, "::load_state_dict: missing key '", key, "' (shape ",
                 t.shape(), ")");
      for (const auto& [key, t] : dict)
        GM_CHECK(own.contains(key), type_name_, "::load_state_dict: unexpected key '", key, "' (shape ",
                 t.shape(), ")");
    }
    for (const auto& [key, dst] : own) {
      if (!dict.contains(key)) continue;
      const auto& src = dict.at(key);
      if (src.shape() != dst.shape()) {
        GM_CHECK(!strict, type_name_, "::load_state_dict: size mismatch for '", key, "': the checkpoint has shape ",
                 src.shape(), ", the model has shape ", dst.shape());
        continue;
      }
      const auto here = src.template to<D>();  // src itself when on this device
      if (here.data() != dst.data()) StorageTraits<T, D>::copy(dst.data(), here.data(), dst.numel());
    }
  }

  // ---- modes and gradients -----------------------------------------------
  /// Sets training mode on this module and every descendant.
  void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.second->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Drops the accumulated gradient of every parameter.
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }

 private:
  using Entries = std::vector<std::pair<std::string, Tensor>>;

  void check_new_name(const std::string& name) const {
    GM_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_,
             ": a parameter, buffer or module name must be non-empty and contain no '.', got '", name, "'");
    auto taken = [&](const auto& v) {
      for (const auto& e : v)
        if (e.first == name) return true;
      return false;
    };
    GM_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name_, ": the name '", name,
             "' is already registered");
  }

  void collect(NamedTensors<T, D>& out, const std::string& prefix, bool recurse, Entries Module::*which) const {
    for (const auto& [name, t] : this->*which) out.insert(prefix + name, t);
    if (!recurse) return;
    for (const auto& [name, c] : children_) c->collect(out, prefix + name + ".", true, which);
  }

  void collect_state(StateDict<T, D>& out, const std::string& prefix) const {
    for (const auto& [name, t] : params_) out.insert(prefix + name, t);
    for (const auto& [name, t] : buffers_) out.insert(prefix + name, t);
    for (const auto& [name, c] : children_) c->collect_state(out, prefix + name + ".");
  }

  static std::vector<Tensor> values(const NamedTensors<T, D>& named) {
    std::vector<Tensor> out;
    for (const auto& e : named) out.push_back(e.second);
    return out;
  }

  std::string type_name_;
  bool training_ = true;
  Entries params_, buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
};

/// A module with a single-input forward: Tensor forward(const Tensor&).
/// Sequential holds these; the concept turns a mistake into one line.
template <class M>
concept UnaryModule =
    requires {
      typename M::value_type;
      typename M::device_type;
    } && std::derived_from<M, Module<typename M::value_type, typename M::device_type>> &&
    requires(M& m, const Tensor<typename M::value_type, typename M::device_type>& x) {
      { m.forward(x) } -> std::same_as<Tensor<typename M::value_type, typename M::device_type>>;
    };

}  // namespace genmodel::nn
