#include "archive/apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "archive/fs_internal.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "compress/compress.h"

namespace berth::archive {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Join(std::string_view parent, std::string_view name) {
  std::string out(parent);
  if (!out.empty()) {
    out += '/';
  }
  out += name;
  return out;
}

// Splits a clean path into its parent ("" for the root) and last component.
std::pair<std::string, std::string> SplitLast(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return {"", path};
  }
  return {path.substr(0, slash), path.substr(slash + 1)};
}

Error Hostile(std::string_view what, std::string_view raw, const std::string& why) {
  return Error::InvalidArgument(std::string(what) + " " + QuoteString(raw) + ": " + why);
}

// The path of an entry or a hard link target relative to the target directory: "/" and "."
// components and empty ones dropped, "" for the target itself. A ".." component is hostile.
Result<std::string> CleanPath(std::string_view raw, std::string_view what) {
  std::string out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t slash = raw.find('/', pos);
    if (slash == std::string_view::npos) {
      slash = raw.size();
    }
    std::string_view part = raw.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == "..") {
      return Hostile(what, raw, "path has a \"..\" component; refusing to leave the target");
    }
    if (!out.empty()) {
      out += '/';
    }
    out += part;
  }
  return out;
}

Result<UniqueFd> Dup(int fd) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    return Error::FromErrno("dup", errno);
  }
  return UniqueFd(copy);
}

long OpenAt2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

class Applier {
 public:
  Applier(const Context& ctx, const ApplyOptions& options)
      : ctx_(ctx),
        options_(options),
        owners_(options.preserve_owners.value_or(geteuid() == 0)),
        read_buf_(kDefaultBufferSize) {}

  Result<ApplyStats> Run(Reader& layer, const std::string& target) {
    internal::Utf8LocaleScope locale;
    int fd = open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return Error::FromErrno("open " + target, errno);
    }
    root_.Reset(fd);
    reader_ = BERTH_TRY(compress::NewReader(layer));

