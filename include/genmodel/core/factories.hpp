// genmodel/core/factories.hpp: tensors filled with constants, ranges or
// given values: zeros, ones, full, arange, linspace, from_vector, tensor.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include "genmodel/core/tensor.hpp"

namespace genmodel {

// full/zeros/ones fill in place on any device (StorageTraits::fill); on a
// device other than the CPU the other factories build the tensor on the host
// and copy it over (to<D>()): simple and exact.

template <class T = float, class D = cpu>
Tensor<T, D> full(const Shape& shape, T value) {
  auto t = Tensor<T, D>::empty(shape);
  StorageTraits<T, D>::fill(t.data(), t.numel(), value);
  return t;
}

template <class T = float, class D = cpu>
Tensor<T, D> zeros(const Shape& shape) {
  return full<T, D>(shape, T(0));
}

template <class T = float, class D = cpu>
Tensor<T, D> ones(const Shape& shape) {
  return full<T, D>(shape, T(1));
}

template <class T, class D>
Tensor<T, D> zeros_like(const Tensor<T, D>& t) {
  return zeros<T, D>(t.shape());
}

template <class T, class D>
Tensor<T, D> ones_like(const Tensor<T, D>& t) {
  return ones<T, D>(t.shape());
}

template <class T, class D>
Tensor<T, D> full_like(const Tensor<T, D>& t, T value) {
  return full<T, D>(t.shape(), value);
}

/// start, start + step, ... while < end (> end for a negative step), 1-d.
template <class T = float, class D = cpu>
Tensor<T, D> arange(T start, T end, T step = T(1)) {
  if constexpr (!std::is_same_v<D, cpu>) {
    return arange<T, cpu>(start, end, step).template to<D>();
  } else {
    GM_CHECK(step != T(0), "arange: step must be non-zero");
    const double n = std::ceil((double(end) - double(start)) / double(step));
    auto t = Tensor<T, D>::empty({std::max<int64_t>(0, static_cast<int64_t>(n))});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(start + i * step);
    return t;
  }
}

/// `steps` evenly spaced values from start to end inclusive, 1-d.
template <class T = float, class D = cpu>
Tensor<T, D> linspace(T start, T end, int64_t steps) {
  if constexpr (!std::is_same_v<D, cpu>) {
    return linspace<T, cpu>(start, end, steps).template to<D>();
  } else {
    GM_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
    auto t = Tensor<T, D>::empty({steps});
    const double step = steps > 1 ? (double(end) - double(start)) / double(steps - 1) : 0.0;
    for (int64_t i = 0; i < steps; ++i) t.data()[i] = static_cast<T>(start + i * step);
    if (steps > 1) t.data()[steps - 1] = end;
    return t;
  }
}

/// A tensor of `shape` holding a copy of `values` (row-major).
template <class T = float, class D = cpu>
Tensor<T, D> from_vector(const std::vector<T>& values, const Shape& shape) {
  if constexpr (!std::is_same_v<D, cpu>) {
    return from_vector<T, cpu>(values, shape).template to<D>();
  } else {
    GM_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
             " values for shape ", shape, " (", shape.numel(), " elements)");
    auto t = Tensor<T, D>::empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }
}

/// A 1-d tensor of the values, or of `shape` when given: tensor<float>({1, 2, 3, 4}, {2, 2}).
template <class T = float, class D = cpu>
Tensor<T, D> tensor(std::initializer_list<T> values, const Shape& shape) {
  return from_vector<T, D>(std::vector<T>(values), shape);
}
template <class T = float, class D = cpu>
Tensor<T, D> tensor(std::initializer_list<T> values) {
  return from_vector<T, D>(std::vector<T>(values), Shape{static_cast<int64_t>(values.size())});
}

}  // namespace genmodel
