// The diffusion U-Net: output shape, parameter names of its tree, the time
// and class embeddings changing the output, gradients reaching every
// parameter, input checks, and one DDPM training step and sampler run with
// it as the denoiser; and the forward, every parameter's gradient and guided
// DDIM sampling against PyTorch's twin of the U-Net on the same weights
// (tests/fixtures/make_unet_fixture.py). Small widths keep it fast.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>

#include "genmodel/genmodel.hpp"
#include "genmodel/io/safetensors.hpp"
#include "genmodel/models/ddpm.hpp"
#include "genmodel/models/unet.hpp"
#include "test_util.hpp"

namespace gm = genmodel;
namespace models = genmodel::models;
using Catch::Contains;

namespace {

models::UNetOptions small(int64_t num_classes = 0) {
  return {.channels = {8, 16, 16}, .groups = 4, .time_embed_dim = 16, .num_classes = num_classes};
}

double max_abs_diff(const gm::Tensor<float>& a, const gm::Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])));
  return m;
}

/// max |a - b| / max |b|: the error relative to the reference's scale.
double rel_error(const gm::Tensor<float>& a, const gm::Tensor<float>& b) {
  double scale = 0;
  for (float v : b.to_vector()) scale = std::max(scale, std::abs(double(v)));
  return max_abs_diff(a, b) / scale;
}

}  // namespace

TEST_CASE("UNet: (B, 1, 32, 32) in and out, the tree's names, attention only at 8x8", "[models][unet]") {
  gm::Generator g(1);
  models::UNet<float> net(small(), g);
  auto x = gm::randn<float>({2, 1, 32, 32}, g);
  auto t = gm::tensor<int64_t>({3, 700});
  CHECK(net(x, t).shape() == gm::Shape{2, 1, 32, 32});

  std::set<std::string> keys;
  for (const auto& k : net.named_parameters().keys()) keys.insert(k);
  for (const char* k : {"time_embedding.linear_1.weight", "time_embedding.linear_2.bias", "conv_in.weight",
                        "down.0.res.0.conv1.weight", "down.0.res.0.time_emb_proj.weight", "down.0.downsample.weight",
                        "down.1.res.0.conv_shortcut.weight", "down.1.downsample.weight", "down.2.attn.0.qkv.weight",
                        "mid.res1.norm1.weight", "mid.attn.proj_out.weight", "mid.res2.conv2.bias",
                        "up.0.res.0.conv_shortcut.weight", "up.0.attn.0.norm.weight", "up.0.upsample.weight",
                        "up.1.upsample.weight", "up.2.res.0.conv1.weight", "norm_out.weight", "conv_out.bias"})
    CHECK(keys.count(k) == 1);
  // Attention at the 8x8 level (level 2) only; no resampling past the ends.
  for (const char* k : {"down.0.attn.0.qkv.weight", "down.1.attn.0.qkv.weight", "up.1.attn.0.qkv.weight",
                        "up.2.attn.0.qkv.weight", "down.2.downsample.weight", "up.2.upsample.weight",
                        "class_embedding.weight"})
    CHECK(keys.count(k) == 0);
  // The time embedding's width: 16 in, as asked; skip concat widths: up.0 takes 16 + 16.
  CHECK(net.named_parameters()["time_embedding.linear_1.weight"].shape() == gm::Shape{16, 8});
  CHECK(net.named_parameters()["up.0.res.0.conv1.weight"].shape() == gm::Shape{16, 32, 3, 3});
  CHECK(net.named_parameters()["up.2.res.0.conv1.weight"].shape() == gm::Shape{8, 24, 3, 3});

  // Two blocks per level and three input channels.
  auto opts = small();
  opts.layers_per_level = 2;
  opts.in_channels = opts.out_channels = 3;
  models::UNet<float> wide(opts, g);
  CHECK(wide(gm::randn<float>({1, 3, 32, 32}, g), gm::tensor<int64_t>({5})).shape() == gm::Shape{1, 3, 32, 32});
  CHECK(wide.named_parameters().contains("up.0.res.1.conv1.weight"));
  CHECK(wide.named_parameters().contains("down.2.attn.1.qkv.weight"));
}

