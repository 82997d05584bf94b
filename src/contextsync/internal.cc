#include "contextsync/internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace berth::contextsync::internal {

Result<std::vector<std::string>> ListNames(int dir_fd, const std::string& what) {
  // A descriptor of its own: closedir() closes it, and the caller's stays open.
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error::FromErrno("open " + what, errno);
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return Error::FromErrno("opendir " + what, err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") {
      names.emplace_back(n);
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) {
    return Error::FromErrno("readdir " + what, err);
  }
  return names;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

}  // namespace berth::contextsync::internal
