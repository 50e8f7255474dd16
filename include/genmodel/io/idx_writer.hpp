// genmodel/io/idx_writer.hpp: writes uncompressed IDX files of unsigned
// bytes, the format data/idx.hpp reads (images: magic 0x00000803, then N,
// rows, cols as big-endian uint32, then N*rows*cols pixels row-major;
// labels: magic 0x00000801, then N, then N bytes). Generated samples saved
// this way can be read back, viewed with any MNIST tool, or scored by the
// evaluate example exactly like the real test set.
//
// Files go through io::AtomicFile, so a failed or interrupted write never
// leaves half a file at the path. images_to_ubyte turns a generator's
// [-1, 1] output (N, 1, H, W) or (N, H, W) into those bytes.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <vector>

#include "genmodel/core/error.hpp"
#include "genmodel/core/tensor.hpp"
#include "genmodel/io/atomic_file.hpp"

namespace genmodel::io {

namespace detail {
inline void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

/// Writes header (magic, dims) then payload, all or nothing.
inline void write_idx(const std::filesystem::path& path, uint32_t magic,
                      std::span<const int64_t> dims, std::span<const uint8_t> payload) {
  std::vector<uint8_t> header;
  append_be32(header, magic);
  for (int64_t d : dims) append_be32(header, static_cast<uint32_t>(d));
  AtomicFile file(path);
  file.write(header.data(), header.size());
  if (!payload.empty()) file.write(payload.data(), payload.size());
  file.commit();
}

inline void check_idx_dim(const char* op, const char* name, int64_t v) {
  GM_CHECK(v >= 0 && v <= int64_t(std::numeric_limits<uint32_t>::max()), op, ": ", name,
           " must be in 0..2^32-1 (an IDX dimension is a uint32), got ", v);
}
}  // namespace detail

/// Writes images as an IDX3 ubyte file: n images of rows x cols bytes,
/// row-major, pixels.size() == n * rows * cols.
inline void write_idx_images(const std::filesystem::path& path, std::span<const uint8_t> pixels,
                             int64_t n, int64_t rows, int64_t cols) {
  detail::check_idx_dim("write_idx_images", "n", n);
  detail::check_idx_dim("write_idx_images", "rows", rows);
  detail::check_idx_dim("write_idx_images", "cols", cols);
  // Each dimension is below 2^32, so rows * cols fits in 64 bits unsigned.
  const uint64_t size = pixels.size(), per = uint64_t(rows) * uint64_t(cols);
  const bool match = per == 0 ? size == 0 : size % per == 0 && size / per == uint64_t(n);
  GM_CHECK(match, "write_idx_images: ", path.string(), ": ", size, " pixels given for ", n,
           " images of ", rows, "x", cols, " (need n * rows * cols)");
  const int64_t dims[3] = {n, rows, cols};
  detail::write_idx(path, 0x00000803u, dims, pixels);
}

/// Writes labels as an IDX1 ubyte file (one byte per label).
inline void write_idx_labels(const std::filesystem::path& path, std::span<const uint8_t> labels) {
  detail::check_idx_dim("write_idx_labels", "the label count", int64_t(labels.size()));
  const int64_t dims[1] = {int64_t(labels.size())};
  detail::write_idx(path, 0x00000801u, dims, labels);
}

/// Labels given as integers (a Tensor<int64_t>'s data, class indices):
/// each must be in 0..255 to fit a byte.
inline void write_idx_labels(const std::filesystem::path& path, std::span<const int64_t> labels) {
  std::vector<uint8_t> bytes(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    GM_CHECK(labels[i] >= 0 && labels[i] <= 255, "write_idx_labels: ", path.string(), ": label ",
             labels[i], " at index ", i, " does not fit in a byte (0..255)");
    bytes[i] = uint8_t(labels[i]);
  }
  write_idx_labels(path, std::span<const uint8_t>(bytes));
}

/// One [-1, 1] value as a byte: round((x + 1) * 127.5) with halves rounded
/// away from zero (std::lround: 0 -> 127.5 -> 128), clamped to 0..255; NaN
/// gives 0. It inverts data::scale_pixel(v, PixelRange::symmetric) exactly.
inline uint8_t symmetric_to_ubyte(float x) {
  if (std::isnan(x)) return 0;
  const double y = (double(x) + 1.0) * 127.5;
  if (!(y > 0.0)) return 0;
  if (y >= 255.0) return 255;
  return static_cast<uint8_t>(std::lround(y));
}

/// Images (N, 1, H, W) or (N, H, W) in [-1, 1] (a tanh generator's range)
/// as N*H*W bytes, ready for write_idx_images(path, bytes, N, H, W).
inline std::vector<uint8_t> images_to_ubyte(const Tensor<float>& images) {
  GM_CHECK(images.defined(), "images_to_ubyte: undefined tensor");
  GM_CHECK(images.dim() == 3 || (images.dim() == 4 && images.size(1) == 1),
           "images_to_ubyte: expected grey images (N, 1, H, W) or (N, H, W), got shape ",
           images.shape());
  std::vector<uint8_t> out(static_cast<std::size_t>(images.numel()));
  const float* src = images.data();
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = symmetric_to_ubyte(src[i]);
  return out;
}

}  // namespace genmodel::io
