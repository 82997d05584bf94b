#include "archive/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "archive/fs_internal.h"
#include "base/unique_fd.h"

namespace berth::archive {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

// One directory entry, as found by the walk.
struct Child {
  std::string name;      // in the directory
  std::string tar_name;  // in the tar (".wh.<name>" for an overlay whiteout)
  struct stat st;
  bool whiteout = false;
};

// What the overlay xattrs of a directory or file say, once the overlay ones are dropped.
struct OverlayInfo {
  bool opaque = false;
};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

class TarBuilder {
 public:
  TarBuilder(const Context& ctx, Writer& out, const TarOptions& options)
      : ctx_(ctx),
        out_(out),
        options_(options),
        out_buf_(kDefaultBufferSize),
        read_buf_(kDefaultBufferSize) {}
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;
  TarBuilder(TarBuilder&&) = delete;
  TarBuilder& operator=(TarBuilder&&) = delete;
  ~TarBuilder() {
    // After a failure, freeing the archive closes it, which writes a trailer; that must not
    // reach `out_` or the truncated tar would look complete. (archive_write_fail() would skip
    // the close, but leaks libarchive's output state.)
    discard_ = !closed_;
  }

  Result<TarStats> Run(const std::string& dir) {
    internal::Utf8LocaleScope locale;
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return Error::FromErrno("open " + dir, errno);
    }
    UniqueFd root(fd);

    archive_.reset(archive_write_new());
    entry_.reset(archive_entry_new());
    if (!archive_ || !entry_) {
      return Error(ErrorCode::kResourceExhausted, "libarchive: out of memory");
    }
    struct archive* a = archive_.get();
    // pax_restricted: plain ustar headers unless a field needs a PAX record. SCHILY.xattr only
    // (not also LIBARCHIVE.xattr), as Go's archive/tar and GNU tar read it. No blocking: the
    // stream ends right after the two zero blocks, and our own buffer batches the small writes.
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
        archive_write_open2(a, this, nullptr, &TarBuilder::WriteCallback, nullptr, nullptr) !=
            ARCHIVE_OK) {
      return ArchiveError("setting up the tar writer");
    }

    std::string path;
    if (options_.layout == SourceLayout::kOverlayUpper) {
      internal::Xattrs xattrs =
          BERTH_TRY_CONTEXT(internal::ReadXattrs(root.get(), -1, dir), "reading xattrs of " + dir);
      OverlayInfo info = BERTH_TRY(FilterXattrs(xattrs, "."));
      if (info.opaque) {
        BERTH_TRY(EmitWhiteout(std::string(kOpaqueMarker)));
      }
    }
    BERTH_TRY(WalkDir(root.get(), path));

