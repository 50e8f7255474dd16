// Checkpoints: tensors of every type plus JSON metadata in one safetensors
// file, grouped state dicts, and the errors for missing or foreign files.
#include <catch2/catch.hpp>

#include "genmodel/core/factories.hpp"
#include "genmodel/io/checkpoint.hpp"
#include "io/tmp_dir.hpp"

namespace gm = genmodel;
namespace io = genmodel::io;
using Catch::Contains;

TEST_CASE("checkpoint: state dicts and metadata round trip through one file", "[io][checkpoint]") {
  gmtest::TmpDir dir;
  const auto path = dir / "ckpt.safetensors";
  const std::map<std::string, gm::Tensor<float>> model{{"0.weight", gm::arange<float>(0, 6)},
                                                       {"0.bias", gm::ones<float>({2})}};
  // Any range of (name, tensor) pairs works, e.g. an nn::StateDict in registration order.
  const std::vector<std::pair<std::string, gm::Tensor<float>>> optim{
      {"0.weight.exp_avg", gm::full<float>({6}, 0.25f)}};
  io::TensorMap tensors;
  io::add_with_prefix(tensors, "model.", model);
  io::add_with_prefix(tensors, "optim.", optim);
  tensors.emplace("rng.counter", gm::tensor<int64_t>({7, 0}));
  tensors.emplace("ema.0.weight", gm::tensor<double>({0.5}));
  REQUIRE_THROWS_WITH(io::add_with_prefix(tensors, "model.", model),
                      Contains("tensor 'model.0.bias' is already present"));

  const nlohmann::json meta = {{"step", 1200}, {"rng_seed", 42}, {"lr", 2e-4}, {"model", "dcgan"}};
  io::save_checkpoint(path, tensors, meta);
  REQUIRE(dir.list() == std::vector<std::string>{"ckpt.safetensors"});

  const io::Checkpoint ck = io::load_checkpoint(path);
  REQUIRE(ck.meta == meta);
  REQUIRE(ck.meta["step"].get<int>() == 1200);
  const auto m = io::strip_prefix<float>(ck.tensors, "model.");
  REQUIRE(m.size() == 2);
  REQUIRE(m.at("0.weight").to_vector() == model.at("0.weight").to_vector());
  REQUIRE(m.at("0.bias").to_vector() == std::vector<float>{1, 1});
  REQUIRE(io::strip_prefix<float>(ck.tensors, "optim.").at("0.weight.exp_avg").at(5) == 0.25f);
  REQUIRE(io::strip_prefix<int64_t>(ck.tensors, "rng.").at("counter").to_vector() ==
          std::vector<int64_t>{7, 0});
  REQUIRE(io::strip_prefix<double>(ck.tensors, "ema.").at("0.weight").item() == 0.5);
  REQUIRE_THROWS_WITH(io::strip_prefix<double>(ck.tensors, "model."),
                      Contains("tensor 'model.0.bias' holds another element type"));

  // The metadata is a plain safetensors string, readable by any tool.
  REQUIRE(io::load_metadata(path).at("genmodel") == meta.dump());

  // An empty checkpoint (metadata only) is valid.
  io::save_checkpoint(path, {}, {{"step", 0}});
  REQUIRE(io::load_checkpoint(path).tensors.empty());
}

TEST_CASE("checkpoint: missing, foreign and malformed files are refused clearly",
          "[io][checkpoint]") {
  gmtest::TmpDir dir;
  REQUIRE_THROWS_WITH(io::load_checkpoint(dir / "none.safetensors"),
                      Contains("none.safetensors") && Contains("no such checkpoint file"));

  const auto plain = dir / "plain.safetensors";
  io::save_safetensors(plain, std::map<std::string, gm::Tensor<float>>{{"w", gm::ones<float>({1})}},
                       {{"format", "pt"}});
  REQUIRE_THROWS_WITH(io::load_checkpoint(plain),
                      Contains("plain.safetensors") && Contains("is not a genmodel checkpoint"));

  io::save_safetensors(plain, std::map<std::string, gm::Tensor<float>>{}, {{"genmodel", "{oops"}});
  REQUIRE_THROWS_WITH(io::load_checkpoint(plain), Contains("'genmodel' is not valid JSON"));
  io::save_safetensors(plain, std::map<std::string, gm::Tensor<float>>{}, {{"genmodel", "[1]"}});
  REQUIRE_THROWS_WITH(io::load_checkpoint(plain), Contains("'genmodel' is not a JSON object"));

  gmtest::write_bytes(plain, "not a checkpoint at all");
  REQUIRE_THROWS_WITH(io::load_checkpoint(plain),
                      Contains("plain.safetensors") && Contains("header length"));

  REQUIRE_THROWS_WITH(io::save_checkpoint(dir / "x.safetensors", {}, nlohmann::json::array()),
                      Contains("meta must be a JSON object"));
  REQUIRE_THROWS_WITH(io::save_checkpoint(dir / "no" / "x.safetensors", {}, {{"step", 1}}),
                      Contains("cannot write"));
  REQUIRE(dir.list() == std::vector<std::string>{"plain.safetensors"});
}
