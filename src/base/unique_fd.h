// UniqueFd: sole owner of a file descriptor; closes it on destruction.
#pragma once

#include <utility>

#include "base/result.h"

namespace berth {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset(other.Release());
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the current descriptor (errors ignored) and takes `fd`.
  void Reset(int fd = -1);
  // Closes the descriptor, reporting the error close(2) gives (EIO on NFS, say).
  Result<> Close();

 private:
  int fd_ = -1;
};

}  // namespace berth
