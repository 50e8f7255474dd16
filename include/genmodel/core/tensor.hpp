// genmodel/core/tensor.hpp: Tensor<T, Device>, a handle to a contiguous,
// row-major n-d array whose storage is shared between handles (like
// torch::Tensor). It also carries the autograd fields: requires_grad, the
// accumulated .grad and the node that produced it. The differentiable
// operations live in ops/; this header has construction, element access,
// printing and the non-differentiable conversions.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iomanip>
#include <memory>
#include <ostream>
#include <type_traits>
#include <vector>

#include "genmodel/core/device.hpp"
#include "genmodel/core/error.hpp"
#include "genmodel/core/shape.hpp"
#include "genmodel/core/storage.hpp"

namespace genmodel {

template <class T, class D>
struct Node;  // autograd/node.hpp

template <class T, class D>
struct TensorImpl {
  Shape shape;
  std::shared_ptr<T> storage;  // shared by views; data starts at storage + offset
  int64_t offset = 0;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;       // accumulated gradient (leaves)
  std::shared_ptr<Node<T, D>> grad_fn;    // producer, null for leaves
};

template <class T = float, class D = cpu>
class Tensor {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int64_t>,
                "genmodel::Tensor: the element type must be float, double or int64_t (indices, "
                "labels; not differentiable)");

 public:
  using value_type = T;
  using device_type = D;
  using Impl = TensorImpl<T, D>;

  /// An undefined tensor (like a default torch::Tensor); defined() is false.
  Tensor() = default;
  explicit Tensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  /// Uninitialised storage of the given shape, from the pool.
  static Tensor empty(const Shape& shape) {
    auto impl = std::make_shared<Impl>();
    impl->shape = shape;
    impl->storage = StorageTraits<T, D>::allocate(shape.numel());
    return Tensor(std::move(impl));
  }

  /// A tensor that shares `storage` (starting at `offset` elements).
  static Tensor from_storage(std::shared_ptr<T> storage, const Shape& shape, int64_t offset = 0) {
    auto impl = std::make_shared<Impl>();
    impl->shape = shape;
    impl->storage = std::move(storage);
    impl->offset = offset;
    return Tensor(std::move(impl));
  }

  /// Wraps memory the caller owns, without copying; the caller keeps it alive.
  static Tensor from_blob(T* data, const Shape& shape) {
    return from_storage(std::shared_ptr<T>(data, [](T*) {}), shape);
  }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int dim() const { return impl().shape.size(); }
  int64_t size(int64_t d) const { return shape()[wrap_dim(d, dim(), "Tensor::size")]; }
  int64_t numel() const { return impl().shape.numel(); }
  T* data() const { return impl().storage.get() + impl().offset; }
  const std::shared_ptr<T>& storage() const { return impl().storage; }
  int64_t storage_offset() const { return impl().offset; }
  bool shares_storage(const Tensor& o) const { return storage().get() == o.storage().get(); }

  /// Element access for tests and small programs: t.at(i, j, k).
  template <class... I>
  T& at(I... idx) const {
    static_assert((std::is_integral_v<I> && ...), "Tensor::at takes integer indices");
    static_assert(std::is_same_v<D, cpu>, "Tensor::at reads host memory: copy with to<cpu>() first");
    const int64_t ix[] = {static_cast<int64_t>(idx)...};
    GM_CHECK(static_cast<int>(sizeof...(I)) == dim(), "Tensor::at: ", sizeof...(I),
             " indices for a tensor of shape ", shape());
    int64_t flat = 0;
    for (int d = 0; d < dim(); ++d) {
      int64_t i = ix[d] < 0 ? ix[d] + shape()[d] : ix[d];
      GM_CHECK(i >= 0 && i < shape()[d], "Tensor::at: index ", ix[d], " out of range for dim ", d,
               " of shape ", shape());
      flat = flat * shape()[d] + i;
    }
    return data()[flat];
  }

