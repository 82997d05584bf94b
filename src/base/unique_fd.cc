#include "base/unique_fd.h"

#include <unistd.h>

#include <cerrno>

namespace berth {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) {
    (void)::close(fd_);
  }
  fd_ = fd;
}

Result<> UniqueFd::Close() {
  int fd = Release();
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) {
    return Error::FromErrno("close", errno);
  }
  return {};
}

}  // namespace berth
