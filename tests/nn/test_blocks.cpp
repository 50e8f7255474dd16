// The diffusion building blocks: the sinusoidal time embedding against
// hand-worked values, ResBlock2d and AttentionBlock2d against reference
// computations, their parameter names, and gradients reaching every
// parameter.
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

/// Backward of a random weighting of y; every parameter must get a non-zero gradient.
void check_grads_reach_all(nn::Module<>& m, const TensorF& y, gm::Generator& g) {
  gm::sum(gm::mul(y, gm::randn<float>(y.shape(), g))).backward();
  for (const auto& [name, p] : m.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    double n2 = 0;
    for (float v : p.grad().to_vector()) n2 += double(v) * v;
    CHECK(n2 > 0);
  }
}

}  // namespace

TEST_CASE("nn::timestep_embedding: half sin, half cos, as diffusers", "[nn]") {
  auto t = gm::tensor<float>({0, 1, 10});
  // dim 4, shift 1: frequencies exp(-ln(1e4) * i / 1) = 1, 1e-4.
  auto e = nn::timestep_embedding(t, 4);
  CHECK(e.shape() == gm::Shape{3, 4});
  std::vector<float> want;
  for (float s : {0.0f, 1.0f, 10.0f})
    for (float v : {std::sin(s), std::sin(s * 1e-4f), std::cos(s), std::cos(s * 1e-4f)}) want.push_back(v);
  check_close(e, want);
  // Shift 0, flipped: frequencies exp(-ln(1e4) * i / 2) = 1, 0.01; cos first; odd dim pads a zero.
  auto f = nn::timestep_embedding(t, 5, {.flip_sin_to_cos = true, .downscale_freq_shift = 0});
  CHECK(f.shape() == gm::Shape{3, 5});
  check_close(nn::SinusoidalTimeEmbedding<>(5, {.flip_sin_to_cos = true, .downscale_freq_shift = 0})(t), f.to_vector());
  for (int b = 0; b < 3; ++b) {
    const float s = t.data()[b];
    CHECK(f.at(b, 0) == Approx(std::cos(s)));
    CHECK(f.at(b, 1) == Approx(std::cos(s * 0.01f)));
    CHECK(f.at(b, 2) == Approx(std::sin(s)).margin(1e-6));
    CHECK(f.at(b, 3) == Approx(std::sin(s * 0.01f)).margin(1e-6));
    CHECK(f.at(b, 4) == 0.0f);
  }
  CHECK_THROWS_WITH(nn::timestep_embedding(gm::ones<float>({2, 1}), 4), Contains("timesteps must be 1-d"));
  CHECK_THROWS_WITH(nn::timestep_embedding(t, 2), Contains("too small"));
}

TEST_CASE("nn::ResBlock2d: names, reference output, time embedding, gradients", "[nn]") {
  gm::Generator g(13);
  nn::ResBlock2d<> block(4, 6, {.temb_channels = 5, .groups = 2}, g);
  CHECK(block.named_parameters().keys() ==
        std::vector<std::string>{"norm1.weight", "norm1.bias", "conv1.weight", "conv1.bias", "time_emb_proj.weight",
                                 "time_emb_proj.bias", "norm2.weight", "norm2.bias", "conv2.weight", "conv2.bias",
                                 "conv_shortcut.weight", "conv_shortcut.bias"});
  auto x = gm::randn<float>({2, 4, 5, 5}, g);
  auto temb = gm::randn<float>({2, 5}, g);
  auto y = block(x, temb);
  CHECK(y.shape() == gm::Shape{2, 6, 5, 5});

  // The same computation spelled with the functional ops.
  auto h = gm::conv2d(gm::silu(gm::group_norm(x, 2, block.norm1->weight, block.norm1->bias)), block.conv1->weight,
                      block.conv1->bias, 1, 1);
  h = gm::add(h, gm::reshape(gm::linear(gm::silu(temb), block.time_emb_proj->weight, block.time_emb_proj->bias),
                             {2, 6, 1, 1}));
  h = gm::conv2d(gm::silu(gm::group_norm(h, 2, block.norm2->weight, block.norm2->bias)), block.conv2->weight,
                 block.conv2->bias, 1, 1);
  auto ref = gm::add(gm::conv2d(x, block.conv_shortcut->weight, block.conv_shortcut->bias), h);
  check_close(y, ref.to_vector(), 1e-5);

  check_grads_reach_all(block, y, g);

  CHECK_THROWS_WITH(block(x), Contains("needs a time embedding"));
  CHECK_THROWS_WITH(block(x, gm::ones<float>({2, 4})), Contains("temb must be (2, 5), got [2, 4]"));
  CHECK_THROWS_WITH(block(gm::ones<float>({2, 3, 5, 5}), temb), Contains("input must be (N, 4, H, W)"));

  nn::ResBlock2d<> same(4, 4, {.groups = 2}, g);  // identity skip, no time embedding
  CHECK(!same.conv_shortcut);
  CHECK(!same.time_emb_proj);
  CHECK(same.named_parameters().size() == 8);
  CHECK(same(x).shape() == x.shape());
  CHECK_THROWS_WITH(same(x, temb), Contains("built without a time embedding"));
  CHECK_THROWS_WITH(nn::ResBlock2d<>(4, 6, {.groups = 4}), Contains("groups (4) must divide"));
}

