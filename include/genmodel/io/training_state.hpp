// genmodel/io/training_state.hpp: checkpoints that resume a training run
// exactly. One safetensors file (written atomically by save_checkpoint) holds
// every part of the run under a name that becomes its tensor prefix:
//
//   model.<state-dict key>       parameters and buffers of a module
//   optim.state.<i>.<what>       an optimizer's per-parameter state
//   ema.shadow.<i>, ema.decay    an EMA of weights
//
// and, in the "genmodel" JSON metadata, what the tensors cannot say:
//
//   {"format": "genmodel.training_state", "version": 1, "step": 1200,
//    "modules": ["model"], "optimizers": {"optim": <its state_dict meta>},
//    "emas": ["ema"], "generators": {"rng": {"seed": 42, "offset": 9000}},
//    "extra": <anything the caller passed>}
//
// A run with one model uses the short overloads (names "model", "optim",
// "ema", "rng"); a GAN lists its parts by name in a TrainingParts:
//
//   io::TrainingParts<float> parts;
//   parts.modules = {{"G", &netG}, {"D", &netD}};
//   parts.optimizers = {{"opt_G", &optG}, {"opt_D", &optD}};
//   parts.generators = {{"rng", &gen}};
//   io::save_training_state(path, parts, step, {{"epoch", epoch}});
//   const io::TrainingState st = io::load_training_state(path, parts);
//
// Loading is strict and all-or-nothing: the file must hold exactly the parts
// passed (no missing, no extra section, no stray tensor), every module key
// and shape must match, and everything is read and checked before anything
// changes. Optimizer and EMA loads (which validate internally) run first and
// are rolled back from a snapshot if a later one fails; the modules and
// generators, checked beforehand, are written last. Any failure throws
// genmodel::Error naming the path and the missing or mismatching item.
//
// The parts may live on the GPU (TrainingParts<T, cuda>): their tensors are
// copied to the host to be written and back to the device when loaded; the
// file is the same either way, so a run saved on one device resumes on the
// other.
//
// Limits: tensors of float or double (what a safetensors TensorMap holds). The rollback restores each optimizer / EMA from its own
// state_dict(), so it costs one copy of their state and assumes that
// reloading a state dict the object itself produced does not throw (only an
// allocation failure could). The EMA keeps the decay it was constructed with
// (EMA::load_state_dict ignores the stored one); a Dropout or other module
// that holds a Generator must be built with one of the loaded generators.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "genmodel/core/philox.hpp"
#include "genmodel/io/checkpoint.hpp"
#include "genmodel/nn/module.hpp"
#include "genmodel/optim/ema.hpp"
#include "genmodel/optim/optimizer.hpp"

