#include "content/file_lock.h"

#include <sys/file.h>

#include <cerrno>

#include "os/file.h"

namespace berth::content {

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_RDWR | O_CREAT, 0644));
  int op = mode == Mode::kShared ? LOCK_SH : LOCK_EX;
  while (::flock(fd.get(), op) != 0) {
    if (errno != EINTR) {
      return Error::FromErrno("flock " + path, errno);
    }
  }
  return FileLock(std::move(fd));
}

Result<bool> TryLockExclusive(int fd) {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return false;
    }
    if (errno != EINTR) {
      return Error::FromErrno("flock", errno);
    }
  }
  return true;
}

}  // namespace berth::content
