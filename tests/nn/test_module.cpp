// nn::Module: PyTorch's parameter and state-dict names for nested trees,
// counts, state-dict round trips, strict-load errors, train/eval, zero_grad,
// and the UnaryModule concept.
#include <catch2/catch.hpp>

#include "genmodel/nn.hpp"

namespace gm = genmodel;
namespace nn = genmodel::nn;
using Catch::Contains;

namespace {

/// A user module in PyTorch style: a conv block and a batch norm by name.
struct Net : nn::Module<> {
  std::shared_ptr<nn::Sequential<>> block;
  std::shared_ptr<nn::BatchNorm2d<>> bn;
  std::shared_ptr<nn::Linear<>> head;
  explicit Net(gm::Generator& g) : nn::Module<>("Net") {
    block = register_module("block", std::make_shared<nn::Sequential<>>());
    block->push_back(std::make_shared<nn::Conv2d<>>(3, 4, 3, nn::ConvOptions{.padding = 1}, g));
    block->push_back(std::make_shared<nn::ReLU<>>());
    block->push_back(std::make_shared<nn::Conv2d<>>(4, 4, 3, nn::ConvOptions{.padding = 1, .bias = false}, g));
    bn = register_module("bn", std::make_shared<nn::BatchNorm2d<>>(4));
    head = register_module("head", std::make_shared<nn::Linear<>>(4 * 5 * 5, 2, true, g));
  }
  gm::Tensor<float> forward(const gm::Tensor<float>& x) {
    return head->forward(gm::flatten(bn->forward(block->forward(x)), 1));
  }
};

std::vector<std::string> keys(const nn::NamedTensors<>& d) { return d.keys(); }

struct NoForward : nn::Module<> {
  NoForward() : nn::Module<>("NoForward") {}
};
struct WrongForward : nn::Module<> {
  int forward(const gm::Tensor<float>&) { return 0; }
};
struct NotAModule {
  gm::Tensor<float> forward(const gm::Tensor<float>& x) { return x; }
};

}  // namespace

static_assert(nn::UnaryModule<nn::Linear<>>);
static_assert(nn::UnaryModule<nn::Sequential<double>>);
static_assert(nn::UnaryModule<nn::ResBlock2d<>>);  // temb defaults to none
static_assert(!nn::UnaryModule<NoForward>, "a module without forward is rejected");
static_assert(!nn::UnaryModule<WrongForward>, "forward must return a Tensor");
static_assert(!nn::UnaryModule<NotAModule>, "a forward alone does not make a module");
static_assert(!nn::UnaryModule<nn::Embedding<>>, "Embedding takes int64 indices");

