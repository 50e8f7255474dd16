// FID with a feature extractor: batching does not change the features, the
// extractor runs without a graph, every extractor form works (callable,
// module, pointer to a module), a module in training mode is refused, and
// FID is 0 for the same images and grows with a shift.
#include <catch2/catch.hpp>

#include <memory>

#include "genmodel/core/factories.hpp"
#include "genmodel/core/random.hpp"
#include "genmodel/metrics/fid.hpp"
#include "genmodel/nn/activation.hpp"
#include "genmodel/nn/flatten.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/sequential.hpp"

namespace gm = genmodel;
namespace mt = genmodel::metrics;
namespace nn = genmodel::nn;
using Catch::Contains;
using Tensor = gm::Tensor<float>;

namespace {
/// Features of images (B, 1, 2, 2): (sum, first pixel, last pixel) per image.
Tensor pixel_features(const Tensor& x) {
  auto out = Tensor::empty({x.size(0), 3});
  for (int64_t i = 0; i < x.size(0); ++i) {
    const float* p = x.data() + i * 4;
    out.at(i, 0) = p[0] + p[1] + p[2] + p[3];
    out.at(i, 1) = p[0];
    out.at(i, 2) = p[3];
  }
  return out;
}

std::shared_ptr<nn::Sequential<float>> small_net(gm::Generator& gen) {
  auto net = std::make_shared<nn::Sequential<float>>();
  net->emplace_back<nn::Flatten<float>>();
  net->emplace_back<nn::Linear<float>>(4, 5, true, gen);
  net->emplace_back<nn::ReLU<float>>();
  return net;
}
}  // namespace

TEST_CASE("extract_features: batches concatenate to the unbatched features", "[metrics][fid]") {
  gm::Generator gen(1);
  const Tensor images = gm::randn<float>({7, 1, 2, 2}, gen);
  const Tensor all = pixel_features(images);
  for (int64_t batch : {1, 3, 7, 500}) {
    INFO("batch " << batch);
    const Tensor f = mt::extract_features(pixel_features, images, batch);
    REQUIRE(f.shape() == gm::Shape{7, 3});
    CHECK(f.to_vector() == all.to_vector());
  }
  // The extractor runs without a graph; the mode is restored afterwards.
  bool recording = true;
  auto spy = [&](const Tensor& x) {
    recording = gm::GradMode::is_enabled();
    return pixel_features(x);
  };
  mt::extract_features(spy, images);
  CHECK_FALSE(recording);
  CHECK(gm::GradMode::is_enabled());

  // A module, by reference and by shared_ptr, in eval mode.
  auto net = small_net(gen);
  net->eval();
  const Tensor ref = net->forward(images);
  const Tensor by_ptr = mt::extract_features(net, images, 2);
  const Tensor by_ref = mt::extract_features(*net, images, 7);
  REQUIRE(by_ptr.shape() == gm::Shape{7, 5});
  for (int64_t i = 0; i < ref.numel(); ++i) {
    CHECK(by_ptr.data()[i] == Approx(ref.data()[i]).margin(1e-6));
    CHECK(by_ref.data()[i] == Approx(ref.data()[i]).margin(1e-6));
  }
  CHECK_FALSE(by_ptr.requires_grad());
}

TEST_CASE("extract_features rejects bad inputs and misbehaving extractors", "[metrics][fid]") {
  gm::Generator gen(2);
  const Tensor images = gm::randn<float>({4, 1, 2, 2}, gen);
  auto net = small_net(gen);  // still in training mode
  REQUIRE_THROWS_WITH(mt::extract_features(net, images), Contains("is in training mode; call eval() first"));
  REQUIRE_THROWS_WITH(mt::extract_features(*net, images), Contains("Sequential is in training mode"));
  REQUIRE_THROWS_WITH(mt::extract_features(pixel_features, images, 0), Contains("batch must be positive, got 0"));
  REQUIRE_THROWS_WITH(mt::extract_features(pixel_features, gm::zeros<float>({0, 1, 2, 2})), Contains("no images"));
  REQUIRE_THROWS_WITH(mt::extract_features(pixel_features, Tensor()), Contains("undefined tensor"));
  auto flat = [](const Tensor& x) { return Tensor::empty({x.size(0) * 3}); };
  REQUIRE_THROWS_WITH(mt::extract_features(flat, images), Contains("to features (4, F), got [12]"));
  int calls = 0;
  auto changing = [&](const Tensor& x) { return Tensor::empty({x.size(0), ++calls}); };
  REQUIRE_THROWS_WITH(mt::extract_features(changing, images, 2),
                      Contains("gave 1 features for the first batch but 2 for the batch at image 2"));
}

TEST_CASE("fid: zero for the same images, grows with a shift", "[metrics][fid]") {
  gm::Generator gen(3);
  const Tensor a = gm::randn<float>({300, 1, 2, 2}, gen);
  const Tensor b = gm::randn<float>({300, 1, 2, 2}, gen);
  CHECK(mt::fid(pixel_features, a, a) == Approx(0).margin(1e-9));
  const double same = mt::fid(pixel_features, a, b, 64);
  auto shifted = a.clone_data();
  for (int64_t i = 0; i < shifted.numel(); ++i) shifted.data()[i] += 1.0f;
  // The features (sum, first, last) move by (4, 1, 1): FID = 18 exactly (the covariance is unchanged).
  const double moved = mt::fid(pixel_features, a, shifted);
  CHECK(moved == Approx(18.0).epsilon(1e-4));
  CHECK(same < 0.5);
  CHECK(same > 0);
  REQUIRE_THROWS_WITH(mt::fid(pixel_features, a, gm::randn<float>({1, 1, 2, 2}, gen)),
                      Contains("has 1 rows (shape [1, 3]), need at least 2"));
}
