// evaluate: scores generated Fashion-MNIST samples against the real test
// set, in the feature space of the classifier that examples/classifier.cpp
// trains (run it first; it writes runs/classifier/classifier.safetensors).
//
//   evaluate --samples samples.idx [--labels samples.idx.labels]
//
// reads N 28x28 grey images from an IDX3 ubyte file (what
// io::write_idx_images writes, e.g. from io::images_to_ubyte of a [-1, 1]
// generator's output; gzipped files are read too) and prints one JSON
// object on stdout:
//   {"samples": N, "fid_fmnist": F, "kid_fmnist": {"mean": .., "std": ..},
//    "classifier_score": {"mean": .., "std": ..}, "label_accuracy": A,
//    "reference": "fashion-mnist test (10000)", "note": "..."}
// FID-FMNIST and KID compare the classifier's 128 penultimate features of
// the samples with those of the 10000 test images (computed afresh each
// run, nothing is cached); the classifier score is the Inception Score's
// formula on the classifier's 10-way predictions; label_accuracy (only
// with labels: --labels, or FILE.labels when it exists) is the fraction of
// samples the classifier puts in their label's class, for conditional
// models. These numbers are comparable with each other, not with
// Inception-based FID.
//
// Pixels reach the classifier exactly as it was trained: byte / 255, the
// data::FashionMNIST default. --max-fid, --min-fid and --min-label-accuracy
// turn the run into a check (exit 1 when violated, after the JSON).
// --write-reference FILE and --write-noise FILE (with --limit N) write
// test inputs: the first N real test images (and FILE.labels), or N
// images of uniform noise. Any bad flag or file: one line on stderr, a
// non-zero exit.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <genmodel/data.hpp>
#include <genmodel/genmodel.hpp>
#include <genmodel/io/idx_writer.hpp>
#include <genmodel/metrics.hpp>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "fmnist_classifier.hpp"

namespace gm = genmodel;
namespace fs = std::filesystem;
namespace mt = genmodel::metrics;
using Tensor = gm::Tensor<float>;

