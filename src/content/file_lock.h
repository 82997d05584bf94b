// FileLock: an flock(2) lock on a lock file, released when the FileLock goes away.
//
// The content store uses these to coordinate with other processes sharing its root (an embedded
// `berth build` next to a `berthd`) as much as with its own threads: flock locks belong to an
// open file description, so two FileLocks in one process exclude each other just as two
// processes do. Internal to content/.
#pragma once

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::content {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };

  // Opens (creating if needed) `path` and blocks until the lock is held.
  static Result<FileLock> Acquire(const std::string& path, Mode mode);

  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  ~FileLock() = default;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // Closing it releases the lock.
};

// Takes an exclusive flock on `fd` without blocking. Returns false if someone else holds a lock.
Result<bool> TryLockExclusive(int fd);

}  // namespace berth::content
