// genmodel/metrics/matrix.hpp: what every metric does first with a feature
// or probability matrix (N, F): check it (a defined 2-d tensor, enough rows,
// finite values; the error names the metric and what was wrong) and copy it
// into an Eigen matrix of doubles. Metrics work in double whatever the
// tensor's type: FID subtracts traces of similar size, KID averages
// millions of kernel values, and float would lose digits in both.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel::metrics {

/// Row-major like tensors, so one row is one sample.
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {

/// Checks x is (N, F) with N >= min_rows, F >= 1 and finite values, and
/// returns it as doubles. `what` names the argument in messages.
template <class T>
RowMatrixXd checked_matrix(const Tensor<T>& x, const char* op, const char* what, int64_t min_rows) {
  static_assert(std::is_floating_point_v<T>, "genmodel::metrics: features must be float or double");
  GM_CHECK(x.defined(), op, ": ", what, " is an undefined tensor");
  GM_CHECK(x.dim() == 2, op, ": ", what, " must be 2-d (N, F), got shape ", x.shape());
  GM_CHECK(x.size(0) >= min_rows, op, ": ", what, " has ", x.size(0), " rows (shape ", x.shape(),
           "), need at least ", min_rows);
  GM_CHECK(x.size(1) >= 1, op, ": ", what, " has no columns (shape ", x.shape(), ")");
  const int64_t n = x.size(0), f = x.size(1);
  const T* p = x.data();
  for (int64_t i = 0; i < n * f; ++i)
    GM_CHECK(std::isfinite(p[i]), op, ": ", what, " has a non-finite value ", p[i], " at row ",
             i / f, ", column ", i % f);
  return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(p, n, f)
      .template cast<double>();
}

}  // namespace detail
}  // namespace genmodel::metrics
