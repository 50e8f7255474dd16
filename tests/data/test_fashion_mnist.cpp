// Tests of the FashionMNIST dataset: the real files from Debian's
// dataset-fashion-mnist (numbers cross-checked with an independent Python
// read: gzip.open(...).read()), the directory lookup (argument >
// GENMODEL_DATA > default) and its errors, on small files in a temp dir.
#include <catch2/catch.hpp>

#include <array>
#include <numeric>

#include "data/idx_files.hpp"
#include "genmodel/data/dataloader.hpp"
#include "genmodel/data/fashion_mnist.hpp"

using namespace genmodel::data;
using Catch::Contains;
using gmtest::Bytes;

static_assert(BatchDataset<FashionMNIST>);

namespace {
const FashionMNIST& train_set() {
  static const FashionMNIST ds(Split::train, {.dir = kFashionMNISTDir});
  return ds;
}

/// n synthetic 28x28 images (image i is filled with i) and labels.
void write_split(const gmtest::TempDir& dir, const std::string& prefix, uint32_t n_images,
                 const Bytes& labels, bool gz = true, uint32_t side = 28) {
  Bytes pixels;
  for (uint32_t i = 0; i < n_images; ++i) pixels.insert(pixels.end(), side * side, uint8_t(i));
  auto write = gz ? gmtest::write_gz : gmtest::write_plain;
  const std::string ext = gz ? ".gz" : "";
  write(dir.file(prefix + "-images-idx3-ubyte" + ext),
        gmtest::idx_bytes({n_images, side, side}, pixels));
  write(dir.file(prefix + "-labels-idx1-ubyte" + ext),
        gmtest::idx_bytes({uint32_t(labels.size())}, labels));
}
}  // namespace

TEST_CASE("FashionMNIST train split: 60000 images, 6000 of each class", "[data][fashion]") {
  const FashionMNIST& ds = train_set();
  REQUIRE(ds.size() == 60000);
  CHECK(ds.images().shape == std::vector<int64_t>{60000, 28, 28});
  CHECK(ds.labels().shape == std::vector<int64_t>{60000});
  std::array<int64_t, 10> count{};
  for (uint8_t l : ds.labels().data) ++count.at(l);
  for (int64_t c : count) CHECK(c == 6000);

  const std::vector<uint8_t> first = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4};
  CHECK(std::vector<uint8_t>(ds.labels().data.begin(), ds.labels().data.begin() + 20) == first);
  const auto& px = ds.images().data;
  CHECK(std::accumulate(px.begin(), px.end(), uint64_t(0)) == 3431114169ull);
  CHECK(std::accumulate(px.begin(), px.begin() + 784, uint64_t(0)) == 76247);

  // Image 0, row 14, columns 12..13 are 237 and 226; a [0, 1] float each.
  const Example ex = ds.get(0);
  CHECK(ex.label == 9);
  REQUIRE(ex.image.shape() == genmodel::Shape({1, 28, 28}));
  CHECK(ex.image.at(0, 14, 12) == 237.0f / 255.0f);
  CHECK(ex.image.at(0, 14, 13) == 226.0f / 255.0f);
  CHECK(ex.image.at(0, 0, 0) == 0.0f);
}

TEST_CASE("FashionMNIST test split: 10000 images, known first labels", "[data][fashion]") {
  const FashionMNIST ds(Split::test, {.dir = kFashionMNISTDir});
  REQUIRE(ds.size() == 10000);
  CHECK(ds.images().shape == std::vector<int64_t>{10000, 28, 28});
  // Ankle boot, Pullover, Trouser, Trouser, Shirt, Trouser, Coat, Shirt, Sandal, Sneaker, ...
  const std::vector<int64_t> first = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0};
  for (int64_t i = 0; i < 20; ++i) CHECK(ds.get(i).label == first[i]);
  std::array<int64_t, 10> count{};
  for (uint8_t l : ds.labels().data) ++count.at(l);
  for (int64_t c : count) CHECK(c == 1000);
  const auto& px = ds.images().data;
  CHECK(std::accumulate(px.begin(), px.end(), uint64_t(0)) == 573469082ull);
  CHECK(std::string(kFashionMNISTClasses[9]) == "Ankle boot");
}

TEST_CASE("FashionMNIST scales to [-1, 1] and pads to 32x32 with the background",
          "[data][fashion]") {
  const FashionMNIST ds(Split::train,
                        {.dir = kFashionMNISTDir, .range = PixelRange::symmetric, .pad = 2});
  CHECK(ds.side() == 32);
  const Example ex = ds.get(0);
  REQUIRE(ex.image.shape() == genmodel::Shape({1, 32, 32}));
  CHECK(ex.image.at(0, 0, 0) == -1.0f);
  CHECK(ex.image.at(0, 31, 31) == -1.0f);
  CHECK(ex.image.at(0, 16, 14) == 237.0f / 127.5f - 1.0f);  // row 14 + 2, column 12 + 2
  float lo = 1, hi = -1;
  for (float v : ex.image.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo == -1.0f);
  CHECK(hi == 1.0f);  // image 0 has a 255 pixel

  // The batch fast path gives the same images as get().
  const std::vector<int64_t> idx = {5, 0, 59999};
  const Batch b = gather(ds, idx);
  REQUIRE(b.images.shape() == genmodel::Shape({3, 1, 32, 32}));
  for (int k = 0; k < 3; ++k) {
    const Example e = ds.get(idx[k]);
    CHECK(b.labels.data()[k] == e.label);
    CHECK(std::equal(e.image.data(), e.image.data() + 1024, b.images.data() + k * 1024));
  }
  REQUIRE_THROWS_WITH(ds.get(60000), Contains("index 60000 out of range for 60000"));
  REQUIRE_THROWS_WITH(gather(ds, std::vector<int64_t>{1, -1}), Contains("index -1 out of range"));
}