TEST_CASE("UNet: the timestep and the class change the output; bad inputs are refused", "[models][unet]") {
  gm::Generator g(2);
  models::UNet<float> net(small(3), g);
  net.eval();
  auto x = gm::randn<float>({1, 1, 32, 32}, g);
  gm::NoGradGuard no_grad;
  const auto a = net(x, gm::tensor<int64_t>({10}), gm::tensor<int64_t>({0}));
  CHECK(max_abs_diff(a, net(x, gm::tensor<int64_t>({900}), gm::tensor<int64_t>({0}))) > 1e-4);
  CHECK(max_abs_diff(a, net(x, gm::tensor<int64_t>({10}), gm::tensor<int64_t>({2}))) > 1e-4);
  // forward(x, t) on a conditional net is the null label (index num_classes).
  CHECK(max_abs_diff(net(x, gm::tensor<int64_t>({10})), net(x, gm::tensor<int64_t>({10}), gm::tensor<int64_t>({3}))) ==
        0);
  CHECK(net.named_parameters()["class_embedding.weight"].shape() == gm::Shape{4, 16});

  CHECK_THROWS_WITH(net(gm::randn<float>({1, 1, 28, 28}, g), gm::tensor<int64_t>({1})), Contains("(B, 1, 32, 32)"));
  CHECK_THROWS_WITH(net(x, gm::tensor<int64_t>({1, 2})), Contains("t must be (1)"));
  CHECK_THROWS_WITH(net(x, gm::tensor<int64_t>({1}), gm::tensor<int64_t>({4})), Contains("out of range"));
  models::UNet<float> plain(small(), g);
  CHECK_THROWS_WITH(plain(x, gm::tensor<int64_t>({1}), gm::tensor<int64_t>({0})), Contains("without num_classes"));
  CHECK_THROWS_WITH(models::UNet<float>({.channels = {8, 12}, .groups = 8}), Contains("must divide every width"));
  CHECK_THROWS_WITH(models::UNet<float>({.image_size = 30, .channels = {8, 8, 8}}), Contains("divisible by 2^2"));
}

TEST_CASE("UNet: one backward reaches every parameter", "[models][unet]") {
  gm::Generator g(3);
  models::UNet<float> net(small(5), g);
  auto x = gm::randn<float>({2, 1, 32, 32}, g);
  auto y = net(x, gm::tensor<int64_t>({17, 401}), gm::tensor<int64_t>({1, 5}));
  gm::sum(gm::mul(y, gm::randn<float>(y.shape(), g))).backward();
  int64_t n = 0;
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    double n2 = 0;
    for (float v : p.grad().to_vector()) n2 += double(v) * v;
    CHECK(n2 > 0);
    ++n;
  }
  CHECK(n == int64_t(net.parameters().size()));
  CHECK(n > 60);
}

TEST_CASE("UNet as the DDPM denoiser: a training step, guided DDIM sampling", "[models][unet]") {
  gm::Generator g(4);
  auto net = std::make_shared<models::UNet<float>>(small(10), g);
  models::DDPM ddpm(net, models::NoiseSchedule<float>({.num_train_timesteps = 1000}), {.num_classes = 10});
  gm::optim::Adam<float> opt(net->parameters(), {.lr = 1e-3});
  const auto w0 = net->named_parameters()["conv_out.weight"].clone_data();
  const double l = ddpm.train_step(gm::randn<float>({2, 1, 32, 32}, g), opt, gm::tensor<int64_t>({3, 7}));
  CHECK(std::isfinite(l));
  CHECK(max_abs_diff(w0, net->named_parameters()["conv_out.weight"]) > 0);
  int calls = 0;
  auto x = ddpm.sample_ddim({2, 1, 32, 32}, 2, 9,
                            {.labels = gm::tensor<int64_t>({0, 9}), .guidance_scale = 2.0,
                             .progress = [&](int64_t, int64_t, int64_t) { ++calls; }});
  CHECK(x.shape() == gm::Shape{2, 1, 32, 32});
  CHECK(calls == 2);
  CHECK(ddpm.schedule().timesteps() == std::vector<int64_t>{500, 0});
}

TEST_CASE("UNet: forward, gradients and guided DDIM equal PyTorch's twin on the same weights", "[models][unet]") {
  // T, Y, DDIM_LABELS, the 10 steps and guidance 2 as in make_unet_fixture.py.
  const auto ref = gm::io::load_safetensors<float>(std::filesystem::path(__FILE__).parent_path() /
                                                   "../fixtures/unet_torch.safetensors");
  auto net = std::make_shared<models::UNet<float>>(
      models::UNetOptions{.channels = {16, 16, 16}, .groups = 8, .num_classes = 10});
  gm::nn::StateDict<float> weights;
  for (const auto& [name, value] : net->state_dict()) weights.insert(name, ref.at(name));
  net->load_state_dict(weights);

  const auto& x = ref.at("input.x");
  const auto out = net->forward(x, gm::tensor<int64_t>({0, 617}), gm::tensor<int64_t>({3, 10}));
  CHECK(rel_error(out, ref.at("output")) < 1e-5);
  gm::losses::mse(out, ref.at("input.noise")).backward();
  for (const auto& [name, p] : net->named_parameters()) {
    INFO(name);
    CHECK(rel_error(p.grad(), ref.at("grad." + name)) < 1e-4);
  }

  models::DDPM ddpm(net, models::NoiseSchedule<float>({.clip_sample = true}), {.num_classes = 10});
  const auto labels = gm::tensor<int64_t>({3, 7});
  net->eval();
  ddpm.schedule().set_timesteps(10);
  gm::NoGradGuard no_grad;
  gm::Tensor<float> xs = x;
  for (int64_t t : ddpm.schedule().timesteps())
    xs = ddpm.schedule().ddim_step(ddpm.model_output(xs, t, labels, 2.0), t, xs);
  CHECK(rel_error(xs, ref.at("ddim")) < 1e-4);
}