    std::unique_ptr<struct archive, ArchiveFree> archive(archive_read_new());
    std::unique_ptr<struct archive_entry, EntryFree> entry(archive_entry_new());
    if (!archive || !entry) {
      return Error(ErrorCode::kResourceExhausted, "libarchive: out of memory");
    }
    archive_ = archive.get();
    // Only tar (and an empty stream); decompression is ours, so no libarchive filters.
    if (archive_read_support_format_tar(archive_) != ARCHIVE_OK ||
        archive_read_support_format_empty(archive_) != ARCHIVE_OK ||
        archive_read_open(archive_, this, nullptr, &Applier::ReadCallback, nullptr) != ARCHIVE_OK) {
      return ReadFailure("opening the layer");
    }
    for (;;) {
      BERTH_TRY(ctx_.Check());
      int r = archive_read_next_header2(archive_, entry.get());
      if (r == ARCHIVE_EOF) {
        break;
      }
      // ARCHIVE_WARN: the header was read but something in it was odd (a name that is not
      // UTF-8, an unknown PAX keyword); the entry is still whole.
      if (r < ARCHIVE_WARN) {
        return ReadFailure("reading the layer");
      }
      const char* name = archive_entry_pathname(entry.get());
      Result<> applied = ApplyEntry(entry.get(), name);
      if (!applied.ok()) {
        return std::move(applied).error().AddContext("layer entry " +
                                                     QuoteString(name != nullptr ? name : ""));
      }
    }
    // Read to the end of the stream so the decompressor checks its trailer (gzip CRC and
    // length): a layer is only applied once all of it is known to be intact.
    for (;;) {
      size_t n = BERTH_TRY(reader_->Read(read_buf_.data(), read_buf_.size()));
      if (n == 0) {
        break;
      }
      hash_.Update(read_buf_.data(), n);
    }
    BERTH_TRY(ApplyDirMetadata());
    stats_.diff_id = hash_.Finish();
    return stats_;
  }

 private:
  // Metadata of a directory, applied after all entries: writing into a directory changes its
  // mtime, and a read-only mode would stop us writing into it.
  struct DirMeta {
    mode_t mode = 0;
    struct timespec times[2] = {};
  };

  static la_ssize_t ReadCallback(struct archive* a, void* client, const void** buf) {
    auto* self = static_cast<Applier*>(client);
    Result<size_t> n = self->reader_->Read(self->read_buf_.data(), self->read_buf_.size());
    if (!n.ok()) {
      self->read_error_ = std::move(n).error();
      archive_set_error(a, EIO, "reading the layer stream failed");
      return -1;
    }
    self->hash_.Update(self->read_buf_.data(), *n);
    *buf = self->read_buf_.data();
    return static_cast<la_ssize_t>(*n);
  }

  Error ReadFailure(const std::string& what) {
    if (read_error_) {
      return std::move(*read_error_);
    }
    const char* msg = archive_error_string(archive_);
    return Error::DataLoss("corrupt layer tar: " + what + ": " +
                           (msg != nullptr ? msg : "unknown error"));
  }

  // --- Resolving paths beneath the target -----------------------------------------------------

  // Opens the directory `rel` (a clean path, "" for the target) as an O_PATH descriptor without
  // leaving the target or following symlinks (or, with follow_symlinks_in_root, following them
  // as if the target were "/"). With `create`, missing directories are made (0755, like Docker);
  // without, a missing directory gives an invalid UniqueFd.
  Result<UniqueFd> OpenDir(const std::string& rel, bool create) {
    if (rel.empty()) {
      return Dup(root_.get());
    }
    if (openat2_) {
      uint64_t resolve = options_.follow_symlinks_in_root
                             ? RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
                             : RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
      for (int attempt = 0; attempt < 8; ++attempt) {
        long fd = OpenAt2(root_.get(), rel.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
        if (fd >= 0) {
          return UniqueFd(static_cast<int>(fd));
        }
        if (errno != EAGAIN && errno != EINTR) {  // EAGAIN: a rename raced the lookup
          break;
        }
      }
      if (errno == ENOSYS || errno == EPERM) {  // old kernel, or a seccomp filter
        openat2_ = false;
      } else if (errno == ENOENT && !create) {
        return UniqueFd();
      }
    }
    // The walk creates what is missing and explains every refusal precisely.
    return Walk(rel, create);
  }

  Result<UniqueFd> Walk(const std::string& rel, bool create) {
    UniqueFd cur = BERTH_TRY(Dup(root_.get()));
    size_t pos = 0;
    bool created = false;
    while (pos < rel.size()) {
      size_t slash = rel.find('/', pos);
      if (slash == std::string::npos) {
        slash = rel.size();
      }
      std::string comp = rel.substr(pos, slash - pos);
      std::string prefix = rel.substr(0, slash);
      int fd = openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        cur.Reset(fd);
        pos = slash + 1;
        created = false;
        continue;
      }
      int err = errno;
      if (err == ENOENT) {
        if (!create) {
          return UniqueFd();
        }
        if (created) {  // made it a moment ago and it is gone again: someone races us
          return Error::FromErrno("create directory " + QuoteString(prefix), err);
        }
        if (mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) {
          return Error::FromErrno("create directory " + QuoteString(prefix), errno);
        }
        created = true;
        continue;
      }
      if (err != ENOTDIR && err != ELOOP) {
        return Error::FromErrno("open directory " + QuoteString(prefix), err);
      }
      struct stat st;
      if (fstatat(cur.get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
        return Error::InvalidArgument(QuoteString(prefix) + " is not a directory");
      }
      if (!options_.follow_symlinks_in_root) {
        return Error::InvalidArgument(QuoteString(prefix) +
                                      " is a symlink; refusing to write through it");
      }
      if (!openat2_) {
        return Error::Unimplemented("following symlinks inside the target needs openat2(2)");
      }
      long resolved = OpenAt2(root_.get(), prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
                              RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      if (resolved < 0) {
        if (errno == ENOENT) {
          if (!create) {
            return UniqueFd();
          }
          return Error::InvalidArgument(QuoteString(prefix) + " is a dangling symlink");
        }
        return Error::FromErrno("resolve " + QuoteString(prefix), errno);
      }
      cur.Reset(static_cast<int>(resolved));
      pos = slash + 1;
      created = false;
    }
    return cur;
  }

  // The directory `rel` for creating entries in, cached for the next entry (tar entries come
  // grouped by directory). The descriptor stays valid until the next call.
  Result<int> Parent(const std::string& rel, bool create) {
    if (rel.empty()) {
      return root_.get();
    }
    if (parent_fd_.valid() && !parent_stale_ && parent_path_ == rel) {
      return parent_fd_.get();
    }
    UniqueFd fd = BERTH_TRY(OpenDir(rel, create));
    if (!fd.valid()) {
      return -1;
    }
    parent_fd_ = std::move(fd);
    parent_path_ = rel;
    parent_stale_ = false;
    return parent_fd_.get();
  }

  // Called whenever something is removed: the cached parent may have been below it (or, when
  // following symlinks, reached through it).
  void Removed(const std::string& path) {
    parent_stale_ = true;
    // Forget deferred metadata of removed directories, so a directory made again at the same
    // path does not inherit it.
    dirs_.erase(path);
    auto first = dirs_.lower_bound(path + '/');
    auto last = dirs_.lower_bound(path + '0');  // '0' follows '/': ends the "path/..." range
    dirs_.erase(first, last);
  }

  // Makes room for a new entry `name` in `dirfd`: removes what is there unless it is a
  // directory and `keep_dir`. Returns whether an existing directory was kept.
  Result<bool> MakeRoom(int dirfd, const std::string& name, const std::string& path,
                        bool keep_dir) {
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        return false;
      }
      return Error::FromErrno("stat", errno);
    }
    if (S_ISDIR(st.st_mode) && keep_dir) {
      return true;
    }
    BERTH_TRY(internal::RemoveAllAt(dirfd, name));
    Removed(path);
    return false;
  }

  // --- Metadata ---------------------------------------------------------------------------------

  Result<std::pair<uid_t, gid_t>> Owner(struct archive_entry* e) {
    int64_t uid = archive_entry_uid(e);
    int64_t gid = archive_entry_gid(e);
    if (uid < 0 || gid < 0 || uid >= 0xffffffffLL || gid >= 0xffffffffLL) {
      return Error::InvalidArgument("uid/gid out of range");
    }
    return std::pair<uid_t, gid_t>(static_cast<uid_t>(uid), static_cast<gid_t>(gid));
  }

  static void Times(struct archive_entry* e, struct timespec times[2]) {
    times[1].tv_sec = archive_entry_mtime(e);
    times[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
      times[0].tv_sec = archive_entry_atime(e);
      times[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
      times[0] = times[1];
    }
    for (int i = 0; i < 2; ++i) {
      if (times[i].tv_nsec < 0 || times[i].tv_nsec >= 1000000000) {
        times[i].tv_nsec = 0;
      }
    }
  }

  // Sets the entry's xattrs on `fd` or, with fd < 0, on `name` in `dirfd` (not following it).
  Result<> SetXattrs(struct archive_entry* e, int fd, int dirfd, const std::string& name) {
    if (!options_.preserve_xattrs || archive_entry_xattr_reset(e) == 0) {
      return {};
    }
    std::string path = fd >= 0 ? std::string() : internal::ProcFdPath(dirfd, name);
    const char* key = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
      if (key == nullptr) {
        continue;
      }
      std::string_view k(key);
      if (StartsWith(k, "trusted.overlay.") || StartsWith(k, "user.overlay.")) {
        continue;
      }
      int r = fd >= 0 ? fsetxattr(fd, key, value, size, 0)
                      : lsetxattr(path.c_str(), key, value, size, 0);
      if (r != 0) {
        if (errno == ENOTSUP || errno == EOPNOTSUPP || errno == EPERM) {
          ++stats_.xattrs_skipped;
          log::Debug("layer apply: skipping xattr " + std::string(k) + " of " + name);
          continue;
        }
        return Error::FromErrno("set xattr " + QuoteString(k), errno);
      }
    }
    return {};
  }

  // Owner, mode, xattrs and times of a non-directory created as `name` in `dirfd`; `fd` is an
  // open descriptor of it for regular files and -1 otherwise.
  Result<> SetMetadata(struct archive_entry* e, int fd, int dirfd, const std::string& name) {
    auto [uid, gid] = BERTH_TRY(Owner(e));
    bool symlink = archive_entry_filetype(e) == AE_IFLNK;
    if (owners_) {
      int r = fd >= 0 ? fchown(fd, uid, gid)
                      : fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
      if (r != 0) {
        return Error::FromErrno("chown", errno);
      }
    }
    // After chown, which clears set-id bits. Symlinks have no mode of their own on Linux.
    if (!symlink) {
      mode_t mode = archive_entry_perm(e) & 07777;
      int r = fd >= 0 ? fchmod(fd, mode) : fchmodat(dirfd, name.c_str(), mode, 0);
      if (r != 0) {
        return Error::FromErrno("chmod", errno);
      }
    }
    // After chown and the data, which both clear security.capability.
    BERTH_TRY(SetXattrs(e, fd, dirfd, name));
    struct timespec times[2];
    Times(e, times);
    int r =
        fd >= 0 ? futimens(fd, times) : utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
    if (r != 0) {
      return Error::FromErrno("set times", errno);
    }
    return {};
  }

  // --- Entries ----------------------------------------------------------------------------------

  Result<> ApplyEntry(struct archive_entry* e, const char* raw) {
    if (raw == nullptr) {
      return Error::InvalidArgument("entry without a name");
    }
    ++stats_.entries;
    std::string path = BERTH_TRY(CleanPath(raw, "entry"));
    auto [parent, base] = SplitLast(path);

    // AUFS metadata (".wh..wh.plnk/", ".wh..wh.aufs") means nothing here; Docker skips it too.
    for (size_t p = 0; (p = path.find(kWhiteoutMetaPrefix, p)) != std::string::npos; ++p) {
      if ((p == 0 || path[p - 1] == '/') && path.substr(p) != kOpaqueMarker) {
        return {};
      }
    }
    if (StartsWith(base, kWhiteoutPrefix)) {
      return ApplyWhiteout(parent, base);
    }

    const char* hardlink = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (path.empty()) {
      if (hardlink != nullptr || type != AE_IFDIR) {
        return Error::InvalidArgument("the target itself can only be a directory");
      }
      return ApplyDir(e, root_.get(), "", "");
    }
    if (hardlink != nullptr) {
      return ApplyHardlink(hardlink, path, parent, base);
    }

    int dirfd = BERTH_TRY(Parent(parent, /*create=*/true));
    switch (type) {
      case AE_IFDIR:
        BERTH_TRY(ApplyDir(e, dirfd, base, path));
        break;
      case AE_IFREG:
        BERTH_TRY(ApplyFile(e, dirfd, base, path));
        break;
      case AE_IFLNK:
        BERTH_TRY(ApplySymlink(e, dirfd, base, path));
        break;
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        BERTH_TRY(ApplyNode(e, dirfd, base, path));
        break;
      default:
        log::Debug("layer apply: skipping " + QuoteString(path) + " of unsupported type");
        return {};
    }
    written_.insert(std::move(path));
    return {};
  }

  Result<> ApplyWhiteout(const std::string& parent, const std::string& base) {
    ++stats_.whiteouts;
    if (base == kOpaqueMarker) {
      int dirfd = BERTH_TRY(Parent(parent, /*create=*/false));
      return dirfd < 0 ? Result<>() : Prune(dirfd, parent);
    }
    std::string name = base.substr(kWhiteoutPrefix.size());
    if (name.empty() || name == "." || name == "..") {
      return Error::InvalidArgument("whiteout names no file");
    }
    std::string victim = Join(parent, name);
    if (written_.contains(victim)) {
      return {};  // whiteouts hide lower layers only, never this layer's own entries
    }
    int dirfd = BERTH_TRY(Parent(parent, /*create=*/false));
    if (dirfd < 0) {
      return {};
    }
    BERTH_TRY(internal::RemoveAllAt(dirfd, name));
    Removed(victim);
    return {};
  }

  // An opaque directory: removes everything below `rel` that this layer did not write.
  Result<> Prune(int dirfd, const std::string& rel) {
    std::vector<std::string> names = BERTH_TRY(internal::ListDir(dirfd));
    for (const std::string& name : names) {
      std::string child = Join(rel, name);
      if (!written_.contains(child)) {
        BERTH_TRY(internal::RemoveAllAt(dirfd, name));
        Removed(child);
        continue;
      }
      int fd = openat(dirfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        UniqueFd sub(fd);
        BERTH_TRY(Prune(sub.get(), child));
      }
    }
    return {};
  }

  Result<> ApplyDir(struct archive_entry* e, int dirfd, const std::string& name,
                    const std::string& path) {
    UniqueFd fd;
    if (path.empty()) {
      fd = BERTH_TRY(Dup(root_.get()));
    } else {
      bool kept = BERTH_TRY(MakeRoom(dirfd, name, path, /*keep_dir=*/true));
      if (!kept && mkdirat(dirfd, name.c_str(), 0700) != 0) {
        return Error::FromErrno("mkdir", errno);
      }
      int raw = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (raw < 0) {
        return Error::FromErrno("open directory", errno);
      }
      fd.Reset(raw);
    }
    auto [uid, gid] = BERTH_TRY(Owner(e));
    if (owners_ && fchown(fd.get(), uid, gid) != 0) {
      return Error::FromErrno("chown", errno);
    }
    BERTH_TRY(SetXattrs(e, fd.get(), -1, name));
    DirMeta& meta = dirs_[path];
    meta.mode = archive_entry_perm(e) & 07777;
    Times(e, meta.times);
    return {};
  }

  Result<> ApplyFile(struct archive_entry* e, int dirfd, const std::string& name,
                     const std::string& path) {
    BERTH_TRY(MakeRoom(dirfd, name, path, /*keep_dir=*/false));
    int raw =
        openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0) {
      return Error::FromErrno("create", errno);
    }
    UniqueFd fd(raw);
    // Blocks come with their offsets; the gaps of a sparse file stay holes.
    int64_t end = 0;
    for (;;) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(archive_, &buf, &size, &offset);
      if (r == ARCHIVE_EOF) {
        break;
      }
      if (r < ARCHIVE_WARN) {
        return ReadFailure("reading file data");
      }
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t n = pwrite(fd.get(), p, size, offset);
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          return Error::FromErrno("write", errno);
        }
        p += n;
        size -= static_cast<size_t>(n);
        offset += n;
        stats_.file_bytes += static_cast<uint64_t>(n);
      }
      end = std::max<int64_t>(end, offset);
    }
    int64_t size = archive_entry_size(e);
    if (size > end && ftruncate(fd.get(), size) != 0) {
      return Error::FromErrno("truncate", errno);
    }
    return SetMetadata(e, fd.get(), dirfd, name);
  }

  Result<> ApplySymlink(struct archive_entry* e, int dirfd, const std::string& name,
                        const std::string& path) {
    const char* target = archive_entry_symlink(e);
    if (target == nullptr || *target == '\0') {
      return Error::InvalidArgument("symlink without a target");
    }
    BERTH_TRY(MakeRoom(dirfd, name, path, /*keep_dir=*/false));
    if (symlinkat(target, dirfd, name.c_str()) != 0) {
      return Error::FromErrno("symlink", errno);
    }
    return SetMetadata(e, -1, dirfd, name);
  }

  Result<> ApplyNode(struct archive_entry* e, int dirfd, const std::string& name,
                     const std::string& path) {
    BERTH_TRY(MakeRoom(dirfd, name, path, /*keep_dir=*/false));
    mode_t type = archive_entry_filetype(e);
    dev_t dev =
        type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (mknodat(dirfd, name.c_str(), type | 0600, dev) != 0) {
      return Error::FromErrno(type == AE_IFIFO ? "mkfifo" : "mknod", errno);
    }
    return SetMetadata(e, -1, dirfd, name);
  }

  Result<> ApplyHardlink(const char* raw_target, const std::string& path, const std::string& parent,
                         const std::string& base) {
    std::string target = BERTH_TRY(CleanPath(raw_target, "hard link target"));
    if (target.empty()) {
      return Hostile("hard link target", raw_target, "is the target directory itself");
    }
    if (target == path) {
      return Hostile("hard link target", raw_target, "is the entry itself");
    }
    auto [target_parent, target_base] = SplitLast(target);
    Result<UniqueFd> target_dir = OpenDir(target_parent, /*create=*/false);
    if (!target_dir.ok()) {
      return std::move(target_dir)
          .error()
          .AddContext("hard link target " + QuoteString(raw_target));
    }
    struct stat st;
    if (!target_dir->valid() ||
        fstatat(target_dir->get(), target_base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Hostile("hard link target", raw_target, "does not exist");
    }
    if (S_ISDIR(st.st_mode)) {
      return Hostile("hard link target", raw_target, "is a directory");
    }
    int dirfd = BERTH_TRY(Parent(parent, /*create=*/true));
    BERTH_TRY(MakeRoom(dirfd, base, path, /*keep_dir=*/false));
    // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
    if (linkat(target_dir->get(), target_base.c_str(), dirfd, base.c_str(), 0) != 0) {
      return Error::FromErrno("link", errno);
    }
    written_.insert(path);
    return {};
  }

  // Sets the deferred modes and times, deepest directories first.
  Result<> ApplyDirMetadata() {
    // NOLINTNEXTLINE(modernize-loop-convert): clang 14 cannot compile views::reverse of a map
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      const auto& [path, meta] = *it;
      UniqueFd fd;
      if (path.empty()) {
        fd = BERTH_TRY(Dup(root_.get()));
      } else {
        auto [parent, base] = SplitLast(path);
        Result<UniqueFd> dir = OpenDir(parent, /*create=*/false);
        if (!dir.ok() || !dir->valid()) {
          continue;  // removed or replaced since: nothing to set
        }
        int raw = openat(dir->get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (raw < 0) {
          continue;
        }
        fd.Reset(raw);
      }
      if (fchmod(fd.get(), meta.mode) != 0) {
        return Error::FromErrno("chmod " + QuoteString(path), errno);
      }
      if (futimens(fd.get(), meta.times) != 0) {
        return Error::FromErrno("set times of " + QuoteString(path), errno);
      }
    }
    return {};
  }

  const Context& ctx_;
  const ApplyOptions& options_;
  bool owners_;
  bool openat2_ = true;
  UniqueFd root_;
  std::unique_ptr<compress::DecompressingReader> reader_;
  digest::Sha256 hash_;  // of what reader_ gave: the diff ID
  struct archive* archive_ = nullptr;
  std::vector<char> read_buf_;
  std::optional<Error> read_error_;
  // Paths this layer wrote: opaque directories keep them, whiteouts do not hide them.
  std::unordered_set<std::string> written_;
  // Deferred directory metadata by path, ordered so children come after their parents.
  std::map<std::string, DirMeta> dirs_;
  UniqueFd parent_fd_;
  std::string parent_path_;
  bool parent_stale_ = false;
  ApplyStats stats_;
};

}  // namespace

Result<ApplyStats> ApplyLayer(const Context& ctx, Reader& layer, const std::string& target,
                              const ApplyOptions& options) {
  Applier applier(ctx, options);
  return BERTH_TRY_CONTEXT(applier.Run(layer, target), "applying layer to " + target);
}

}  // namespace berth::archive
