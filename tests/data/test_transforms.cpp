// Tests of the image transforms on hand-worked values.
#include <catch2/catch.hpp>

#include "genmodel/core/factories.hpp"
#include "genmodel/data/transforms.hpp"

using namespace genmodel::data;
using genmodel::Generator;
using genmodel::Shape;
using genmodel::Tensor;
using genmodel::tensor;
using Catch::Contains;

TEST_CASE("scale_pixel maps bytes to [0, 1] and [-1, 1]", "[data][transforms]") {
  CHECK(scale_pixel(0, PixelRange::unit) == 0.0f);
  CHECK(scale_pixel(255, PixelRange::unit) == 1.0f);
  CHECK(scale_pixel(51, PixelRange::unit) == 0.2f);
  CHECK(scale_pixel(0, PixelRange::symmetric) == -1.0f);
  CHECK(scale_pixel(255, PixelRange::symmetric) == 1.0f);
  // 128 / 127.5 - 1 = 1 / 255, up to float rounding.
  CHECK(scale_pixel(128, PixelRange::symmetric) == Approx(1.0 / 255.0).margin(1e-7));
  CHECK(background(PixelRange::unit) == 0.0f);
  CHECK(background(PixelRange::symmetric) == -1.0f);

  std::vector<uint8_t> all(256);
  for (int v = 0; v < 256; ++v) all[v] = uint8_t(v);
  for (PixelRange r : {PixelRange::unit, PixelRange::symmetric}) {
    std::vector<float> out(256);
    scale_pixels(all.data(), out.data(), 256, r);
    for (int v = 0; v < 256; ++v) CHECK(out[v] == scale_pixel(uint8_t(v), r));  // bit for bit
  }
}

TEST_CASE("pad surrounds each image with a constant", "[data][transforms]") {
  const auto x = tensor<float>({1, 2, 3, 4}, {1, 2, 2});
  const auto y = pad(x, 1, -1.0f);
  REQUIRE(y.shape() == Shape({1, 4, 4}));
  CHECK(y.to_vector() == std::vector<float>{-1, -1, -1, -1,  //
                                            -1, 1,  2,  -1,  //
                                            -1, 3,  4,  -1,  //
                                            -1, -1, -1, -1});
  CHECK(pad(x, 0, 5.0f).to_vector() == x.to_vector());

  // 28x28 -> 32x32 on a batch: pixel (r, c) moves to (r + 2, c + 2).
  auto b = Tensor<float>::empty({2, 1, 28, 28});
  for (int64_t i = 0; i < b.numel(); ++i) b.data()[i] = float(i % 1000);
  const auto p = pad(b, 2, 0.0f);
  REQUIRE(p.shape() == Shape({2, 1, 32, 32}));
  CHECK(p.at(1, 0, 0, 0) == 0.0f);
  CHECK(p.at(1, 0, 31, 1) == 0.0f);
  CHECK(p.at(1, 0, 2, 2) == b.at(1, 0, 0, 0));
  CHECK(p.at(0, 0, 29, 29) == b.at(0, 0, 27, 27));
  CHECK(p.at(1, 0, 17, 5) == b.at(1, 0, 15, 3));

  REQUIRE_THROWS_WITH(pad(x, -1, 0.0f), Contains("padding must be non-negative, got -1"));
  REQUIRE_THROWS_WITH(pad(tensor<float>({1, 2}), 1, 0.0f),
                      Contains("pad: expected images (C, H, W) or (B, C, H, W), got shape [2]"));
}

TEST_CASE("hflip mirrors rows", "[data][transforms]") {
  const auto x = tensor<float>({1, 2, 3, 4, 5, 6}, {1, 2, 3});
  CHECK(hflip(x).to_vector() == std::vector<float>{3, 2, 1, 6, 5, 4});
  CHECK(hflip(hflip(x)).to_vector() == x.to_vector());
  REQUIRE_THROWS_WITH(hflip(Tensor<float>()), Contains("got shape undefined"));
}

TEST_CASE("random_hflip is deterministic given the generator", "[data][transforms]") {
  // Six 1x1x2 images {k, -k}.
  auto x = Tensor<float>::empty({6, 1, 1, 2});
  for (int k = 0; k < 6; ++k) x.at(k, 0, 0, 0) = float(k), x.at(k, 0, 0, 1) = float(-k);

  Generator none(1), all(1);
  CHECK(random_hflip(x, none, 0.0).to_vector() == x.to_vector());
  CHECK(random_hflip(x, all, 1.0).to_vector() == hflip(x).to_vector());
  CHECK(all.offset() == 2);  // one block per 4 images

  // Image k flips when word k % 4 of block k / 4 gives u < p.
  Generator g(42), h(42);
  const auto y = random_hflip(x, g);
  CHECK(random_hflip(x, h).to_vector() == y.to_vector());
  int flipped = 0;
  for (int k = 0; k < 6; ++k) {
    const bool flip = genmodel::detail::u01_float(Generator(42).block(k / 4)[k % 4]) < 0.5f;
    flipped += flip;
    CHECK(y.at(k, 0, 0, 0) == (flip ? float(-k) : float(k)));
    CHECK(y.at(k, 0, 0, 1) == (flip ? float(k) : float(-k)));
  }
  // The next call draws new blocks.
  CHECK(random_hflip(x, g).to_vector() != y.to_vector());

  // About half of many images flip.
  auto many = Tensor<float>::empty({2000, 1, 1, 2});
  for (int k = 0; k < 2000; ++k) many.at(k, 0, 0, 0) = 0.0f, many.at(k, 0, 0, 1) = 1.0f;
  Generator m(7);
  const auto z = random_hflip(many, m);
  int count = 0;
  for (int k = 0; k < 2000; ++k) count += z.at(k, 0, 0, 0) == 1.0f;
  CHECK(count > 900);
  CHECK(count < 1100);

  REQUIRE_THROWS_WITH(random_hflip(x, g, 1.5), Contains("probability must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(random_hflip(tensor<float>({1, 2}, {1, 1, 2}), g),
                      Contains("expected a batch (B, C, H, W), got shape [1, 1, 2]"));
}
