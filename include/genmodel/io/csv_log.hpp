// genmodel/io/csv_log.hpp: CsvLogger, a metric log with one row of named
// numbers per call. The header comes from the given columns or the first
// row's keys; every row is flushed as it is written, so a crashed run keeps
// its log. Append mode reopens the log of a resumed run and keeps its header.
#pragma once

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "genmodel/core/error.hpp"

namespace genmodel::io {

class CsvLogger {
 public:
  using Row = std::vector<std::pair<std::string, double>>;
  enum class Mode { truncate, append };

  /// Opens `path`. In append mode an existing non-empty file supplies the
  /// columns (they must equal `columns` when both are given).
  explicit CsvLogger(std::filesystem::path path, Mode mode = Mode::truncate,
                     std::vector<std::string> columns = {})
      : path_(std::move(path)), columns_(std::move(columns)) {
    check_names(columns_);
    bool has_header = false;
    if (mode == Mode::append && std::filesystem::exists(path_) &&
        std::filesystem::file_size(path_) > 0) {
      std::ifstream in(path_);
      std::string line;
      GM_CHECK(std::getline(in, line), "CsvLogger: ", path_.string(), ": cannot read the header");
      std::vector<std::string> found;
      for (std::size_t pos = 0;;) {
        const std::size_t comma = line.find(',', pos);
        found.push_back(line.substr(pos, comma - pos));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
      GM_CHECK(columns_.empty() || columns_ == found, "CsvLogger: ", path_.string(),
               " has columns [", join(found), "], not the requested [", join(columns_), "]");
      columns_ = std::move(found);
      has_header = true;
    }
    out_.open(path_, mode == Mode::append ? std::ios::app : std::ios::trunc);
    GM_CHECK(out_.is_open(), "CsvLogger: cannot open ", path_.string(), " for writing");
    if (!has_header && !columns_.empty()) write_line(join(columns_));
  }

  /// Appends one row; its keys must be the columns (in any order).
  void log(const Row& row) {
    std::vector<std::string> keys;
    for (const auto& kv : row) keys.push_back(kv.first);
    check_names(keys);
    GM_CHECK(!keys.empty(), "CsvLogger: ", path_.string(), ": empty row");
    if (columns_.empty()) {
      columns_ = keys;
      write_line(join(columns_));
    }
    GM_CHECK(keys.size() == columns_.size() &&
                 std::is_permutation(keys.begin(), keys.end(), columns_.begin()),
             "CsvLogger: ", path_.string(), ": row keys [", join(keys),
             "] differ from the columns [", join(columns_), "]");
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const auto it = std::find_if(row.begin(), row.end(),
                                   [&](const auto& kv) { return kv.first == columns_[i]; });
      char buf[32];
      const auto res = std::to_chars(buf, buf + sizeof buf, it->second);  // shortest round trip
      if (i) line += ',';
      line.append(buf, res.ptr);
    }
    write_line(line);
  }

  const std::vector<std::string>& columns() const { return columns_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void check_names(const std::vector<std::string>& names) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      GM_CHECK(!names[i].empty() && names[i].find_first_of(",\"\r\n") == std::string::npos,
               "CsvLogger: ", path_.string(), ": column name '", names[i],
               "' must be non-empty and free of commas, quotes and newlines");
      GM_CHECK(std::find(names.begin(), names.begin() + i, names[i]) == names.begin() + i,
               "CsvLogger: ", path_.string(), ": column '", names[i], "' appears twice");
    }
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
    return s;
  }
  void write_line(const std::string& line) {
    out_ << line << '\n';
    out_.flush();
    GM_CHECK(out_.good(), "CsvLogger: writing ", path_.string(), " failed");
  }

  std::filesystem::path path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

}  // namespace genmodel::io
