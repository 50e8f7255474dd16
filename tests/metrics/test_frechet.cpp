// The Frechet distance and feature_stats: numpy-style statistics on a hand
// example, the closed form for diagonal covariances, a full covariance
// checked against a matrix square root by a different method
// (Denman-Beavers iteration), singular covariances, the invariances, and
// every rejected input.
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <random>

#include "genmodel/core/factories.hpp"
#include "genmodel/metrics/frechet.hpp"

namespace gm = genmodel;
namespace mt = genmodel::metrics;
using Catch::Contains;

namespace {

/// A random (n, f) feature tensor of doubles: N(0, 1) mixed by a random matrix.
gm::Tensor<double> random_features(int64_t n, int64_t f, uint64_t seed, double shift = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  Eigen::MatrixXd mix(f, f);
  for (auto& v : mix.reshaped()) v = nd(rng);
  auto t = gm::Tensor<double>::empty({n, f});
  for (int64_t i = 0; i < n; ++i) {
    Eigen::VectorXd z(f);
    for (auto& v : z) v = nd(rng);
    const Eigen::VectorXd x = mix * z;
    for (int64_t j = 0; j < f; ++j) t.at(i, j) = x(j) + shift;
  }
  return t;
}

Eigen::MatrixXd random_spd(int f, std::mt19937_64& rng) {
  std::normal_distribution<double> nd;
  Eigen::MatrixXd a(f, f);
  for (auto& v : a.reshaped()) v = nd(rng);
  return a * a.transpose() + 0.1 * Eigen::MatrixXd::Identity(f, f);
}

/// sqrt(A) by the Denman-Beavers iteration (for A with positive real eigenvalues).
Eigen::MatrixXd sqrtm_denman_beavers(const Eigen::MatrixXd& a) {
  Eigen::MatrixXd y = a, z = Eigen::MatrixXd::Identity(a.rows(), a.cols());
  for (int k = 0; k < 100; ++k) {
    const Eigen::MatrixXd yi = y.inverse(), zi = z.inverse();
    y = 0.5 * (y + zi);
    z = 0.5 * (z + yi);
  }
  return y;
}

mt::FeatureStats stats(Eigen::VectorXd mean, Eigen::MatrixXd cov) { return {std::move(mean), std::move(cov), 100}; }

}  // namespace

TEST_CASE("feature_stats: numpy's mean and unbiased covariance", "[metrics][frechet]") {
  // np.mean(x, 0) = [3, 5]; np.cov(x, rowvar=False) = [[4, 5], [5, 7]].
  const auto x = gm::tensor<float>({1, 2, 3, 6, 5, 7}, {3, 2});
  const auto s = mt::feature_stats(x);
  CHECK(s.n == 3);
  REQUIRE(s.mean.size() == 2);
  CHECK(s.mean(0) == Approx(3));
  CHECK(s.mean(1) == Approx(5));
  REQUIRE(s.cov.rows() == 2);
  REQUIRE(s.cov.cols() == 2);
  CHECK(s.cov(0, 0) == Approx(4));
  CHECK(s.cov(0, 1) == Approx(5));
  CHECK(s.cov(1, 0) == Approx(5));
  CHECK(s.cov(1, 1) == Approx(7));

  // Doubles too, and the covariance is exactly symmetric.
  const auto d = mt::feature_stats(random_features(40, 7, 1));
  CHECK(d.cov == d.cov.transpose());
  CHECK(d.n == 40);
}

TEST_CASE("frechet_distance: diagonal covariances match the closed form", "[metrics][frechet]") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.05, 4.0), m(-2.0, 2.0);
  const int f = 9;
  Eigen::VectorXd mu1(f), mu2(f), a(f), b(f);
  for (int i = 0; i < f; ++i) mu1(i) = m(rng), mu2(i) = m(rng), a(i) = u(rng), b(i) = u(rng);
  double want = (mu1 - mu2).squaredNorm();
  for (int i = 0; i < f; ++i) want += a(i) + b(i) - 2 * std::sqrt(a(i) * b(i));
  const double got = mt::frechet_distance(stats(mu1, a.asDiagonal()), stats(mu2, b.asDiagonal()));
  CHECK(got == Approx(want).epsilon(1e-12));
}

TEST_CASE("frechet_distance: full covariances match sqrtm by Denman-Beavers", "[metrics][frechet]") {
  std::mt19937_64 rng(5);
  for (int f : {2, 6, 16}) {
    INFO("F = " << f);
    const Eigen::MatrixXd s1 = random_spd(f, rng), s2 = random_spd(f, rng);
    Eigen::VectorXd mu1 = Eigen::VectorXd::Random(f), mu2 = Eigen::VectorXd::Random(f);
    const double tr = sqrtm_denman_beavers(s1 * s2).trace();
    const double want = (mu1 - mu2).squaredNorm() + s1.trace() + s2.trace() - 2 * tr;
    CHECK(mt::trace_sqrt_product(s1, s2) == Approx(tr).epsilon(1e-10));
    CHECK(mt::frechet_distance(stats(mu1, s1), stats(mu2, s2)) == Approx(want).epsilon(1e-9));
  }
}

