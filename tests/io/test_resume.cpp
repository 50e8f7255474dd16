// Training-state checkpoints: a run saved after 5 steps and resumed in fresh
// objects continues bitwise like the uninterrupted run (Adam; SGD momentum +
// EMA; a GAN-style pair), and every refused load names the path and the
// problem and changes nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <vector>

#include "genmodel/core/random.hpp"
#include "genmodel/io/training_state.hpp"
#include "genmodel/losses/regression.hpp"
#include "genmodel/nn/activation.hpp"
#include "genmodel/nn/batchnorm.hpp"
#include "genmodel/nn/dropout.hpp"
#include "genmodel/nn/linear.hpp"
#include "genmodel/nn/sequential.hpp"
#include "genmodel/optim/adam.hpp"
#include "genmodel/optim/ema.hpp"
#include "genmodel/optim/sgd.hpp"
#include "io/tmp_dir.hpp"

namespace gm = genmodel;
namespace io = genmodel::io;
namespace nn = genmodel::nn;
namespace optim = genmodel::optim;
using Catch::Contains;

namespace {

using Net = nn::Sequential<float>;

/// Linear -> BatchNorm1d (buffers) -> ReLU -> Dropout (draws from gen) -> Linear.
std::shared_ptr<Net> make_mlp(gm::Generator& gen, int64_t hidden = 16, int64_t out = 1) {
  auto net = std::make_shared<Net>();
  net->emplace_back<nn::Linear<float>>(4, hidden, true, gen);
  net->emplace_back<nn::BatchNorm1d<float>>(hidden);
  net->emplace_back<nn::ReLU<float>>();
  net->emplace_back<nn::Dropout<float>>(0.3, gen);
  net->emplace_back<nn::Linear<float>>(hidden, out, true, gen);
  return net;
}

/// One step on a batch drawn from gen; returns the loss.
float train_step(Net& net, optim::Optimizer<float>& opt, gm::Generator& gen,
                 optim::EMA<float>* ema = nullptr) {
  opt.zero_grad();
  const auto x = gm::randn<float>({8, 4}, gen);
  const auto y = gm::randn<float>({8, 1}, gen);
  const auto loss = gm::losses::mse(net(x), y);
  loss.backward();
  opt.step();
  if (ema) ema->update(net.parameters());
  return loss.item();
}

/// Every parameter and buffer, concatenated, to compare bitwise.
std::vector<float> flat_state(const nn::Module<float>& m) {
  std::vector<float> v;
  for (const auto& [key, t] : m.state_dict()) {
    const auto d = t.to_vector();
    v.insert(v.end(), d.begin(), d.end());
  }
  return v;
}

std::vector<float> flat(const std::vector<gm::Tensor<float>>& ts) {
  std::vector<float> v;
  for (const auto& t : ts) {
    const auto d = t.to_vector();
    v.insert(v.end(), d.begin(), d.end());
  }
  return v;
}

/// Optimizer state tensors, flattened in key order.
std::vector<float> flat_optim(const optim::Optimizer<float>& opt) {
  std::vector<float> v;
  for (const auto& [key, t] : opt.state_dict().tensors) {
    const auto d = t.to_vector();
    v.insert(v.end(), d.begin(), d.end());
  }
  return v;
}

}  // namespace

