// ADD of a local archive: tar extraction with libarchive, without whiteout processing (ADD is
// not a layer apply), never writing outside the destination directory.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/gotext.h"
#include "fileop/fs.h"
#include "fileop/ops.h"

namespace berth::fileop::internal {

namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

Result<ArchivePtr> OpenArchive(int fd) {
  ArchivePtr a(archive_read_new());
  if (!a) {
    return Error::Internal("archive_read_new failed");
  }
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), fd, 64 * 1024) != ARCHIVE_OK) {
    return Error::DataLoss(std::string("open archive: ") + archive_error_string(a.get()));
  }
  return a;
}

// The entry's path relative to the destination, or an error when it would leave it.
Result<std::string> EntryPath(const char* raw) {
  std::string name = raw == nullptr ? "" : raw;
  std::string clean = gotext::CleanPath(name);
  while (clean.starts_with("/")) {
    clean = clean.substr(1);
  }
  if (clean == "." || clean.empty()) {
    return std::string();
  }
  if (clean == ".." || clean.starts_with("../")) {
    return Error::InvalidArgument("archive entry " + name + " escapes the destination");
  }
  return clean;
}

Result<UniqueFd> ParentDir(int dest, const std::string& dir, const std::string& entry) {
  // Nothing is followed: a symlink the archive planted earlier cannot redirect later entries.
  Result<UniqueFd> fd = OpenAt2(dest, dir, O_PATH | O_DIRECTORY, true);
  if (fd.ok()) {
    return fd;
  }
  int err = fd.error().sys_errno();
  if (err == ENOENT) {
    // Implicit parents, as tar creates them.
    std::string prefix;
    UniqueFd cur = BERTH_TRY(OpenAt2(dest, "", O_PATH | O_DIRECTORY, true));
    size_t pos = 0;
    while (pos < dir.size()) {
      size_t slash = dir.find('/', pos);
      std::string comp =
          dir.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      pos = slash == std::string::npos ? dir.size() : slash + 1;
      if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) {
        return Error::FromErrno("mkdir " + JoinPath(prefix, comp), errno);
      }
      prefix = JoinPath(prefix, comp);
      UniqueFd next(
          ::openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) {
        return Error::InvalidArgument("archive entry " + entry + " is below " + prefix +
                                      ", which is not a directory");
      }
      cur = std::move(next);
    }
    return cur;
  }
  if (err == EXDEV || err == ELOOP || err == ENOTDIR) {
    return Error::InvalidArgument("archive entry " + entry +
                                  " is below a symlink or non-directory");
  }
  return std::move(fd).error();
}

}  // namespace

Result<bool> IsTarArchive(int fd) {
  UniqueFd in = BERTH_TRY(Reopen(fd, O_RDONLY | O_NOCTTY));
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), in.get(), 64 * 1024) != ARCHIVE_OK) {
    return false;
  }
  struct archive_entry* entry = nullptr;
  int r = archive_read_next_header(a.get(), &entry);
  return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

