// genmodel/data/fashion_mnist.hpp: the Fashion-MNIST dataset (Xiao et al.,
// 2017): 28x28 grey images of 10 clothing classes, 60000 for training and
// 10000 for testing, read from the gzipped IDX files that Debian's
// dataset-fashion-mnist package installs in /usr/share/datasets/fashion-mnist.
// The directory is, in order: the constructor's dir, $GENMODEL_DATA, that
// default. Pixels stay bytes in memory and become floats one batch at a time.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"
#include "genmodel/data/dataset.hpp"
#include "genmodel/data/idx.hpp"
#include "genmodel/data/transforms.hpp"

namespace genmodel::data {

inline constexpr const char* kFashionMNISTDir = "/usr/share/datasets/fashion-mnist";

inline constexpr std::array<const char*, 10> kFashionMNISTClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

enum class Split { train, test };

struct FashionMNISTOptions {
  std::string dir;                      // empty: $GENMODEL_DATA if set, else kFashionMNISTDir
  PixelRange range = PixelRange::unit;  // [0, 1] or [-1, 1]
  int64_t pad = 0;                      // border of background(range) on each side: 2 gives 32x32
};

namespace detail {
inline std::string install_hint() {
  return "install the data with `apt-get install dataset-fashion-mnist` (it fills " +
         std::string(kFashionMNISTDir) + "), or pass a directory to the FashionMNIST "
         "constructor (FashionMNISTOptions::dir) or set GENMODEL_DATA";
}

/// The IDX file `stem` in dir: stem.gz if present, else the uncompressed stem.
inline std::string find_idx_file(const std::filesystem::path& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const fs::path& p : {dir / (stem + ".gz"), dir / stem})
    if (fs::is_regular_file(p)) return p.string();
  throw Error(genmodel::detail::concat("FashionMNIST: ", (dir / (stem + ".gz")).string(),
                                       " not found (nor ", stem, " uncompressed); ",
                                       install_hint()));
}
}  // namespace detail

/// The Fashion-MNIST directory: `dir` if not empty, else $GENMODEL_DATA if
/// set and not empty, else kFashionMNISTDir.
inline std::string fashion_mnist_dir(const std::string& dir = "") {
  if (!dir.empty()) return dir;
  if (const char* env = std::getenv("GENMODEL_DATA"); env && *env) return env;
  return kFashionMNISTDir;
}

/// A map-style dataset: get(i) is {image (1, 28 + 2 pad, 28 + 2 pad), label
/// in 0..9}. Copies are cheap: they share the loaded bytes.
class FashionMNIST {
 public:
  explicit FashionMNIST(Split split = Split::train, FashionMNISTOptions opt = {})
      : range_(opt.range), pad_(opt.pad) {
    namespace fs = std::filesystem;
    GM_CHECK(pad_ >= 0, "FashionMNIST: pad must be non-negative, got ", pad_);
    const std::string dir = fashion_mnist_dir(opt.dir);
    const char* env = std::getenv("GENMODEL_DATA");
    const char* source = !opt.dir.empty() ? "the dir argument"
                         : env && *env    ? "GENMODEL_DATA"
                                          : "the default";
    GM_CHECK(fs::is_directory(dir), "FashionMNIST: directory ", dir, " (from ", source,
             ") does not exist; ", detail::install_hint());
    const std::string prefix = split == Split::train ? "train" : "t10k";
    const std::string image_path = detail::find_idx_file(dir, prefix + "-images-idx3-ubyte");
    const std::string label_path = detail::find_idx_file(dir, prefix + "-labels-idx1-ubyte");

    auto images = std::make_shared<IdxArray>(read_idx_images(image_path));
    auto labels = std::make_shared<IdxArray>(read_idx_labels(label_path));
    GM_CHECK(images->shape[1] == 28 && images->shape[2] == 28, image_path,
             ": expected 28x28 images, got ", images->shape[1], "x", images->shape[2]);
    GM_CHECK(images->shape[0] == labels->shape[0], "FashionMNIST: ", image_path, " holds ",
             images->shape[0], " images but ", label_path, " holds ", labels->shape[0], " labels");
    for (int64_t i = 0; i < labels->numel(); ++i)
      GM_CHECK(labels->data[i] < 10, label_path, ": label ", int(labels->data[i]), " at byte ",
               8 + i, " is not a class in 0..9");
    images_ = std::move(images);
    labels_ = std::move(labels);
  }

  int64_t size() const { return labels_->numel(); }
  int64_t side() const { return 28 + 2 * pad_; }

  /// The raw bytes: images (N, 28, 28), labels (N).
  const IdxArray& images() const { return *images_; }
  const IdxArray& labels() const { return *labels_; }

  Example get(int64_t i) const {
    check_index(i);
    auto image = Tensor<float>::empty({1, side(), side()});
    fill_image(i, image.data());
    return {image, int64_t(labels_->data[i])};
  }

  /// The fast path: converts the bytes straight into one (B, 1, side, side) batch.
  Batch get_batch(std::span<const int64_t> indices) const {
    const int64_t b = static_cast<int64_t>(indices.size());
    Batch out{Tensor<float>::empty({b, 1, side(), side()}), Tensor<int64_t>::empty({b})};
    for (int64_t k = 0; k < b; ++k) {
      check_index(indices[k]);
      fill_image(indices[k], out.images.data() + k * side() * side());
      out.labels.data()[k] = labels_->data[indices[k]];
    }
    return out;
  }

 private:
  void check_index(int64_t i) const {
    GM_CHECK(i >= 0 && i < size(), "FashionMNIST: index ", i, " out of range for ", size(),
             " examples");
  }

  void fill_image(int64_t i, float* dst) const {
    const int64_t s = side();
    if (pad_ > 0) std::fill_n(dst, s * s, background(range_));
    const uint8_t* src = images_->data.data() + i * 28 * 28;
    for (int64_t r = 0; r < 28; ++r)
      scale_pixels(src + r * 28, dst + (r + pad_) * s + pad_, 28, range_);
  }

  PixelRange range_;
  int64_t pad_;
  std::shared_ptr<const IdxArray> images_, labels_;
};

}  // namespace genmodel::data
