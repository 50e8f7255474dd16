// Every differentiable op, first and second derivatives, against finite
// differences in double. Adding an op means adding a row to the table.
#include "gradcheck.hpp"

namespace gm = genmodel;
using gmtest::OpFn;
using gmtest::TensorD;
using V = std::vector<TensorD>;

namespace {

gm::Generator& gen() {
  static gm::Generator g(2026);
  return g;
}

TensorD normal(gm::Shape s) { return gm::randn<double>(s, gen()); }

/// Uniform on [lo, hi).
TensorD uniform(gm::Shape s, double lo, double hi) { return gm::rand<double>(s, gen(), lo, hi); }

/// Normal values pushed at least 0.05 away from each kink, for ops that are
/// not differentiable there (relu at 0, clamp at its bounds).
TensorD away_from(gm::Shape s, std::vector<double> kinks) {
  auto t = normal(s);
  for (int64_t i = 0; i < t.numel(); ++i)
    for (double k : kinks)
      if (std::abs(t.data()[i] - k) < 0.05) t.data()[i] = k + (t.data()[i] < k ? -0.05 : 0.05);
  return t;
}

/// Distinct values (a shuffled ramp), so max and max_pool have unique winners.
TensorD distinct(gm::Shape s) {
  auto t = gm::Tensor<double>::empty(s);
  auto key = gm::rand<double>(s, gen());
  std::vector<int64_t> order(t.numel());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key.data()[a] < key.data()[b]; });
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[order[i]] = 0.1 * double(i) - 0.05 * double(t.numel());
  return t;
}

/// A random shape of `rank` dims, each in [lo, hi].
gm::Shape random_shape(int rank, int64_t lo, int64_t hi) {
  auto t = gm::randint(lo, hi + 1, {rank}, gen());
  return gm::Shape(t.to_vector());
}

gm::Tensor<int64_t> indices(std::vector<int64_t> v, gm::Shape s) {
  return gm::from_vector<int64_t>(v, s);
}

struct Row {
  std::string name;
  V inputs;
  OpFn f;
  bool second_order = true;
};

