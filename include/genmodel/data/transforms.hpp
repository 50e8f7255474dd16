// genmodel/data/transforms.hpp: image transforms for the data pipeline:
// scaling u8 pixels to [0, 1] or [-1, 1], padding (28x28 -> 32x32 for
// power-of-two convolution stacks) and a seeded random horizontal flip.
// They work on images (C, H, W) or batches (B, C, H, W), contiguous floats.
#pragma once

#include <algorithm>
#include <cstdint>

#include "genmodel/core/error.hpp"
#include "genmodel/core/philox.hpp"
#include "genmodel/core/tensor.hpp"

namespace genmodel::data {

/// The float range u8 pixels map to: unit is [0, 1] (v / 255), symmetric is
/// [-1, 1] (v / 127.5 - 1, the range of a tanh generator or of diffusion).
enum class PixelRange { unit, symmetric };

inline float scale_pixel(uint8_t v, PixelRange range) {
  return range == PixelRange::unit ? float(v) / 255.0f : float(v) / 127.5f - 1.0f;
}

/// The value a zero byte (black background) maps to: 0 for unit, -1 for
/// symmetric. Pad with it so the border matches the background.
inline float background(PixelRange range) { return scale_pixel(0, range); }

/// dst[i] = scale_pixel(src[i], range) for n pixels, bit for bit.
inline void scale_pixels(const uint8_t* src, float* dst, int64_t n, PixelRange range) {
  if (range == PixelRange::unit)
    for (int64_t i = 0; i < n; ++i) dst[i] = float(src[i]) / 255.0f;
  else
    for (int64_t i = 0; i < n; ++i) dst[i] = float(src[i]) / 127.5f - 1.0f;
}

namespace detail {
inline void check_images(const Tensor<float>& x, const char* op) {
  GM_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), op, ": expected images (C, H, W) or "
           "(B, C, H, W), got shape ", x.defined() ? x.shape().str() : "undefined");
}
}  // namespace detail

/// Adds `amount` rows/columns of `value` on every side of each image:
/// (..., H, W) -> (..., H + 2 amount, W + 2 amount). Use value = background(range)
/// (-1 after scaling to [-1, 1], 0 for [0, 1]).
inline Tensor<float> pad(const Tensor<float>& x, int64_t amount, float value) {
  detail::check_images(x, "pad");
  GM_CHECK(amount >= 0, "pad: padding must be non-negative, got ", amount);
  const int nd = x.dim();
  const int64_t h = x.size(-2), w = x.size(-1), ho = h + 2 * amount, wo = w + 2 * amount;
  Shape out_shape = x.shape();
  out_shape[nd - 2] = ho;
  out_shape[nd - 1] = wo;
  auto out = Tensor<float>::empty(out_shape);
  std::fill_n(out.data(), out.numel(), value);
  const int64_t planes = x.numel() / std::max<int64_t>(h * w, 1);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < h; ++i)
      std::copy_n(x.data() + (p * h + i) * w, w, out.data() + (p * ho + i + amount) * wo + amount);
  return out;
}

/// Mirrors every image left-right.
inline Tensor<float> hflip(const Tensor<float>& x) {
  detail::check_images(x, "hflip");
  const int64_t w = x.size(-1), rows = x.numel() / std::max<int64_t>(w, 1);
  auto out = Tensor<float>::empty(x.shape());
  for (int64_t r = 0; r < rows; ++r)
    std::reverse_copy(x.data() + r * w, x.data() + (r + 1) * w, out.data() + r * w);
  return out;
}

/// Mirrors each image of a batch (B, C, H, W) left-right with probability p.
/// Image b flips when word b % 4 of the gen's block b / 4 gives u < p, so the
/// result depends only on the generator's state.
inline Tensor<float> random_hflip(const Tensor<float>& x, Generator& gen, double p = 0.5) {
  GM_CHECK(x.defined() && x.dim() == 4, "random_hflip: expected a batch (B, C, H, W), got shape ",
           x.defined() ? x.shape().str() : "undefined");
  GM_CHECK(p >= 0.0 && p <= 1.0, "random_hflip: probability must be in [0, 1], got ", p);
  const int64_t b = x.size(0), img = x.numel() / std::max<int64_t>(b, 1), w = x.size(3);
  const uint64_t first = gen.reserve(static_cast<uint64_t>((b + 3) / 4));
  auto out = x.clone_data();
  for (int64_t k = 0; k < b; ++k) {
    if (!(genmodel::detail::u01_float(gen.block(first + k / 4)[k % 4]) < p)) continue;
    for (int64_t r = 0; r < img / std::max<int64_t>(w, 1); ++r)
      std::reverse_copy(x.data() + k * img + r * w, x.data() + k * img + (r + 1) * w,
                        out.data() + k * img + r * w);
  }
  return out;
}

}  // namespace genmodel::data
