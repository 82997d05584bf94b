// Internal to the archive component: descriptor-relative file system helpers shared by the tar
// writer and the applier. Not part of the component's interface.
#pragma once

#include <clocale>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::archive::internal {

// Makes the calling thread's locale C.UTF-8 for its lifetime (restoring the previous one after).
// libarchive converts names between the locale's charset and the UTF-8 of PAX headers; in the
// plain C locale every non-ASCII name would fail that conversion. Under C.UTF-8 UTF-8 names pass
// through as they are, and other bytes fall back to raw names with hdrcharset=BINARY. Affects
// only this thread.
class Utf8LocaleScope {
 public:
  Utf8LocaleScope();
  Utf8LocaleScope(const Utf8LocaleScope&) = delete;
  Utf8LocaleScope& operator=(const Utf8LocaleScope&) = delete;
  Utf8LocaleScope(Utf8LocaleScope&&) = delete;
  Utf8LocaleScope& operator=(Utf8LocaleScope&&) = delete;
  ~Utf8LocaleScope();

 private:
  locale_t previous_ = nullptr;
};

// "/proc/self/fd/<dirfd>/<name>": a path for the *at-less calls (lgetxattr, lsetxattr) that
// reaches `name` inside the directory open as `dirfd` without resolving any other path.
std::string ProcFdPath(int dirfd, std::string_view name);

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// The extended attributes of an open file (fd >= 0) or, with fd < 0, of `name` in `dirfd`
// without following a symlink. Sorted by name. A file system without xattr support gives none.
Result<Xattrs> ReadXattrs(int fd, int dirfd, std::string_view name);

// Removes `name` in `dirfd` and, if it is a directory, everything below it, never following a
// symlink. A missing `name` is success.
Result<> RemoveAllAt(int dirfd, const std::string& name);

// The names in the directory open as `dirfd` (O_PATH is enough), "." and ".." excluded, in
// directory order.
Result<std::vector<std::string>> ListDir(int dirfd);

}  // namespace berth::archive::internal
