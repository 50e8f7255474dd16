// genmodel/metrics/frechet.hpp: the Frechet distance between two Gaussians
// fitted to feature sets, the core of FID (Heusel et al., 2017):
//   d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}).
// feature_stats fits (mean, covariance) to features (N, F) with the
// unbiased covariance (divides by N - 1), like numpy.cov and pytorch-fid.
//
// S1 S2 is not symmetric, so its square root is not taken directly (scipy's
// sqrtm, as pytorch-fid does, can return complex noise and needs an eps
// fix for singular covariances). Instead: S1 S2 is similar to the symmetric
// PSD matrix M = S1^{1/2} S2 S1^{1/2}, so tr((S1 S2)^{1/2}) is the sum of
// the square roots of M's eigenvalues. Both eigen-decompositions are
// symmetric (Eigen::SelfAdjointEigenSolver), and eigenvalues that are zero
// within rounding (tiny, or tiny negative) count as 0, so singular
// covariances (F > N) are fine.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"
#include "genmodel/metrics/matrix.hpp"

namespace genmodel::metrics {

/// A Gaussian fitted to n feature vectors: mean (F), covariance (F, F).
struct FeatureStats {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  int64_t n = 0;
};

/// Mean and unbiased covariance of features (N, F), N >= 2, computed in
/// double (two passes: centre, then X^T X / (N - 1)).
template <class T>
FeatureStats feature_stats(const Tensor<T>& features) {
  RowMatrixXd x = detail::checked_matrix(features, "feature_stats", "features", 2);
  FeatureStats s;
  s.n = x.rows();
  s.mean = x.colwise().mean().transpose();
  x.rowwise() -= s.mean.transpose();
  s.cov = Eigen::MatrixXd::Zero(x.cols(), x.cols());
  s.cov.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose(), 1.0 / double(s.n - 1));
  s.cov.triangularView<Eigen::StrictlyUpper>() = s.cov.transpose();  // exactly symmetric
  return s;
}

namespace detail {

inline void check_stats(const FeatureStats& s, const char* which) {
  const auto f = s.mean.size();
  GM_CHECK(f >= 1, "frechet_distance: the ", which, " stats have an empty mean");
  GM_CHECK(s.cov.rows() == f && s.cov.cols() == f, "frechet_distance: the ", which,
           " stats have a mean of ", f, " features but a covariance of ", s.cov.rows(), "x",
           s.cov.cols());
  GM_CHECK(s.mean.allFinite() && s.cov.allFinite(), "frechet_distance: the ", which,
           " stats hold non-finite values");
  const double scale = std::max(1.0, s.cov.cwiseAbs().maxCoeff());
  const double asym = (s.cov - s.cov.transpose()).cwiseAbs().maxCoeff();
  GM_CHECK(asym <= 1e-9 * scale, "frechet_distance: the ", which,
           " covariance is not symmetric (max |S - S^T| = ", asym, ")");
}

/// Eigen-decomposition of a symmetric matrix that should be PSD; throws if
/// an eigenvalue is negative beyond rounding, clamps the rest to >= 0.
inline Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> psd_eigen(const Eigen::MatrixXd& m, const char* what,
                                                                 int options = Eigen::ComputeEigenvectors) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(m, options);
  GM_CHECK(es.info() == Eigen::Success, "frechet_distance: the eigen-decomposition of ", what,
           " did not converge");
  const double lo = es.eigenvalues().minCoeff(), hi = es.eigenvalues().cwiseAbs().maxCoeff();
  GM_CHECK(lo >= -1e-8 * std::max(hi, 1e-300), "frechet_distance: ", what,
           " is not positive semi-definite: eigenvalue ", lo, " (largest magnitude ", hi, ")");
  return es;
}

}  // namespace detail

namespace detail {
/// Square roots of a PSD matrix's eigenvalues. Those below F * eps * the
/// largest are zero within rounding (numpy.linalg.matrix_rank's tolerance)
/// and count as 0: their square roots would turn 1e-16 noise into 1e-8.
inline Eigen::VectorXd sqrt_eigenvalues(const Eigen::VectorXd& ev) {
  const double tiny = double(ev.size()) * std::numeric_limits<double>::epsilon() *
                      std::max(ev.maxCoeff(), 0.0);
  return ev.unaryExpr([tiny](double v) { return v > tiny ? std::sqrt(v) : 0.0; });
}
}  // namespace detail

/// tr((S1 S2)^{1/2}) for symmetric PSD S1, S2, through S1^{1/2} S2 S1^{1/2}.
inline double trace_sqrt_product(const Eigen::MatrixXd& s1, const Eigen::MatrixXd& s2) {
  const auto e1 = detail::psd_eigen(s1, "the first covariance");
  detail::psd_eigen(s2, "the second covariance", Eigen::EigenvaluesOnly);
  const Eigen::VectorXd r = detail::sqrt_eigenvalues(e1.eigenvalues());
  const Eigen::MatrixXd root1 = e1.eigenvectors() * r.asDiagonal() * e1.eigenvectors().transpose();
  Eigen::MatrixXd m = root1 * s2 * root1;
  m = 0.5 * (m + m.transpose()).eval();
  const auto em = detail::psd_eigen(m, "S1^1/2 S2 S1^1/2", Eigen::EigenvaluesOnly);
  return detail::sqrt_eigenvalues(em.eigenvalues()).sum();
}

/// The squared Frechet distance between N(a.mean, a.cov) and N(b.mean,
/// b.cov); >= 0 (a rounding-level negative result is returned as 0).
inline double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  detail::check_stats(a, "first");
  detail::check_stats(b, "second");
  GM_CHECK(a.mean.size() == b.mean.size(), "frechet_distance: the stats have different feature "
           "dims: ", a.mean.size(), " and ", b.mean.size());
  const double d = (a.mean - b.mean).squaredNorm() + a.cov.trace() + b.cov.trace() -
                   2.0 * trace_sqrt_product(a.cov, b.cov);
  return std::max(d, 0.0);
}

}  // namespace genmodel::metrics
