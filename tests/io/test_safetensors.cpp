// safetensors: round trips of every written dtype and odd shapes, the
// committed Python fixture, Python reading a C++ file, every malformed-file
// error, atomic writes and the half / bfloat16 conversions.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "genmodel/core/factories.hpp"
#include "genmodel/io/safetensors.hpp"
#include "io/tmp_dir.hpp"

namespace gm = genmodel;
namespace io = genmodel::io;
using Catch::Contains;

namespace {

const std::filesystem::path kFixtureDir =
    std::filesystem::path(__FILE__).parent_path() / "../fixtures";

/// A raw file: 8-byte length, `header` verbatim, then `buffer`.
std::string raw_file(const std::string& header, const std::string& buffer) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return s + header + buffer;
}

template <class T>
void require_same(const gm::Tensor<T>& a, const gm::Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  REQUIRE(std::memcmp(a.data(), b.data(), sizeof(T) * a.numel()) == 0);
}

}  // namespace

TEST_CASE("safetensors: F32, F64 and I64 round trip, with 0-d and empty tensors",
          "[io][safetensors]") {
  gmtest::TmpDir dir;
  const auto path = dir / "model.safetensors";
  std::map<std::string, gm::Tensor<float>> f{
      {"conv.weight", gm::from_vector(gm::arange<float>(0, 24).to_vector(), {2, 3, 2, 2})},
      {"scalar", gm::full<float>(gm::Shape{}, -3.5f)},
      {"empty", gm::zeros<float>({4, 0})},
      {"odd", gm::tensor<float>({std::numeric_limits<float>::infinity(), -0.0f, 1e-45f})}};
  io::save_safetensors(path, f, {{"epoch", "3"}});
  const auto back = io::load_safetensors<float>(path);
  REQUIRE(back.size() == f.size());
  for (const auto& [name, t] : f) require_same(back.at(name), t);
  REQUIRE(back.at("scalar").dim() == 0);
  REQUIRE(io::load_metadata(path) == io::Metadata{{"epoch", "3"}});

  std::map<std::string, gm::Tensor<double>> d{
      {"x", gm::tensor<double>({0.1, -1e300, 5e-324}, {3, 1})}};
  io::save_safetensors(path, d);
  require_same(io::load_safetensors<double>(path).at("x"), d.at("x"));
  REQUIRE(io::load_metadata(path).empty());
  // F64 read as float narrows.
  REQUIRE(io::load_safetensors<float>(path).at("x").at(0, 0) == 0.1f);

  std::map<std::string, gm::Tensor<int64_t>> i{
      {"labels", gm::tensor<int64_t>({-(int64_t{1} << 62), 0, 7})}};
  io::save_safetensors(path, i);
  require_same(io::load_safetensors<int64_t>(path).at("labels"), i.at("labels"));

  io::save_safetensors(path, std::map<std::string, gm::Tensor<float>>{});
  REQUIRE(io::load_safetensors<float>(path).empty());
}

TEST_CASE("safetensors: mixed element types keep their type through read_safetensors",
          "[io][safetensors]") {
  gmtest::TmpDir dir;
  const auto path = dir / "mixed.safetensors";
  io::save_safetensors(path, io::TensorMap{{"w", gm::ones<float>({2})},
                                           {"w64", gm::ones<double>({3})},
                                           {"step", gm::full<int64_t>(gm::Shape{}, 1200)}});
  const auto file = io::read_safetensors(path);
  REQUIRE(std::get<gm::Tensor<float>>(file.tensors.at("w")).numel() == 2);
  REQUIRE(std::get<gm::Tensor<double>>(file.tensors.at("w64")).numel() == 3);
  REQUIRE(std::get<gm::Tensor<int64_t>>(file.tensors.at("step")).item() == 1200);
  // The header is padded so the buffer starts 8-byte aligned, as Python's writer does.
  const std::string bytes = gmtest::read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  REQUIRE((8 + n) % 8 == 0);
  REQUIRE_THROWS_WITH(
      io::load_safetensors<float>(path),
      Contains("tensor 'step' has dtype I64 and cannot be loaded as a floating-point"));
  REQUIRE_THROWS_WITH(io::load_safetensors<int64_t>(path), Contains("tensor 'w' has dtype F32"));
}