TEST_CASE("nn: a nested Sequential gets PyTorch's parameter names", "[nn]") {
  gm::Generator g(1);
  nn::Sequential<> seq;
  seq.push_back(std::make_shared<nn::Linear<>>(2, 8, true, g));
  seq.push_back(std::make_shared<nn::ReLU<>>());
  auto inner = seq.push_back(std::make_shared<nn::Sequential<>>(std::make_shared<nn::Linear<>>(8, 3, true, g),
                                                                  std::make_shared<nn::Tanh<>>()));
  seq.emplace_back<nn::Linear<>>(3, 1, false, g);
  CHECK(keys(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.0.weight", "2.0.bias", "3.weight"});
  CHECK(seq.num_parameters() == 2 * 8 + 8 + 8 * 3 + 3 + 3);
  CHECK(seq.parameters(false).empty());
  CHECK(inner->named_parameters().size() == 2);
  CHECK(seq.size() == 4);
  CHECK(seq[1]->type_name() == "ReLU");
  CHECK(seq.at<nn::Linear<>>(3)->weight.shape() == gm::Shape{1, 3});
  CHECK_THROWS_WITH(seq.at<nn::Linear<>>(1), Contains("module 1 is a ReLU"));
  CHECK_THROWS_WITH(seq[4], Contains("index 4 out of range"));
  for (const auto& p : seq.parameters()) CHECK(p.requires_grad());
  auto y = seq(gm::ones<float>({5, 2}));
  CHECK(y.shape() == gm::Shape{5, 1});
}

TEST_CASE("nn: state_dict names parameters and buffers like PyTorch", "[nn]") {
  gm::Generator g(2);
  Net net(g);
  CHECK(keys(net.named_parameters()) == std::vector<std::string>{"block.0.weight", "block.0.bias", "block.2.weight",
                                                                 "bn.weight", "bn.bias", "head.weight", "head.bias"});
  CHECK(keys(net.named_buffers()) ==
        std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"});
  CHECK(keys(net.state_dict()) ==
        std::vector<std::string>{"block.0.weight", "block.0.bias", "block.2.weight", "bn.weight", "bn.bias",
                                 "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "head.weight",
                                 "head.bias"});
  CHECK(net.num_parameters() == 4 * 3 * 9 + 4 + 4 * 4 * 9 + 4 + 4 + 100 * 2 + 2);
  CHECK(net.children().size() == 3);
  CHECK(net.state_dict()["bn.num_batches_tracked"].dim() == 0);
}

TEST_CASE("nn: register_* rejects bad and duplicate names", "[nn]") {
  nn::Module<> m("M");
  m.register_parameter("w", gm::zeros<float>({2}));
  CHECK_THROWS_WITH(m.register_buffer("w", gm::zeros<float>({2})), Contains("'w' is already registered"));
  CHECK_THROWS_WITH(m.register_parameter("a.b", gm::zeros<float>({2})), Contains("no '.'"));
  CHECK_THROWS_WITH(m.register_parameter("u", gm::Tensor<float>()), Contains("undefined"));
  auto p = m.register_parameter("op_result", gm::mul(gm::ones<float>({2}), 2.0f));
  CHECK((p.is_leaf() && p.requires_grad()));
}

TEST_CASE("nn: a state_dict round trip gives identical outputs", "[nn]") {
  gm::Generator g1(3), g2(4);
  Net a(g1), b(g2);
  auto x = gm::randn<float>({2, 3, 5, 5}, g1);
  a.train();
  a.forward(x);  // moves bn's running stats and num_batches_tracked
  a.eval();
  b.eval();
  const auto ya = a.forward(x);
  CHECK(a.forward(x).to_vector() != b.forward(x).to_vector());
  b.load_state_dict(a.state_dict());
  CHECK(b.forward(x).to_vector() == ya.to_vector());
  CHECK(b.bn->num_batches_tracked.item() == 1.0f);
  // Values are copied: b's tensors keep their own storage.
  CHECK(!b.head->weight.shares_storage(a.head->weight));
}

TEST_CASE("nn: strict load_state_dict names the offending key and shapes", "[nn]") {
  gm::Generator g(5);
  nn::Sequential<> small(std::make_shared<nn::Linear<>>(2, 3, true, g));
  nn::Sequential<> other(std::make_shared<nn::Linear<>>(2, 4, true, g));
  nn::Sequential<> nobias(std::make_shared<nn::Linear<>>(2, 3, false, g));
  nn::Sequential<> deeper(std::make_shared<nn::Linear<>>(2, 3, true, g), std::make_shared<nn::Linear<>>(3, 1, true, g));

  CHECK_THROWS_WITH(small.load_state_dict(nobias.state_dict()), Contains("missing key '0.bias'"));
  CHECK_THROWS_WITH(small.load_state_dict(deeper.state_dict()), Contains("unexpected key '1.weight'"));
  CHECK_THROWS_WITH(small.load_state_dict(other.state_dict()),
                    Contains("'0.weight'") && Contains("[4, 2]") && Contains("[3, 2]"));

  // Non-strict: copies what matches and skips the rest.
  const auto before = small.at<nn::Linear<>>(0)->bias.to_vector();
  small.load_state_dict(nobias.state_dict(), false);
  CHECK(small.at<nn::Linear<>>(0)->weight.to_vector() == nobias.at<nn::Linear<>>(0)->weight.to_vector());
  CHECK(small.at<nn::Linear<>>(0)->bias.to_vector() == before);
  small.load_state_dict(other.state_dict(), false);  // every shape differs: nothing is copied
  CHECK(small.at<nn::Linear<>>(0)->bias.to_vector() == before);
}

TEST_CASE("nn: train/eval recurse and zero_grad clears every gradient", "[nn]") {
  gm::Generator g(6);
  Net net(g);
  CHECK(net.bn->is_training());
  net.eval();
  CHECK(!net.is_training());
  CHECK(!net.bn->is_training());
  CHECK(!net.block->at<nn::ReLU<>>(1)->is_training());
  net.train();
  CHECK(net.block->at<nn::Conv2d<>>(0)->is_training());

  net.forward(gm::randn<float>({2, 3, 5, 5}, g)).sum().backward();
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    CHECK(p.grad().defined());
  }
  net.zero_grad();
  for (const auto& p : net.parameters()) CHECK(!p.grad().defined());
}
