#include "fileop/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/gotext.h"

namespace berth::fileop::internal {

Result<UniqueFd> OpenRoot(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return Error::FromErrno("open " + path, errno);
  }
  return fd;
}

Result<UniqueFd> OpenAt2(int dirfd, std::string_view rel, int flags, bool beneath) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = beneath ? (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
                        : (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  std::string path = rel.empty() ? std::string(".") : std::string(rel);
  long fd;
  do {
    fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  if (fd < 0) {
    return Error::FromErrno("open " + path, errno);
  }
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> Reopen(int fd, int flags) {
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  UniqueFd out(::open(path.c_str(), flags | O_CLOEXEC));
  if (!out) {
    return Error::FromErrno("reopen " + path, errno);
  }
  return out;
}

Result<struct stat> Stat(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Error::FromErrno("fstat", errno);
  }
  return st;
}

Result<std::optional<struct stat>> LstatAt(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.empty() ? "." : name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return std::optional<struct stat>();
    }
    return Error::FromErrno("lstat " + name, errno);
  }
  return std::optional<struct stat>(st);
}

std::pair<std::string, std::string> SplitPath(std::string_view rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string_view::npos) {
    return {"", std::string(rel)};
  }
  return {std::string(rel.substr(0, slash)), std::string(rel.substr(slash + 1))};
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) {
    return std::string(b);
  }
  if (b.empty()) {
    return std::string(a);
  }
  return std::string(a) + "/" + std::string(b);
}

std::string RelPath(std::string_view path) {
  std::string clean = gotext::CleanPath("/" + std::string(path));
  return clean == "/" ? std::string() : clean.substr(1);
}

Result<std::vector<std::string>> ListDir(int dirfd) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error::FromErrno("open directory", errno);
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return Error::FromErrno("fdopendir", err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      names.emplace_back(n);
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) {
    return Error::FromErrno("readdir", err);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<> RemoveAllAt(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) {
    return {};
  }
  if (errno != EISDIR) {
    return Error::FromErrno("remove " + name, errno);
  }
  UniqueFd sub(::openat(dirfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) {
    return Error::FromErrno("open " + name, errno);
  }
  for (const std::string& child : BERTH_TRY(ListDir(sub.get()))) {
    BERTH_TRY(RemoveAllAt(sub.get(), child));
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Error::FromErrno("remove " + name, errno);
  }
  return {};
}

Result<> ApplyMetaFd(int fd, const Meta& meta, std::string_view what) {
  if (meta.owner && ::fchown(fd, meta.owner->first, meta.owner->second) != 0) {
    return Error::FromErrno("chown " + std::string(what), errno);
  }
  if (meta.mode && ::fchmod(fd, *meta.mode) != 0) {
    return Error::FromErrno("chmod " + std::string(what), errno);
  }
  if (meta.atime || meta.mtime) {
    struct timespec ts[2];
    ts[0] = meta.atime.value_or(timespec{0, UTIME_OMIT});
    ts[1] = meta.mtime.value_or(timespec{0, UTIME_OMIT});
    if (::futimens(fd, ts) != 0) {
      return Error::FromErrno("set times of " + std::string(what), errno);
    }
  }
  return {};
}

Result<> ApplyMetaSymlink(int dirfd, const std::string& name, const Meta& meta) {
  if (meta.owner && ::fchownat(dirfd, name.c_str(), meta.owner->first, meta.owner->second,
                               AT_SYMLINK_NOFOLLOW) != 0) {
    return Error::FromErrno("chown " + name, errno);
  }
  if (meta.atime || meta.mtime) {
    struct timespec ts[2];
    ts[0] = meta.atime.value_or(timespec{0, UTIME_OMIT});
    ts[1] = meta.mtime.value_or(timespec{0, UTIME_OMIT});
    if (::utimensat(dirfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
      return Error::FromErrno("set times of " + name, errno);
    }
  }
  return {};
}

Result<> CopyXattrs(int src, int dst, std::string_view what) {
  std::string names(1024, '\0');
  ssize_t n;
  while ((n = ::flistxattr(src, names.data(), names.size())) < 0 && errno == ERANGE) {
    names.resize(names.size() * 4);
  }
  if (n < 0) {
    if (errno == ENOTSUP) {
      return {};
    }
    return Error::FromErrno("list xattrs of " + std::string(what), errno);
  }
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    std::string value(256, '\0');
    ssize_t v;
    while ((v = ::fgetxattr(src, name.c_str(), value.data(), value.size())) < 0 &&
           errno == ERANGE) {
      value.resize(value.size() * 4);
    }
    if (v < 0) {
      if (errno == ENODATA) {
        continue;
      }
      return Error::FromErrno("read xattr " + name + " of " + std::string(what), errno);
    }
    if (::fsetxattr(dst, name.c_str(), value.data(), static_cast<size_t>(v), 0) != 0 &&
        errno != ENOTSUP && errno != EPERM) {
      return Error::FromErrno("set xattr " + name + " on " + std::string(what), errno);
    }
  }
  return {};
}

std::optional<std::string> GetXattr(int fd, const char* name) {
  // fgetxattr refuses O_PATH descriptors; the /proc path reaches the same inode.
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  std::string value(256, '\0');
  ssize_t v;
  while ((v = ::lgetxattr(path.c_str(), name, value.data(), value.size())) < 0 && errno == ERANGE) {
    value.resize(value.size() * 4);
  }
  if (v < 0) {
    return std::nullopt;
  }
  value.resize(static_cast<size_t>(v));
  return value;
}

namespace {

Result<UniqueFd> MkdirAllDepth(int root, const std::string& rel, uint32_t mode, const Meta& meta,
                               int depth);

}  // namespace

Result<UniqueFd> MkdirAll(int root, const std::string& rel, uint32_t mode, const Meta& meta) {
  return MkdirAllDepth(root, rel, mode, meta, 0);
}

namespace {

Result<UniqueFd> MkdirAllDepth(int root, const std::string& rel, uint32_t mode, const Meta& meta,
                               int depth) {
  if (depth > 40) {
    return Error::FromErrno("mkdir " + rel, ELOOP);
  }
  UniqueFd cur = BERTH_TRY(OpenAt2(root, "", O_PATH | O_DIRECTORY));
  std::vector<UniqueFd> created;
  std::string prefix;
  size_t pos = 0;
  while (pos < rel.size()) {
    size_t slash = rel.find('/', pos);
    std::string comp =
        rel.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    pos = slash == std::string::npos ? rel.size() : slash + 1;
    if (comp.empty()) {
      continue;
    }
    prefix = JoinPath(prefix, comp);
    // Resolving the whole prefix in the root follows symlinks the way a path lookup inside
    // the container would, and cannot leave the root.
    Result<UniqueFd> next = OpenAt2(root, prefix, O_PATH | O_DIRECTORY);
    if (next.ok()) {
      cur = std::move(next).value();
      continue;
    }
    if (next.error().sys_errno() != ENOENT) {
      return std::move(next).error().AddContext("mkdir " + prefix);
    }
    // A dangling symlink: create what it points to, resolved inside the root.
    std::optional<struct stat> st = BERTH_TRY(LstatAt(cur.get(), comp));
    if (st && S_ISLNK(st->st_mode)) {
      std::string target(static_cast<size_t>(st->st_size) + 1, '\0');
      ssize_t n = ::readlinkat(cur.get(), comp.c_str(), target.data(), target.size());
      if (n < 0) {
        return Error::FromErrno("readlink " + prefix, errno);
      }
      target.resize(static_cast<size_t>(n));
      std::string resolved = target.starts_with("/")
                                 ? RelPath(target)
                                 : RelPath(JoinPath(SplitPath(prefix).first, target));
      cur = BERTH_TRY(MkdirAllDepth(root, resolved, mode, meta, depth + 1));
      prefix = resolved;
      continue;
    }
    if (::mkdirat(cur.get(), comp.c_str(), mode & 07777) != 0 && errno != EEXIST) {
      return Error::FromErrno("mkdir " + prefix, errno);
    }
    UniqueFd made(
        ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!made) {
      return Error::FromErrno("open " + prefix, errno);
    }
    Meta m = meta;
    m.mode = mode & 07777;  // mkdir(2) applied the umask
    m.atime.reset();
    m.mtime.reset();
    BERTH_TRY(ApplyMetaFd(made.get(), m, prefix));
    created.push_back(BERTH_TRY(OpenAt2(made.get(), "", O_RDONLY | O_DIRECTORY, true)));
    cur = std::move(made);
  }
  // Times last: creating each child changed its parent's mtime.
  if (meta.atime || meta.mtime) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
      BERTH_TRY(
          ApplyMetaFd(it->get(), Meta{std::nullopt, std::nullopt, meta.atime, meta.mtime}, rel));
    }
  }
  return OpenAt2(cur.get(), "", O_RDONLY | O_DIRECTORY, true);
}

}  // namespace

