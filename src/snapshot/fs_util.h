// Small file system helpers internal to snapshot/ (and used by executor/ tests and code through
// the snapshot target): recursive removal and disk usage of a tree, an flock(2) guard.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::snapshot {

// rm -rf `path`, never following symlinks and never crossing into another mount (EXDEV from
// rmdir/unlink on a mount point is reported as an error). Ok if `path` does not exist.
Result<> RemoveAll(const std::string& path);

// Allocated bytes (st_blocks * 512) and inodes below and including `path`; hard links count
// once.
struct TreeUsage {
  int64_t bytes = 0;
  int64_t inodes = 0;
};
Result<TreeUsage> TreeDiskUsage(const std::string& path);

// An exclusive flock(2) on a lock file, held until destruction. flock locks belong to the open
// file description, so two guards in one process exclude each other as two processes do.
class FileLockGuard {
 public:
  static Result<FileLockGuard> Acquire(const std::string& path);

  FileLockGuard(FileLockGuard&&) = default;
  FileLockGuard& operator=(FileLockGuard&&) = default;
  FileLockGuard(const FileLockGuard&) = delete;
  FileLockGuard& operator=(const FileLockGuard&) = delete;
  ~FileLockGuard() = default;

 private:
  explicit FileLockGuard(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Makes a fresh directory under $TMPDIR (or /tmp) named `prefix`XXXXXX and returns its path.
Result<std::string> MakeTempDir(const std::string& prefix);

}  // namespace berth::snapshot
