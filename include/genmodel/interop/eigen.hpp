// genmodel/interop/eigen.hpp: Eigen views of a CPU tensor's memory (no
// copy: a write through the view is a write to the tensor) and tensors made
// from Eigen matrices (a copy). Tensors are row-major, so the matrix view is
// a RowMajor Map; Eigen's own default is column-major, and from_eigen
// reorders such a matrix while copying. Views bypass autograd: write through
// them only to data that is not part of a recorded graph.
#pragma once

#include <Eigen/Core>

#include "genmodel/core/tensor.hpp"

namespace genmodel::interop {

template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A 2-d tensor (rows, cols) as a row-major matrix map.
template <class T>
Eigen::Map<RowMajorMatrix<T>> as_eigen_matrix(const Tensor<T, cpu>& t) {
  GM_CHECK(t.defined() && t.dim() == 2, "as_eigen_matrix: needs a 2-d tensor, got shape ",
           t.defined() ? t.shape() : Shape{});
  return {t.data(), t.size(0), t.size(1)};
}

/// Any tensor as a column vector of its numel() elements (row-major order).
template <class T>
Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> as_eigen_vector(const Tensor<T, cpu>& t) {
  GM_CHECK(t.defined(), "as_eigen_vector: undefined tensor");
  return {t.data(), t.numel()};
}

/// Any tensor as a 1-d Eigen array (for coefficient-wise math).
template <class T>
Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> as_eigen_array(const Tensor<T, cpu>& t) {
  GM_CHECK(t.defined(), "as_eigen_array: undefined tensor");
  return {t.data(), t.numel()};
}

/// A new (rows, cols) tensor holding m's values in row-major order, whatever
/// m's storage order (any dense expression: matrix, array, block, product).
template <class Derived>
Tensor<typename Derived::Scalar, cpu> from_eigen(const Eigen::DenseBase<Derived>& m) {
  using T = typename Derived::Scalar;
  auto out = Tensor<T, cpu>::empty(Shape{m.rows(), m.cols()});
  Eigen::Map<RowMajorMatrix<T>>(out.data(), m.rows(), m.cols()) = m.derived().matrix();
  return out;
}

}  // namespace genmodel::interop
