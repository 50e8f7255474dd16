// genmodel/interop/xtensor.hpp: an xtensor adaptor over a CPU tensor's
// memory (xt::adapt, no copy: writes through it reach the tensor), and a
// tensor evaluated from any xtensor expression (a copy, row-major). Views
// bypass autograd, as the Eigen ones do.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "genmodel/core/tensor.hpp"

namespace genmodel::interop {

/// t's memory as an xtensor container of t's shape (row-major).
template <class T>
auto as_xtensor(const Tensor<T, cpu>& t) {
  GM_CHECK(t.defined(), "as_xtensor: undefined tensor");
  const std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(), shape);
}

/// A new tensor with e's shape and values (e evaluated, in row-major order).
template <class E>
auto from_xtensor(const xt::xexpression<E>& e) {
  using T = std::decay_t<typename E::value_type>;
  const xt::xarray<T, xt::layout_type::row_major> a = e.derived_cast();
  GM_CHECK(a.dimension() <= static_cast<std::size_t>(Shape::kMaxDims), "from_xtensor: an expression of ",
           a.dimension(), " dimensions; tensors have at most ", Shape::kMaxDims);
  Shape shape;
  for (std::size_t d : a.shape()) shape.push_back(static_cast<int64_t>(d));
  auto out = Tensor<T, cpu>::empty(shape);
  std::copy(a.data(), a.data() + a.size(), out.data());
  return out;
}

}  // namespace genmodel::interop
