// A small network's forward and backward through every kernel family is
// bitwise reproducible for a given thread count, and agrees between 1 and 2
// threads up to float rounding.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include "genmodel/genmodel.hpp"

namespace gm = genmodel;

namespace {
/// Loss and every parameter gradient of a conv/norm/pool/linear network, seeded.
std::vector<std::vector<float>> run_network(int threads) {
  gmtest::ThreadCount scope(threads);
  gm::Generator g(42);
  auto x = gm::randn<float>({16, 3, 16, 16}, g);
  std::vector<gm::Tensor<float>> params = {
      gm::mul(gm::randn<float>({8, 3, 3, 3}, g), 0.2f),  gm::ones<float>({8}),  gm::zeros<float>({8}),
      gm::mul(gm::randn<float>({8, 4, 4, 4}, g), 0.1f),  gm::ones<float>({4}),  gm::zeros<float>({4}),
      gm::mul(gm::randn<float>({10, 4 * 8 * 8}, g), 0.05f), gm::zeros<float>({10}),
      gm::mul(gm::randn<float>({1024, 1024}, g), 0.03f)};
  for (auto& p : params) p.requires_grad_();
  auto h = gm::conv2d(x, params[0], {}, 1, 1);
  h = gm::leaky_relu(gm::batch_norm(h, {}, {}, params[1], params[2], true), 0.2f);
  h = gm::max_pool2d(h, 2);
  h = gm::conv_transpose2d(h, params[3], {}, 2, 1);  // 8x8 -> 16x16, 4 channels
  h = gm::silu(gm::group_norm(h, 2, params[4], params[5]));
  h = gm::avg_pool2d(h, 2);
  auto logits = gm::linear(gm::flatten(h, 1), params[6], params[7]);
  auto big = gm::matmul(gm::randn<float>({64, 1024}, g), params[8]);  // takes the threaded GEMM path
  auto loss = gm::add(gm::mean(gm::log_softmax(logits, 1)), gm::mean(gm::mul(big, big)));
  loss.backward();
  std::vector<std::vector<float>> out = {loss.to_vector()};
  for (auto& p : params) out.push_back(p.grad().to_vector());
  return out;
}
}  // namespace

TEST_CASE("determinism: same seed and thread count, bitwise same results", "[determinism]") {
  for (int threads : {1, 2}) REQUIRE(run_network(threads) == run_network(threads));
}

TEST_CASE("determinism: 1 and 2 threads agree up to float rounding", "[determinism]") {
  const auto one = run_network(1), two = run_network(2);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    float scale = 1e-3f;
    for (float v : one[i]) scale = std::max(scale, std::abs(v));
    for (size_t j = 0; j < one[i].size(); ++j) {
      INFO("tensor " << i << " element " << j);
      REQUIRE(std::abs(one[i][j] - two[i][j]) <= 1e-4f * scale);
    }
  }
}
