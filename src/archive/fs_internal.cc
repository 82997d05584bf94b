#include "archive/fs_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace berth::archive::internal {
namespace {

locale_t Utf8Locale() {
  // Created once and kept for the life of the process: uselocale() needs it to outlive every
  // thread using it. Null when the C library lacks C.UTF-8 (then names stay in the C locale).
  static locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return locale;
}

bool IsUnsupported(int err) {
  return err == ENOTSUP || err == EOPNOTSUPP;
}

}  // namespace

Utf8LocaleScope::Utf8LocaleScope() {
  if (locale_t utf8 = Utf8Locale(); utf8 != nullptr) {
    previous_ = uselocale(utf8);
  }
}

Utf8LocaleScope::~Utf8LocaleScope() {
  if (previous_ != nullptr) {
    uselocale(previous_);
  }
}

std::string ProcFdPath(int dirfd, std::string_view name) {
  std::string path = "/proc/self/fd/" + std::to_string(dirfd);
  path += '/';
  path += name;
  return path;
}

Result<Xattrs> ReadXattrs(int fd, int dirfd, std::string_view name) {
  std::string path = fd >= 0 ? std::string() : ProcFdPath(dirfd, name);
  auto list = [&](char* buf, size_t size) {
    return fd >= 0 ? flistxattr(fd, buf, size) : llistxattr(path.c_str(), buf, size);
  };
  auto get = [&](const char* key, char* buf, size_t size) {
    return fd >= 0 ? fgetxattr(fd, key, buf, size) : lgetxattr(path.c_str(), key, buf, size);
  };

  Xattrs out;
  std::string names;
  for (;;) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (IsUnsupported(errno)) {
        return out;
      }
      return Error::FromErrno("listxattr " + std::string(name), errno);
    }
    if (n == 0) {
      return out;
    }
    names.resize(static_cast<size_t>(n));
    n = list(names.data(), names.size());
    if (n >= 0) {
      names.resize(static_cast<size_t>(n));
      break;
    }
    if (errno != ERANGE) {  // ERANGE: the list grew between the two calls; ask again.
      return Error::FromErrno("listxattr " + std::string(name), errno);
    }
  }
  for (size_t pos = 0; pos < names.size();) {
    std::string key(names.c_str() + pos);
    pos += key.size() + 1;
    if (key.empty()) {
      continue;
    }
    std::string value;
    for (;;) {
      ssize_t n = get(key.c_str(), nullptr, 0);
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        n = get(key.c_str(), value.data(), value.size());
      }
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        out.emplace_back(std::move(key), std::move(value));
        break;
      }
      if (errno == ENODATA) {  // removed since the listing
        break;
      }
      if (errno != ERANGE) {
        return Error::FromErrno("getxattr " + key + " of " + std::string(name), errno);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> ListDir(int dirfd) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error::FromErrno("open directory", errno);
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    (void)close(fd);
    return Error::FromErrno("fdopendir", err);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* ent = readdir(dir);  // NOLINT(concurrency-mt-unsafe): the DIR is ours alone
    if (ent == nullptr) {
      break;
    }
    std::string_view n(ent->d_name);
    if (n != "." && n != "..") {
      names.emplace_back(n);
    }
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    return Error::FromErrno("readdir", err);
  }
  return names;
}

Result<> RemoveAllAt(int dirfd, const std::string& name) {
  if (unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) {
    return {};
  }
  if (errno != EISDIR) {
    return Error::FromErrno("remove " + name, errno);
  }
  int fd = openat(dirfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? Result<>() : Error::FromErrno("open " + name, errno);
  }
  UniqueFd dir(fd);
  if (geteuid() != 0) {
    // Without CAP_DAC_OVERRIDE a directory must be readable, writable and searchable by us to be
    // emptied; a layer may have made it 0500. It is about to go, so its mode does not matter.
    (void)chmod(ProcFdPath(dir.get(), "").c_str(), 0700);
  }
  auto names = ListDir(dir.get());
  if (!names.ok()) {
    return std::move(names).error().AddContext("removing " + name);
  }
  for (const std::string& child : *names) {
    BERTH_TRY_CONTEXT(RemoveAllAt(dir.get(), child), "removing " + name);
  }
  if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Error::FromErrno("remove directory " + name, errno);
  }
  return {};
}

}  // namespace berth::archive::internal
