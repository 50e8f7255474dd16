// examples/trainer_common.hpp: what every example trainer shares: the common
// flags (CLI11), one-line errors with a non-zero exit, the stop rule
// (--steps / --epochs / --seconds, whichever comes first), a batch stream
// that crosses epochs and resumes mid-epoch, and the IDX sample files.
//
// Common flags: --data DIR, --steps N, --epochs N, --seconds S, --batch B,
// --lr LR, --seed S, --threads T, --limit N, --out DIR, --sample-every K,
// --checkpoint-every K, --log-every K, --resume CKPT, --sample-only,
// --samples N, --samples-out FILE.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <genmodel/data.hpp>
#include <genmodel/io.hpp>
#include <optional>
#include <string>
#include <utility>

namespace genmodel::examples {

struct TrainerFlags {
  std::string data_dir;         // empty: $GENMODEL_DATA or Debian's dataset-fashion-mnist
  int64_t steps = 0;            // 0: no step limit
  int64_t epochs = 0;           // 0: no epoch limit
  double seconds = 0;           // 0: no time limit
  int64_t batch = 64;
  double lr = 0;                // 0: the model's default
  uint64_t seed = 0;
  int threads = 0;              // 0: GENMODEL_NUM_THREADS or all cores
  int64_t limit = 0;            // train on the first N images (0: all)
  std::string out_dir;
  int64_t sample_every = 500;   // a PNG grid every K steps (0: only at the end)
  int64_t checkpoint_every = 1000;
  int64_t log_every = 10;       // a metrics.csv row every K steps
  std::string resume;           // a checkpoint to continue from
  bool sample_only = false;     // with --resume: only write samples
  int64_t samples = 0;          // with --samples-out: N generated images as IDX3 ubyte
  std::string samples_out;
};

/// Registers the common flags; `epochs` is the trainer's default epoch limit.
inline void add_trainer_flags(CLI::App& app, TrainerFlags& f, const std::string& name, int64_t epochs) {
  f.epochs = epochs;
  f.out_dir = "runs/" + name;
  // A flag given twice takes its last value, so wrappers can set defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--data", f.data_dir, "Fashion-MNIST directory (default: $GENMODEL_DATA or " +
                                           std::string(data::kFashionMNISTDir) + ")");
  app.add_option("--steps", f.steps, "stop after N training steps in all (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--epochs", f.epochs, "stop after N epochs in all (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--seconds", f.seconds, "stop after S seconds of this run (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--batch", f.batch, "batch size")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(60000)));
  app.add_option("--lr", f.lr, "learning rate (default: the model's)")->check(CLI::PositiveNumber);
  app.add_option("--seed", f.seed, "random seed (initialisation, shuffling, latents)")->capture_default_str();
  app.add_option("--threads", f.threads, "threads (default: GENMODEL_NUM_THREADS or all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--limit", f.limit, "train on the first N training images only (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out", f.out_dir, "output directory: sample grids, metrics.csv, checkpoint.safetensors")
      ->capture_default_str();
  app.add_option("--sample-every", f.sample_every, "write a sample grid every K steps (0: only at the end)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--checkpoint-every", f.checkpoint_every, "save the checkpoint every K steps (0: only at the end)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--log-every", f.log_every, "append a metrics.csv row every K steps")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--resume", f.resume, "continue the run saved in this checkpoint");
  app.add_flag("--sample-only", f.sample_only, "with --resume: do not train, only write the samples");
  app.add_option("--samples", f.samples, "with --samples-out: the number of images to generate")
      ->check(CLI::Range(int64_t(1), int64_t(10000000)));
  app.add_option("--samples-out", f.samples_out,
                 "write --samples generated images to FILE as IDX3 ubyte (FILE.labels: their labels, "
                 "for conditional models)");
}

/// Parses argv; a parse error or a bad combination prints one line and gives
/// the exit code (2), --help gives 0. nullopt: go on.
inline std::optional<int> parse_flags(CLI::App& app, const TrainerFlags& f, const char* name, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    if (f.sample_only && f.resume.empty()) throw CLI::ValidationError("--sample-only", "needs --resume CKPT");
    if ((f.samples > 0) != !f.samples_out.empty())
      throw CLI::ValidationError("--samples", "--samples N and --samples-out FILE go together");
    if (!f.resume.empty() && !std::filesystem::is_regular_file(f.resume))
      throw CLI::ValidationError("--resume", "no such checkpoint file: " + f.resume);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name, e.what());
    return 2;
  }
  return std::nullopt;
}

/// Runs body(), turning any exception into one line on stderr and exit code 1.
template <class Body>
int run_reporting_errors(const char* name, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

/// Where a run is in its data: the epoch and the batch within it that come next.
struct DataPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
};

/// Batches of a DataLoader one at a time, across epoch boundaries, with the
/// position saved in checkpoints so that a resumed run sees the same batches.
template <data::Dataset DS>
class BatchStream {
 public:
  BatchStream(DS ds, data::DataLoaderOptions opt) : loader_(std::move(ds), opt) {}

