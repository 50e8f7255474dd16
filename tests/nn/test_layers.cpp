// Each nn layer's forward against hand-worked values or naive loops, its
// train/eval behaviour, and the errors it gives for bad inputs.
#include <catch2/catch.hpp>

#include <cmath>

#include "genmodel/nn.hpp"
#include "test_util.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
using Catch::Contains;
using TensorF = gm::Tensor<float>;

namespace {

using gmtest::check_close;

void set(TensorF& t, const std::vector<float>& v) {
  REQUIRE(t.numel() == static_cast<int64_t>(v.size()));
  std::copy(v.begin(), v.end(), t.data());
}

/// out[n][o][y][x] = b[o] + sum w[o][c][i][j] x[n][g*cg + c][y*s - p + i*d][x*s - p + j*d].
std::vector<float> naive_conv(const TensorF& x, const TensorF& w, const TensorF& b, int s, int p, int d, int groups) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0), K = w.size(2);
  const int64_t Ho = (H + 2 * p - d * (K - 1) - 1) / s + 1, Wo = (W + 2 * p - d * (K - 1) - 1) / s + 1;
  const int64_t cg = C / groups, og = O / groups;
  std::vector<float> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t yo = 0; yo < Ho; ++yo)
        for (int64_t xo = 0; xo < Wo; ++xo) {
          double acc = b.defined() ? b.data()[o] : 0.0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < K; ++i)
              for (int64_t j = 0; j < K; ++j) {
                const int64_t yi = yo * s - p + i * d, xi = xo * s - p + j * d;
                if (yi < 0 || yi >= H || xi < 0 || xi >= W) continue;
                acc += double(w.at(o, c, i, j)) * x.at(n, (o / og) * cg + c, yi, xi);
              }
          out.push_back(float(acc));
        }
  return out;
}

/// Scatter form: each input pixel adds w * x into the output window.
std::vector<float> naive_conv_transpose(const TensorF& x, const TensorF& w, const TensorF& b, int s, int p, int op,
                                        int groups, int64_t& Ho) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(2);
  const int64_t og = w.size(1), O = og * groups, cg = C / groups;
  Ho = (H - 1) * s - 2 * p + (K - 1) + op + 1;
  const int64_t Wo = (W - 1) * s - 2 * p + (K - 1) + op + 1;
  std::vector<double> out(N * O * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho * Wo; ++i) out[(n * O + o) * Ho * Wo + i] = b.defined() ? b.data()[o] : 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx)
          for (int64_t oc = 0; oc < og; ++oc)
            for (int64_t i = 0; i < K; ++i)
              for (int64_t j = 0; j < K; ++j) {
                const int64_t yo = y * s - p + i, xo = xx * s - p + j, o = (c / cg) * og + oc;
                if (yo < 0 || yo >= Ho || xo < 0 || xo >= Wo) continue;
                out[((n * O + o) * Ho + yo) * Wo + xo] += double(w.at(c, oc, i, j)) * x.at(n, c, y, xx);
              }
  return {out.begin(), out.end()};
}

}  // namespace

TEST_CASE("nn::Linear: given weights, any leading dims", "[nn]") {
  nn::Linear<> lin(2, 3);
  set(lin.weight, {1, 2, 3, 4, 5, 6});
  set(lin.bias, {0.5f, -0.5f, 1});
  check_close(lin(gm::tensor<float>({1, 1, 2, -1}, {2, 2})), {3.5f, 6.5f, 12, 0.5f, 1.5f, 5});
  auto y3 = lin(gm::tensor<float>({1, 1, 2, -1, 1, 1, 2, -1}, {2, 2, 2}));
  CHECK(y3.shape() == gm::Shape{2, 2, 3});
  check_close(y3, {3.5f, 6.5f, 12, 0.5f, 1.5f, 5, 3.5f, 6.5f, 12, 0.5f, 1.5f, 5});
  nn::Linear<> nobias(2, 3, false);
  CHECK(!nobias.bias.defined());
  CHECK(nobias.named_parameters().size() == 1);
  CHECK_THROWS_WITH(lin(gm::ones<float>({4, 3})), Contains("Linear(2, 3): input must be (..., 2), got [4, 3]"));
}