    if (archive_write_close(a) != ARCHIVE_OK) {
      return ArchiveError("finishing the tar");
    }
    closed_ = true;
    BERTH_TRY(Flush());
    return stats_;
  }

 private:
  static la_ssize_t WriteCallback(struct archive* a, void* client, const void* buf, size_t size) {
    auto* self = static_cast<TarBuilder*>(client);
    if (self->discard_) {
      return static_cast<la_ssize_t>(size);
    }
    Result<> r = self->Buffer(static_cast<const char*>(buf), size);
    if (!r.ok()) {
      self->write_error_ = std::move(r).error();
      archive_set_error(a, EIO, "writing the tar stream failed");
      return -1;
    }
    return static_cast<la_ssize_t>(size);
  }

  // Batches libarchive's many small writes (512-byte headers, padding) into out_buf_; large
  // writes with an empty buffer go straight through.
  Result<> Buffer(const char* data, size_t size) {
    while (size > 0) {
      if (out_len_ == 0 && size >= out_buf_.size()) {
        BERTH_TRY(out_.Write(std::string_view(data, size)));
        stats_.bytes += size;
        return {};
      }
      size_t n = std::min(size, out_buf_.size() - out_len_);
      std::memcpy(out_buf_.data() + out_len_, data, n);
      out_len_ += n;
      data += n;
      size -= n;
      if (out_len_ == out_buf_.size()) {
        BERTH_TRY(Flush());
      }
    }
    return {};
  }

  Result<> Flush() {
    if (out_len_ > 0) {
      BERTH_TRY(out_.Write(std::string_view(out_buf_.data(), out_len_)));
      stats_.bytes += out_len_;
      out_len_ = 0;
    }
    return {};
  }

  // The error behind a failed libarchive call: ours from the write callback if there was one.
  Error ArchiveError(const std::string& what) {
    if (write_error_) {
      return std::move(*write_error_);
    }
    const char* msg = archive_error_string(archive_.get());
    return {ErrorCode::kInternal,
            "libarchive: " + what + ": " + (msg != nullptr ? msg : "unknown error"),
            archive_errno(archive_.get())};
  }

  int64_t Mtime(const struct stat& st) const {
    int64_t t = st.st_mtim.tv_sec;
    if (options_.source_date_epoch && t > *options_.source_date_epoch) {
      t = *options_.source_date_epoch;
    }
    return t;
  }

  // Drops the xattrs that must not reach a layer and reports what the overlay ones say.
  Result<OverlayInfo> FilterXattrs(internal::Xattrs& xattrs, const std::string& path) const {
    OverlayInfo info;
    bool overlay = options_.layout == SourceLayout::kOverlayUpper;
    size_t kept = 0;
    for (size_t i = 0; i < xattrs.size(); ++i) {
      auto& kv = xattrs[i];
      std::string_view key = kv.first;
      std::string_view rest;
      if (StartsWith(key, "trusted.overlay.")) {
        rest = key.substr(16);
      } else if (overlay && StartsWith(key, "user.overlay.")) {
        rest = key.substr(13);
      } else {
        if (kept != i) {
          xattrs[kept] = std::move(kv);
        }
        ++kept;
        continue;
      }
      if (!overlay) {
        continue;
      }
      if (rest == "opaque" && kv.second == "y") {
        info.opaque = true;
      } else if (rest == "redirect" || rest == "metacopy") {
        return Error::Unimplemented("overlay upper entry \"" + path + "\" has " + std::string(key) +
                                    ": its name or data lives in a lower layer (mount without "
                                    "redirect_dir and metacopy to export uppers)");
      }
    }
    xattrs.resize(kept);
    return info;
  }

  // Fills entry_ with the fields every kind of entry shares and writes the header.
  Result<> WriteHeader(const std::string& path, const struct stat& st, mode_t mode,
                       const internal::Xattrs& xattrs, int64_t size, const char* symlink,
                       const char* hardlink) {
    struct archive_entry* e = entry_.get();
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, path.c_str());
    archive_entry_set_mode(e, mode);
    archive_entry_set_uid(e, st.st_uid);
    archive_entry_set_gid(e, st.st_gid);
    archive_entry_set_mtime(e, Mtime(st), 0);
    archive_entry_set_size(e, size);
    if (symlink != nullptr) {
      archive_entry_copy_symlink(e, symlink);
    }
    if (hardlink != nullptr) {
      archive_entry_copy_hardlink(e, hardlink);
    }
    if (S_ISCHR(mode) || S_ISBLK(mode)) {
      archive_entry_set_rdevmajor(e, major(st.st_rdev));
      archive_entry_set_rdevminor(e, minor(st.st_rdev));
    }
    for (const auto& [key, value] : xattrs) {
      archive_entry_xattr_add_entry(e, key.c_str(), value.data(), value.size());
    }
    // ARCHIVE_WARN only says a name was not valid UTF-8 and went out as raw bytes.
    if (archive_write_header(archive_.get(), e) < ARCHIVE_WARN) {
      return ArchiveError("writing the header of " + path);
    }
    ++stats_.entries;
    return {};
  }

  // An OCI whiteout: an empty regular file, mode 0, owned by root, mtime 0 (as containerd).
  Result<> EmitWhiteout(const std::string& path) {
    struct stat st {};
    BERTH_TRY(WriteHeader(path, st, S_IFREG, {}, 0, nullptr, nullptr));
    ++stats_.whiteouts;
    return {};
  }

  // If `st` is a further link of an inode already written, writes a hard link entry and returns
  // true; otherwise remembers the inode under `path`.
  Result<bool> MaybeHardlink(const std::string& path, const struct stat& st) {
    if (st.st_nlink <= 1) {
      return false;
    }
    auto [it, inserted] = links_.try_emplace({st.st_dev, st.st_ino}, path);
    if (inserted) {
      return false;
    }
    BERTH_TRY(WriteHeader(path, st, st.st_mode, {}, 0, nullptr, it->second.c_str()));
    return true;
  }

  static Error Changed(const std::string& path) {
    return {ErrorCode::kAborted, "\"" + path + "\" changed while it was being archived"};
  }

  static bool SameFile(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
           (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT);
  }

  Result<UniqueFd> OpenChild(int dirfd, const Child& c, const std::string& path, int flags) {
    for (;;) {
      int extra = noatime_ ? O_NOATIME : 0;
      int fd = openat(dirfd, c.name.c_str(), flags | extra | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        UniqueFd owned(fd);
        struct stat st;
        if (fstat(fd, &st) != 0) {
          return Error::FromErrno("stat " + path, errno);
        }
        if (!SameFile(st, c.st)) {
          return Changed(path);
        }
        return owned;
      }
      if (errno == EPERM && noatime_) {  // O_NOATIME needs ownership or CAP_FOWNER
        noatime_ = false;
        continue;
      }
      if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT) {
        return Changed(path);
      }
      return Error::FromErrno("open " + path, errno);
    }
  }

  Result<> EmitFile(int dirfd, const Child& c, const std::string& path) {
    if (BERTH_TRY(MaybeHardlink(path, c.st))) {
      return {};
    }
    UniqueFd fd = BERTH_TRY(OpenChild(dirfd, c, path, O_RDONLY));
    struct stat st;
    if (fstat(fd.get(), &st) != 0) {
      return Error::FromErrno("stat " + path, errno);
    }
    internal::Xattrs xattrs =
        BERTH_TRY_CONTEXT(internal::ReadXattrs(fd.get(), -1, path), "archiving " + path);
    BERTH_TRY(FilterXattrs(xattrs, path));
    BERTH_TRY(WriteHeader(path, st, st.st_mode, xattrs, st.st_size, nullptr, nullptr));
    if (st.st_size > 0) {
      posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    // Exactly the size in the header: a file that grew is cut there, one that shrank fails.
    auto left = static_cast<uint64_t>(st.st_size);
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, read_buf_.size()));
      ssize_t n = read(fd.get(), read_buf_.data(), want);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Error::FromErrno("read " + path, errno);
      }
      if (n == 0) {
        return Changed(path);
      }
      la_ssize_t w = archive_write_data(archive_.get(), read_buf_.data(), static_cast<size_t>(n));
      if (w != n) {
        return ArchiveError("writing the data of " + path);
      }
      left -= static_cast<uint64_t>(n);
    }
    return {};
  }

  Result<> EmitSpecial(int dirfd, const Child& c, const std::string& path) {
    if (BERTH_TRY(MaybeHardlink(path, c.st))) {
      return {};
    }
    internal::Xattrs xattrs =
        BERTH_TRY_CONTEXT(internal::ReadXattrs(-1, dirfd, c.name), "archiving " + path);
    BERTH_TRY(FilterXattrs(xattrs, path));
    if (!S_ISLNK(c.st.st_mode)) {
      return WriteHeader(path, c.st, c.st.st_mode, xattrs, 0, nullptr, nullptr);
    }
    std::string target(static_cast<size_t>(c.st.st_size) + 1, '\0');
    ssize_t n = readlinkat(dirfd, c.name.c_str(), target.data(), target.size());
    if (n < 0) {
      return errno == EINVAL || errno == ENOENT ? Changed(path)
                                                : Error::FromErrno("readlink " + path, errno);
    }
    if (static_cast<size_t>(n) >= target.size()) {
      return Changed(path);  // the link was replaced by a longer one since the stat
    }
    target.resize(static_cast<size_t>(n));
    return WriteHeader(path, c.st, c.st.st_mode, xattrs, 0, target.c_str(), nullptr);
  }

  // Writes the entries below the directory open as `dirfd`, whose tar path is `path` ("" for
  // the root, else ending in "/"). `path` is a scratch buffer, restored on return.
  Result<> WalkDir(int dirfd, std::string& path) {
    std::vector<std::string> names = BERTH_TRY_CONTEXT(
        internal::ListDir(dirfd), "reading directory " + (path.empty() ? "/" : path));
    std::vector<Child> children;
    children.reserve(names.size());
    bool overlay = options_.layout == SourceLayout::kOverlayUpper;
    for (std::string& name : names) {
      Child c;
      if (fstatat(dirfd, name.c_str(), &c.st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
          continue;  // removed since the listing
        }
        return Error::FromErrno(std::string("stat ").append(path).append(name), errno);
      }
      if (S_ISSOCK(c.st.st_mode)) {
        continue;  // a tar cannot hold sockets; Docker drops them too
      }
      c.whiteout = overlay && S_ISCHR(c.st.st_mode) && c.st.st_rdev == makedev(0, 0);
      if (StartsWith(name, kWhiteoutPrefix)) {
        return Error::InvalidArgument(std::string("cannot archive \"")
                                          .append(path)
                                          .append(name)
                                          .append("\": names starting with \".wh.\" are reserved "
                                                  "for OCI whiteouts"));
      }
      c.tar_name = c.whiteout ? std::string(kWhiteoutPrefix) + name : name;
      c.name = std::move(name);
      children.push_back(std::move(c));
    }
    std::sort(children.begin(), children.end(),
              [](const Child& a, const Child& b) { return a.tar_name < b.tar_name; });

    size_t base = path.size();
    for (const Child& c : children) {
      BERTH_TRY(ctx_.Check());
      path.resize(base);
      path += c.tar_name;
      mode_t type = c.st.st_mode & S_IFMT;
      if (c.whiteout) {
        BERTH_TRY(EmitWhiteout(path));
      } else if (type == S_IFDIR) {
        UniqueFd fd = BERTH_TRY(OpenChild(dirfd, c, path, O_RDONLY | O_DIRECTORY));
        struct stat st;
        if (fstat(fd.get(), &st) != 0) {
          return Error::FromErrno("stat " + path, errno);
        }
        internal::Xattrs xattrs =
            BERTH_TRY_CONTEXT(internal::ReadXattrs(fd.get(), -1, path), "archiving " + path);
        OverlayInfo info = BERTH_TRY(FilterXattrs(xattrs, path));
        // libarchive appends the "/" of a directory name itself.
        BERTH_TRY(WriteHeader(path, st, st.st_mode, xattrs, 0, nullptr, nullptr));
        path += '/';
        if (info.opaque) {
          BERTH_TRY(EmitWhiteout(path + std::string(kOpaqueMarker)));
        }
        BERTH_TRY(WalkDir(fd.get(), path));
      } else if (type == S_IFREG) {
        BERTH_TRY(EmitFile(dirfd, c, path));
      } else if (type == S_IFLNK || type == S_IFCHR || type == S_IFBLK || type == S_IFIFO) {
        BERTH_TRY(EmitSpecial(dirfd, c, path));
      }
    }
    path.resize(base);
    return {};
  }

  const Context& ctx_;
  Writer& out_;
  const TarOptions& options_;
  bool closed_ = false;
  bool discard_ = false;
  std::vector<char> out_buf_;
  size_t out_len_ = 0;
  std::vector<char> read_buf_;
  std::optional<Error> write_error_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  bool noatime_ = true;
  TarStats stats_;
  // Last, so they go first: freeing the archive may still call WriteCallback.
  std::unique_ptr<struct archive_entry, EntryFree> entry_;
  std::unique_ptr<struct archive, ArchiveFree> archive_;
};

}  // namespace

Result<TarStats> WriteLayerTar(const Context& ctx, const std::string& dir, Writer& out,
                               const TarOptions& options) {
  TarBuilder builder(ctx, out, options);
  return BERTH_TRY_CONTEXT(builder.Run(dir), "writing the layer tar of " + dir);
}

Result<std::optional<int64_t>> SourceDateEpochFromEnv() {
  const char* value = std::getenv("SOURCE_DATE_EPOCH");  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr || *value == '\0') {
    return std::optional<int64_t>();
  }
  int64_t t = 0;
  for (const char* p = value; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9' || t > (INT64_MAX - 9) / 10) {
      return Error::InvalidArgument(std::string("SOURCE_DATE_EPOCH=") + value +
                                    ": want a non-negative number of seconds");
    }
    t = t * 10 + (*p - '0');
  }
  return std::optional<int64_t>(t);
}

}  // namespace berth::archive
