// The Philox generator against the published known-answer vectors, and the
// random factories: reproducible, independent of the thread count, with the
// right distributions.
#include <catch2/catch.hpp>

#include "test_util.hpp"
#include <cmath>

#include "genmodel/genmodel.hpp"

namespace gm = genmodel;

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors", "[random]") {
  // kat_vectors from the Random123 distribution (Salmon et al., SC'11).
  REQUIRE(gm::philox4x32_10({0, 0, 0, 0}, {0, 0}) == gm::PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  REQUIRE(gm::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
          gm::PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  REQUIRE(gm::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
          gm::PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("random: same seed gives the same numbers, with 1 and with 2 threads", "[random][determinism]") {
  auto draw = [](int threads) {
    gmtest::ThreadCount scope(threads);
    gm::Generator g(99);
    auto a = gm::randn<float>({1000, 37}, g);  // large enough to be split across threads
    auto b = gm::rand<double>({513}, g);
    auto c = gm::randint(0, 10, {301}, g);
    auto d = gm::bernoulli<float>({77}, 0.3, g);
    return std::make_tuple(a.to_vector(), b.to_vector(), c.to_vector(), d.to_vector(), g.offset());
  };
  const auto one = draw(1), two = draw(2), again = draw(2);
  REQUIRE(one == two);
  REQUIRE(two == again);
  gm::Generator other(100);
  REQUIRE(gm::randn<float>({8}, other).to_vector() != std::vector<float>(std::get<0>(one).begin(), std::get<0>(one).begin() + 8));
}

TEST_CASE("random: a generator continues its stream across calls", "[random]") {
  gm::Generator g(5);
  auto first = gm::rand<float>({6}, g).to_vector();
  auto second = gm::rand<float>({6}, g).to_vector();
  gm::Generator h(5);
  auto both = gm::rand<float>({12}, h).to_vector();
  // 6 floats take 2 blocks (4 per block), so the second call starts at element 8.
  REQUIRE(std::equal(first.begin(), first.end(), both.begin()));
  gm::Generator k(5, 2);
  REQUIRE(gm::rand<float>({6}, k).to_vector() == second);
  REQUIRE(g.offset() == 4);
}

TEST_CASE("random: distributions have the right moments and ranges", "[random]") {
  gm::Generator g(11);
  const int64_t n = 200000;
  auto z = gm::randn<double>({n}, g, 2.0, 3.0);
  const double m = gm::mean(z).item(), sd = std::sqrt(gm::var(z, {0}).item());
  // 6 standard errors: a wrong distribution fails, a right one essentially never does.
  REQUIRE(std::abs(m - 2.0) < 6 * 3.0 / std::sqrt(double(n)));
  REQUIRE(std::abs(sd - 3.0) < 6 * 3.0 / std::sqrt(2.0 * n));
  auto u = gm::rand<float>({n}, g, -1.0f, 3.0f);
  REQUIRE(gm::min(u).item() >= -1.0f);
  REQUIRE(gm::max(u).item() < 3.0f);
  REQUIRE(std::abs(gm::mean(u).item() - 1.0f) < 6 * 4.0 / std::sqrt(12.0 * n));
  auto r = gm::randint(-3, 4, {n}, g);
  std::vector<int64_t> counts(7);
  for (int64_t v : r.to_vector()) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    ++counts[v + 3];
  }
  for (int64_t c : counts) REQUIRE(std::abs(double(c) - n / 7.0) < 6 * std::sqrt(n / 7.0));
  auto b = gm::bernoulli<double>({n}, 0.25, g);
  REQUIRE(std::abs(gm::mean(b).item() - 0.25) < 6 * std::sqrt(0.25 * 0.75 / n));
}

TEST_CASE("random: bad arguments throw", "[random][errors]") {
  REQUIRE_THROWS_WITH(gm::randint(3, 3, {2}), Catch::Contains("randint: need low < high"));
  REQUIRE_THROWS_WITH(gm::bernoulli<float>({2}, 1.5), Catch::Contains("bernoulli: probability must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(gm::arange<float>(0, 1, 0), Catch::Contains("arange: step must be non-zero"));
}
