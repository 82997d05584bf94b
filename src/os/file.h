// File system calls wrapped to return Result, with O_CLOEXEC on every descriptor.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::os {

// open(2) with O_CLOEXEC added.
Result<UniqueFd> Open(const std::string& path, int flags, int mode = 0644);
// Reads a whole file. NotFound if it does not exist.
Result<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` atomically: a temporary file beside it, fsync, rename.
Result<> WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644);
// Reads a whole descriptor until EOF.
Result<std::string> ReadAll(int fd);
// Writes all of `data`, retrying on EINTR and short writes.
Result<> WriteAll(int fd, std::string_view data);
// mkdir -p.
Result<> MakeDirs(const std::string& path, int mode = 0755);
bool Exists(const std::string& path);

}  // namespace berth::os