TEST_CASE("nn::Conv2d: matches a naive loop (stride, padding, dilation, groups)", "[nn]") {
  gm::Generator g(7);
  auto x = gm::randn<float>({2, 4, 7, 6}, g);
  nn::Conv2d<> conv(4, 6, 3, {.stride = 2, .padding = 1, .dilation = 1, .groups = 2}, g);
  CHECK(conv.weight.shape() == gm::Shape{6, 2, 3, 3});
  check_close(conv(x), naive_conv(x, conv.weight, conv.bias, 2, 1, 1, 2), 1e-4);
  nn::Conv2d<> dil(4, 2, 3, {.padding = 2, .dilation = 2, .bias = false}, g);
  check_close(dil(x), naive_conv(x, dil.weight, {}, 1, 2, 2, 1), 1e-4);
  CHECK_THROWS_WITH(conv(gm::ones<float>({1, 3, 5, 5})), Contains("Conv2d: input must be (N, 4, H, W), got [1, 3, 5, 5]"));
  CHECK_THROWS_WITH(nn::Conv2d<>(3, 4, 3, {.groups = 2}), Contains("groups (2) must divide in_channels (3)"));
}

TEST_CASE("nn::ConvTranspose2d: matches a naive scatter loop", "[nn]") {
  gm::Generator g(8);
  auto x = gm::randn<float>({2, 4, 3, 3}, g);
  nn::ConvTranspose2d<> up(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2}, g);
  CHECK(up.weight.shape() == gm::Shape{4, 3, 3, 3});
  int64_t ho = 0;
  auto want = naive_conv_transpose(x, up.weight, up.bias, 2, 1, 1, 2, ho);
  auto y = up(x);
  CHECK(y.shape() == gm::Shape{2, 6, ho, ho});
  CHECK(ho == 6);
  check_close(y, want, 1e-4);
  CHECK_THROWS_WITH(nn::ConvTranspose2d<>(4, 4, 3, {.stride = 2, .output_padding = 2}), Contains("output_padding"));
}

TEST_CASE("nn::BatchNorm2d: running stats after two steps, eval uses them", "[nn]") {
  nn::BatchNorm2d<> bn(1, {.momentum = 0.5});
  // Step 1: values {1, 2, 3, 4}: mean 2.5, unbiased var 5/3.
  auto y1 = bn(gm::tensor<float>({1, 2, 3, 4}, {2, 1, 1, 2}));
  const float s1 = 1.0f / std::sqrt(1.25f + 1e-5f);  // the batch is normalised by the biased var 1.25
  check_close(y1, {-1.5f * s1, -0.5f * s1, 0.5f * s1, 1.5f * s1});
  double rm = 0.5 * 0 + 0.5 * 2.5, rv = 0.5 * 1 + 0.5 * (5.0 / 3.0);
  check_close(bn.running_mean, {float(rm)});
  check_close(bn.running_var, {float(rv)});
  // Step 2: values {0, 0, 4, 8}: mean 3, unbiased var (9 + 9 + 1 + 25) / 3.
  bn(gm::tensor<float>({0, 0, 4, 8}, {2, 1, 1, 2}));
  rm = 0.5 * rm + 0.5 * 3.0;
  rv = 0.5 * rv + 0.5 * (44.0 / 3.0);
  check_close(bn.running_mean, {float(rm)});
  check_close(bn.running_var, {float(rv)});
  CHECK(bn.num_batches_tracked.item() == 2.0f);

  bn.eval();
  set(bn.weight, {2});
  set(bn.bias, {1});
  auto y = bn(gm::tensor<float>({5, -1}, {1, 1, 1, 2}));
  check_close(y, {float(2 * (5 - rm) / std::sqrt(rv + 1e-5) + 1), float(2 * (-1 - rm) / std::sqrt(rv + 1e-5) + 1)});
  CHECK(bn.num_batches_tracked.item() == 2.0f);  // eval does not count
  CHECK_THROWS_WITH(bn(gm::ones<float>({2, 1, 3})), Contains("BatchNorm2d(1): input must be (N, C, H, W), got [2, 1, 3]"));
}