namespace {

constexpr int64_t kSide = 28;

struct Options {
  std::string samples, labels, classifier = "runs/classifier/classifier.safetensors", data_dir;
  std::string write_reference, write_noise;
  int64_t limit = 0, batch = 500, kid_subsets = 100, kid_subset_size = 1000, splits = 10;
  int threads = 0;
  uint64_t seed = 0;
  double max_fid = -1, min_fid = -1, min_label_accuracy = -1;  // < 0: not given
};

/// Bytes (N, 28, 28) as the classifier's input (N, 1, 28, 28) in [0, 1].
Tensor to_input(const std::vector<uint8_t>& bytes, int64_t n) {
  auto x = Tensor::empty({n, 1, kSide, kSide});
  gm::data::scale_pixels(bytes.data(), x.data(), n * kSide * kSide, gm::data::PixelRange::unit);
  return x;
}

/// The samples file: N >= 2 images of 28x28.
gm::data::IdxArray read_samples(const std::string& path) {
  GM_CHECK(fs::is_regular_file(path), "samples file ", path, " not found");
  auto im = gm::data::read_idx_images(path);
  GM_CHECK(im.shape[1] == kSide && im.shape[2] == kSide, path, ": expected 28x28 images, got ",
           im.shape[1], "x", im.shape[2]);
  GM_CHECK(im.shape[0] >= 2, path, ": holds ", im.shape[0], " images; FID and KID need at least 2");
  return im;
}

/// The labels for n samples, or nothing: --labels, else samples.labels if present.
std::optional<std::vector<uint8_t>> read_labels(const Options& opt, int64_t n) {
  std::string path = opt.labels;
  if (path.empty() && fs::is_regular_file(opt.samples + ".labels")) path = opt.samples + ".labels";
  if (path.empty()) return std::nullopt;
  GM_CHECK(fs::is_regular_file(path), "labels file ", path, " not found");
  auto lb = gm::data::read_idx_labels(path);
  GM_CHECK(lb.shape[0] == n, path, ": holds ", lb.shape[0], " labels for ", n, " samples in ", opt.samples);
  for (int64_t i = 0; i < n; ++i)
    GM_CHECK(lb.data[i] < 10, path, ": label ", int(lb.data[i]), " at byte ", 8 + i, " is not a class in 0..9");
  return std::move(lb.data);
}

/// The trained classifier in eval mode.
std::unique_ptr<fmnist::Classifier> load_classifier(const std::string& path) {
  GM_CHECK(fs::is_regular_file(path), "classifier file ", path, " not found; train it first with the "
           "classifier example (`classifier --out ", fs::path(path).parent_path().string(), "`) or pass "
           "--classifier PATH");
  gm::Generator gen(0);  // the initial weights are overwritten
  auto net = std::make_unique<fmnist::Classifier>(gen);
  net->load_state_dict(fmnist::load_model_file(path));
  net->eval();
  return net;
}

int write_reference(const Options& opt) {
  const gm::data::FashionMNIST test(gm::data::Split::test, {.dir = opt.data_dir});
  const int64_t n = opt.limit > 0 ? opt.limit : test.size();
  GM_CHECK(n <= test.size(), "--limit ", n, " exceeds the ", test.size(), " test images");
  const auto& px = test.images().data;
  const auto& lb = test.labels().data;
  gm::io::write_idx_images(opt.write_reference, std::span(px.data(), std::size_t(n * kSide * kSide)), n, kSide, kSide);
  gm::io::write_idx_labels(opt.write_reference + ".labels", std::span(lb.data(), std::size_t(n)));
  std::printf("wrote the first %lld test images to %s and their labels to %s.labels\n",
              static_cast<long long>(n), opt.write_reference.c_str(), opt.write_reference.c_str());
  return 0;
}

int write_noise(const Options& opt) {
  const int64_t n = opt.limit > 0 ? opt.limit : 10000;
  gm::Generator gen(opt.seed);
  const auto noise = gm::randint(0, 256, {n, kSide, kSide}, gen);
  std::vector<uint8_t> px(static_cast<std::size_t>(noise.numel()));
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(noise.data()[i]);
  gm::io::write_idx_images(opt.write_noise, px, n, kSide, kSide);
  std::printf("wrote %lld uniform noise images (seed %llu) to %s\n", static_cast<long long>(n),
              static_cast<unsigned long long>(opt.seed), opt.write_noise.c_str());
  return 0;
}

int evaluate(const Options& opt) {
  // The inputs first, so that a bad file fails fast.
  const auto samples = read_samples(opt.samples);
  const int64_t n = samples.shape[0];
  const auto labels = read_labels(opt, n);
  GM_CHECK(labels || opt.min_label_accuracy < 0, "--min-label-accuracy needs labels: pass --labels or put them in ",
           opt.samples, ".labels");
  GM_CHECK(opt.splits <= n, "--splits ", opt.splits, " exceeds the ", n, " samples");
  const auto net = load_classifier(opt.classifier);
  const gm::data::FashionMNIST test(gm::data::Split::test, {.dir = opt.data_dir});

  // Features of the samples and of the whole test split, logits of the samples.
  std::vector<int64_t> all(static_cast<std::size_t>(test.size()));
  std::iota(all.begin(), all.end(), int64_t(0));
  const Tensor ref = mt::extract_features(net->features, test.get_batch(all).images, opt.batch);
  const Tensor feat = mt::extract_features(net->features, to_input(samples.data, n), opt.batch);
  const Tensor logits = mt::extract_features(net->head, feat, opt.batch);

  const double fid = mt::frechet_distance(mt::feature_stats(feat), mt::feature_stats(ref));
  gm::Generator gen(opt.seed);
  const auto kid = mt::kid(feat, ref, gen, {.subsets = opt.kid_subsets, .subset_size = opt.kid_subset_size});
  const auto score = mt::classifier_score_from_logits(logits, opt.splits);

  nlohmann::ordered_json out;
  out["samples"] = n;
  out["fid_fmnist"] = fid;
  out["kid_fmnist"] = {{"mean", kid.mean}, {"std", kid.std}};
  out["classifier_score"] = {{"mean", score.mean}, {"std", score.std}};
  std::optional<double> accuracy;
  if (labels) {
    const auto pred = gm::argmax(logits, 1);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) correct += pred.data()[i] == int64_t((*labels)[i]);
    accuracy = double(correct) / double(n);
    out["label_accuracy"] = *accuracy;
  }
  out["reference"] = "fashion-mnist test (" + std::to_string(test.size()) + ")";
  out["note"] = "FID-FMNIST uses the genmodel classifier's 128-d features, not Inception; not comparable "
                "with Inception FID";
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);

  int rc = 0;
  auto fail = [&](const char* what, double value, const char* flag, double bound) {
    std::fprintf(stderr, "evaluate: %s %g is %s %s %g\n", what, value,
                 std::string(flag).starts_with("--max") ? "above" : "below", flag, bound);
    rc = 1;
  };
  if (opt.max_fid >= 0 && !(fid <= opt.max_fid)) fail("FID-FMNIST", fid, "--max-fid", opt.max_fid);
  if (opt.min_fid >= 0 && !(fid >= opt.min_fid)) fail("FID-FMNIST", fid, "--min-fid", opt.min_fid);
  if (opt.min_label_accuracy >= 0 && !(*accuracy >= opt.min_label_accuracy))
    fail("label accuracy", *accuracy, "--min-label-accuracy", opt.min_label_accuracy);
  return rc;
}