TEST_CASE("training state: Adam run resumed in fresh objects is bitwise identical", "[io][resume]") {
  gmtest::TmpDir dir;
  const auto path = dir / "run.safetensors";
  const optim::AdamOptions adam{.lr = 1e-2};

  // Uninterrupted: 10 steps.
  gm::Generator gen_a(42);
  auto net_a = make_mlp(gen_a);
  optim::Adam<float> opt_a(net_a->parameters(), adam);
  std::vector<float> losses_a;
  for (int i = 0; i < 10; ++i) losses_a.push_back(train_step(*net_a, opt_a, gen_a));
  REQUIRE(losses_a[5] != losses_a[4]);  // the run does move

  // Interrupted: 5 steps, save, fresh objects with other seeds and another lr, load, 5 steps.
  std::vector<float> losses_b;
  {
    gm::Generator gen(42);
    auto net = make_mlp(gen);
    optim::Adam<float> opt(net->parameters(), adam);
    for (int i = 0; i < 5; ++i) losses_b.push_back(train_step(*net, opt, gen));
    io::save_training_state(path, *net, opt, gen, 5, {{"epoch", 1}, {"note", "half way"}});
  }
  REQUIRE(dir.list() == std::vector<std::string>{"run.safetensors"});
  gm::Generator gen_b(7, 123);
  auto net_b = make_mlp(gen_b);
  optim::Adam<float> opt_b(net_b->parameters(), {.lr = 0.5});
  REQUIRE(flat_state(*net_b) != flat_state(*net_a));
  const io::TrainingState st = io::load_training_state(path, *net_b, opt_b, gen_b);
  REQUIRE(st.step == 5);
  REQUIRE(st.extra == nlohmann::json{{"epoch", 1}, {"note", "half way"}});
  REQUIRE(gen_b.seed() == 42);
  REQUIRE(opt_b.lr(0) == 1e-2);
  for (int i = 0; i < 5; ++i) losses_b.push_back(train_step(*net_b, opt_b, gen_b));

  REQUIRE(losses_b == losses_a);  // bitwise: std::vector<float>::operator== compares exactly
  REQUIRE(flat_state(*net_b) == flat_state(*net_a));  // parameters and BatchNorm buffers
  REQUIRE(flat_optim(opt_b) == flat_optim(opt_a));
  REQUIRE(gen_b.offset() == gen_a.offset());

  // The layout is plain safetensors: sections by prefix, meta as JSON.
  const io::Checkpoint ck = io::load_checkpoint(path);
  REQUIRE(ck.meta["format"] == "genmodel.training_state");
  REQUIRE(ck.meta["version"] == 1);
  REQUIRE(ck.meta["step"] == 5);
  REQUIRE(ck.meta["generators"]["rng"]["seed"] == 42);
  REQUIRE(ck.meta["optimizers"]["optim"]["optimizer"] == "Adam");
  REQUIRE(ck.tensors.count("model.0.weight"));
  REQUIRE(ck.tensors.count("model.1.running_var"));
  REQUIRE(ck.tensors.count("optim.state.0.exp_avg"));
}

TEST_CASE("training state: SGD momentum + EMA resumed is bitwise identical", "[io][resume]") {
  gmtest::TmpDir dir;
  const auto path = dir / "run.safetensors";
  const optim::SGDOptions sgd{.lr = 0.05, .momentum = 0.9};

  gm::Generator gen_a(3);
  auto net_a = make_mlp(gen_a);
  optim::SGD<float> opt_a(net_a->parameters(), sgd);
  optim::EMA<float> ema_a(net_a->parameters(), 0.9);
  std::vector<float> losses_a;
  for (int i = 0; i < 10; ++i) losses_a.push_back(train_step(*net_a, opt_a, gen_a, &ema_a));

  std::vector<float> losses_b;
  {
    gm::Generator gen(3);
    auto net = make_mlp(gen);
    optim::SGD<float> opt(net->parameters(), sgd);
    optim::EMA<float> ema(net->parameters(), 0.9);
    for (int i = 0; i < 5; ++i) losses_b.push_back(train_step(*net, opt, gen, &ema));
    io::save_training_state(path, *net, opt, gen, 5, {}, &ema);
  }
  gm::Generator gen_b(99);
  auto net_b = make_mlp(gen_b);
  optim::SGD<float> opt_b(net_b->parameters(), {.lr = 1.0, .momentum = 0.5});
  optim::EMA<float> ema_b(net_b->parameters(), 0.9);

  // Forgetting the EMA is an error, not a silent partial resume.
  REQUIRE_THROWS_WITH(io::load_training_state(path, *net_b, opt_b, gen_b),
                      Contains(path.string()) && Contains("holds EMA 'ema'"));
  REQUIRE(gen_b.seed() == 99);

  REQUIRE(io::load_training_state(path, *net_b, opt_b, gen_b, &ema_b).step == 5);
  for (int i = 0; i < 5; ++i) losses_b.push_back(train_step(*net_b, opt_b, gen_b, &ema_b));

  REQUIRE(losses_b == losses_a);
  REQUIRE(flat_state(*net_b) == flat_state(*net_a));
  REQUIRE(flat_optim(opt_b) == flat_optim(opt_a));
  REQUIRE(flat(ema_b.shadow()) == flat(ema_a.shadow()));
}

