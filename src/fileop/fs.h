// Internal to fileop: descriptor-relative file system helpers. Every path is resolved below an
// open root directory with openat2; nothing here takes a host path apart from the root itself.
//
// Some of these duplicate private helpers of archive/ (fs_internal.h), which that component
// does not export; they belong in a shared os/ helper once a third user appears.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::fileop::internal {

// Opens a root directory (O_PATH).
Result<UniqueFd> OpenRoot(const std::string& path);

// openat2(dirfd, rel, flags | O_CLOEXEC) with RESOLVE_IN_ROOT (symlinks resolve inside dirfd)
// or, with `beneath`, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (nothing followed at all).
// The error carries errno (ENOENT for a missing path).
Result<UniqueFd> OpenAt2(int dirfd, std::string_view rel, int flags, bool beneath = false);

// Reopens an O_PATH descriptor with real access `flags` (through /proc/self/fd, which names
// exactly that inode).
Result<UniqueFd> Reopen(int fd, int flags);

// fstat / fstatat(AT_SYMLINK_NOFOLLOW).
Result<struct stat> Stat(int fd);
Result<std::optional<struct stat>> LstatAt(int dirfd, const std::string& name);

// A relative path split into its directory ("" for none) and final component.
std::pair<std::string, std::string> SplitPath(std::string_view rel);
// Joins relative paths with '/', skipping empty ones.
std::string JoinPath(std::string_view a, std::string_view b);
// Cleans `path` and makes it relative to the root: "/a/../b/" -> "b", "/" -> "".
std::string RelPath(std::string_view path);

// The names in a directory (O_PATH is enough), "." and ".." excluded, sorted.
Result<std::vector<std::string>> ListDir(int dirfd);

// Removes `name` in `dirfd` and everything below it, never following a symlink. Missing is ok.
Result<> RemoveAllAt(int dirfd, const std::string& name);

// Owner and times to give an entry.
struct Meta {
  std::optional<std::pair<uint32_t, uint32_t>> owner;  // nullopt: leave as created
  std::optional<uint32_t> mode;                        // permission bits incl. suid/sgid/sticky
  std::optional<struct timespec> atime, mtime;         // nullopt: leave
};
// Applies `meta` to the open file `fd` (not O_PATH): fchown, fchmod, futimens in that order.
Result<> ApplyMetaFd(int fd, const Meta& meta, std::string_view what);
// Applies owner and times to the symlink `name` in `dirfd` (modes of symlinks do not exist).
Result<> ApplyMetaSymlink(int dirfd, const std::string& name, const Meta& meta);

// Copies the xattrs of `src` to `dst` (both open files, not O_PATH). Those the destination
// refuses (ENOTSUP, EPERM) are skipped, as BuildKit's copier is told to.
Result<> CopyXattrs(int src, int dst, std::string_view what);
// The value of xattr `name` on the open file `fd` (O_PATH is enough), or nullopt.
std::optional<std::string> GetXattr(int fd, const char* name);

// mkdir -p of `rel` below `root`, intermediate components resolving inside the root. Created
// directories get `mode` and `meta`; existing ones are left alone. Returns the final directory
// (O_RDONLY). Error (ENOTDIR) if a component exists and is not a directory.
Result<UniqueFd> MkdirAll(int root, const std::string& rel, uint32_t mode, const Meta& meta);

// Whether a path component holds glob syntax ('*', '?', '[', not escaped by '\').
bool HasWildcards(std::string_view path);

// Expands a glob relative to `root`: the part before the first component with wildcards
// resolves inside the root; the rest is matched component by component (fnmatch with
// FNM_PATHNAME, as Go's filepath.Match) against entries below it, not descending into a
// matched directory nor through symlinks. Returns root-relative paths, sorted, and in `base`
// the root-relative directory the glob part is matched below.
Result<std::vector<std::string>> Glob(int root, std::string_view pattern, std::string* base);

}  // namespace berth::fileop::internal
