// genmodel/io/checkpoint.hpp: a checkpoint is ONE safetensors file holding
// named tensors of any element type plus a JSON document (step, seeds,
// hyper-parameters...) serialised as a string under the "__metadata__" key
// "genmodel". Python reads it with safetensors.numpy.load_file. Writing is
// atomic, so an interrupted save keeps the previous checkpoint intact.
// with_prefix / strip_prefix group several state dicts in one file
// ("model.", "optim.", "ema.").
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "genmodel/io/safetensors.hpp"

namespace genmodel::io {

struct Checkpoint {
  TensorMap tensors;
  nlohmann::json meta;
};

inline constexpr const char* kCheckpointKey = "genmodel";

/// Writes tensors and meta to `path` atomically.
inline void save_checkpoint(const std::filesystem::path& path, const TensorMap& tensors,
                            const nlohmann::json& meta = nlohmann::json::object()) {
  GM_CHECK(meta.is_object(), "save_checkpoint: ", path.string(),
           ": meta must be a JSON object, got ", meta.type_name());
  save_safetensors(path, tensors, Metadata{{kCheckpointKey, meta.dump()}});
}

/// Reads a checkpoint written by save_checkpoint; a missing file or a
/// safetensors file without the "genmodel" metadata throws naming the path.
inline Checkpoint load_checkpoint(const std::filesystem::path& path) {
  GM_CHECK(std::filesystem::is_regular_file(path), "load_checkpoint: ", path.string(),
           ": no such checkpoint file");
  TensorFile file = read_safetensors(path);
  const auto it = file.metadata.find(kCheckpointKey);
  GM_CHECK(it != file.metadata.end(), "load_checkpoint: ", path.string(),
           " is not a genmodel checkpoint (its __metadata__ has no '", kCheckpointKey, "' key)");
  Checkpoint ck{std::move(file.tensors), {}};
  try {
    ck.meta = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::parse_error& err) {
    throw Error(genmodel::detail::concat("load_checkpoint: ", path.string(), ": __metadata__ '",
                                         kCheckpointKey, "' is not valid JSON: ", err.what()));
  }
  GM_CHECK(ck.meta.is_object(), "load_checkpoint: ", path.string(), ": __metadata__ '",
           kCheckpointKey, "' is not a JSON object");
  return ck;
}

/// Copies named tensors (a std::map, an nn::StateDict, any range of
/// (name, Tensor) pairs) into `out` with `prefix` prepended to every name;
/// throws on a name clash.
template <class Named>
requires requires(const Named& n) { AnyTensor(n.begin()->second); }
void add_with_prefix(TensorMap& out, const std::string& prefix, const Named& tensors) {
  for (const auto& [name, t] : tensors)
    GM_CHECK(out.emplace(prefix + name, AnyTensor(t)).second, "add_with_prefix: tensor '",
             prefix + name, "' is already present");
}

/// The tensors of `in` whose names start with `prefix`, prefix removed, as
/// Tensor<T>; throws if one of them holds another element type.
template <class T>
std::map<std::string, Tensor<T>> strip_prefix(const TensorMap& in, const std::string& prefix) {
  std::map<std::string, Tensor<T>> out;
  for (const auto& [name, any] : in) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const Tensor<T>* t = std::get_if<Tensor<T>>(&any);
    GM_CHECK(t != nullptr, "strip_prefix: tensor '", name,
             "' holds another element type than the one requested");
    out.emplace(name.substr(prefix.size()), *t);
  }
  return out;
}

}  // namespace genmodel::io