TEST_CASE("safetensors: the committed Python fixture loads with the script's values",
          "[io][safetensors]") {
  // Values copied from tests/fixtures/make_safetensors_fixture.py.
  const auto path = kFixtureDir / "io_fixture.safetensors";
  const auto file = io::read_safetensors(path);
  REQUIRE(file.metadata == io::Metadata{{"format", "pt"}, {"note", "genmodel io fixture"}});
  REQUIRE(file.tensors.size() == 6);

  const auto f32 = std::get<gm::Tensor<float>>(file.tensors.at("f32"));
  REQUIRE(f32.shape() == gm::Shape{2, 3});
  REQUIRE(f32.to_vector() == std::vector<float>{1.5f, -2.25f, 0.0f, 1024.0f, -0.125f, 3.75f});

  const auto f64 = std::get<gm::Tensor<double>>(file.tensors.at("f64"));
  REQUIRE(f64.to_vector() == std::vector<double>{0.1, -1e300, 2.5, 5e-324});

  const auto f16 = std::get<gm::Tensor<float>>(file.tensors.at("f16"));
  REQUIRE(f16.shape() == gm::Shape{2, 3});
  REQUIRE(f16.to_vector() == std::vector<float>{1.0f, -0.5f, 65504.0f, std::ldexp(1.0f, -24),
                                                -std::ldexp(1.0f, -15),
                                                std::numeric_limits<float>::infinity()});
  const auto sp = std::get<gm::Tensor<float>>(file.tensors.at("f16_special")).to_vector();
  REQUIRE(sp[0] == -std::numeric_limits<float>::infinity());
  REQUIRE(std::isnan(sp[1]));
  REQUIRE((sp[2] == 0.0f && std::signbit(sp[2])));

  const auto bf16 = std::get<gm::Tensor<float>>(file.tensors.at("bf16"));
  REQUIRE(bf16.shape() == gm::Shape{2, 2});
  REQUIRE(bf16.to_vector() ==
          std::vector<float>{1.0f, -3.5f, std::ldexp(1.0f, 127), std::ldexp(1.0f, -133)});

  const auto i64 = std::get<gm::Tensor<int64_t>>(file.tensors.at("i64"));
  REQUIRE(i64.shape() == gm::Shape{1, 3});
  REQUIRE(i64.to_vector() == std::vector<int64_t>{-(int64_t{1} << 62), 0, 7});
}

