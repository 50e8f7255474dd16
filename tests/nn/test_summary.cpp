// nn::summary: rows (names, types, output shapes, parameter counts) of a
// nested Sequential and of a custom module, totals, and modes restored.
#include <catch2/catch.hpp>

#include "genmodel/nn.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
using Catch::Contains;

namespace {
struct Head : nn::Module<> {
  std::shared_ptr<nn::Linear<>> fc;
  Head() : nn::Module<>("Head") { fc = register_module("fc", std::make_shared<nn::Linear<>>(64, 3)); }
  gm::Tensor<float> forward(const gm::Tensor<float>& x) { return fc->forward(gm::flatten(x, 1)); }
};

std::string row(const nn::SummaryRow& r) {
  return r.name + "|" + r.type + "|" + std::to_string(r.depth) + "|" + r.output_shape + "|" + std::to_string(r.params);
}
}  // namespace

TEST_CASE("nn::summary: a nested Sequential with a custom module", "[nn]") {
  gm::Generator g(16);
  nn::Sequential<> net(std::make_shared<nn::Conv2d<>>(1, 4, 3, nn::ConvOptions{.stride = 2, .padding = 1}, g),
                       std::make_shared<nn::BatchNorm2d<>>(4),
                       std::make_shared<nn::Sequential<>>(std::make_shared<nn::ReLU<>>(),
                                                          std::make_shared<nn::Dropout<>>(0.5, g)),
                       std::make_shared<Head>());
  net.at<nn::Conv2d<>>(0)->bias.requires_grad_(false);
  auto inner = net.at<nn::Sequential<>>(2);
  inner->at<nn::Dropout<>>(1)->eval();  // a mixed tree: the flags must come back as they were

  std::vector<std::string> got;
  for (const auto& r : nn::summary_rows(net, {2, 1, 8, 8})) got.push_back(row(r));
  CHECK(got == std::vector<std::string>{
                   "|Sequential|0|[2, 3]|243",
                   "0|Conv2d|1|[2, 4, 4, 4]|40",
                   "1|BatchNorm2d|1|[2, 4, 4, 4]|8",
                   "2|Sequential|1|[2, 4, 4, 4]|0",
                   "2.0|ReLU|2|[2, 4, 4, 4]|0",
                   "2.1|Dropout|2|[2, 4, 4, 4]|0",
                   "3|Head|1|[2, 3]|195",
                   "3.fc|Linear|2|--|195",
               });
  CHECK(nn::summary_rows(net, {2, 1, 8, 8}, 1).size() == 5);

  CHECK(net.is_training());
  CHECK(net.at<nn::BatchNorm2d<>>(1)->is_training());
  CHECK(!inner->at<nn::Dropout<>>(1)->is_training());
  CHECK(net.at<nn::BatchNorm2d<>>(1)->num_batches_tracked.item() == 0.0f);  // ran in eval

  const auto text = nn::summary(net, {2, 1, 8, 8});
  CHECK_THAT(text, Contains("Layer (type)") && Contains("Output Shape") && Contains("Param #"));
  CHECK_THAT(text, Contains("  2.1 (Dropout)") && Contains("[2, 4, 4, 4]"));
  CHECK_THAT(text, Contains("Total params: 243") && Contains("Trainable params: 239") &&
                       Contains("Non-trainable params: 4"));
  CHECK_THROWS_WITH(nn::summary(net, {2, 3, 8, 8}), Contains("Conv2d: input must be (N, 1, H, W)"));
  CHECK(net.is_training());  // restored after a throw too
}

TEST_CASE("nn::summary: a custom root lists its children without shapes", "[nn]") {
  Head head;
  const auto rows = nn::summary_rows(head, {5, 4, 4, 4});
  REQUIRE(rows.size() == 2);
  CHECK(row(rows[0]) == "|Head|0|[5, 3]|195");
  CHECK(row(rows[1]) == "fc|Linear|1|--|195");
}