TEST_CASE("nn::BatchNorm1d: cumulative average, no tracking, no affine", "[nn]") {
  nn::BatchNorm1d<> cum(2, {.momentum = std::nullopt});
  cum(gm::tensor<float>({1, 10, 3, 30}, {2, 2}));  // means (2, 20)
  cum(gm::tensor<float>({5, 0, 7, 0}, {2, 2}));    // means (6, 0)
  check_close(cum.running_mean, {4, 10});           // the plain average of the two
  CHECK(cum(gm::ones<float>({2, 2, 3})).shape() == gm::Shape{2, 2, 3});

  nn::BatchNorm1d<> free(2, {.affine = false, .track_running_stats = false});
  CHECK(free.state_dict().size() == 0);
  free.eval();  // without running stats, eval still uses the batch's
  check_close(free(gm::tensor<float>({1, 10, 3, 30}, {2, 2})), {-1, -1, 1, 1}, 1e-3);
}

TEST_CASE("nn::GroupNorm and nn::LayerNorm: hand-worked values", "[nn]") {
  nn::GroupNorm<> gn(2, 4);
  // Group 0 = channels 0, 1 = {1, 3, 5, 7}: mean 4, var 5.
  auto x = gm::tensor<float>({1, 3, 5, 7, 0, 0, 2, 2}, {1, 4, 1, 2});
  const float a = 1 / std::sqrt(5.0f + 1e-5f), b = 1 / std::sqrt(1.0f + 1e-5f);
  check_close(gn(x), {-3 * a, -a, a, 3 * a, -b, -b, b, b});
  CHECK_THROWS_WITH(nn::GroupNorm<>(3, 4), Contains("num_groups (3)"));
  CHECK_THROWS_WITH(gn(gm::ones<float>({1, 3, 2})), Contains("GroupNorm(2, 4): input must be (N, 4, ...)"));

  nn::LayerNorm<> ln({2});
  set(ln.weight, {1, 2});
  set(ln.bias, {0, 1});
  check_close(ln(gm::tensor<float>({1, 3, 5, 5}, {2, 2})), {-1, 3, 0, 1}, 1e-4);
  CHECK_THROWS_WITH(ln(gm::ones<float>({2, 3})), Contains("LayerNorm([2]): input must end in [2], got [2, 3]"));
}

TEST_CASE("nn::Embedding: picks rows, N(0, 1) start, checks indices", "[nn]") {
  gm::Generator g(9);
  nn::Embedding<> emb(4, 3, g);
  auto idx = gm::tensor<int64_t>({3, 0, 3}, {3});
  auto y = emb(idx);
  CHECK(y.shape() == gm::Shape{3, 3});
  for (int j = 0; j < 3; ++j) {
    CHECK(y.at(0, j) == emb.weight.at(3, j));
    CHECK(y.at(1, j) == emb.weight.at(0, j));
  }
  CHECK_THROWS_WITH(emb(gm::tensor<int64_t>({4})), Contains("embedding: index 4 at position 0 is out of range for num_embeddings = 4"));
}

TEST_CASE("nn::Dropout: scaled mask in training, identity in eval", "[nn]") {
  gm::Generator g(10);
  nn::Dropout<> drop(0.25, g);
  auto x = gm::ones<float>({10000});
  auto y = drop(x);
  int64_t zeros = 0, kept_right = 0;
  for (float v : y.to_vector()) (v == 0 ? zeros : kept_right) += v == 0 || v == Approx(1 / 0.75);
  CHECK(zeros + kept_right == 10000);
  CHECK(double(zeros) / 10000 == Approx(0.25).margin(0.02));  // ~5 standard errors
  drop.eval();
  CHECK(drop(x).to_vector() == x.to_vector());
  CHECK_THROWS_WITH(nn::Dropout<>(1.0), Contains("p must be in [0, 1)"));
}

TEST_CASE("nn::Flatten and nn::Unflatten", "[nn]") {
  auto x = gm::arange<float>(0, 24).reshape({2, 3, 4});
  nn::Flatten<> flat;
  auto f = flat(x);
  CHECK(f.shape() == gm::Shape{2, 12});
  CHECK(f.to_vector() == x.to_vector());
  nn::Unflatten<> unflat(1, {3, -1});
  CHECK(unflat(f).shape() == gm::Shape{2, 3, 4});
  CHECK_THROWS_WITH(nn::Unflatten<>(1, {5, 2})(f), Contains("cannot split dim 1 of [2, 12] into (5, 2)"));
}

