// genmodel/metrics/classifier_score.hpp: an Inception-Score-style score
// (Salimans et al., 2016) from any classifier's class probabilities (N, K)
// or logits (N, K):
//   score = exp(mean_i KL(p(y | x_i) || p(y))),  p(y) = mean_i p(y | x_i),
// computed on `splits` consecutive equal parts of the samples (rows
// [k N / splits, (k+1) N / splits)), returning the mean and population std
// over the parts, as the original Inception Score code does (it does not
// shuffle; shuffle the samples first if their order means something).
//
// It lies in [1, K]: 1 when every sample gets the same prediction, K when
// each is classified with certainty and the classes are used evenly. High
// means confident and diverse; it never looks at real data, so it cannot
// see samples that are confidently wrong.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"
#include "genmodel/metrics/matrix.hpp"
#include "genmodel/metrics/mean_std.hpp"

namespace genmodel::metrics {

namespace detail {

/// The score from checked probabilities (rows sum to 1).
inline MeanStd score_of_probabilities(const RowMatrixXd& p, int64_t splits, const char* op) {
  const int64_t n = p.rows();
  GM_CHECK(splits >= 1 && splits <= n, op, ": splits must be in 1..N = ", n, ", got ", splits);
  std::vector<double> scores;
  for (int64_t k = 0; k < splits; ++k) {
    const int64_t r0 = k * n / splits, r1 = (k + 1) * n / splits;
    const auto part = p.middleRows(r0, r1 - r0);
    const Eigen::RowVectorXd py = part.colwise().mean();
    double kl = 0;
    for (int64_t i = 0; i < part.rows(); ++i)
      for (int64_t j = 0; j < part.cols(); ++j)
        if (const double q = part(i, j); q > 0) kl += q * (std::log(q) - std::log(py(j)));  // 0 log 0 = 0
    scores.push_back(std::exp(kl / double(part.rows())));
  }
  return mean_std(scores);
}

}  // namespace detail

/// The score from probabilities (N, K): entries in [0, 1], rows summing to
/// 1 within 1e-3 (float softmax output passes).
template <class T>
MeanStd classifier_score(const Tensor<T>& probs, int64_t splits = 10) {
  const RowMatrixXd p = detail::checked_matrix(probs, "classifier_score", "probs", 1);
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    GM_CHECK(p.row(i).minCoeff() >= 0.0 && p.row(i).maxCoeff() <= 1.0 + 1e-6, "classifier_score: "
             "row ", i, " holds a value outside [0, 1]; pass logits to classifier_score_from_logits");
    const double s = p.row(i).sum();
    GM_CHECK(std::abs(s - 1.0) <= 1e-3, "classifier_score: row ", i, " sums to ", s,
             ", not 1; pass logits to classifier_score_from_logits");
  }
  return detail::score_of_probabilities(p, splits, "classifier_score");
}

/// The score from logits (N, K), through a softmax in double.
template <class T>
MeanStd classifier_score_from_logits(const Tensor<T>& logits, int64_t splits = 10) {
  RowMatrixXd p = detail::checked_matrix(logits, "classifier_score_from_logits", "logits", 1);
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    p.row(i) = (p.row(i).array() - p.row(i).maxCoeff()).exp().matrix();
    p.row(i) /= p.row(i).sum();
  }
  return detail::score_of_probabilities(p, splits, "classifier_score_from_logits");
}

}  // namespace genmodel::metrics