TEST_CASE("safetensors: Python's safetensors reads a file written by C++",
          "[io][safetensors][python]") {
  if (std::system("python3 -c 'import safetensors.numpy' >/dev/null 2>&1") != 0) {
    WARN(
        "python3 with the safetensors package is not available: interop check skipped "
        "(pip install safetensors numpy)");
    return;
  }
  gmtest::TmpDir dir;
  const auto path = dir / "from_cpp.safetensors";
  // Must match EXPECTED_FROM_CPP in the script.
  io::save_safetensors(
      path,
      io::TensorMap{{"a.weight", gm::tensor<float>({-1, -0.5, 0, 0.5, 1, 1.5}, {2, 3})},
                    {"b.bias", gm::tensor<double>({1e-300, -2.0, 3.25})},
                    {"scalar", gm::full<float>(gm::Shape{}, 42.0f)},
                    {"empty", gm::zeros<float>({2, 0})},
                    {"steps", gm::tensor<int64_t>({1200, -5})}},
      {{"producer", "genmodel"}, {"run", "interop"}});
  const std::string cmd = "python3 '" + (kFixtureDir / "make_safetensors_fixture.py").string() +
                          "' --verify '" + path.string() + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

TEST_CASE("safetensors: every malformed file throws naming the path and the offset or key",
          "[io][safetensors]") {
  gmtest::TmpDir dir;
  const auto path = dir / "bad.safetensors";
  const std::string p = path.string();
  auto expect = [&](const std::string& bytes, const std::string& message) {
    gmtest::write_bytes(path, bytes);
    REQUIRE_THROWS_WITH(io::load_safetensors<float>(path), Contains(p) && Contains(message));
    REQUIRE_THROWS_WITH(io::load_metadata(path), Contains(message));
  };
  const std::string f32x2 = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";

  SECTION("too short") { expect("abc", "file is 3 bytes, shorter than the 8-byte header length"); }
  SECTION("header length past the end") {
    std::string s = raw_file("{}", "");
    s[0] = 100;
    expect(s, "header length 100 (at byte 0) runs past the end of the file (10 bytes)");
    s[0] = 0, s[7] = 1;
    expect(s, "header length 72057594037927936 (at byte 0)");
  }
  SECTION("bad JSON") {
    expect(raw_file(R"({"a": {"dtype")", ""), "header JSON is invalid near byte 22");
  }
  SECTION("not an object") {
    expect(raw_file("[1, 2]", ""), "header at byte 8 is not a JSON object");
  }
  SECTION("entry not an object") {
    expect(raw_file(R"({"a": 3})", ""), "tensor 'a': entry is not a JSON object");
  }
  SECTION("missing keys") {
    expect(raw_file(R"({"a": {"dtype":"F32","shape":[1]}})", "abcd"),
           "tensor 'a': missing key 'data_offsets'");
    expect(raw_file(R"({"a": {"shape":[1],"data_offsets":[0,4]}})", "abcd"),
           "tensor 'a': missing key 'dtype'");
    expect(raw_file(R"({"a": {"dtype":"F32","data_offsets":[0,4]}})", "abcd"),
           "tensor 'a': missing key 'shape'");
  }
  SECTION("wrong dtype string") {
    expect(raw_file(R"({"w": {"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", "a"),
           "tensor 'w': unsupported dtype 'F8'");
    expect(raw_file(R"({"w": {"dtype":7,"shape":[1],"data_offsets":[0,1]}})", "a"),
           "tensor 'w': unsupported dtype '7'");
  }
  SECTION("bad shape or offsets values") {
    expect(raw_file(R"({"w": {"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
           "tensor 'w': shape holds -1, not a non-negative integer");
    expect(raw_file(R"({"w": {"dtype":"F32","shape":[1],"data_offsets":[0]}})", "abcd"),
           "tensor 'w': data_offsets [0] is not a [begin, end] pair");
    const std::string huge = "[4294967296,4294967296,4294967296]";
    expect(
        raw_file(R"({"w": {"dtype":"F32","shape":)" + huge + R"(,"data_offsets":[0,4]}})", "abcd"),
        "tensor 'w': shape " + huge + " is too large");
  }
  SECTION("offsets out of range") {
    expect(raw_file(R"({"w": {)" + f32x2 + "}}", "abcd"),
           "tensor 'w': data_offsets [0, 8] lie outside the data buffer of 4 bytes");
    expect(raw_file(R"({"w": {"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", "abcd"),
           "tensor 'w': data_offsets [4, 0] lie outside");
  }
  SECTION("size mismatch") {
    expect(raw_file(R"({"w": {"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "abcdefgh"),
           "tensor 'w': shape [3] of dtype F32 needs 3 x 4 bytes but data_offsets [0, 8] hold 8");
  }
  SECTION("overlapping entries") {
    const std::string h =
        R"({"a": {)" + f32x2 + R"(}, "b": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    const uint64_t start = 8 + h.size();
    expect(raw_file(h, "abcdefgh"), "tensor 'b' (bytes " + std::to_string(start + 4) + ".." +
                                        std::to_string(start + 8) + ") overlaps tensor 'a'");
  }
  SECTION("a gap or trailing bytes") {
    const std::string gap = R"({"w": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    const uint64_t start = 8 + gap.size();
    expect(raw_file(gap, "abcdefgh"), "bytes " + std::to_string(start) + ".." +
                                          std::to_string(start + 4) +
                                          " before tensor 'w' belong to no tensor");
    const std::string trail = R"({"w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    expect(raw_file(trail, "abcdefgh"), "bytes " + std::to_string(8 + trail.size() + 4) + "..");
    expect(raw_file(trail, "abcdefgh"), "at the end of the file belong to no tensor");
  }
  SECTION("bad metadata") {
    expect(raw_file(R"({"__metadata__": {"k": 1}})", ""),
           "__metadata__ key 'k' holds 1, not a string");
    expect(raw_file(R"({"__metadata__": []})", ""), "__metadata__ is not a JSON object");
  }
  SECTION("missing file") {
    REQUIRE_THROWS_WITH(io::load_safetensors<float>(dir / "nope.safetensors"),
                        Contains("nope.safetensors") && Contains("cannot open for reading"));
  }
}

TEST_CASE("safetensors: a header with trailing spaces and a valid layout loads",
          "[io][safetensors]") {
  gmtest::TmpDir dir;
  const auto path = dir / "padded.safetensors";
  float v[2] = {1.0f, -2.0f};
  // Entries out of offset order, a 0-d and an empty tensor, and space padding.
  const std::string header = R"({"b": {"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                             R"( "a": {"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                             R"( "z": {"dtype":"F16","shape":[0],"data_offsets":[8,8]}}   )";
  gmtest::write_bytes(path, raw_file(header, std::string(reinterpret_cast<char*>(v), 8)));
  const auto t = io::load_safetensors<float>(path);
  REQUIRE(t.at("a").item() == 1.0f);
  REQUIRE(t.at("b").to_vector() == std::vector<float>{-2.0f});
  REQUIRE(t.at("z").numel() == 0);
}

TEST_CASE("safetensors: writes are atomic; a failed write leaves no file and throws",
          "[io][safetensors]") {
  gmtest::TmpDir dir;
  const std::map<std::string, gm::Tensor<float>> t{{"w", gm::ones<float>({3})}};

  // Overwriting replaces the whole file and leaves no temporary behind.
  const auto path = dir / "ok.safetensors";
  gmtest::write_bytes(path, "old contents");
  io::save_safetensors(path, t);
  REQUIRE(io::load_safetensors<float>(path).at("w").numel() == 3);
  REQUIRE(dir.list() == std::vector<std::string>{"ok.safetensors"});

  // The directory does not exist: the temporary cannot be created.
  REQUIRE_THROWS_WITH(io::save_safetensors(dir / "missing" / "x.safetensors", t),
                      Contains("cannot write") && Contains("missing/x.safetensors"));
  // The rename fails (the target is a non-empty directory) after the data was
  // written: the temporary is removed and the target untouched.
  std::filesystem::create_directory(dir / "target");
  gmtest::write_bytes(dir / "target" / "keep", "x");
  REQUIRE_THROWS_WITH(io::save_safetensors(dir / "target", t), Contains("renaming"));
  REQUIRE(dir.list() == std::vector<std::string>{"ok.safetensors", "target"});
  REQUIRE(std::filesystem::is_directory(dir / "target"));

  // Writing into a read-only directory fails the same way (root ignores modes, so only check
  // when the mode is actually enforced).
  std::filesystem::create_directory(dir / "ro");
  std::filesystem::permissions(
      dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  if (::access((dir / "ro").c_str(), W_OK) != 0) {
    REQUIRE_THROWS_WITH(io::save_safetensors(dir / "ro" / "x.safetensors", t),
                        Contains("cannot write"));
    REQUIRE(std::filesystem::is_empty(dir / "ro"));
  }
  std::filesystem::permissions(dir / "ro", std::filesystem::perms::owner_all);

  REQUIRE_THROWS_WITH(
      io::save_safetensors(dir / "u.safetensors", io::TensorMap{{"u", gm::Tensor<float>()}}),
      Contains("tensor 'u' is undefined"));
  REQUIRE_THROWS_WITH(io::save_safetensors(dir / "m.safetensors",
                                           io::TensorMap{{"__metadata__", gm::ones<float>({1})}}),
                      Contains("invalid tensor name '__metadata__'"));
}

TEST_CASE("safetensors: half and bfloat16 conversions are exact for every bit pattern",
          "[io][safetensors]") {
  REQUIRE(io::half_to_float(0x3c00) == 1.0f);
  REQUIRE(io::half_to_float(0x0001) == std::ldexp(1.0f, -24));
  REQUIRE(io::half_to_float(0x03ff) == std::ldexp(1023.0f, -24));  // largest subnormal
  REQUIRE(io::half_to_float(0x0400) == std::ldexp(1.0f, -14));     // smallest normal
  REQUIRE(io::half_to_float(0x7bff) == 65504.0f);
  REQUIRE(io::half_to_float(0xfc00) == -std::numeric_limits<float>::infinity());
  REQUIRE(std::isnan(io::half_to_float(0x7e00)));
  REQUIRE(std::signbit(io::half_to_float(0x8000)));
  REQUIRE(io::bfloat16_to_float(0x3f80) == 1.0f);
  REQUIRE(io::bfloat16_to_float(0x0001) == std::ldexp(1.0f, -133));
  REQUIRE(std::isnan(io::bfloat16_to_float(0x7fc0)));
#ifdef __FLT16_MAX__
  // Every half against the compiler's own _Float16.
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const uint16_t b = static_cast<uint16_t>(bits);
    _Float16 h;
    std::memcpy(&h, &b, 2);
    const float want = static_cast<float>(h), got = io::half_to_float(b);
    if (std::isnan(want)) {
      REQUIRE(std::isnan(got));
    } else if (std::memcmp(&want, &got, 4) != 0) {
      FAIL("half 0x" << std::hex << bits << ": got " << got << ", want " << want);
    }
  }
#endif
}
