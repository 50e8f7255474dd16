// Tests of the IDX reader: plain and gzipped files round-trip, and every
// kind of bad file is reported with its path and the byte offset.
#include <catch2/catch.hpp>

#include "data/idx_files.hpp"
#include "genmodel/data/idx.hpp"

using genmodel::Error;
using genmodel::data::read_idx;
using genmodel::data::read_idx_images;
using genmodel::data::read_idx_labels;
using gmtest::Bytes;
using gmtest::idx_bytes;
using Catch::Contains;

namespace {
Bytes ramp(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 7 + 3);
  return b;
}
}  // namespace

TEST_CASE("read_idx reads plain and gzipped images and labels", "[data][idx]") {
  gmtest::TempDir dir;
  const Bytes pixels = ramp(2 * 3 * 4), labels = {3, 9};
  for (bool gz : {false, true}) {
    const std::string img = dir.file(gz ? "img.gz" : "img"), lab = dir.file(gz ? "lab.gz" : "lab");
    auto write = gz ? gmtest::write_gz : gmtest::write_plain;
    write(img, idx_bytes({2, 3, 4}, pixels));
    write(lab, idx_bytes({2}, labels));
    if (gz) REQUIRE(gmtest::read_plain(img)[0] == 0x1f);  // really gzipped

    const auto im = read_idx_images(img);
    CHECK(im.shape == std::vector<int64_t>{2, 3, 4});
    CHECK(im.data == pixels);
    CHECK(im.numel() == 24);
    const auto lb = read_idx_labels(lab);
    CHECK(lb.shape == std::vector<int64_t>{2});
    CHECK(lb.data == labels);
  }
}

TEST_CASE("read_idx handles empty arrays and larger-than-chunk data", "[data][idx]") {
  gmtest::TempDir dir;
  gmtest::write_plain(dir.file("empty"), idx_bytes({0, 28, 28}, {}));
  const auto e = read_idx_images(dir.file("empty"));
  CHECK(e.shape == std::vector<int64_t>{0, 28, 28});
  CHECK(e.data.empty());

  // 5 MiB: crosses the reader's 4 MiB chunk.
  const Bytes big = ramp(5 * 1024 * 1024);
  gmtest::write_gz(dir.file("big.gz"), idx_bytes({5 * 1024, 1024}, big));
  const auto b = read_idx(dir.file("big.gz"), 2);
  CHECK(b.shape == std::vector<int64_t>{5 * 1024, 1024});
  CHECK(b.data == big);
}

TEST_CASE("read_idx rejects a wrong magic number, element type or dims", "[data][idx]") {
  gmtest::TempDir dir;
  const std::string p = dir.file("bad");

  gmtest::write_plain(p, {0x1a, 0x2b, 0x08, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  REQUIRE_THROWS_AS(read_idx_images(p), Error);
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("not an IDX file") &&
                                              Contains("magic number 0x1a2b0803 at byte 0") &&
                                              Contains("expected 0x00000803"));

  Bytes floats = idx_bytes({1}, {0, 0, 0, 0});
  floats[2] = 0x0D;  // float elements
  gmtest::write_plain(p, floats);
  REQUIRE_THROWS_WITH(read_idx_labels(p), Contains(p) && Contains("element type 13 at byte 2") &&
                                              Contains("only unsigned bytes"));

  gmtest::write_plain(p, idx_bytes({4}, {1, 2, 3, 4}));  // labels read as images
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("has 1 dims at byte 3") &&
                                              Contains("expected 3 (magic 0x00000803)"));
  gmtest::write_gz(p, idx_bytes({1, 2, 2}, {1, 2, 3, 4}));  // images read as labels, gzipped
  REQUIRE_THROWS_WITH(read_idx_labels(p), Contains(p) && Contains("has 3 dims at byte 3") &&
                                              Contains("expected 1 (magic 0x00000801)"));

  REQUIRE_THROWS_WITH(read_idx(p, 0), Contains("dims must be in 1..8"));
}

