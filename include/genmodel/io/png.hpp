// genmodel/io/png.hpp: image grids like torchvision.utils.make_grid /
// save_image. make_grid tiles an (N, C, H, W) float batch (C = 1 or 3) into
// one 8-bit image, `nrow` images per row with `padding` pixels between and
// around them; save_image_grid encodes it as a PNG with stb_image_write and
// writes it atomically.
//
// stb_image_write's implementation is compiled here as static functions, so
// the library stays header-only. A translation unit that compiles stb itself
// (defines STB_IMAGE_WRITE_IMPLEMENTATION) must include stb_image_write.h
// before this header, which then reuses it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "genmodel/core/tensor.hpp"
#include "genmodel/io/atomic_file.hpp"

#ifndef STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO  // files are written by AtomicFile
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image_write.h>
#pragma GCC diagnostic pop
#endif

namespace genmodel::io {

struct GridOptions {
  int64_t nrow = 8;        // images per grid row, as in make_grid
  int64_t padding = 2;     // pixels between images and around the border
  float pad_value = 0.0f;  // in the images' value space, mapped like a pixel
  float lo = 0.0f;         // value mapped to 0
  float hi = 1.0f;         // value mapped to 255; values outside [lo, hi] clamp
};

/// An 8-bit image, row-major, `channels` interleaved bytes per pixel.
struct Image8 {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int64_t y, int64_t x, int64_t c = 0) const {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
};

namespace detail {
/// (v - lo) / (hi - lo) * 255, clamped and rounded half up as save_image does; NaN -> 0.
inline uint8_t to_byte(float v, float lo, float hi) {
  if (std::isnan(v)) return 0;
  const float s = (std::clamp(v, lo, hi) - lo) / (hi - lo);
  return static_cast<uint8_t>(std::min(255.0f, s * 255.0f + 0.5f));
}
}  // namespace detail

/// Tiles images (N, C, H, W) into one Image8 with C channels.
inline Image8 make_grid(const Tensor<float>& images, const GridOptions& opt = {}) {
  GM_CHECK(images.defined() && images.dim() == 4, "make_grid: images must be (N, C, H, W), got ",
           images.defined() ? images.shape().str() : "an undefined tensor");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  GM_CHECK(n > 0 && h > 0 && w > 0, "make_grid: empty batch or image, shape ", images.shape());
  GM_CHECK(c == 1 || c == 3, "make_grid: images must have 1 or 3 channels, got shape ",
           images.shape());
  GM_CHECK(opt.nrow > 0 && opt.padding >= 0,
           "make_grid: nrow must be positive and padding "
           "non-negative, got nrow ",
           opt.nrow, " padding ", opt.padding);
  GM_CHECK(std::isfinite(opt.lo) && std::isfinite(opt.hi) && opt.lo < opt.hi,
           "make_grid: value range needs finite lo < hi, got (", opt.lo, ", ", opt.hi, ")");
  const int64_t cols = std::min(opt.nrow, n), rows = (n + cols - 1) / cols;
  const int64_t p = opt.padding;
  Image8 img;
  img.width = cols * (w + p) + p;
  img.height = rows * (h + p) + p;
  img.channels = c;
  GM_CHECK(img.width <= (1 << 24) && img.height <= (1 << 24), "make_grid: grid of ", img.width,
           " x ", img.height, " pixels is too large");
  img.pixels.assign(static_cast<std::size_t>(img.width * img.height * c),
                    detail::to_byte(opt.pad_value, opt.lo, opt.hi));
  const float* src = images.data();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t y0 = (k / cols) * (h + p) + p, x0 = (k % cols) * (w + p) + p;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          img.pixels[static_cast<std::size_t>(((y0 + y) * img.width + x0 + x) * c + ch)] =
              detail::to_byte(src[((k * c + ch) * h + y) * w + x], opt.lo, opt.hi);
  }
  return img;
}

/// Encodes `img` as a PNG at `path`, atomically.
inline void save_png(const std::filesystem::path& path, const Image8& img) {
  GM_CHECK(img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3) &&
               img.pixels.size() == static_cast<std::size_t>(img.width * img.height * img.channels),
           "save_png: ", path.string(), ": inconsistent image ", img.width, " x ", img.height,
           " x ", img.channels, " with ", img.pixels.size(), " bytes");
  std::vector<unsigned char> png;
  auto append = [](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(ctx);
    out->insert(out->end(), static_cast<unsigned char*>(data),
                static_cast<unsigned char*>(data) + size);
  };
  const int ok =
      stbi_write_png_to_func(append, &png, static_cast<int>(img.width),
                             static_cast<int>(img.height), static_cast<int>(img.channels),
                             img.pixels.data(), static_cast<int>(img.width * img.channels));
  GM_CHECK(ok != 0, "save_png: ", path.string(), ": PNG encoding failed");
  AtomicFile out(path);
  out.write(png.data(), png.size());
  out.commit();
}

/// make_grid + save_png: writes the batch (N, C, H, W) as one PNG grid.
inline void save_image_grid(const std::filesystem::path& path, const Tensor<float>& images,
                            const GridOptions& opt = {}) {
  save_png(path, make_grid(images, opt));
}

}  // namespace genmodel::io