TEST_CASE("training state: a GAN-style run with two models and two optimizers", "[io][resume]") {
  gmtest::TmpDir dir;
  const auto path = dir / "gan.safetensors";
  gm::Generator gen(1);
  auto g = make_mlp(gen), d = make_mlp(gen);
  optim::Adam<float> opt_g(g->parameters(), {.lr = 1e-2});
  optim::Adam<float> opt_d(d->parameters(), {.lr = 2e-2});
  for (int i = 0; i < 3; ++i) {
    train_step(*g, opt_g, gen);
    train_step(*d, opt_d, gen);
  }
  io::TrainingParts<float> parts;
  parts.modules = {{"G", g.get()}, {"D", d.get()}};
  parts.optimizers = {{"opt_G", &opt_g}, {"opt_D", &opt_d}};
  parts.generators = {{"rng", &gen}};
  io::save_training_state(path, parts, 3);
  REQUIRE(io::load_checkpoint(path).tensors.count("D.0.weight"));
  REQUIRE(io::load_checkpoint(path).tensors.count("opt_G.state.0.exp_avg_sq"));

  gm::Generator gen2(2);
  auto g2 = make_mlp(gen2), d2 = make_mlp(gen2);
  optim::Adam<float> opt_g2(g2->parameters()), opt_d2(d2->parameters());
  io::TrainingParts<float> parts2;
  parts2.modules = {{"G", g2.get()}, {"D", d2.get()}};
  parts2.optimizers = {{"opt_G", &opt_g2}, {"opt_D", &opt_d2}};
  parts2.generators = {{"rng", &gen2}};

  SECTION("round trip") {
    REQUIRE(io::load_training_state(path, parts2).step == 3);
    REQUIRE(flat_state(*g2) == flat_state(*g));
    REQUIRE(flat_state(*d2) == flat_state(*d));
    REQUIRE(flat_optim(opt_d2) == flat_optim(opt_d));
    REQUIRE(opt_d2.lr(0) == 2e-2);
    REQUIRE(gen2.offset() == gen.offset());
  }
  SECTION("the second optimizer refuses: the first one is rolled back") {
    optim::SGD<float> sgd_d2(d2->parameters(), {.lr = 0.1});
    parts2.optimizers = {{"opt_G", &opt_g2}, {"opt_D", &sgd_d2}};
    const auto g_before = flat_state(*g2);
    REQUIRE_THROWS_WITH(io::load_training_state(path, parts2),
                        Contains(path.string()) && Contains("optimizer 'opt_D'") && Contains("\"SGD\""));
    REQUIRE(opt_g2.state_dict().tensors.empty());  // still fresh
    REQUIRE(opt_g2.lr(0) == 1e-3);
    REQUIRE(flat_state(*g2) == g_before);
    REQUIRE(gen2.seed() == 2);
  }
  SECTION("bad part names") {
    parts2.optimizers = {{"G", &opt_g2}, {"opt_D", &opt_d2}};
    REQUIRE_THROWS_WITH(io::load_training_state(path, parts2), Contains("'G' is used by more than one part"));
    parts2.optimizers = {{"opt.G", &opt_g2}};
    REQUIRE_THROWS_WITH(io::save_training_state(path, parts2, 0), Contains("contain no '.'"));
  }
}