TEST_CASE("read_idx reports truncated headers and data with the byte offset", "[data][idx]") {
  gmtest::TempDir dir;
  const std::string p = dir.file("t"), pz = dir.file("t.gz");

  gmtest::write_plain(p, {});
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("truncated at byte 0") &&
                                              Contains("4-byte IDX magic number, got 0 bytes"));
  gmtest::write_plain(p, {0, 0});
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains("truncated at byte 2"));

  const Bytes full = idx_bytes({2, 3, 3}, ramp(18));  // 16-byte header + 18 bytes
  gmtest::write_plain(p, Bytes(full.begin(), full.begin() + 10));
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("truncated at byte 10") &&
                                              Contains("expected a 16-byte header"));

  gmtest::write_plain(p, Bytes(full.begin(), full.end() - 1));
  REQUIRE_THROWS_WITH(read_idx_images(p),
                      Contains(p + ": truncated at byte 33: expected 18 bytes of data after the "
                               "16-byte header, got 17"));

  // A complete gzip stream whose content is short: offsets count decompressed bytes.
  gmtest::write_gz(pz, Bytes(full.begin(), full.end() - 5));
  REQUIRE_THROWS_WITH(read_idx_images(pz), Contains(pz + ": truncated at byte 29 (decompressed): "
                                                         "expected 18 bytes of data after the "
                                                         "16-byte header, got 13"));

  // Extra bytes after the promised data are an error too.
  Bytes extra = full;
  extra.push_back(0);
  gmtest::write_plain(p, extra);
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("trailing bytes at byte 34") &&
                                              Contains("exactly 18 bytes of data"));
  gmtest::write_gz(pz, extra);
  REQUIRE_THROWS_WITH(read_idx_images(pz), Contains("trailing bytes at byte 34 (decompressed)"));

  // A header that promises more than any file could hold.
  gmtest::write_plain(p, idx_bytes({0x80000000u, 0x80000000u, 0x80000000u}, {}));
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("more than 2^40 bytes") &&
                                              Contains("at byte 8"));
}

TEST_CASE("read_idx reports corrupt and cut gzip streams", "[data][idx]") {
  gmtest::TempDir dir;
  const std::string good = dir.file("good.gz"), bad = dir.file("bad.gz");
  Bytes pixels(64 * 1024);
  uint32_t x = 12345;
  for (auto& v : pixels) v = uint8_t((x = x * 1664525u + 1013904223u) >> 24);  // incompressible
  gmtest::write_gz(good, idx_bytes({64, 32, 32}, pixels));
  const Bytes gz = gmtest::read_plain(good);
  REQUIRE(read_idx_images(good).data == pixels);

  // Cut in the middle of the deflate stream.
  gmtest::write_plain(bad, Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  REQUIRE_THROWS_WITH(read_idx_images(bad), Contains(bad) &&
                                                Contains("corrupt or truncated gzip stream past "
                                                         "decompressed byte") &&
                                                Contains("unexpected end of file"));

  // Bytes flipped in the middle of the stream: a data or CRC error.
  Bytes flipped = gz;
  for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 16; ++i) flipped[i] ^= 0x5a;
  gmtest::write_plain(bad, flipped);
  REQUIRE_THROWS_WITH(read_idx_images(bad), Contains(bad) &&
                                                Contains("corrupt or truncated gzip stream"));

  // Only the gzip trailer (CRC32 of the data) damaged.
  Bytes crc = gz;
  crc[gz.size() - 8] ^= 0xff;
  gmtest::write_plain(bad, crc);
  REQUIRE_THROWS_WITH(read_idx_images(bad), Contains(bad) &&
                                                Contains("corrupt or truncated gzip stream"));
}

TEST_CASE("read_idx reports a missing file", "[data][idx]") {
  gmtest::TempDir dir;
  const std::string p = dir.file("nope-idx3-ubyte.gz");
  REQUIRE_THROWS_WITH(read_idx_images(p), Contains(p) && Contains("cannot open"));
}
