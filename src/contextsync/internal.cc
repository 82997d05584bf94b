#include "contextsync/internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
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
    UniqueFd closer(fd);
    return Error::FromErrno("opendir " + what, err);
  }
  std::vector<std::string> names;
  errno = 0;
  // readdir(3) on a DIR* that only this call uses is safe; readdir_r is deprecated.
  while (struct dirent* ent = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
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

Result<UniqueFd> OpenBeneath(int root, const std::string& path, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how));
  if (fd >= 0) {
    return UniqueFd(static_cast<int>(fd));
  }
  if (errno != ENOSYS) {
    return Error::FromErrno("open " + path, errno);
  }
  UniqueFd dir;
  int at = root;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    bool last = slash == std::string::npos;
    std::string part = path.substr(start, last ? slash : slash - start);
    UniqueFd next(
        ::openat(at, part.c_str(), last ? flags : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      return Error::FromErrno("open " + path, errno);
    }
    if (last) {
      return next;
    }
    dir = std::move(next);
    at = dir.get();
    start = slash + 1;
  }
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
