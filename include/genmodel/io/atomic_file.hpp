// genmodel/io/atomic_file.hpp: AtomicFile, the all-or-nothing writer that
// every io/ saver uses. Bytes go to "<path>.tmp.<pid>"; commit() flushes,
// fsyncs and renames it over the target, so a crash or an error never leaves
// half a file at `path`. If commit() is not reached the temporary is removed.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>

#include "genmodel/core/error.hpp"

namespace genmodel::io {

class AtomicFile {
 public:
  /// Creates the temporary beside `path` (same directory, so rename is atomic).
  explicit AtomicFile(std::filesystem::path path)
      : path_(std::move(path)), tmp_(path_.string() + ".tmp." + std::to_string(::getpid())) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    GM_CHECK(fd_ >= 0, "cannot write ", path_, ": creating ", tmp_,
             " failed: ", std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  void write(const void* data, std::size_t n) {
    GM_CHECK(fd_ >= 0, "AtomicFile: write to ", path_, " after commit");
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ::ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      GM_CHECK(w > 0, "cannot write ", path_, ": writing ", tmp_,
               " failed: ", w < 0 ? std::strerror(errno) : "no progress");
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void write(const std::string& s) { write(s.data(), s.size()); }

  /// Makes the bytes durable and moves them to the target path.
  void commit() {
    GM_CHECK(fd_ >= 0, "AtomicFile: ", path_, " committed twice");
    const bool synced = ::fsync(fd_) == 0;
    const int sync_errno = errno;
    const bool closed = ::close(fd_) == 0;  // close can report a delayed write error
    fd_ = -1;
    GM_CHECK(synced && closed, "cannot write ", path_, ": flushing ", tmp_,
             " failed: ", std::strerror(synced ? errno : sync_errno));
    GM_CHECK(::rename(tmp_.c_str(), path_.c_str()) == 0, "cannot write ", path_, ": renaming ",
             tmp_, " failed: ", std::strerror(errno));
    committed_ = true;
    // Persist the rename itself; failure here leaves a complete file either way.
    const std::filesystem::path dir = path_.has_parent_path() ? path_.parent_path() : ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace genmodel::io
