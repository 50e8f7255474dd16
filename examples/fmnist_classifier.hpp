// examples/fmnist_classifier.hpp: the small Fashion-MNIST CNN shared by the
// examples: classifier.cpp trains it and saves its state dict as
// safetensors; evaluate.cpp loads that file and uses its 128 penultimate
// features as the feature space of FID-FMNIST and KID, and its logits for
// the classifier score and label accuracy.
//
// The model is two Sequentials in one Module, so the features are one call
// away:
//   Classifier net(gen);  net.load_state_dict(load_model_file(path));  net.eval();
//   NoGradGuard g;  auto f = net.features->forward(images);  // (B, 128)
//   auto logits = net.head->forward(f);                      // (B, 10)
// features: Conv 1->16 k5 p2, BN, ReLU, MaxPool 2    (16, 14, 14)
//           Conv 16->32 k5 p2, BN, ReLU, MaxPool 2   (32, 7, 7)
//           Flatten, Linear 1568 -> 128, ReLU         (128)
// head:     Linear 128 -> 10                          (10 logits)
// Images are (B, 1, 28, 28) in data::FashionMNIST's default range, [0, 1]
// (byte / 255).
#pragma once

#include <filesystem>
#include <genmodel/genmodel.hpp>
#include <genmodel/io/safetensors.hpp>
#include <memory>
#include <variant>

namespace fmnist {

namespace gm = genmodel;
namespace nn = genmodel::nn;

/// The CNN: features (images (B, 1, 28, 28) -> (B, 128)) then head (-> (B, 10)).
class Classifier : public nn::Module<float> {
 public:
  static constexpr int64_t kFeatures = 128;

  explicit Classifier(gm::Generator& gen) : nn::Module<float>("Classifier") {
    features = register_module("features", std::make_shared<nn::Sequential<float>>());
    features->emplace_back<nn::Conv2d<float>>(1, 16, 5, nn::ConvOptions{.padding = 2, .bias = false}, gen);
    features->emplace_back<nn::BatchNorm2d<float>>(16);
    features->emplace_back<nn::ReLU<float>>();
    features->emplace_back<nn::MaxPool2d<float>>(2);
    features->emplace_back<nn::Conv2d<float>>(16, 32, 5, nn::ConvOptions{.padding = 2, .bias = false}, gen);
    features->emplace_back<nn::BatchNorm2d<float>>(32);
    features->emplace_back<nn::ReLU<float>>();
    features->emplace_back<nn::MaxPool2d<float>>(2);
    features->emplace_back<nn::Flatten<float>>();
    features->emplace_back<nn::Linear<float>>(32 * 7 * 7, kFeatures, true, gen);
    features->emplace_back<nn::ReLU<float>>();
    head = register_module("head", std::make_shared<nn::Sequential<float>>());
    head->emplace_back<nn::Linear<float>>(kFeatures, 10, true, gen);
  }
  gm::Tensor<float> forward(const gm::Tensor<float>& x) { return head->forward(features->forward(x)); }

  std::shared_ptr<nn::Sequential<float>> features, head;
};

/// Reads a file written by classifier.cpp back into a state dict of floats.
inline nn::StateDict<float> load_model_file(const std::filesystem::path& path) {
  GM_CHECK(std::filesystem::is_regular_file(path), "no such file: ", path.string());
  auto file = gm::io::read_safetensors(path);
  nn::StateDict<float> sd;
  for (auto& [name, any] : file.tensors)
    std::visit([&, &name = name](const auto& t) { sd.insert(name, t.template to<float>()); }, any);
  return sd;
}

}  // namespace fmnist
