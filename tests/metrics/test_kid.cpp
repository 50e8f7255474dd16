// KID: the unbiased MMD^2 against a direct double loop, subsets drawn
// without replacement and fixed by the seed, near 0 for two samples of one
// distribution and clearly positive for shifted ones, and bad inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "genmodel/core/random.hpp"
#include "genmodel/metrics/kid.hpp"

namespace gm = genmodel;
namespace mt = genmodel::metrics;
using Catch::Contains;

namespace {
double poly(const mt::RowMatrixXd& a, Eigen::Index i, const mt::RowMatrixXd& b, Eigen::Index j) {
  return std::pow(a.row(i).dot(b.row(j)) / double(a.cols()) + 1.0, 3);
}

/// The estimator written out term by term.
double mmd2_loops(const mt::RowMatrixXd& x, const mt::RowMatrixXd& y) {
  const Eigen::Index m = x.rows();
  double xx = 0, yy = 0, xy = 0;
  for (Eigen::Index i = 0; i < m; ++i)
    for (Eigen::Index j = 0; j < m; ++j) {
      if (i != j) xx += poly(x, i, x, j), yy += poly(y, i, y, j);
      xy += poly(x, i, y, j);
    }
  return (xx + yy) / double(m * (m - 1)) - 2 * xy / double(m * m);
}

gm::Tensor<float> gaussian(int64_t n, int64_t d, gm::Generator& gen, float mean = 0) {
  return gm::randn<float>({n, d}, gen, mean, 1.0f);
}
}  // namespace

TEST_CASE("kid: the unbiased MMD^2 matches a direct computation", "[metrics][kid]") {
  mt::RowMatrixXd x = mt::RowMatrixXd::Random(9, 5), y = mt::RowMatrixXd::Random(9, 5).array() + 0.3;
  CHECK(mt::mmd2_polynomial(x, y) == Approx(mmd2_loops(x, y)).epsilon(1e-12));
  CHECK(mt::mmd2_polynomial(x, y) == Approx(mt::mmd2_polynomial(y, x)).epsilon(1e-12));

  // With subsets as large as the sets, every subset is the whole set: std 0.
  gm::Generator gen(1);
  const auto a = gaussian(30, 4, gen), b = gaussian(30, 4, gen, 0.5f);
  const auto r = mt::kid(a, b, gen, {.subsets = 5, .subset_size = 1000});
  const double full = mt::mmd2_polynomial(Eigen::Map<const Eigen::Matrix<float, -1, -1, Eigen::RowMajor>>(a.data(), 30, 4).cast<double>(),
                                          Eigen::Map<const Eigen::Matrix<float, -1, -1, Eigen::RowMajor>>(b.data(), 30, 4).cast<double>());
  CHECK(r.mean == Approx(full).epsilon(1e-9));  // order of rows does not matter
  CHECK(r.std == Approx(0).margin(1e-12));
}

TEST_CASE("kid: subsets are distinct indices, fixed by the generator", "[metrics][kid]") {
  gm::Generator gen(7);
  for (int64_t m : {1, 5, 50}) {
    const auto idx = mt::detail::sample_without_replacement(gen, 50, m);
    REQUIRE(int64_t(idx.size()) == m);
    CHECK(std::set<int64_t>(idx.begin(), idx.end()).size() == idx.size());
    CHECK(*std::min_element(idx.begin(), idx.end()) >= 0);
    CHECK(*std::max_element(idx.begin(), idx.end()) < 50);
  }
  const auto a = gaussian(200, 8, gen), b = gaussian(300, 8, gen);
  gm::Generator g1(42), g2(42), g3(43);
  const mt::KIDOptions opt{.subsets = 10, .subset_size = 50};
  const auto r1 = mt::kid(a, b, g1, opt), r2 = mt::kid(a, b, g2, opt), r3 = mt::kid(a, b, g3, opt);
  CHECK(r1.mean == r2.mean);
  CHECK(r1.std == r2.std);
  CHECK(r1.mean != r3.mean);
  CHECK(r1.std > 0);
}

TEST_CASE("kid: near 0 for one distribution, clearly positive for a shifted one", "[metrics][kid]") {
  gm::Generator gen(3);
  const auto a = gaussian(1000, 16, gen), b = gaussian(1000, 16, gen), c = gaussian(1000, 16, gen, 0.5f);
  gm::Generator g(0);
  const mt::KIDOptions opt{.subsets = 20, .subset_size = 500};
  const auto same = mt::kid(a, b, g, opt), shifted = mt::kid(a, c, g, opt);
  INFO("same " << same.mean << " +- " << same.std << ", shifted " << shifted.mean << " +- " << shifted.std);
  // MMD^2 for a mean shift of 0.5 in each of 16 dims is about 3 * |dmu|^2 / d = 0.75 to first order.
  CHECK(shifted.mean > 0.3);
  CHECK(std::abs(same.mean) < 0.02 * shifted.mean);
  CHECK(std::abs(same.mean) < 3 * same.std + 1e-3);
}

TEST_CASE("kid rejects bad inputs", "[metrics][kid]") {
  gm::Generator gen(4);
  const auto a = gaussian(10, 4, gen);
  REQUIRE_THROWS_WITH(mt::kid(a, gaussian(10, 5, gen), gen), Contains("different feature dims: [10, 4] and [10, 5]"));
  REQUIRE_THROWS_WITH(mt::kid(a, gaussian(1, 4, gen), gen), Contains("features_b has 1 rows"));
  REQUIRE_THROWS_WITH(mt::kid(gm::randn<float>({10}, gen), a, gen), Contains("features_a must be 2-d (N, F)"));
  REQUIRE_THROWS_WITH(mt::kid(a, a, gen, {.subsets = 0}), Contains("subsets must be positive, got 0"));
  REQUIRE_THROWS_WITH(mt::kid(a, a, gen, {.subset_size = 1}), Contains("subset_size must be at least 2, got 1"));
}
