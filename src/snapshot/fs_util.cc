#include "snapshot/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <utility>
#include <vector>

namespace berth::snapshot {
namespace {

// Lists the names in the directory open as `fd` (which it borrows).
Result<std::vector<std::string>> ListDir(int fd, const std::string& what) {
  int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    return Error::FromErrno("dup " + what, errno);
  }
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(dup_fd);
    return Error::FromErrno("fdopendir " + what, err);
  }
  std::vector<std::string> names;
  errno = 0;
  // readdir(3) on a DIR* this function alone uses is safe; glibc's readdir_r is deprecated.
  while (struct dirent* entry = ::readdir(dir)) {  // NOLINT(concurrency-mt-unsafe)
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(std::move(name));
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) {
    return Error::FromErrno("readdir " + what, err);
  }
  return names;
}

Result<> RemoveChildren(int dir_fd, const std::string& what) {
  std::vector<std::string> names = BERTH_TRY(ListDir(dir_fd, what));
  for (const std::string& name : names) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return Error::FromErrno("stat " + what + "/" + name, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      int child = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        return Error::FromErrno("open " + what + "/" + name, errno);
      }
      UniqueFd child_fd(child);
      BERTH_TRY(RemoveChildren(child_fd.get(), what + "/" + name));
      if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return Error::FromErrno("rmdir " + what + "/" + name, errno);
      }
    } else if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return Error::FromErrno("unlink " + what + "/" + name, errno);
    }
  }
  return {};
}

struct UsageWalk {
  std::set<std::pair<dev_t, ino_t>> seen;
  TreeUsage usage;
};

void Count(UsageWalk* walk, const struct stat& st) {
  if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
    if (!walk->seen.emplace(st.st_dev, st.st_ino).second) {
      return;
    }
  }
  walk->usage.inodes++;
  walk->usage.bytes += static_cast<int64_t>(st.st_blocks) * 512;
}

Result<> UsageOf(int dir_fd, const std::string& what, UsageWalk* walk) {
  std::vector<std::string> names = BERTH_TRY(ListDir(dir_fd, what));
  for (const std::string& name : names) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return Error::FromErrno("stat " + what + "/" + name, errno);
    }
    Count(walk, st);
    if (S_ISDIR(st.st_mode)) {
      int child = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        return Error::FromErrno("open " + what + "/" + name, errno);
      }
      UniqueFd child_fd(child);
      BERTH_TRY(UsageOf(child_fd.get(), what + "/" + name, walk));
    }
  }
  return {};
}

}  // namespace

Result<> RemoveAll(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return Error::FromErrno("stat " + path, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return Error::FromErrno("open " + path, errno);
    }
    UniqueFd dir_fd(fd);
    BERTH_TRY(RemoveChildren(dir_fd.get(), path));
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
      return Error::FromErrno("rmdir " + path, errno);
    }
    return {};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error::FromErrno("unlink " + path, errno);
  }
  return {};
}

Result<TreeUsage> TreeDiskUsage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return Error::FromErrno("open " + path, errno);
  }
  UniqueFd dir_fd(fd);
  struct stat st {};
  if (::fstat(dir_fd.get(), &st) != 0) {
    return Error::FromErrno("stat " + path, errno);
  }
  UsageWalk walk;
  Count(&walk, st);
  BERTH_TRY(UsageOf(dir_fd.get(), path, &walk));
  return walk.usage;
}

Result<FileLockGuard> FileLockGuard::Acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error::FromErrno("open " + path, errno);
  }
  UniqueFd lock_fd(fd);
  while (::flock(lock_fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return Error::FromErrno("flock " + path, errno);
    }
  }
  return FileLockGuard(std::move(lock_fd));
}

Result<std::string> MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return Error::FromErrno("mkdtemp " + templ, errno);
  }
  return std::string(buf.data());
}

}  // namespace berth::snapshot
