// genmodel/io/safetensors.hpp: reading and writing the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON naming each tensor's dtype, shape and
// [begin, end) byte range in the buffer that follows, and the buffer itself
// (row-major, little-endian, entries packed back to back).
//
// Writes F32, F64 and I64 (from Tensor<float>, Tensor<double>,
// Tensor<int64_t>), atomically. Reads F16, BF16, F32, F64 and I64. The whole
// header is validated before any tensor byte is read; a bad file throws
// genmodel::Error naming the path and the byte offset or tensor key.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "genmodel/core/tensor.hpp"
#include "genmodel/io/atomic_file.hpp"
#include "genmodel/io/half.hpp"

namespace genmodel::io {

static_assert(std::endian::native == std::endian::little,
              "genmodel/io/safetensors.hpp assumes a little-endian host, like the format");

/// The string-to-string map stored under the header's "__metadata__" key.
using Metadata = std::map<std::string, std::string>;
/// A tensor of any element type a file can hold.
using AnyTensor = std::variant<Tensor<float>, Tensor<double>, Tensor<int64_t>>;
using TensorMap = std::map<std::string, AnyTensor>;

/// A whole file: tensors in their stored type (F16 and BF16 widened to float).
struct TensorFile {
  TensorMap tensors;
  Metadata metadata;
};

namespace detail {

enum class DType { F16, BF16, F32, F64, I64 };

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

inline const char* dtype_name(DType d) {
  constexpr const char* names[] = {"F16", "BF16", "F32", "F64", "I64"};
  return names[static_cast<int>(d)];
}
inline uint64_t dtype_size(DType d) {
  constexpr uint64_t sizes[] = {2, 2, 4, 8, 8};
  return sizes[static_cast<int>(d)];
}
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::F32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::F64;
  else
    return DType::I64;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // relative to the buffer start
};

struct Header {
  std::vector<Entry> entries;
  Metadata metadata;
  uint64_t data_start = 0;  // file offset of the buffer: 8 + N
};

template <class... Args>
Error file_error(const std::filesystem::path& path, Args&&... args) {
  return Error(
      genmodel::detail::concat("safetensors: ", path.string(), ": ", std::forward<Args>(args)...));
}

inline uint64_t json_uint(const nlohmann::json& v, const std::filesystem::path& path,
                          const std::string& key, const char* field) {
  if (!v.is_number_unsigned())
    throw file_error(path, "tensor '", key, "': ", field, " holds ", v.dump(),
                     ", not a non-negative integer");
  return v.get<uint64_t>();
}

inline Entry parse_entry(const std::string& key, const nlohmann::json& v,
                         const std::filesystem::path& path, uint64_t buffer_bytes) {
  if (!v.is_object()) throw file_error(path, "tensor '", key, "': entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) throw file_error(path, "tensor '", key, "': missing key '", field, "'");
  Entry e{key, DType::F32, Shape{}, 0, 0};

  const auto& dt = v["dtype"];
  const std::string dts = dt.is_string() ? dt.get<std::string>() : dt.dump();
  bool known = false;
  for (DType d : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I64})
    if (dts == dtype_name(d)) e.dtype = d, known = true;
  if (!known)
    throw file_error(path, "tensor '", key, "': unsupported dtype '", dts,
                     "' (supported: F16, BF16, F32, F64, I64)");

  const auto& sh = v["shape"];
  if (!sh.is_array() || sh.size() > static_cast<std::size_t>(Shape::kMaxDims))
    throw file_error(path, "tensor '", key, "': shape ", sh.dump(), " is not an array of at most ",
                     Shape::kMaxDims, " dimensions");
  uint64_t numel = 1;
  for (const auto& d : sh) {
    const uint64_t n = json_uint(d, path, key, "shape");
    if (__builtin_mul_overflow(numel, n, &numel) || n > (uint64_t{1} << 62))
      throw file_error(path, "tensor '", key, "': shape ", sh.dump(), " is too large");
    e.shape.push_back(static_cast<int64_t>(n));
  }

  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    throw file_error(path, "tensor '", key, "': data_offsets ", off.dump(),
                     " is not a [begin, end] pair");
  e.begin = json_uint(off[0], path, key, "data_offsets");
  e.end = json_uint(off[1], path, key, "data_offsets");
  if (e.begin > e.end || e.end > buffer_bytes)
    throw file_error(path, "tensor '", key, "': data_offsets [", e.begin, ", ", e.end,
                     "] lie outside the data buffer of ", buffer_bytes, " bytes");
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size(e.dtype), &bytes) || bytes != e.end - e.begin)
    throw file_error(path, "tensor '", key, "': shape ", e.shape, " of dtype ", dts, " needs ",
                     numel, " x ", dtype_size(e.dtype), " bytes but data_offsets [", e.begin, ", ",
                     e.end, "] hold ", e.end - e.begin);
  return e;
}