TEST_CASE("nn::Upsample: nearest by scale, bilinear to a size", "[nn]") {
  auto x = gm::tensor<float>({0, 1, 2, 3}, {1, 1, 2, 2});
  nn::Upsample<> near({.scale_factor = 2.0});
  check_close(near(x), {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3});
  nn::Upsample<> bil({.size = gm::Size2(3, 3), .mode = nn::UpsampleMode::bilinear, .align_corners = true});
  check_close(bil(x), {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  CHECK_THROWS_WITH(nn::Upsample<>({}), Contains("exactly one of size and scale_factor"));
}

TEST_CASE("nn activations: values of each module", "[nn]") {
  auto x = gm::tensor<float>({-2, 0, 3});
  check_close(nn::ReLU<>()(x), {0, 0, 3});
  check_close(nn::LeakyReLU<>(0.2)(x), {-0.4f, 0, 3});
  check_close(nn::Sigmoid<>()(x), {1 / (1 + std::exp(2.0f)), 0.5f, 1 / (1 + std::exp(-3.0f))});
  check_close(nn::Tanh<>()(x), {std::tanh(-2.0f), 0, std::tanh(3.0f)});
  check_close(nn::SiLU<>()(x), {-2 / (1 + std::exp(2.0f)), 0, 3 / (1 + std::exp(-3.0f))});
  check_close(nn::GELU<>()(x), {-2 * 0.5f * (1 + std::erf(-2 / std::sqrt(2.0f))), 0,
                                3 * 0.5f * (1 + std::erf(3 / std::sqrt(2.0f)))});
  check_close(nn::Softplus<>()(x), {std::log1p(std::exp(-2.0f)), std::log(2.0f), std::log1p(std::exp(3.0f))});
  CHECK(nn::GELU<>().type_name() == "GELU");
  CHECK(nn::ReLU<>().parameters().empty());
}

TEST_CASE("nn layers work in double", "[nn]") {
  gm::Generator g(17);
  nn::Sequential<double> net(
      std::make_shared<nn::Conv2d<double>>(2, 4, 3, nn::ConvOptions{.padding = 1}, g),
      std::make_shared<nn::BatchNorm2d<double>>(4), std::make_shared<nn::GroupNorm<double>>(2, 4),
      std::make_shared<nn::SiLU<double>>(), std::make_shared<nn::Upsample<double>>(nn::UpsampleOptions{.scale_factor = 2.0}),
      std::make_shared<nn::ConvTranspose2d<double>>(4, 2, 4, nn::ConvOptions{.stride = 2, .padding = 1}, g),
      std::make_shared<nn::Dropout<double>>(0.1, g), std::make_shared<nn::Flatten<double>>(),
      std::make_shared<nn::Linear<double>>(2 * 8 * 8, 3, true, g), std::make_shared<nn::LayerNorm<double>>(std::vector<int64_t>{3}));
  auto y = net(gm::randn<double>({2, 2, 2, 2}, g));
  CHECK(y.shape() == gm::Shape{2, 3});
  y.sum().backward();
  for (const auto& p : net.parameters()) CHECK(p.grad().defined());
}

TEST_CASE("pooling layers: MaxPool2d and AvgPool2d on a hand-worked plane", "[nn]") {
  // One 4x4 plane 0..15; 2x2 windows.
  auto x = gm::reshape(gm::arange<float>(0, 16), {1, 1, 4, 4});
  check_close(nn::MaxPool2d<float>(2)(x), {5, 7, 13, 15});
  check_close(nn::AvgPool2d<float>(2)(x), {2.5f, 4.5f, 10.5f, 12.5f});
  // Stride 1: overlapping windows, 3x3 output.
  check_close(nn::MaxPool2d<float>(2, 1)(x), {5, 6, 7, 9, 10, 11, 13, 14, 15});
  REQUIRE(nn::MaxPool2d<float>(2).num_parameters() == 0);
  REQUIRE(nn::MaxPool2d<float>(2).type_name() == "MaxPool2d");
}