TEST_CASE("training state: refused loads name the path and change nothing", "[io][resume]") {
  gmtest::TmpDir dir;
  const auto path = dir / "run.safetensors";
  gm::Generator gen(42);
  auto net = make_mlp(gen);
  optim::Adam<float> opt(net->parameters(), {.lr = 1e-2});
  for (int i = 0; i < 2; ++i) train_step(*net, opt, gen);
  io::save_training_state(path, *net, opt, gen, 2);

  gm::Generator gen2(5);
  auto net2 = make_mlp(gen2);
  optim::Adam<float> opt2(net2->parameters());
  const auto before = flat_state(*net2);
  auto unchanged = [&] {
    REQUIRE(flat_state(*net2) == before);
    REQUIRE(opt2.state_dict().tensors.empty());
    REQUIRE(opt2.lr(0) == 1e-3);
    REQUIRE(gen2.seed() == 5);
  };

  SECTION("missing file") {
    const auto none = dir / "none.safetensors";
    REQUIRE_THROWS_WITH(io::load_training_state(none, *net2, opt2, gen2),
                        Contains(none.string()) && Contains("no such checkpoint file"));
    unchanged();
  }
  SECTION("a checkpoint without the optimizer section") {
    const auto partial = dir / "model_only.safetensors";
    io::TrainingParts<float> parts;
    parts.modules = {{"model", net.get()}};
    parts.generators = {{"rng", &gen}};
    io::save_training_state(partial, parts, 2);
    REQUIRE_THROWS_WITH(io::load_training_state(partial, *net2, opt2, gen2),
                        Contains(partial.string()) && Contains("has no optimizer 'optim'"));
    unchanged();
  }
  SECTION("a plain checkpoint that is not a training state") {
    const auto plain = dir / "plain.safetensors";
    io::save_checkpoint(plain, {}, {{"step", 1}});
    REQUIRE_THROWS_WITH(io::load_training_state(plain, *net2, opt2, gen2),
                        Contains(plain.string()) && Contains("not a training state"));
    unchanged();
  }
  SECTION("a model whose last layer differs: named key, and no layer is loaded") {
    gm::Generator gen3(5);
    auto other = make_mlp(gen3, 16, 2);  // same first layers, output 2 instead of 1
    optim::Adam<float> opt3(other->parameters());
    const auto other_before = flat_state(*other);
    REQUIRE_THROWS_WITH(io::load_training_state(path, *other, opt3, gen3),
                        Contains(path.string()) && Contains("size mismatch for 'model.4.weight'") &&
                            Contains("[2, 16]"));
    REQUIRE(flat_state(*other) == other_before);  // "model.0.weight" was not copied either
    REQUIRE(opt3.state_dict().tensors.empty());
    REQUIRE(gen3.seed() == 5);
  }
  SECTION("a model with an extra layer: missing key") {
    gm::Generator gen3(5);
    auto bigger = make_mlp(gen3);
    bigger->emplace_back<nn::Linear<float>>(1, 1, true, gen3);
    optim::Adam<float> opt3(bigger->parameters());
    const auto bigger_before = flat_state(*bigger);
    REQUIRE_THROWS_WITH(io::load_training_state(path, *bigger, opt3, gen3),
                        Contains(path.string()) && Contains("missing key 'model.5.weight'"));
    REQUIRE(flat_state(*bigger) == bigger_before);
  }
  SECTION("a truncated file") {
    const auto cut = dir / "cut.safetensors";
    const std::string bytes = gmtest::read_bytes(path);
    gmtest::write_bytes(cut, bytes.substr(0, bytes.size() / 2));
    REQUIRE_THROWS_AS(io::load_training_state(cut, *net2, opt2, gen2), gm::Error);
    REQUIRE_THROWS_WITH(io::load_training_state(cut, *net2, opt2, gen2), Contains(cut.string()));
    unchanged();
  }
  SECTION("an optimizer of another kind") {
    optim::SGD<float> sgd(net2->parameters());
    REQUIRE_THROWS_WITH(io::load_training_state(path, *net2, sgd, gen2),
                        Contains(path.string()) && Contains("optimizer 'optim'") && Contains("\"Adam\""));
    unchanged();
  }
  SECTION("a stray tensor") {
    io::Checkpoint ck = io::load_checkpoint(path);
    ck.tensors.emplace("junk", gm::Tensor<float>::empty(gm::Shape{1}));
    io::save_checkpoint(path, ck.tensors, ck.meta);
    REQUIRE_THROWS_WITH(io::load_training_state(path, *net2, opt2, gen2),
                        Contains("tensor 'junk' belongs to no part"));
    unchanged();
  }
}