namespace genmodel::io {

inline constexpr const char* kTrainingStateFormat = "genmodel.training_state";
inline constexpr int kTrainingStateVersion = 1;

/// What load_training_state returns besides the restored objects.
struct TrainingState {
  int64_t step = 0;
  nlohmann::json extra = nlohmann::json::object();  // as passed to save_training_state
};

/// The parts of a run, each under a unique name (non-empty, no '.') that is
/// also its tensor prefix ("<name>."). Pointers are not owned. Saving only
/// reads through them.
template <class T = float, class D = cpu>
struct TrainingParts {
  std::vector<std::pair<std::string, nn::Module<T, D>*>> modules;
  std::vector<std::pair<std::string, optim::Optimizer<T, D>*>> optimizers;
  std::vector<std::pair<std::string, optim::EMA<T, D>*>> emas;
  std::vector<std::pair<std::string, Generator*>> generators;
};

namespace detail {

/// (name, tensor) pairs of any device as host tensors, for the file.
template <class Named>
auto on_host(const Named& tensors) {
  using Tensor = std::remove_cvref_t<decltype(tensors.begin()->second)>;
  std::map<std::string, genmodel::Tensor<typename Tensor::value_type, cpu>> out;
  for (const auto& [name, t] : tensors) out.emplace(name, t.template to<cpu>());
  return out;
}

/// Host tensors read from the file, on device D.
template <class D, class T>
std::map<std::string, Tensor<T, D>> on_device(std::map<std::string, Tensor<T, cpu>> tensors) {
  if constexpr (std::is_same_v<D, cpu>) {
    return tensors;
  } else {
    std::map<std::string, Tensor<T, D>> out;
    for (const auto& [name, t] : tensors) out.emplace(name, t.template to<D>());
    return out;
  }
}

template <class T, class D>
void check_part_names(const TrainingParts<T, D>& parts, const std::string& op, const std::filesystem::path& path) {
  std::set<std::string> seen;
  auto check = [&](const auto& list, const char* kind) {
    for (const auto& [name, ptr] : list) {
      GM_CHECK(!name.empty() && name.find('.') == std::string::npos, op, ": ", path.string(), ": ", kind,
               " name must be non-empty and contain no '.', got '", name, "'");
      GM_CHECK(ptr != nullptr, op, ": ", path.string(), ": ", kind, " '", name, "' is null");
      GM_CHECK(seen.insert(name).second, op, ": ", path.string(), ": the name '", name,
               "' is used by more than one part");
    }
  };
  check(parts.modules, "module");
  check(parts.optimizers, "optimizer");
  check(parts.emas, "EMA");
  check(parts.generators, "generator");
}

/// The names a metadata section lists: an array of names or an object keyed by name.
inline std::set<std::string> section_names(const nlohmann::json& meta, const char* key) {
  std::set<std::string> names;
  GM_CHECK(meta.contains(key), "the metadata has no '", key, "' section");
  const auto& s = meta[key];
  GM_CHECK(s.is_array() || s.is_object(), "metadata '", key, "' is neither a list nor an object");
  if (s.is_array()) {
    for (const auto& n : s) {
      GM_CHECK(n.is_string(), "metadata '", key, "' lists a non-string ", n.dump());
      names.insert(n.get<std::string>());
    }
  } else {
    for (const auto& [n, v] : s.items()) names.insert(n);
  }
  return names;
}

/// The file's section `key` must list exactly the parts passed.
template <class List>
void check_sections(const nlohmann::json& meta, const char* key, const char* kind, const List& passed) {
  const std::set<std::string> in_file = section_names(meta, key);
  std::set<std::string> wanted;
  for (const auto& [name, ptr] : passed) wanted.insert(name);
  for (const auto& n : wanted)
    GM_CHECK(in_file.count(n), "the checkpoint has no ", kind, " '", n, "' (its '", key, "' section holds ",
             nlohmann::json(in_file).dump(), ")");
  for (const auto& n : in_file)
    GM_CHECK(wanted.count(n), "the checkpoint holds ", kind, " '", n,
             "' but none of that name was passed to load_training_state");
}

template <class T, class D>
nn::StateDict<T, cpu> checked_module_state(const nn::Module<T, D>& module, const std::string& name,
                                           const std::map<std::string, Tensor<T>>& stored) {
  const auto own = module.state_dict();
  nn::StateDict<T, cpu> dict;
  for (const auto& [key, t] : own) {
    const auto it = stored.find(key);
    GM_CHECK(it != stored.end(), "module '", name, "' (", module.type_name(), "): missing key '", name, ".", key,
             "' (shape ", t.shape(), ")");
    GM_CHECK(it->second.shape() == t.shape(), "module '", name, "' (", module.type_name(),
             "): size mismatch for '", name, ".", key, "': the checkpoint has shape ", it->second.shape(),
             ", the model has shape ", t.shape());
    dict.insert(key, it->second);
  }
  for (const auto& [key, t] : stored)
    GM_CHECK(own.contains(key), "module '", name, "' (", module.type_name(), "): unexpected key '", name, ".",
             key, "' (shape ", t.shape(), ")");
  return dict;
}

}  // namespace detail

/// Writes every part, the step and `extra` (any JSON) to one checkpoint at
/// `path`, atomically: an interrupted save keeps the previous file intact.
template <class T, class D>
void save_training_state(const std::filesystem::path& path, const TrainingParts<T, D>& parts, int64_t step,
                         const nlohmann::json& extra = nlohmann::json::object()) {
  const std::string op = "save_training_state";
  detail::check_part_names(parts, op, path);
  TensorMap tensors;
  nlohmann::json meta = {{"format", kTrainingStateFormat},
                         {"version", kTrainingStateVersion},
                         {"step", step},
                         {"modules", nlohmann::json::array()},
                         {"optimizers", nlohmann::json::object()},
                         {"emas", nlohmann::json::array()},
                         {"generators", nlohmann::json::object()},
                         {"extra", extra}};
  for (const auto& [name, m] : parts.modules) {
    add_with_prefix(tensors, name + ".", detail::on_host(m->state_dict()));
    meta["modules"].push_back(name);
  }
  for (const auto& [name, o] : parts.optimizers) {
    auto sd = o->state_dict();
    add_with_prefix(tensors, name + ".", detail::on_host(sd.tensors));
    meta["optimizers"][name] = std::move(sd.meta);
  }
  for (const auto& [name, e] : parts.emas) {
    add_with_prefix(tensors, name + ".", detail::on_host(e->state_dict()));
    meta["emas"].push_back(name);
  }
  for (const auto& [name, g] : parts.generators)
    meta["generators"][name] = {{"seed", g->seed()}, {"offset", g->offset()}};
  save_checkpoint(path, tensors, meta);
}

/// Restores every part from `path` (see the file comment for the checks) and
/// returns the step and extra JSON. On any error nothing is changed.
template <class T, class D>
TrainingState load_training_state(const std::filesystem::path& path, const TrainingParts<T, D>& parts) {
  const std::string op = "load_training_state";
  detail::check_part_names(parts, op, path);
  const Checkpoint ck = load_checkpoint(path);  // its errors name the path
  try {
    const nlohmann::json& meta = ck.meta;
    GM_CHECK(meta.value("format", nlohmann::json()) == kTrainingStateFormat,
             "not a training state (metadata 'format' is ",
             meta.contains("format") ? meta["format"].dump() : "missing", ", expected \"", kTrainingStateFormat,
             "\")");
    GM_CHECK(meta.contains("version") && meta["version"].is_number_integer(), "metadata 'version' is missing");
    GM_CHECK(meta["version"].get<int64_t>() == kTrainingStateVersion, "format version ", meta["version"].dump(),
             " is not supported (this build reads version ", kTrainingStateVersion, ")");
    GM_CHECK(meta.contains("step") && meta["step"].is_number_integer(), "metadata 'step' is missing or not an integer");
    TrainingState state{meta["step"].get<int64_t>(), meta.value("extra", nlohmann::json::object())};

    detail::check_sections(meta, "modules", "module", parts.modules);
    detail::check_sections(meta, "optimizers", "optimizer", parts.optimizers);
    detail::check_sections(meta, "emas", "EMA", parts.emas);
    detail::check_sections(meta, "generators", "generator", parts.generators);

    // Every tensor belongs to a module, optimizer or EMA.
    std::set<std::string> prefixes;
    for (const auto& p : parts.modules) prefixes.insert(p.first + ".");
    for (const auto& p : parts.optimizers) prefixes.insert(p.first + ".");
    for (const auto& p : parts.emas) prefixes.insert(p.first + ".");
    for (const auto& [key, t] : ck.tensors) {
      const std::string prefix = key.substr(0, key.find('.') + 1);
      GM_CHECK(prefixes.count(prefix), "tensor '", key, "' belongs to no part passed to load_training_state");
    }

    // Read and check everything into temporaries.
    std::vector<nn::StateDict<T, cpu>> module_dicts;
    for (const auto& [name, m] : parts.modules)
      module_dicts.push_back(detail::checked_module_state(*m, name, strip_prefix<T>(ck.tensors, name + ".")));
    std::vector<optim::OptimizerStateDict<T, D>> optim_dicts;
    for (const auto& [name, o] : parts.optimizers) {
      optim::OptimizerStateDict<T, D> d;
      for (auto& [key, t] : detail::on_device<D>(strip_prefix<T>(ck.tensors, name + ".")))
        d.tensors.emplace(key, std::move(t));
      d.meta = meta["optimizers"].at(name);
      optim_dicts.push_back(std::move(d));
    }
    std::vector<std::map<std::string, Tensor<T, D>>> ema_dicts;
    for (const auto& [name, e] : parts.emas)
      ema_dicts.push_back(detail::on_device<D>(strip_prefix<T>(ck.tensors, name + ".")));
    std::vector<std::pair<uint64_t, uint64_t>> gen_states;
    for (const auto& [name, g] : parts.generators) {
      const nlohmann::json& j = meta["generators"].at(name);
      GM_CHECK(j.is_object() && j.contains("seed") && j["seed"].is_number_unsigned() && j.contains("offset") &&
                   j["offset"].is_number_unsigned(),
               "generator '", name, "' needs unsigned 'seed' and 'offset', got ", j.dump());
      gen_states.emplace_back(j["seed"].get<uint64_t>(), j["offset"].get<uint64_t>());
    }

    // Optimizers and EMAs validate inside load_state_dict: load them first,
    // restoring the ones already loaded if a later one refuses.
    std::vector<optim::OptimizerStateDict<T, D>> optim_backup;
    std::vector<std::map<std::string, Tensor<T, D>>> ema_backup;
    for (const auto& [name, o] : parts.optimizers) optim_backup.push_back(o->state_dict());
    for (const auto& [name, e] : parts.emas) ema_backup.push_back(e->state_dict());
    size_t optim_done = 0, ema_done = 0;
    try {
      for (; optim_done < parts.optimizers.size(); ++optim_done) {
        try {
          parts.optimizers[optim_done].second->load_state_dict(optim_dicts[optim_done]);
        } catch (const Error& err) {
          throw Error(genmodel::detail::concat("optimizer '", parts.optimizers[optim_done].first, "': ", err.what()));
        }
      }
      for (; ema_done < parts.emas.size(); ++ema_done) {
        try {
          parts.emas[ema_done].second->load_state_dict(ema_dicts[ema_done]);
        } catch (const Error& err) {
          throw Error(genmodel::detail::concat("EMA '", parts.emas[ema_done].first, "': ", err.what()));
        }
      }
    } catch (...) {
      for (size_t i = 0; i < optim_done; ++i) parts.optimizers[i].second->load_state_dict(optim_backup[i]);
      for (size_t i = 0; i < ema_done; ++i) parts.emas[i].second->load_state_dict(ema_backup[i]);
      throw;
    }

    // Checked above: these cannot fail.
    for (size_t i = 0; i < parts.modules.size(); ++i) parts.modules[i].second->load_state_dict(module_dicts[i]);
    for (size_t i = 0; i < parts.generators.size(); ++i) {
      parts.generators[i].second->manual_seed(gen_states[i].first);
      parts.generators[i].second->set_offset(gen_states[i].second);
    }
    return state;
  } catch (const Error& err) {
    throw Error(genmodel::detail::concat(op, ": ", path.string(), ": ", err.what()));
  } catch (const nlohmann::json::exception& err) {
    throw Error(genmodel::detail::concat(op, ": ", path.string(), ": malformed metadata: ", err.what()));
  }
}

/// One model, its optimizer, the generator and optionally an EMA, under the
/// names "model", "optim", "rng" and "ema".
template <class T>
void save_training_state(const std::filesystem::path& path, const nn::Module<T, cpu>& model,
                         const optim::Optimizer<T, cpu>& opt, const Generator& gen, int64_t step,
                         const nlohmann::json& extra = nlohmann::json::object(),
                         const optim::EMA<std::type_identity_t<T>, cpu>* ema = nullptr) {
  // TrainingParts holds non-const pointers for loading; saving only reads.
  TrainingParts<T> parts;
  parts.modules = {{"model", const_cast<nn::Module<T, cpu>*>(&model)}};
  parts.optimizers = {{"optim", const_cast<optim::Optimizer<T, cpu>*>(&opt)}};
  parts.generators = {{"rng", const_cast<Generator*>(&gen)}};
  if (ema) parts.emas = {{"ema", const_cast<optim::EMA<T, cpu>*>(ema)}};
  save_training_state(path, parts, step, extra);
}

/// Restores what the overload above saved; pass an EMA exactly when one was saved.
template <class T>
TrainingState load_training_state(const std::filesystem::path& path, nn::Module<T, cpu>& model,
                                  optim::Optimizer<T, cpu>& opt, Generator& gen,
                                  optim::EMA<std::type_identity_t<T>, cpu>* ema = nullptr) {
  TrainingParts<T> parts;
  parts.modules = {{"model", &model}};
  parts.optimizers = {{"optim", &opt}};
  parts.generators = {{"rng", &gen}};
  if (ema) parts.emas = {{"ema", ema}};
  return load_training_state(path, parts);
}

}  // namespace genmodel::io