  /// The value of a one-element tensor.
  T item() const {
    GM_CHECK(numel() == 1, "Tensor::item: tensor of shape ", shape(), " has ", numel(),
             " elements, not 1");
    if constexpr (!std::is_same_v<D, cpu>) return to<cpu>().item();
    else return data()[0];
  }

  /// The elements, copied to the host.
  std::vector<T> to_vector() const {
    if constexpr (!std::is_same_v<D, cpu>) return to<cpu>().to_vector();
    else return std::vector<T>(data(), data() + numel());
  }

  // ---- autograd fields -------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }

  /// Marks a leaf as a parameter whose gradient backward() accumulates.
  Tensor& requires_grad_(bool on = true) {
    GM_CHECK(is_leaf() || !on, "requires_grad_: only leaf tensors can be marked; this one was "
             "produced by an op (use detach() first)");
    impl().requires_grad = on;
    return *this;
  }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node<T, D>>& grad_fn() const { return impl().grad_fn; }

  /// The accumulated gradient; undefined until a backward reaches this leaf.
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g) { impl().grad = g.impl_; }
  void zero_grad() { impl().grad.reset(); }

  /// Same storage, cut from the graph.
  Tensor detach() const { return from_storage(storage(), shape(), storage_offset()); }

  /// A copy with its own storage, cut from the graph.
  Tensor clone_data() const {
    Tensor out = empty(shape());
    StorageTraits<T, D>::copy(out.data(), data(), numel());
    return out;
  }

  /// Conversion to another scalar type (a new leaf, not differentiable).
  template <class U>
    requires(!Device<U>)
  Tensor<U, D> to() const {
    if constexpr (!std::is_same_v<D, cpu>) {
      return to<cpu>().template to<U>().template to<D>();
    } else {
      auto out = Tensor<U, D>::empty(shape());
      const T* src = data();
      U* dst = out.data();
      for (int64_t i = 0, n = numel(); i < n; ++i) dst[i] = static_cast<U>(src[i]);
      return out;
    }
  }

  /// A copy on another device (to<cuda>(), to<cpu>()), a new leaf; the
  /// tensor itself when it is already there, as in PyTorch.
  template <Device To>
  Tensor<T, To> to() const {
    if constexpr (std::is_same_v<To, D>) return *this;
    else return DeviceTransfer<D, To>::copy(*this);
  }

  // Differentiable conveniences, defined in ops/methods.hpp.
  Tensor reshape(const Shape& shape) const;
  Tensor sum() const;
  Tensor mean() const;
  void backward() const;
  void backward(const Tensor& grad, bool retain_graph = false, bool create_graph = false) const;

  Impl& impl() const {
    GM_CHECK(impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  const std::shared_ptr<Impl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

/// Prints shape and values (up to 6 per row, rows elided past 6), like PyTorch.
template <class T, class D>
std::ostream& operator<<(std::ostream& os, const Tensor<T, D>& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  if constexpr (!std::is_same_v<D, cpu>) return os << t.template to<cpu>() << " on " << D::name;
  os << "Tensor" << t.shape() << "(";
  const int64_t last = t.dim() ? t.shape().back() : 1;
  const int64_t rows = t.numel() / std::max<int64_t>(last, 1);
  auto print_row = [&](int64_t r) {
    os << "\n  [";
    for (int64_t j = 0; j < last; ++j) {
      if (last > 6 && j == 3) {
        os << "..., ";
        j = last - 3;
      }
      os << std::setprecision(4) << t.data()[r * last + j] << (j + 1 < last ? ", " : "");
    }
    os << "]";
  };
  for (int64_t r = 0; r < rows; ++r) {
    if (rows > 6 && r == 3) {
      os << "\n  ...";
      r = rows - 3;
    }
    print_row(r);
  }
  if (t.requires_grad()) os << ", requires_grad";
  return os << ")";
}

}  // namespace genmodel