bool HasWildcards(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\') {
      ++i;
    } else if (c == '*' || c == '?' || c == '[') {
      return true;
    }
  }
  return false;
}

namespace {

size_t CountComponents(std::string_view p) {
  return static_cast<size_t>(std::count(p.begin(), p.end(), '/')) + 1;
}

Result<> GlobWalk(int dirfd, const std::string& rel, const std::string& pattern, size_t depth,
                  size_t max_depth, const std::string& base, std::vector<std::string>* out) {
  for (const std::string& name : BERTH_TRY(ListDir(dirfd))) {
    std::string child = JoinPath(rel, name);
    if (::fnmatch(pattern.c_str(), child.c_str(), FNM_PATHNAME) == 0) {
      out->push_back(JoinPath(base, child));
      continue;
    }
    if (depth + 1 >= max_depth) {
      continue;
    }
    std::optional<struct stat> st = BERTH_TRY(LstatAt(dirfd, name));
    if (!st || !S_ISDIR(st->st_mode)) {
      continue;
    }
    UniqueFd sub(::openat(dirfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
      continue;
    }
    BERTH_TRY(GlobWalk(sub.get(), child, pattern, depth + 1, max_depth, base, out));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> Glob(int root, std::string_view pattern, std::string* base) {
  std::string clean = RelPath(pattern);
  std::string prefix;
  std::string rest;
  size_t pos = 0;
  bool found = false;
  while (pos <= clean.size() && !clean.empty()) {
    size_t slash = clean.find('/', pos);
    std::string comp =
        clean.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (!found && HasWildcards(comp)) {
      found = true;
    }
    if (found) {
      rest = JoinPath(rest, comp);
    } else {
      prefix = JoinPath(prefix, comp);
    }
    if (slash == std::string::npos) {
      break;
    }
    pos = slash + 1;
  }
  *base = prefix;
  if (!found) {
    return std::vector<std::string>{prefix};
  }
  Result<UniqueFd> dir = OpenAt2(root, prefix, O_PATH | O_DIRECTORY);
  if (!dir.ok()) {
    if (dir.error().sys_errno() == ENOENT || dir.error().sys_errno() == ENOTDIR) {
      return std::vector<std::string>{};
    }
    return std::move(dir).error();
  }
  std::vector<std::string> out;
  BERTH_TRY(GlobWalk(dir->get(), "", rest, 0, CountComponents(rest), prefix, &out));
  return out;
}

}  // namespace berth::fileop::internal