TEST_CASE("frechet_distance: zero for identical stats, symmetric, a shift adds |c|^2", "[metrics][frechet]") {
  const auto a = mt::feature_stats(random_features(200, 12, 7));
  const auto b = mt::feature_stats(random_features(300, 12, 8));
  const double scale = a.cov.trace();
  CHECK(mt::frechet_distance(a, a) == Approx(0).margin(1e-10 * scale));
  const double ab = mt::frechet_distance(a, b), ba = mt::frechet_distance(b, a);
  CHECK(ab > 0);
  CHECK(ab == Approx(ba).epsilon(1e-10));

  // Adding 0.5 to every feature moves the mean by c = (0.5, ..., 0.5): +12 * 0.25.
  const auto shifted = mt::feature_stats(random_features(200, 12, 7, 0.5));
  CHECK(mt::frechet_distance(a, shifted) == Approx(3.0).epsilon(1e-9));
}

TEST_CASE("frechet_distance: singular covariances (F > N) are fine", "[metrics][frechet]") {
  // 4 samples of 10 features: covariance of rank 3, eigenvalues 0 up to rounding.
  const auto a = mt::feature_stats(random_features(4, 10, 11));
  const auto b = mt::feature_stats(random_features(4, 10, 11, 1.0));
  CHECK(mt::frechet_distance(a, a) == Approx(0).margin(1e-9 * a.cov.trace()));
  CHECK(mt::frechet_distance(a, b) == Approx(10.0).epsilon(1e-8));
  // Zero covariances: the distance of the means.
  Eigen::VectorXd m1 = Eigen::VectorXd::Zero(3), m2 = Eigen::VectorXd::Constant(3, 2.0);
  CHECK(mt::frechet_distance(stats(m1, Eigen::MatrixXd::Zero(3, 3)), stats(m2, Eigen::MatrixXd::Zero(3, 3))) ==
        Approx(12.0));
}

TEST_CASE("feature_stats and frechet_distance reject bad inputs", "[metrics][frechet]") {
  REQUIRE_THROWS_WITH(mt::feature_stats(gm::zeros<float>({6})), Contains("must be 2-d (N, F), got shape [6]"));
  REQUIRE_THROWS_WITH(mt::feature_stats(gm::zeros<float>({2, 3, 4})), Contains("must be 2-d"));
  REQUIRE_THROWS_WITH(mt::feature_stats(gm::zeros<float>({1, 4})), Contains("has 1 rows (shape [1, 4]), need at least 2"));
  REQUIRE_THROWS_WITH(mt::feature_stats(gm::zeros<float>({3, 0})), Contains("has no columns"));
  REQUIRE_THROWS_WITH(mt::feature_stats(gm::Tensor<float>()), Contains("undefined tensor"));
  auto bad = gm::zeros<float>({3, 2});
  bad.at(2, 1) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(mt::feature_stats(bad), Contains("non-finite value nan at row 2, column 1"));

  const auto a = stats(Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Identity(3, 3));
  const auto b = stats(Eigen::VectorXd::Zero(4), Eigen::MatrixXd::Identity(4, 4));
  REQUIRE_THROWS_WITH(mt::frechet_distance(a, b), Contains("different feature dims: 3 and 4"));
  REQUIRE_THROWS_WITH(mt::frechet_distance(a, stats(Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Identity(2, 2))),
                      Contains("a mean of 3 features but a covariance of 2x2"));
  REQUIRE_THROWS_WITH(mt::frechet_distance(stats(Eigen::VectorXd(), Eigen::MatrixXd()), a), Contains("empty mean"));
  Eigen::MatrixXd asym = Eigen::MatrixXd::Identity(3, 3);
  asym(0, 1) = 0.5;
  REQUIRE_THROWS_WITH(mt::frechet_distance(a, stats(Eigen::VectorXd::Zero(3), asym)), Contains("not symmetric"));
  Eigen::MatrixXd neg = Eigen::MatrixXd::Identity(3, 3);
  neg(2, 2) = -1;
  REQUIRE_THROWS_WITH(mt::frechet_distance(stats(Eigen::VectorXd::Zero(3), neg), a),
                      Contains("the first covariance is not positive semi-definite: eigenvalue -1"));
  REQUIRE_THROWS_WITH(mt::frechet_distance(a, stats(Eigen::VectorXd::Zero(3), neg)),
                      Contains("the second covariance is not positive semi-definite"));
  Eigen::VectorXd inf = Eigen::VectorXd::Zero(3);
  inf(1) = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_WITH(mt::frechet_distance(a, stats(inf, Eigen::MatrixXd::Identity(3, 3))),
                      Contains("the second stats hold non-finite values"));
}
