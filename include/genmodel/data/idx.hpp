// genmodel/data/idx.hpp: a reader for IDX files of unsigned bytes, the
// format of MNIST and Fashion-MNIST (images: magic 0x00000803, shape
// (N, rows, cols); labels: magic 0x00000801, shape (N)), plain or gzipped.
// The bytes stay bytes (60000 28x28 images are 47 MB as u8, 188 MB as float);
// datasets convert them to float one batch at a time.
//
// The file must hold exactly what its header promises. Any mismatch throws
// genmodel::Error naming the path and the byte offset where the file went
// wrong; for a gzipped file the offsets count decompressed bytes.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "genmodel/core/error.hpp"

namespace genmodel::data {

/// An n-d array of bytes read from an IDX file, row-major.
struct IdxArray {
  std::vector<uint8_t> data;
  std::vector<int64_t> shape;

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

namespace detail {

/// Sequential reads from a plain file (stdio) or a gzip file (zlib).
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    GM_CHECK(f != nullptr, path, ": cannot open file for reading");
    unsigned char magic[2] = {0, 0};
    const std::size_t got = std::fread(magic, 1, 2, f);
    gzipped_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (!gzipped_) {
      std::rewind(f);
      file_.reset(f);
      return;
    }
    std::fclose(f);
    gz_ = gzopen(path.c_str(), "rb");
    GM_CHECK(gz_ != nullptr, path, ": cannot open gzip file for reading");
    gzbuffer(gz_, 1 << 16);
  }
  ~ByteSource() {
    if (gz_) gzclose_r(gz_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzipped() const { return gzipped_; }

  /// Reads up to n bytes into buf; fewer only at the end of the data. A read
  /// error, a corrupt gzip stream or a gzip file cut short throws.
  std::size_t read(void* buf, std::size_t n) {
    std::size_t got = 0;
    auto* out = static_cast<unsigned char*>(buf);
    while (got < n) {
      std::size_t k = 0;
      if (gzipped_) {
        const unsigned want = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
        const int r = gzread(gz_, out + got, want);
        // A cut stream still delivers what it holds, then reads 0 with an
        // error set; a corrupt one reads -1.
        if (r <= 0) {
          check_gz(offset_ + got);
          break;
        }
        k = static_cast<std::size_t>(r);
      } else {
        k = std::fread(out + got, 1, n - got, file_.get());
        GM_CHECK(!std::ferror(file_.get()), path_, ": read error at byte ", offset_ + got);
        if (k == 0) break;
      }
      got += k;
    }
    offset_ += got;
    return got;
  }

 private:
  void check_gz(uint64_t at) {
    int code = Z_OK;
    std::string msg = gzerror(gz_, &code);
    if (msg.starts_with(path_ + ": ")) msg.erase(0, path_.size() + 2);  // zlib prefixes the path
    GM_CHECK(code == Z_OK || code == Z_STREAM_END, path_,
             ": corrupt or truncated gzip stream past decompressed byte ", at, ": ", msg);
  }

  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };

  std::string path_;
  bool gzipped_ = false;
  std::unique_ptr<std::FILE, FileCloser> file_;
  gzFile gz_ = nullptr;
  uint64_t offset_ = 0;
};

inline uint32_t read_be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

inline std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace detail

/// Reads an IDX file of unsigned bytes with `dims` dimensions (magic number
/// 0x0000080<dims>): 3 for images, 1 for labels.
inline IdxArray read_idx(const std::string& path, int dims) {
  GM_CHECK(dims >= 1 && dims <= 8, "read_idx: dims must be in 1..8, got ", dims);
  detail::ByteSource src(path);
  const char* where = src.gzipped() ? " (decompressed)" : "";

  unsigned char magic[4];
  const std::size_t got_magic = src.read(magic, 4);
  GM_CHECK(got_magic == 4, path, ": truncated at byte ", got_magic, where,
           ": expected a 4-byte IDX magic number, got ", got_magic, " bytes");
  const std::string m = detail::hex32(detail::read_be32(magic));
  const std::string expected = detail::hex32(0x00000800u | uint32_t(dims));
  GM_CHECK(magic[0] == 0 && magic[1] == 0, path, ": not an IDX file: magic number ", m,
           " at byte 0, expected ", expected);
  GM_CHECK(magic[2] == 0x08, path, ": unsupported IDX element type ", int(magic[2]),
           " at byte 2 (magic ", m, ", expected ", expected, "): only unsigned bytes (8) are read");
  GM_CHECK(magic[3] == dims, path, ": IDX file has ", int(magic[3]), " dims at byte 3 (magic ", m,
           "), expected ", dims, " (magic ", expected, ")");

  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
  std::array<unsigned char, 32> sizes{};
  const std::size_t got_sizes = src.read(sizes.data(), 4 * dims);
  GM_CHECK(got_sizes == 4u * dims, path, ": truncated at byte ", 4 + got_sizes, where,
           ": expected a ", header, "-byte header (", dims, " dimension sizes), got ",
           4 + got_sizes, " bytes");

  IdxArray out;
  uint64_t total = 1;
  for (int d = 0; d < dims; ++d) {
    const uint32_t n = detail::read_be32(sizes.data() + 4 * d);
    // 2^40 bytes is far beyond any IDX file; the bound keeps the product from overflowing.
    GM_CHECK(n == 0 || total <= (uint64_t(1) << 40) / n, path, ": header promises more than 2^40 "
             "bytes of data (dimension ", d, " = ", n, " at byte ", 4 + 4 * d, ")");
    total *= n;
    out.shape.push_back(static_cast<int64_t>(n));
  }

  // Grow the buffer as data arrives, so a corrupt header cannot make us
  // allocate far more than the file holds.
  constexpr std::size_t kChunk = std::size_t(1) << 22;
  std::size_t have = 0;
  while (have < total) {
    const std::size_t want = std::min<std::size_t>(kChunk, total - have);
    out.data.resize(have + want);
    const std::size_t k = src.read(out.data.data() + have, want);
    have += k;
    GM_CHECK(k == want, path, ": truncated at byte ", header + have, where, ": expected ", total,
             " bytes of data after the ", header, "-byte header, got ", have);
  }

  unsigned char extra;
  GM_CHECK(src.read(&extra, 1) == 0, path, ": unexpected trailing bytes at byte ",
           header + total, where, ": the header promises exactly ", total,
           " bytes of data after the ", header, "-byte header");
  return out;
}

/// Images: magic 0x00000803, shape (N, rows, cols).
inline IdxArray read_idx_images(const std::string& path) { return read_idx(path, 3); }

/// Labels: magic 0x00000801, shape (N).
inline IdxArray read_idx_labels(const std::string& path) { return read_idx(path, 1); }

}  // namespace genmodel::data