std::vector<Row> table() {
  const auto s1 = random_shape(3, 2, 4);
  std::vector<Row> rows = {
      {"add broadcast", {normal({3, 1, 4}), normal({2, 1})}, [](const V& x) { return x[0] + x[1]; }},
      {"add same shape", {normal(s1), normal(s1)}, [](const V& x) { return x[0] + x[1]; }},
      {"sub broadcast", {normal({2, 3}), normal({3})}, [](const V& x) { return x[0] - x[1]; }},
      {"mul broadcast", {normal({2, 3, 1}), normal({1, 4})}, [](const V& x) { return x[0] * x[1]; }},
      {"div broadcast", {normal({2, 3}), away_from({2, 1}, {0.0})}, [](const V& x) { return x[0] / x[1]; }},
      {"pow tensor", {uniform({2, 3}, 0.5, 2.0), normal({3})}, [](const V& x) { return gm::pow(x[0], x[1]); }},
      {"pow 3", {normal(s1)}, [](const V& x) { return gm::pow(x[0], 3.0); }},
      {"pow 2", {normal(s1)}, [](const V& x) { return gm::pow(x[0], 2.0); }},
      {"pow 0.5", {uniform({5}, 0.5, 2.0)}, [](const V& x) { return gm::pow(x[0], 0.5); }},
      {"add scalar", {normal({4})}, [](const V& x) { return x[0] + 2.5; }},
      {"mul scalar", {normal({4})}, [](const V& x) { return x[0] * -1.5; }},
      {"rsub scalar", {normal({4})}, [](const V& x) { return 1.0 - x[0]; }},
      {"rdiv scalar", {away_from({4}, {0.0})}, [](const V& x) { return 2.0 / x[0]; }},
      {"neg", {normal({4})}, [](const V& x) { return -x[0]; }},
      {"exp", {normal(s1)}, [](const V& x) { return gm::exp(x[0]); }},
      {"log", {uniform(s1, 0.5, 2.0)}, [](const V& x) { return gm::log(x[0]); }},
      {"sqrt", {uniform(s1, 0.5, 2.0)}, [](const V& x) { return gm::sqrt(x[0]); }},
      {"rsqrt", {uniform(s1, 0.5, 2.0)}, [](const V& x) { return gm::rsqrt(x[0]); }},
      {"abs", {away_from(s1, {0.0})}, [](const V& x) { return gm::abs(x[0]); }},
      {"erf", {normal(s1)}, [](const V& x) { return gm::erf(x[0]); }},
      {"clamp", {away_from(s1, {-0.5, 0.5})}, [](const V& x) { return gm::clamp(x[0], -0.5, 0.5); }},
      {"where broadcast", {normal({2, 3}), normal({3})},
       [](const V& x) { return gm::where(gm::gt(x[0], 0.0), x[0], x[1]); }},
      {"relu", {away_from(s1, {0.0})}, [](const V& x) { return gm::relu(x[0]); }},
      {"leaky_relu", {away_from(s1, {0.0})}, [](const V& x) { return gm::leaky_relu(x[0], 0.2); }},
      {"sigmoid", {normal(s1)}, [](const V& x) { return gm::sigmoid(x[0]); }},
      {"tanh", {normal(s1)}, [](const V& x) { return gm::tanh(x[0]); }},
      {"silu", {normal(s1)}, [](const V& x) { return gm::silu(x[0]); }},
      {"gelu", {normal(s1)}, [](const V& x) { return gm::gelu(x[0]); }},
      {"softplus", {mul(normal(s1), 3.0)}, [](const V& x) { return gm::softplus(x[0]); }},
      {"softmax dim 1", {normal({2, 4, 3})}, [](const V& x) { return gm::softmax(x[0], 1); }},
      {"softmax last", {normal({3, 5})}, [](const V& x) { return gm::softmax(x[0], -1); }},
      {"log_softmax dim 0", {normal({4, 3})}, [](const V& x) { return gm::log_softmax(x[0], 0); }},
      {"log_softmax last", {normal({2, 5})}, [](const V& x) { return gm::log_softmax(x[0], 1); }},
      {"sum all", {normal(s1)}, [](const V& x) { return gm::sum(x[0]); }},
      {"sum dims 0,2 keepdim", {normal({2, 3, 4})}, [](const V& x) { return gm::sum(x[0], {0, 2}, true); }},
      {"sum dim 1", {normal({2, 3, 4})}, [](const V& x) { return gm::sum(x[0], {1}); }},
      {"mean dims -1", {normal({2, 3, 4})}, [](const V& x) { return gm::mean(x[0], {-1}); }},
      {"mean all", {normal(s1)}, [](const V& x) { return gm::mean(x[0]); }},
      {"max dim 1", {distinct({2, 5, 3})}, [](const V& x) { return gm::max(x[0], {1}); }},
      {"min all", {distinct({3, 4})}, [](const V& x) { return gm::min(x[0]); }},
      {"var dims 0,2", {normal({3, 2, 4})}, [](const V& x) { return gm::var(x[0], {0, 2}); }},
      {"var biased keepdim", {normal({4, 3})}, [](const V& x) { return gm::var(x[0], {1}, true, 0); }},
      {"logsumexp", {normal({3, 4})}, [](const V& x) { return gm::logsumexp(x[0], {1}); }},
      {"norm dim 1", {normal({3, 4})}, [](const V& x) { return gm::norm(x[0], {1}); }},
      {"sum_to", {normal({2, 3, 4})}, [](const V& x) { return gm::sum_to(x[0], {3, 1}); }},
      {"reshape", {normal({2, 6})}, [](const V& x) { return gm::reshape(x[0], {3, -1}); }},
      {"flatten", {normal({2, 3, 2})}, [](const V& x) { return gm::flatten(x[0], 1); }},
      {"unsqueeze squeeze", {normal({3, 2})},
       [](const V& x) { return gm::squeeze(gm::unsqueeze(x[0], 1) * 2.0, 1); }},
      {"permute", {normal({2, 3, 4})}, [](const V& x) { return gm::permute(x[0], {2, 0, 1}); }},
      {"transpose", {normal({3, 4})}, [](const V& x) { return gm::transpose(x[0]); }},
      {"narrow", {normal({3, 5, 2})}, [](const V& x) { return gm::narrow(x[0], 1, 1, 3); }},
      {"concat", {normal({2, 1, 3}), normal({2, 3, 3}), normal({2, 2, 3})},
       [](const V& x) { return gm::concat(x, 1); }},
      {"stack", {normal({2, 3}), normal({2, 3})}, [](const V& x) { return gm::stack(x, -1); }},
      {"index_select", {normal({3, 4})},
       [](const V& x) { return gm::index_select(x[0], 1, indices({3, 0, 3, 1, 2}, {5})); }},
      {"gather", {normal({3, 4})},
       [](const V& x) { return gm::gather(x[0], 1, indices({0, 3, 1, 1, 2, 2}, {3, 2})); }},
      {"scatter_add", {normal({3, 2})},
       [](const V& x) { return gm::scatter_add(gm::Shape{3, 4}, 1, indices({0, 3, 1, 1, 2, 2}, {3, 2}), x[0]); }},
      {"broadcast_to", {normal({3, 1})}, [](const V& x) { return gm::broadcast_to(x[0], {2, 3, 4}); }},
      {"clone", {normal({3})}, [](const V& x) { return gm::clone(x[0]); }},
      {"matmul 2d", {normal({3, 4}), normal({4, 2})}, [](const V& x) { return gm::matmul(x[0], x[1]); }},
      {"matmul batched", {normal({2, 3, 4}), normal({2, 4, 5})}, [](const V& x) { return gm::matmul(x[0], x[1]); }},
      {"matmul 3d @ 2d", {normal({2, 3, 4}), normal({4, 2})}, [](const V& x) { return gm::matmul(x[0], x[1]); }},
      {"matmul a^T b^T", {normal({4, 3}), normal({2, 4})}, [](const V& x) { return gm::matmul_t(x[0], x[1], true, true); }},
      {"matmul a^T b", {normal({2, 4, 3}), normal({2, 4, 2})},
       [](const V& x) { return gm::matmul_t(x[0], x[1], true, false); }},
      {"linear", {normal({3, 4}), normal({2, 4}), normal({2})}, [](const V& x) { return gm::linear(x[0], x[1], x[2]); }},
      {"linear 3d input", {normal({2, 3, 4}), normal({5, 4})}, [](const V& x) { return gm::linear(x[0], x[1]); }},
      {"conv2d stride pad bias", {normal({2, 2, 5, 5}), normal({3, 2, 3, 3}), normal({3})},
       [](const V& x) { return gm::conv2d(x[0], x[1], x[2], 2, 1); }},
      {"conv2d dilation groups", {normal({1, 4, 6, 5}), normal({4, 2, 2, 3})},
       [](const V& x) { return gm::conv2d(x[0], x[1], {}, {1, 2}, {1, 0}, 2, 2); }},
      {"conv_transpose2d", {normal({2, 3, 3, 3}), normal({3, 2, 4, 4}), normal({2})},
       [](const V& x) { return gm::conv_transpose2d(x[0], x[1], x[2], 2, 1); }},
      {"conv_transpose2d output_padding groups dilation", {normal({1, 4, 3, 2}), normal({4, 1, 3, 2})},
       [](const V& x) { return gm::conv_transpose2d(x[0], x[1], {}, 2, {1, 0}, 1, {1, 2}, 2); }},
      {"max_pool2d", {distinct({2, 2, 5, 5})}, [](const V& x) { return gm::max_pool2d(x[0], 2); }},
      {"max_pool2d stride pad", {distinct({1, 2, 5, 4})}, [](const V& x) { return gm::max_pool2d(x[0], 3, 2, 1); }},
      {"avg_pool2d", {normal({2, 2, 4, 5})}, [](const V& x) { return gm::avg_pool2d(x[0], 2, 1, 1); }},
      {"upsample_nearest2d", {normal({1, 2, 3, 2})}, [](const V& x) { return gm::upsample_nearest2d(x[0], {6, 5}); }},
      {"upsample_bilinear2d", {normal({1, 2, 3, 3})}, [](const V& x) { return gm::upsample_bilinear2d(x[0], {5, 7}); }},
      {"upsample_bilinear2d align_corners", {normal({1, 1, 3, 4})},
       [](const V& x) { return gm::upsample_bilinear2d(x[0], {6, 6}, true); }},
      {"batch_norm train 4d", {normal({3, 2, 2, 2}), normal({2}), normal({2})},
       [](const V& x) { return gm::batch_norm(x[0], TensorD(), TensorD(), x[1], x[2], true); }},
      {"batch_norm train 2d", {normal({4, 3}), normal({3})},
       [](const V& x) { return gm::batch_norm(x[0], TensorD(), TensorD(), x[1], TensorD(), true); }},
      {"batch_norm eval", {normal({2, 3, 2, 2}), normal({3}), normal({3})},
       [](const V& x) {
         return gm::batch_norm(x[0], gm::tensor<double>({0.1, -0.2, 0.3}), gm::tensor<double>({1.5, 0.5, 2.0}), x[1], x[2], false);
       }},
      {"layer_norm", {normal({3, 2, 4}), normal({2, 4}), normal({2, 4})},
       [](const V& x) { return gm::layer_norm(x[0], 2, x[1], x[2]); }},
      {"layer_norm no affine", {normal({2, 5})}, [](const V& x) { return gm::layer_norm(x[0], 1); }},
      {"group_norm", {normal({2, 4, 3, 2}), normal({4}), normal({4})},
       [](const V& x) { return gm::group_norm(x[0], 2, x[1], x[2]); }},
      {"dropout", {normal({4, 5})},
       [](const V& x) {
         gm::Generator g(7);  // the same mask on every evaluation
         return gm::dropout(x[0], 0.3, true, g);
       }},
      {"embedding", {normal({5, 3})},
       [](const V& x) { return gm::embedding(x[0], indices({4, 0, 4, 2}, {2, 2})); }},
  };
  return rows;
}

}  // namespace

TEST_CASE("gradcheck: first derivatives of every op match finite differences", "[gradcheck]") {
  for (const auto& row : table()) {
    DYNAMIC_SECTION(row.name) { gmtest::check_first_order(row.name, row.f, row.inputs); }
  }
}

TEST_CASE("gradcheck: second derivatives of every op match finite differences", "[gradcheck]") {
  for (const auto& row : table()) {
    if (!row.second_order) continue;
    DYNAMIC_SECTION(row.name) { gmtest::check_second_order(row.name, row.f, row.inputs); }
  }
}
