// The IDX writer: files read back through data/idx.hpp byte for byte, the
// [-1, 1] -> byte mapping (and its rounding), and every rejected input,
// which must leave no file behind.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "genmodel/core/factories.hpp"
#include "genmodel/data/idx.hpp"
#include "genmodel/data/transforms.hpp"
#include "genmodel/io/idx_writer.hpp"
#include "io/tmp_dir.hpp"

namespace gm = genmodel;
namespace io = genmodel::io;
using Catch::Contains;

TEST_CASE("idx_writer: images and labels round trip through the IDX reader", "[io][idx]") {
  gmtest::TmpDir dir;
  std::vector<uint8_t> pixels(3 * 4 * 5);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 37 + 11);
  const std::vector<uint8_t> labels = {7, 0, 255};
  io::write_idx_images(dir / "img", pixels, 3, 4, 5);
  io::write_idx_labels(dir / "lab", labels);
  REQUIRE(dir.list() == std::vector<std::string>{"img", "lab"});  // no temporaries left

  const auto im = gm::data::read_idx_images((dir / "img").string());
  CHECK(im.shape == std::vector<int64_t>{3, 4, 5});
  CHECK(im.data == pixels);
  const auto lb = gm::data::read_idx_labels((dir / "lab").string());
  CHECK(lb.shape == std::vector<int64_t>{3});
  CHECK(lb.data == labels);

  // The exact bytes: big-endian magic and sizes, then the data.
  const std::string raw = gmtest::read_bytes(dir / "img");
  REQUIRE(raw.size() == 16 + pixels.size());
  CHECK(raw.substr(0, 16) == std::string("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05", 16));
  CHECK(gmtest::read_bytes(dir / "lab") == std::string("\x00\x00\x08\x01\x00\x00\x00\x03\x07\x00\xff", 11));

  // Integer labels (a Tensor<int64_t>'s data) and empty files.
  const std::vector<int64_t> ints = {9, 3};
  io::write_idx_labels(dir / "ints", ints);
  CHECK(gm::data::read_idx_labels((dir / "ints").string()).data == std::vector<uint8_t>{9, 3});
  io::write_idx_images(dir / "empty", std::span<const uint8_t>(), 0, 28, 28);
  CHECK(gm::data::read_idx_images((dir / "empty").string()).shape == std::vector<int64_t>{0, 28, 28});

  // Writing again replaces the file whole.
  io::write_idx_labels(dir / "lab", std::vector<uint8_t>{1});
  CHECK(gm::data::read_idx_labels((dir / "lab").string()).data == std::vector<uint8_t>{1});
}

TEST_CASE("idx_writer: [-1, 1] maps to bytes by round((x + 1) * 127.5), clamped", "[io][idx]") {
  // std::lround rounds halves away from zero: 0 -> 127.5 -> 128.
  CHECK(std::lround(127.5) == 128);
  CHECK(io::symmetric_to_ubyte(-1.0f) == 0);
  CHECK(io::symmetric_to_ubyte(1.0f) == 255);
  CHECK(io::symmetric_to_ubyte(0.0f) == 128);
  CHECK(io::symmetric_to_ubyte(-0.5f) == 64);  // 63.75
  CHECK(io::symmetric_to_ubyte(0.5f) == 191);  // 191.25
  // Clamping, infinities and NaN.
  CHECK(io::symmetric_to_ubyte(-3.0f) == 0);
  CHECK(io::symmetric_to_ubyte(1.5f) == 255);
  CHECK(io::symmetric_to_ubyte(1.003f) == 255);
  CHECK(io::symmetric_to_ubyte(std::numeric_limits<float>::infinity()) == 255);
  CHECK(io::symmetric_to_ubyte(-std::numeric_limits<float>::infinity()) == 0);
  CHECK(io::symmetric_to_ubyte(std::numeric_limits<float>::quiet_NaN()) == 0);
  // It inverts the loader's [-1, 1] scaling for every byte.
  for (int v = 0; v < 256; ++v) {
    INFO("byte " << v);
    CHECK(io::symmetric_to_ubyte(gm::data::scale_pixel(uint8_t(v), gm::data::PixelRange::symmetric)) == v);
  }

  // (N, 1, H, W) and (N, H, W) give the same row-major bytes.
  const std::initializer_list<float> v = {-1, 0, 1, 2, -2, 0.5f};
  const std::vector<uint8_t> want = {0, 128, 255, 255, 0, 191};
  CHECK(io::images_to_ubyte(gm::tensor<float>(v, {2, 1, 1, 3})) == want);
  CHECK(io::images_to_ubyte(gm::tensor<float>(v, {2, 1, 3})) == want);
}

TEST_CASE("idx_writer: bad inputs throw and leave no file", "[io][idx]") {
  gmtest::TmpDir dir;
  const std::vector<uint8_t> px(2 * 3 * 3);
  REQUIRE_THROWS_WITH(io::write_idx_images(dir / "a", px, 3, 3, 3),
                      Contains("18 pixels given for 3 images of 3x3"));
  REQUIRE_THROWS_WITH(io::write_idx_images(dir / "a", px, 2, 3, 2),
                      Contains("18 pixels given for 2 images of 3x2"));
  REQUIRE_THROWS_WITH(io::write_idx_images(dir / "a", px, -2, 3, 3), Contains("n must be in 0..2^32-1"));
  REQUIRE_THROWS_WITH(io::write_idx_images(dir / "a", px, 1, int64_t(1) << 32, 0),
                      Contains("rows must be in 0..2^32-1"));
  REQUIRE_THROWS_WITH(io::write_idx_images(dir / "a", px, 0, 3, 0), Contains("18 pixels given for 0 images"));
  REQUIRE_THROWS_WITH(io::write_idx_labels(dir / "a", std::vector<int64_t>{1, 256}),
                      Contains("label 256 at index 1 does not fit in a byte"));
  REQUIRE_THROWS_WITH(io::write_idx_labels(dir / "a", std::vector<int64_t>{-1}),
                      Contains("label -1 at index 0"));
  REQUIRE_THROWS_WITH(io::write_idx_images(dir / "no" / "such" / "dir", px, 2, 3, 3),
                      Contains("cannot write"));
  CHECK(dir.list().empty());

  REQUIRE_THROWS_WITH(io::images_to_ubyte(gm::zeros<float>({2, 3, 4, 4})),
                      Contains("expected grey images (N, 1, H, W) or (N, H, W), got shape [2, 3, 4, 4]"));
  REQUIRE_THROWS_WITH(io::images_to_ubyte(gm::zeros<float>({4, 4})), Contains("got shape [4, 4]"));
  REQUIRE_THROWS_WITH(io::images_to_ubyte(gm::Tensor<float>()), Contains("undefined tensor"));
}
