// The classifier (Inception-style) score: its two extremes (1 for identical
// predictions, K for confident ones spread evenly over K classes), a value
// worked by hand, splits, logits, and bad inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "genmodel/core/factories.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/metrics/classifier_score.hpp"

namespace gm = genmodel;
namespace mt = genmodel::metrics;
using Catch::Contains;

namespace {
/// n one-hot rows over k classes, row i in class i % k; as logits: +-scale.
gm::Tensor<double> one_hot(int64_t n, int64_t k, double on = 1, double off = 0) {
  auto t = gm::Tensor<double>::empty({n, k});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) t.at(i, j) = j == i % k ? on : off;
  return t;
}
}  // namespace

TEST_CASE("classifier_score: 1 for identical predictions, K for confident even ones", "[metrics][score]") {
  auto same = gm::Tensor<float>::empty({40, 3});
  for (int64_t i = 0; i < 40; ++i) same.at(i, 0) = 0.2f, same.at(i, 1) = 0.3f, same.at(i, 2) = 0.5f;
  const auto s1 = mt::classifier_score(same);
  CHECK(s1.mean == Approx(1.0).epsilon(1e-12));
  CHECK(s1.std == Approx(0).margin(1e-12));

  // 10 splits of 30 rows, each using the 10 classes 3 times.
  const auto sk = mt::classifier_score(one_hot(300, 10));
  CHECK(sk.mean == Approx(10.0).epsilon(1e-12));
  CHECK(sk.std == Approx(0).margin(1e-12));
  const auto lk = mt::classifier_score_from_logits(one_hot(300, 10, 40.0, -40.0));
  CHECK(lk.mean == Approx(10.0).epsilon(1e-9));
  // Confident but all in one class: 1 again.
  CHECK(mt::classifier_score(one_hot(20, 1), 2).mean == Approx(1.0));
}

TEST_CASE("classifier_score: a hand-worked value, splits and bounds", "[metrics][score]") {
  // p = [1, 0], [0.5, 0.5]: p(y) = [0.75, 0.25];
  // KL = log(4/3) and 0.5 log(2/3) + 0.5 log(2): mean 0.2157616, score 1.2408064.
  const auto p = gm::tensor<double>({1, 0, 0.5, 0.5}, {2, 2});
  const auto r = mt::classifier_score(p, 1);
  CHECK(r.mean == Approx(std::exp(0.5 * (std::log(4.0 / 3) + 0.5 * std::log(2.0 / 3) + 0.5 * std::log(2.0)))));
  CHECK(r.mean == Approx(1.2408064).epsilon(1e-6));
  // Two splits of one row each: each part has one prediction, so 1 and 1.
  const auto two = mt::classifier_score(p, 2);
  CHECK(two.mean == Approx(1.0));
  // Splits are consecutive: 20 rows of class 0 then 20 of class 1 give
  // score 1 per half with 2 splits, 2 with one split.
  auto halves = gm::Tensor<double>::empty({40, 2});
  for (int64_t i = 0; i < 40; ++i) halves.at(i, 0) = i < 20, halves.at(i, 1) = i >= 20;
  CHECK(mt::classifier_score(halves, 1).mean == Approx(2.0));
  CHECK(mt::classifier_score(halves, 2).mean == Approx(1.0));

  // Random logits: a score in [1, K] with a positive spread over splits.
  gm::Generator gen(5);
  const auto s = mt::classifier_score_from_logits(gm::randn<float>({500, 10}, gen, 0.0f, 3.0f));
  CHECK(s.mean > 1.0);
  CHECK(s.mean < 10.0);
  CHECK(s.std > 0);
}

TEST_CASE("classifier_score rejects bad inputs", "[metrics][score]") {
  const auto p = one_hot(10, 3);
  REQUIRE_THROWS_WITH(mt::classifier_score(gm::zeros<double>({10})), Contains("probs must be 2-d (N, F)"));
  REQUIRE_THROWS_WITH(mt::classifier_score(p, 0), Contains("splits must be in 1..N = 10, got 0"));
  REQUIRE_THROWS_WITH(mt::classifier_score(p, 11), Contains("splits must be in 1..N = 10, got 11"));
  REQUIRE_THROWS_WITH(mt::classifier_score(one_hot(10, 3, 2.0)), Contains("row 0 holds a value outside [0, 1]"));
  REQUIRE_THROWS_WITH(mt::classifier_score(one_hot(10, 3, 0.5)), Contains("row 0 sums to 0.5, not 1"));
  REQUIRE_THROWS_WITH(mt::classifier_score(one_hot(10, 3, 1.0, -0.1)), Contains("outside [0, 1]"));
  auto nan = one_hot(10, 3);
  nan.at(4, 2) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(mt::classifier_score_from_logits(nan), Contains("non-finite value nan at row 4, column 2"));
  REQUIRE_THROWS_WITH(mt::classifier_score_from_logits(gm::zeros<float>({0, 3})), Contains("has 0 rows"));
}
