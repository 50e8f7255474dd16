// PNG grids: the layout and value mapping of make_grid against a hand-made
// grid, checked by decoding the written PNG with stb_image.
#include <catch2/catch.hpp>
#include <cmath>

#include "genmodel/core/factories.hpp"
#include "genmodel/io/png.hpp"
#include "io/tmp_dir.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image.h>
#pragma GCC diagnostic pop

namespace gm = genmodel;
namespace io = genmodel::io;
using Catch::Contains;

namespace {
struct Decoded {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> px;
  int at(int y, int x, int ch = 0) const { return px[(y * w + x) * c + ch]; }
};
Decoded decode(const std::filesystem::path& p) {
  Decoded d;
  unsigned char* data = stbi_load(p.c_str(), &d.w, &d.h, &d.c, 0);
  REQUIRE(data != nullptr);
  d.px.assign(data, data + d.w * d.h * d.c);
  stbi_image_free(data);
  return d;
}
}  // namespace

TEST_CASE("png: an RGB grid has torchvision's layout, padding and value mapping", "[io][png]") {
  gmtest::TmpDir dir;
  const auto path = dir / "grid.png";
  // Three 2x2 RGB images in [-1, 1]; image k's R channel holds the test values,
  // G is constant k / 2 - 0.5 and B is 1 - 2 * (x == 1).
  const float nan = std::nanf("");
  const std::vector<float> red[3] = {{-1, 1, 0, 2}, {-5, 0.5f, nan, -0.5f}, {1, 1, 1, 1}};
  auto images = gm::zeros<float>({3, 3, 2, 2});
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) {
        images.at(k, 0, y, x) = red[k][y * 2 + x];
        images.at(k, 1, y, x) = k / 2.0f - 0.5f;
        images.at(k, 2, y, x) = x == 1 ? -1.0f : 1.0f;
      }
  io::GridOptions opt;
  opt.nrow = 2;
  opt.padding = 1;
  opt.pad_value = 0.5f;
  opt.lo = -1;
  opt.hi = 1;
  io::save_image_grid(path, images, opt);
  REQUIRE(dir.list() == std::vector<std::string>{"grid.png"});

  const Decoded d = decode(path);
  // 2 columns, 2 rows of 2x2 cells with 1 pixel of padding: 7 x 7.
  REQUIRE((d.w == 7 && d.h == 7 && d.c == 3));
  const int pad = 191;  // (0.5 + 1) / 2 * 255 + 0.5, rounded down
  // Hand-made expected R channel; P marks padding (the empty 4th slot too).
  const int P = -1;
  // clang-format off
  const int want_r[7][7] = {{P, P,   P,   P, P, P,   P},
                            {P, 0,   255, P, 0, 191, P},   // image 0 row 0 | image 1 row 0
                            {P, 128, 255, P, 0, 64,  P},   // image 0 row 1 | image 1 row 1 (NaN)
                            {P, P,   P,   P, P, P,   P},
                            {P, 255, 255, P, P, P,   P},   // image 2 | empty slot
                            {P, 255, 255, P, P, P,   P},
                            {P, P,   P,   P, P, P,   P}};
  // clang-format on
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) {
      INFO("pixel y " << y << " x " << x);
      const int r = want_r[y][x];
      if (r == P) {
        REQUIRE((d.at(y, x, 0) == pad && d.at(y, x, 1) == pad && d.at(y, x, 2) == pad));
        continue;
      }
      REQUIRE(d.at(y, x, 0) == r);
      const int k = (y >= 4) ? 2 : (x >= 4 ? 1 : 0);
      REQUIRE(d.at(y, x, 1) == (k == 0 ? 64 : k == 1 ? 128 : 191));  // -0.5, 0, 0.5
      REQUIRE(d.at(y, x, 2) == ((x == 2 || x == 5) ? 0 : 255));
    }
}

TEST_CASE("png: grayscale images, default options and nrow wider than the batch", "[io][png]") {
  gmtest::TmpDir dir;
  auto images = gm::full<float>({2, 1, 3, 4}, 0.25f);
  images.at(1, 0, 2, 3) = 1.0f;
  io::GridOptions opt;  // nrow 8 > 2 images: one row of 2, padding 2, range [0, 1]
  const io::Image8 g = io::make_grid(images, opt);
  REQUIRE((g.width == 2 * (4 + 2) + 2 && g.height == 3 + 4 && g.channels == 1));
  io::save_png(dir / "gray.png", g);
  const Decoded d = decode(dir / "gray.png");
  REQUIRE((d.w == 14 && d.h == 7 && d.c == 1));
  REQUIRE(d.at(0, 0) == 0);
  REQUIRE(d.at(2, 2) == 64);       // 0.25 * 255 + 0.5 = 64.25
  REQUIRE(d.at(4, 8 + 3) == 255);  // image 1 at x0 = 2 + 6, y0 = 2
  REQUIRE(d.at(4, 8 + 2) == 64);
  REQUIRE(d.at(5, 8 + 3) == 0);  // bottom padding
  REQUIRE(d.px == g.pixels);
}

TEST_CASE("png: wrong shapes, empty batches, bad options and write failures throw", "[io][png]") {
  gmtest::TmpDir dir;
  const auto p = dir / "x.png";
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::zeros<float>({3, 4, 4})),
                      Contains("must be (N, C, H, W), got [3, 4, 4]"));
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::zeros<float>({2, 2, 4, 4})),
                      Contains("1 or 3 channels"));
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::zeros<float>({0, 3, 4, 4})),
                      Contains("empty batch"));
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::zeros<float>({1, 3, 0, 4})),
                      Contains("empty batch"));
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::Tensor<float>()), Contains("undefined"));
  io::GridOptions opt;
  opt.nrow = 0;
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::zeros<float>({1, 1, 2, 2}), opt),
                      Contains("nrow must be positive"));
  opt = {};
  opt.lo = 1;
  opt.hi = 1;
  REQUIRE_THROWS_WITH(io::save_image_grid(p, gm::zeros<float>({1, 1, 2, 2}), opt),
                      Contains("finite lo < hi"));
  REQUIRE_THROWS_WITH(
      io::save_image_grid(dir / "missing" / "x.png", gm::zeros<float>({1, 1, 2, 2})),
      Contains("cannot write") && Contains("missing/x.png"));
  REQUIRE_THROWS_WITH(io::save_png(p, io::Image8{2, 2, 3, std::vector<uint8_t>(5)}),
                      Contains("inconsistent image"));
  REQUIRE(dir.list().empty());
}