TEST_CASE("FashionMNIST finds its directory: argument > GENMODEL_DATA > default",
          "[data][fashion]") {
  gmtest::TempDir dir;
  write_split(dir, "t10k", 3, {4, 5, 6});
  {
    gmtest::ScopedEnv env("GENMODEL_DATA", dir.path.string());
    CHECK(fashion_mnist_dir() == dir.path.string());
    const FashionMNIST small(Split::test);
    REQUIRE(small.size() == 3);
    CHECK(small.get(2).label == 6);
    CHECK(small.get(2).image.at(0, 5, 5) == 2.0f / 255.0f);
    CHECK(FashionMNIST(Split::test, {.dir = kFashionMNISTDir}).size() == 10000);  // argument wins
  }
  {
    gmtest::ScopedEnv env("GENMODEL_DATA", "");  // empty counts as unset
    CHECK(fashion_mnist_dir() == kFashionMNISTDir);
    CHECK(fashion_mnist_dir("/some/where") == "/some/where");
  }
  gmtest::TempDir plain;  // uncompressed files are found too
  write_split(plain, "train", 2, {0, 1}, /*gz=*/false);
  CHECK(FashionMNIST(Split::train, {.dir = plain.path.string()}).size() == 2);
}

TEST_CASE("FashionMNIST says what to install or set when data is missing", "[data][fashion]") {
  gmtest::TempDir dir;
  const std::string missing = (dir.path / "nowhere").string();
  {
    gmtest::ScopedEnv env("GENMODEL_DATA", missing);
    REQUIRE_THROWS_WITH(FashionMNIST(Split::train),
                        Contains("directory " + missing + " (from GENMODEL_DATA) does not exist") &&
                            Contains("apt-get install dataset-fashion-mnist") &&
                            Contains("GENMODEL_DATA"));
  }
  REQUIRE_THROWS_WITH(FashionMNIST(Split::train, {.dir = missing}),
                      Contains(missing + " (from the dir argument)") &&
                          Contains("FashionMNISTOptions::dir"));

  // The directory exists but holds only the training files.
  write_split(dir, "train", 2, {0, 1});
  REQUIRE_THROWS_WITH(FashionMNIST(Split::test, {.dir = dir.path.string()}),
                      Contains(dir.file("t10k-images-idx3-ubyte.gz") + " not found") &&
                          Contains("apt-get install dataset-fashion-mnist"));
}

TEST_CASE("FashionMNIST rejects inconsistent files", "[data][fashion]") {
  gmtest::TempDir dir;
  const FashionMNISTOptions opt{.dir = dir.path.string()};

  write_split(dir, "train", 3, {0, 1});
  REQUIRE_THROWS_WITH(FashionMNIST(Split::train, opt),
                      Contains(dir.file("train-images-idx3-ubyte.gz") + " holds 3 images but ") &&
                          Contains("train-labels-idx1-ubyte.gz holds 2 labels"));

  write_split(dir, "train", 2, {0, 10});
  REQUIRE_THROWS_WITH(FashionMNIST(Split::train, opt),
                      Contains("train-labels-idx1-ubyte.gz: label 10 at byte 9 is not a class"));

  write_split(dir, "train", 2, {0, 1}, true, 14);
  REQUIRE_THROWS_WITH(FashionMNIST(Split::train, opt),
                      Contains("expected 28x28 images, got 14x14"));

  write_split(dir, "train", 2, {0, 1});
  REQUIRE_THROWS_WITH(FashionMNIST(Split::train, {.dir = dir.path.string(), .pad = -1}),
                      Contains("pad must be non-negative"));
}

TEST_CASE("DataLoader over FashionMNIST: a padded, flipped test epoch", "[data][fashion][loader]") {
  const FashionMNIST ds(Split::test,
                        {.dir = kFashionMNISTDir, .range = PixelRange::symmetric, .pad = 2});
  const BatchTransform flip = [](Batch b, genmodel::Generator& gen) {
    b.images = random_hflip(b.images, gen);
    return b;
  };
  DataLoader loader(ds, {.batch_size = 128, .seed = 5}, flip);
  CHECK(loader.num_batches() == 79);
  std::array<int64_t, 10> count{};
  int64_t batches = 0;
  for (Batch& b : loader) {
    const int64_t n = ++batches < 79 ? 128 : 10000 - 78 * 128;
    REQUIRE(b.images.shape() == genmodel::Shape({n, 1, 32, 32}));
    CHECK(b.images.at(n - 1, 0, 0, 0) == -1.0f);  // padding stays background after a flip
    for (int64_t l : b.labels.to_vector()) ++count.at(l);
  }
  CHECK(batches == 79);
  for (int64_t c : count) CHECK(c == 1000);
}