/// Reads and validates the header; afterwards every entry lies inside the file.
inline Header read_header(std::ifstream& in, const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw file_error(path, "cannot open for reading: ", ec.message());
  if (!in) throw file_error(path, "cannot open for reading");
  if (size < 8)
    throw file_error(path, "file is ", size, " bytes, shorter than the 8-byte header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > size - 8 || n > kMaxHeaderBytes)
    throw file_error(path, "header length ", n, " (at byte 0) runs past the end of the file (",
                     size, " bytes) or exceeds the ", kMaxHeaderBytes, "-byte limit");
  std::string text(n, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(n)))
    throw file_error(path, "reading the header at byte 8 failed");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& err) {
    // err.byte counts from 1 within the header; report a 0-based file offset.
    throw file_error(path, "header JSON is invalid near byte ",
                     8 + std::max<std::size_t>(err.byte, 1) - 1, ": ", err.what());
  }
  if (!j.is_object()) throw file_error(path, "header at byte 8 is not a JSON object");

  Header h;
  h.data_start = 8 + n;
  const uint64_t buffer_bytes = size - h.data_start;
  for (const auto& [key, v] : j.items()) {
    if (key != "__metadata__") {
      h.entries.push_back(parse_entry(key, v, path, buffer_bytes));
      continue;
    }
    if (!v.is_object()) throw file_error(path, "__metadata__ is not a JSON object");
    for (const auto& [mk, mv] : v.items()) {
      if (!mv.is_string())
        throw file_error(path, "__metadata__ key '", mk, "' holds ", mv.dump(), ", not a string");
      h.metadata[mk] = mv.get<std::string>();
    }
  }

  // The format packs entries back to back: no overlap, no gap, no trailing bytes.
  std::vector<const Entry*> sorted;
  for (const auto& e : h.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : sorted) {
    if (e->begin < covered)
      throw file_error(path, "tensor '", e->name, "' (bytes ", h.data_start + e->begin, "..",
                       h.data_start + e->end, ") overlaps tensor '", prev->name, "' (bytes ",
                       h.data_start + prev->begin, "..", h.data_start + prev->end, ")");
    if (e->begin > covered)
      throw file_error(path, "bytes ", h.data_start + covered, "..", h.data_start + e->begin,
                       " before tensor '", e->name, "' belong to no tensor");
    covered = e->end;
    prev = e;
  }
  if (covered != buffer_bytes)
    throw file_error(path, "bytes ", h.data_start + covered, "..", size,
                     " at the end of the file belong to no tensor");
  return h;
}

