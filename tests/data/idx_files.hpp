// tests/data/idx_files.hpp: helpers for the data tests: a temporary
// directory that removes itself, IDX byte strings, and writers for plain and
// gzipped (zlib gzwrite) files.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace gmtest {

using Bytes = std::vector<uint8_t>;

/// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("genmodel_data_" + std::to_string(rd()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

/// An unsigned-byte IDX file: magic 0x0000080<dims>, the sizes, the data.
inline Bytes idx_bytes(const std::vector<uint32_t>& shape, const Bytes& data) {
  Bytes b;
  put_be32(b, 0x00000800u | uint32_t(shape.size()));
  for (uint32_t n : shape) put_be32(b, n);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline void write_plain(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline void write_gz(const std::string& path, const Bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot open " + path);
  const int n = b.empty() ? 0 : gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  if (gzclose(f) != Z_OK || n != static_cast<int>(b.size()))
    throw std::runtime_error("cannot write " + path);
}

inline Bytes read_plain(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// Sets an environment variable for a scope and restores it afterwards.
struct ScopedEnv {
  std::string name;
  bool had;
  std::string old;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    const char* v = std::getenv(name.c_str());
    had = v != nullptr;
    if (had) old = v;
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had)
      setenv(name.c_str(), old.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
};

}  // namespace gmtest