/// Errors are reported on one line.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Score Fashion-MNIST samples (IDX file) with the genmodel classifier: FID-FMNIST, KID, "
               "classifier score, label accuracy"};
  Options opt;
  auto* samples = app.add_option("--samples", opt.samples, "IDX3 ubyte file of N 28x28 samples to score");
  app.add_option("--labels", opt.labels, "IDX1 labels of the samples (default: SAMPLES.labels if it exists)");
  app.add_option("--classifier", opt.classifier, "state dict written by the classifier example")
      ->capture_default_str();
  app.add_option("--data", opt.data_dir, "Fashion-MNIST directory (default: $GENMODEL_DATA or " +
                                             std::string(gm::data::kFashionMNISTDir) + ")");
  app.add_option("--batch", opt.batch, "images per classifier call")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--threads", opt.threads, "threads (default: GENMODEL_NUM_THREADS or all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--seed", opt.seed, "seed of the KID subsets (and of --write-noise)")->capture_default_str();
  app.add_option("--kid-subsets", opt.kid_subsets, "KID: random subsets averaged")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  app.add_option("--kid-subset-size", opt.kid_subset_size, "KID: samples per subset (capped at N)")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  app.add_option("--splits", opt.splits, "classifier score: splits of the samples (at most N)")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  app.add_option("--max-fid", opt.max_fid, "exit 1 if FID-FMNIST is above X")->check(CLI::NonNegativeNumber);
  app.add_option("--min-fid", opt.min_fid, "exit 1 if FID-FMNIST is below X")->check(CLI::NonNegativeNumber);
  app.add_option("--min-label-accuracy", opt.min_label_accuracy, "exit 1 if the label accuracy is below A")
      ->check(CLI::Range(0.0, 1.0));
  auto* ref = app.add_option("--write-reference", opt.write_reference,
                             "instead: write the first --limit test images to FILE (labels to FILE.labels)");
  auto* noise = app.add_option("--write-noise", opt.write_noise,
                               "instead: write --limit images of uniform noise (seeded by --seed) to FILE");
  auto* limit = app.add_option("--limit", opt.limit, "images written by --write-reference (default all) or "
                               "--write-noise (default 10000)")->check(CLI::Range(int64_t(1), int64_t(1) << 31));
  samples->excludes(ref)->excludes(noise);
  ref->excludes(noise);
  try {
    app.parse(argc, argv);
    if (samples->count() + ref->count() + noise->count() == 0)
      throw CLI::ValidationError("one of --samples, --write-reference or --write-noise is required");
    if (limit->count() && samples->count())
      throw CLI::ValidationError("--limit applies to --write-reference and --write-noise, not --samples");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "evaluate: %s (see --help)\n", one_line(e.what()).c_str());
    return 2;
  }

  try {
    if (opt.threads > 0) gm::set_num_threads(opt.threads);
    if (!opt.write_noise.empty()) return write_noise(opt);
    if (!opt.write_reference.empty()) return write_reference(opt);
    return evaluate(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaluate: %s\n", one_line(e.what()).c_str());
    return 1;
  }
}