Result<> ExtractTar(const Context& ctx, int fd, int dest_dir, const UnpackOptions& options) {
  UniqueFd in = BERTH_TRY(Reopen(fd, O_RDONLY | O_NOCTTY));
  ArchivePtr a = BERTH_TRY(OpenArchive(in.get()));
  struct DirTimes {
    std::string path;
    struct timespec atime, mtime;
  };
  std::vector<DirTimes> dirs;
  std::vector<char> buf(256 * 1024);
  while (true) {
    BERTH_TRY(ctx.Check());
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) {
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return Error::DataLoss(std::string("read archive: ") + archive_error_string(a.get()));
    }
    const char* raw = archive_entry_pathname(entry);
    std::string path = BERTH_TRY(EntryPath(raw));
    std::string shown = raw == nullptr ? "" : raw;
    mode_t type = archive_entry_filetype(entry);
    uint32_t perm = archive_entry_perm(entry) & 07777;
    struct timespec mtime {
      static_cast<time_t>(archive_entry_mtime(entry)), archive_entry_mtime_nsec(entry)
    };
    if (options.timestamp) {
      mtime = {static_cast<time_t>(*options.timestamp), 0};
    }
    if (options.source_date_epoch && mtime.tv_sec >= *options.source_date_epoch) {
      mtime = {static_cast<time_t>(*options.source_date_epoch), 0};
    }
    Meta meta;
    meta.owner = options.owner.value_or(Owner{static_cast<uint32_t>(archive_entry_uid(entry)),
                                              static_cast<uint32_t>(archive_entry_gid(entry))});
    meta.atime = meta.mtime = mtime;

    if (path.empty()) {
      continue;  // "./": the destination itself keeps its metadata
    }
    auto [dir, name] = SplitPath(path);
    UniqueFd parent = BERTH_TRY(ParentDir(dest_dir, dir, shown));
    std::optional<struct stat> existing = BERTH_TRY(LstatAt(parent.get(), name));

    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink != nullptr) {
      std::string target = BERTH_TRY(EntryPath(hardlink));
      auto [tdir, tname] = SplitPath(target);
      Result<UniqueFd> tparent = OpenAt2(dest_dir, tdir, O_PATH | O_DIRECTORY, true);
      if (!tparent.ok() || target.empty()) {
        return Error::InvalidArgument("archive entry " + shown + " links to " + hardlink +
                                      ", which is not in the archive");
      }
      if (existing) {
        BERTH_TRY(RemoveAllAt(parent.get(), name));
      }
      if (::linkat(tparent->get(), tname.c_str(), parent.get(), name.c_str(), 0) != 0) {
        return Error::InvalidArgument("archive entry " + shown + ": hard link to " + hardlink +
                                      ": " + std::strerror(errno));
      }
      continue;
    }
    if (existing && !(type == AE_IFDIR && S_ISDIR(existing->st_mode))) {
      BERTH_TRY(RemoveAllAt(parent.get(), name));
    }
    switch (type) {
      case AE_IFDIR: {
        if (!existing || !S_ISDIR(existing->st_mode)) {
          if (::mkdirat(parent.get(), name.c_str(), 0700) != 0) {
            return Error::FromErrno("mkdir " + path, errno);
          }
        }
        UniqueFd d(
            ::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d) {
          return Error::FromErrno("open " + path, errno);
        }
        Meta m = meta;
        m.mode = perm;
        m.atime.reset();
        m.mtime.reset();
        BERTH_TRY(ApplyMetaFd(d.get(), m, path));
        dirs.push_back({path, mtime, mtime});
        break;
      }
      case AE_IFREG: {
        UniqueFd out(::openat(parent.get(), name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) {
          return Error::FromErrno("create " + path, errno);
        }
        while (true) {
          la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
          if (n == 0) {
            break;
          }
          if (n < 0) {
            return Error::DataLoss("read " + shown +
                                   " from archive: " + archive_error_string(a.get()));
          }
          const char* p = buf.data();
          size_t left = static_cast<size_t>(n);
          while (left > 0) {
            ssize_t w = ::write(out.get(), p, left);
            if (w < 0) {
              if (errno == EINTR) {
                continue;
              }
              return Error::FromErrno("write " + path, errno);
            }
            p += w;
            left -= static_cast<size_t>(w);
          }
        }
        Meta owner_only;
        owner_only.owner = meta.owner;
        BERTH_TRY(ApplyMetaFd(out.get(), owner_only, path));
        archive_entry_xattr_reset(entry);
        const char* xname;
        const void* xvalue;
        size_t xsize;
        while (archive_entry_xattr_next(entry, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
          std::string_view n(xname);
          if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.")) {
            continue;
          }
          // Refusals (ENOTSUP, EPERM) are skipped as Docker does.
          (void)::fsetxattr(out.get(), xname, xvalue, xsize, 0);
        }
        Meta m = meta;
        m.owner.reset();
        m.mode = perm;
        BERTH_TRY(ApplyMetaFd(out.get(), m, path));
        break;
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(entry);
        if (::symlinkat(target == nullptr ? "" : target, parent.get(), name.c_str()) != 0) {
          return Error::FromErrno("symlink " + path, errno);
        }
        BERTH_TRY(ApplyMetaSymlink(parent.get(), name, meta));
        break;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        if (::mknodat(parent.get(), name.c_str(), type | 0600, archive_entry_rdev(entry)) != 0) {
          return Error::FromErrno("mknod " + path, errno);
        }
        BERTH_TRY(ApplyMetaSymlink(parent.get(), name, Meta{meta.owner, {}, {}, {}}));
        if (::fchmodat(parent.get(), name.c_str(), perm, 0) != 0) {
          return Error::FromErrno("chmod " + path, errno);
        }
        BERTH_TRY(ApplyMetaSymlink(parent.get(), name, Meta{{}, {}, meta.atime, meta.mtime}));
        break;
      }
      default:
        break;  // sockets and unknown types are skipped
    }
  }
  // Directory mtimes last: creating their entries changed them.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    Result<UniqueFd> d = OpenAt2(dest_dir, it->path, O_RDONLY | O_DIRECTORY, true);
    if (d.ok()) {
      BERTH_TRY(ApplyMetaFd(d->get(), Meta{{}, {}, it->atime, it->mtime}, it->path));
    }
  }
  return {};
}

}  // namespace berth::fileop::internal