TEST_CASE("nn::AttentionBlock2d: matches naive loops, gradients reach every parameter", "[nn]") {
  gm::Generator g(14);
  const int64_t N = 2, C = 4, H = 3, W = 2, P = H * W;
  nn::AttentionBlock2d<> attn(C, 2, 1e-5, g);
  CHECK(attn.named_parameters().keys() == std::vector<std::string>{"norm.weight", "norm.bias", "qkv.weight",
                                                                   "qkv.bias", "proj_out.weight", "proj_out.bias"});
  // Non-trivial norm affine so its gradients are generic.
  attn.norm->weight.data()[1] = 1.5f;
  attn.norm->bias.data()[2] = 0.3f;
  auto x = gm::randn<float>({N, C, H, W}, g);
  auto y = attn(x);
  CHECK(y.shape() == x.shape());

  auto hn = gm::group_norm(x, 2, attn.norm->weight, attn.norm->bias);
  const auto& wq = attn.qkv->weight;  // (3C, C, 1, 1)
  const auto& bq = attn.qkv->bias;
  std::vector<float> want;
  for (int64_t n = 0; n < N; ++n) {
    // qkv[r][c][p] for r in {q, k, v}.
    std::vector<double> qkv(3 * C * P);
    for (int64_t o = 0; o < 3 * C; ++o)
      for (int64_t p = 0; p < P; ++p) {
        double acc = bq.data()[o];
        for (int64_t c = 0; c < C; ++c) acc += double(wq.at(o, c, 0, 0)) * hn.data()[(n * C + c) * P + p];
        qkv[o * P + p] = acc;
      }
    auto q = [&](int64_t c, int64_t p) { return qkv[c * P + p]; };
    auto k = [&](int64_t c, int64_t p) { return qkv[(C + c) * P + p]; };
    auto v = [&](int64_t c, int64_t p) { return qkv[(2 * C + c) * P + p]; };
    std::vector<double> out(C * P, 0.0);
    for (int64_t i = 0; i < P; ++i) {
      std::vector<double> s(P);
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j < P; ++j) {
        s[j] = 0;
        for (int64_t c = 0; c < C; ++c) s[j] += q(c, i) * k(c, j);
        s[j] /= std::sqrt(double(C));
        mx = std::max(mx, s[j]);
      }
      for (auto& e : s) z += (e = std::exp(e - mx));
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < P; ++j) out[c * P + i] += s[j] / z * v(c, j);
    }
    for (int64_t o = 0; o < C; ++o)
      for (int64_t p = 0; p < P; ++p) {
        double acc = attn.proj_out->bias.data()[o] + x.data()[(n * C + o) * P + p];
        for (int64_t c = 0; c < C; ++c) acc += double(attn.proj_out->weight.at(o, c, 0, 0)) * out[c * P + p];
        want.push_back(float(acc));
      }
  }
  check_close(y, want, 1e-5);

  check_grads_reach_all(attn, y, g);
  CHECK_THROWS_WITH(attn(gm::ones<float>({1, 3, 2, 2})), Contains("AttentionBlock2d(4): input must be (N, 4, H, W)"));
}

TEST_CASE("nn: a small time-conditioned network of blocks trains end to end", "[nn]") {
  // Sequential holds the unary blocks; the time-conditioned block is called directly.
  gm::Generator g(15);
  nn::Module<> net("Net");
  auto temb = net.register_module("temb", std::make_shared<nn::SinusoidalTimeEmbedding<>>(8));
  auto res = net.register_module("res", std::make_shared<nn::ResBlock2d<>>(2, 4, nn::ResBlockOptions{.temb_channels = 8, .groups = 2}, g));
  auto tail = net.register_module("tail", std::make_shared<nn::Sequential<>>(
                                              std::make_shared<nn::AttentionBlock2d<>>(4, 2, 1e-5, g),
                                              std::make_shared<nn::Conv2d<>>(4, 2, 1, nn::ConvOptions{}, g)));
  CHECK(net.named_parameters().contains("tail.0.qkv.weight"));
  CHECK(net.named_parameters().contains("res.time_emb_proj.bias"));
  auto y = tail->forward(res->forward(gm::randn<float>({3, 2, 4, 4}, g), temb->forward(gm::tensor<float>({1, 50, 900}))));
  CHECK(y.shape() == gm::Shape{3, 2, 4, 4});
  check_grads_reach_all(net, y, g);
}