/// Reads one validated entry, converting its elements to T.
template <class T>
Tensor<T> read_entry(std::ifstream& in, const std::filesystem::path& path, const Header& h,
                     const Entry& e) {
  const bool want_int = std::is_same_v<T, int64_t>;
  if (want_int != (e.dtype == DType::I64))
    throw file_error(path, "tensor '", e.name, "' has dtype ", dtype_name(e.dtype),
                     " and cannot be loaded as ", want_int ? "int64_t" : "a floating-point type",
                     " (read_safetensors keeps each tensor's stored type)");
  auto t = Tensor<T>::empty(e.shape);
  const int64_t n = t.numel();
  if (n == 0) return t;
  in.seekg(static_cast<std::streamoff>(h.data_start + e.begin));
  auto read = [&](void* dst) {
    if (!in.read(static_cast<char*>(dst), static_cast<std::streamsize>(e.end - e.begin)))
      throw file_error(path, "reading tensor '", e.name, "' at byte ", h.data_start + e.begin,
                       " failed");
  };
  auto widen = [&](auto tag, auto convert) {
    std::vector<decltype(tag)> raw(static_cast<std::size_t>(n));
    read(raw.data());
    for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<T>(convert(raw[i]));
  };
  auto identity = [](auto v) { return v; };
  if (e.dtype == dtype_of<T>()) {
    read(t.data());
  } else if (e.dtype == DType::F16) {
    widen(uint16_t{}, half_to_float);
  } else if (e.dtype == DType::BF16) {
    widen(uint16_t{}, bfloat16_to_float);
  } else if (e.dtype == DType::F32) {
    widen(float{}, identity);
  } else {
    widen(double{}, identity);
  }
  return t;
}

inline Header open_and_read_header(std::ifstream& in, const std::filesystem::path& path) {
  in.open(path, std::ios::binary);
  return read_header(in, path);
}

}  // namespace detail

/// Writes `tensors` and `metadata` to `path` atomically (temporary + rename).
inline void save_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                             const Metadata& metadata = {}) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, any] : tensors) {
    GM_CHECK(!name.empty() && name != "__metadata__", "save_safetensors: ", path.string(),
             ": invalid tensor name '", name, "'");
    std::visit(
        [&](const auto& t) {
          using T = typename std::decay_t<decltype(t)>::value_type;
          GM_CHECK(t.defined(), "save_safetensors: ", path.string(), ": tensor '", name,
                   "' is undefined");
          const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(T);
          header[name] = {{"dtype", detail::dtype_name(detail::dtype_of<T>())},
                          {"shape", t.shape().vec()},
                          {"data_offsets", {offset, offset + bytes}}};
          offset += bytes;
        },
        any);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the buffer 8-byte aligned, as Python does
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  AtomicFile out(path);
  out.write(len_bytes, 8);
  out.write(text);
  for (const auto& [name, any] : tensors)
    std::visit([&](const auto& t) { out.write(t.data(), t.numel() * sizeof(*t.data())); }, any);
  out.commit();
}

/// Writes a map of one element type (float, double or int64_t).
template <class T>
void save_safetensors(const std::filesystem::path& path,
                      const std::map<std::string, Tensor<T>>& tensors,
                      const Metadata& metadata = {}) {
  save_safetensors(path, TensorMap(tensors.begin(), tensors.end()), metadata);
}

/// Reads every tensor in its stored type: F16, BF16 and F32 as float, F64 as
/// double, I64 as int64_t.
inline TensorFile read_safetensors(const std::filesystem::path& path) {
  std::ifstream in;
  const detail::Header h = detail::open_and_read_header(in, path);
  TensorFile file{{}, h.metadata};
  for (const auto& e : h.entries) {
    if (e.dtype == detail::DType::F64)
      file.tensors.emplace(e.name, detail::read_entry<double>(in, path, h, e));
    else if (e.dtype == detail::DType::I64)
      file.tensors.emplace(e.name, detail::read_entry<int64_t>(in, path, h, e));
    else
      file.tensors.emplace(e.name, detail::read_entry<float>(in, path, h, e));
  }
  return file;
}

/// Reads every tensor converted to T: float and double accept F16, BF16, F32
/// and F64; int64_t accepts I64. Any other pairing throws naming the tensor.
template <class T>
std::map<std::string, Tensor<T>> load_safetensors(const std::filesystem::path& path) {
  std::ifstream in;
  const detail::Header h = detail::open_and_read_header(in, path);
  std::map<std::string, Tensor<T>> out;
  for (const auto& e : h.entries) out.emplace(e.name, detail::read_entry<T>(in, path, h, e));
  return out;
}

/// The "__metadata__" map alone (the header is still fully validated).
inline Metadata load_metadata(const std::filesystem::path& path) {
  std::ifstream in;
  return detail::open_and_read_header(in, path).metadata;
}

}  // namespace genmodel::io