  void set_position(DataPosition p) {
    it_.reset();
    loader_.set_position(p.epoch, p.batch);
    pos_ = p;
  }

  data::Batch next() {
    if (!it_ || *it_ == loader_.end()) {
      if (it_) pos_ = {pos_.epoch + 1, 0};
      it_.emplace(loader_.begin());
      GM_CHECK(!(*it_ == loader_.end()), "BatchStream: epoch ", pos_.epoch, " has no batches");
    }
    data::Batch b = **it_;
    ++*it_;
    ++pos_.batch;
    return b;
  }

  /// The position of the next batch.
  DataPosition position() const {
    return pos_.batch >= loader_.num_batches() ? DataPosition{pos_.epoch + 1, 0} : pos_;
  }
  int64_t batches_per_epoch() const { return loader_.num_batches(); }

 private:
  data::DataLoader<DS> loader_;
  std::optional<typename data::DataLoader<DS>::Iterator> it_;
  DataPosition pos_;
};

/// Fashion-MNIST's training split (by default in [-1, 1], the range of a
/// tanh output), cut to --limit images.
inline data::Prefix<data::FashionMNIST> training_images(const TrainerFlags& f, int64_t pad = 0,
                                                        data::PixelRange range = data::PixelRange::symmetric) {
  try {
    data::FashionMNIST train(data::Split::train, {.dir = f.data_dir, .range = range, .pad = pad});
    const int64_t n = f.limit > 0 ? f.limit : train.size();
    return data::Prefix<data::FashionMNIST>(std::move(train), n);
  } catch (const Error& e) {
    throw Error(std::string("the training images (--data ") + (f.data_dir.empty() ? "default" : f.data_dir) +
                "): " + e.what());
  }
}

/// The stop rule: whichever limit comes first.
class StopRule {
 public:
  explicit StopRule(const TrainerFlags& f) : f_(f), start_(std::chrono::steady_clock::now()) {}
  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  bool done(int64_t step, const DataPosition& pos) const {
    return (f_.steps > 0 && step >= f_.steps) || (f_.epochs > 0 && pos.epoch >= f_.epochs) ||
           (f_.seconds > 0 && elapsed() >= f_.seconds);
  }
  /// Steps the run will take if only the step/epoch limits count (0: unknown).
  int64_t planned_steps(int64_t steps_per_epoch) const {
    const int64_t by_epochs = f_.epochs > 0 ? f_.epochs * steps_per_epoch : 0;
    if (f_.steps > 0 && by_epochs > 0) return std::min(f_.steps, by_epochs);
    return f_.steps > 0 ? f_.steps : by_epochs;
  }

 private:
  const TrainerFlags& f_;
  std::chrono::steady_clock::time_point start_;
};

/// Writes images (N, 1, 28, 28) in [-1, 1] to `path` as IDX3 ubyte and, when
/// labels are given, the labels to `path`.labels as IDX1 ubyte.
inline void write_sample_files(const std::filesystem::path& path, const Tensor<float>& images,
                               const Tensor<int64_t>& labels = {}) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const auto pixels = io::images_to_ubyte(images);
  io::write_idx_images(path, pixels, images.size(0), images.size(-2), images.size(-1));
  if (labels.defined()) {
    std::vector<uint8_t> bytes(static_cast<std::size_t>(labels.numel()));
    for (int64_t i = 0; i < labels.numel(); ++i) bytes[std::size_t(i)] = static_cast<uint8_t>(labels.data()[i]);
    io::write_idx_labels(path.string() + ".labels", bytes);
  }
}

/// Labels 0..9 cycling from `first`: (first + i) % 10.
inline Tensor<int64_t> cycling_labels(int64_t n, int64_t first = 0) {
  auto labels = Tensor<int64_t>::empty({n});
  for (int64_t i = 0; i < n; ++i) labels.data()[i] = (first + i) % 10;
  return labels;
}

/// --samples N generated images to --samples-out, made in chunks of 500 by
/// generate(n, first, chunk) -> (n, 1, 28, 28) in [-1, 1], images first ..
/// first + n - 1 of chunk `chunk`; a conditional model's image i has label
/// i % 10, written to FILE.labels.
template <class Generate>
void write_generated_samples(const TrainerFlags& f, bool conditional, Generate&& generate) {
  constexpr int64_t kChunk = 500;
  std::vector<Tensor<float>> parts;
  for (int64_t done = 0, chunk = 0; done < f.samples; done += kChunk, ++chunk)
    parts.push_back(generate(std::min(kChunk, f.samples - done), done, uint64_t(chunk)));
  write_sample_files(f.samples_out, concat(parts, 0), conditional ? cycling_labels(f.samples) : Tensor<int64_t>());
  std::printf("wrote %lld samples to %s%s\n", static_cast<long long>(f.samples), f.samples_out.c_str(),
              conditional ? " (labels in .labels)" : "");
}

}  // namespace genmodel::examples
