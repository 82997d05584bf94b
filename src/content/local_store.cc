#include "content/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "base/scope_exit.h"
#include "content/file_lock.h"
#include "os/file.h"

namespace berth::content {
namespace {

using Clock = std::chrono::system_clock;

Time FromTimespec(const timespec& ts) {
  return Time(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                          std::chrono::nanoseconds(ts.tv_nsec)));
}

std::string RandomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t bits = rng();
  for (int i = 0; i < 16; ++i) {
    s += kHex[(bits >> (4 * i)) & 0xf];
  }
  return s;
}

bool IsSha256Hex(std::string_view name) {
  if (name.size() != 64) {
    return false;
  }
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// The names in `path` except "." and "..".
Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return Error::FromErrno("opendir " + path, errno);
  }
  ScopeExit close_dir([dir] { ::closedir(dir); });
  std::vector<std::string> names;
  errno = 0;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR* is ours alone; glibc's readdir is safe so.
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  if (errno != 0) {
    return Error::FromErrno("readdir " + path, errno);
  }
  return names;
}

Result<> UnlinkIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error::FromErrno("unlink " + path, errno);
  }
  return {};
}

Result<> RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) {
    return Error::FromErrno("remove " + path, ec.value());
  }
  return {};
}

// Makes a rename into the directory `dir` durable: the rename is an entry in `dir`, which a
// crash can lose even though the file's data was synced.
Result<> SyncDirectory(const std::string& dir) {
  UniqueFd fd = BERTH_TRY(os::Open(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) {
    return Error::FromErrno("fsync " + dir, errno);
  }
  return {};
}

Error RenameFailed(const std::string& from, const std::string& to, int err) {
  return Error::FromErrno("rename " + from + " to " + to, err);
}

// Renames `from` to `to` unless `to` exists (AlreadyExists then). Falls back to link + unlink on
// file systems without RENAME_NOREPLACE.
Result<> RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return {};
  }
  if (errno == EEXIST) {
    return Error::AlreadyExists(to + " exists");
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return RenameFailed(from, to, errno);
  }
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) {
      return Error::AlreadyExists(to + " exists");
    }
    return Error::FromErrno("link " + from + " to " + to, errno);
  }
  return UnlinkIfExists(from);
}

// Removes an ingest directory's files and the directory. A directory that is not empty (a new
// writer of the same ref got in) is left alone.
Result<> RemoveIngestDir(const std::string& dir) {
  BERTH_TRY(UnlinkIfExists(dir + "/data"));
  BERTH_TRY(UnlinkIfExists(dir + "/ref"));
  BERTH_TRY(UnlinkIfExists(dir + "/expected"));
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
    return Error::FromErrno("rmdir " + dir, errno);
  }
  return {};
}

Result<> WriteSmallFile(const std::string& path, std::string_view text) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  BERTH_TRY(os::WriteAll(fd.get(), text));
  return fd.Close();
}

// An ingest directory's lock. Writers, GC and Abort all take the exclusive flock on the
// directory itself before touching what is inside, and then check that the path still names the
// directory they locked (GC may have moved it to the trash, or a commit removed it, meanwhile).
struct IngestLock {
  enum class State { kLocked, kBusy, kGone };
  State state = State::kGone;
  UniqueFd fd;  // Holds the lock while kLocked.
};

// `wait_briefly`: a GC pass probing a stale ingest holds its lock for microseconds, so callers
// that want the ingest retry for a few milliseconds before reporting it busy.
Result<IngestLock> LockIngestDir(const std::string& dir, bool wait_briefly) {
  IngestLock lock;
  Result<UniqueFd> fd = os::Open(dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) {
    if (fd.error().code() == ErrorCode::kNotFound) {
      return lock;
    }
    return std::move(fd).error();
  }
  bool locked = BERTH_TRY(TryLockExclusive(fd->get()));
  for (int wait_ms = 1; wait_briefly && !locked && wait_ms <= 16; wait_ms *= 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    locked = BERTH_TRY(TryLockExclusive(fd->get()));
  }
  if (!locked) {
    lock.state = IngestLock::State::kBusy;
    return lock;
  }
  struct stat locked_st {};
  struct stat path_st {};
  if (::fstat(fd->get(), &locked_st) != 0) {
    return Error::FromErrno("stat " + dir, errno);
  }
  if (::stat(dir.c_str(), &path_st) != 0 || path_st.st_ino != locked_st.st_ino ||
      path_st.st_dev != locked_st.st_dev) {
    return lock;
  }
  lock.state = IngestLock::State::kLocked;
  lock.fd = std::move(fd).value();
  return lock;
}

class FdBlobReader final : public BlobReader {
 public:
  FdBlobReader(UniqueFd fd, uint64_t size) : fd_(std::move(fd)), size_(size) {}

  Result<size_t> Read(char* buf, size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf, size);
      if (n >= 0) {
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) {
        return Error::FromErrno("read blob", errno);
      }
    }
  }

  Result<size_t> ReadAt(char* buf, size_t size, uint64_t offset) override {
    for (;;) {
      ssize_t n = ::pread(fd_.get(), buf, size, static_cast<off_t>(offset));
      if (n >= 0) {
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) {
        return Error::FromErrno("pread blob", errno);
      }
    }
  }

  uint64_t size() const override { return size_; }

 private:
  UniqueFd fd_;
  uint64_t size_;
};

}  // namespace

// One open ingest. Holds the exclusive flock on its data file from OpenWriter until Commit,
// Close or destruction.
class LocalWriter final : public Writer {
 public:
  LocalWriter(LocalStore& store, WriterOptions options, std::string dir, UniqueFd dir_lock,
              UniqueFd fd, digest::Sha256 hash, uint64_t offset)
      : store_(store),
        options_(std::move(options)),
        dir_(std::move(dir)),
        dir_lock_(std::move(dir_lock)),
        fd_(std::move(fd)),
        hash_(std::move(hash)),
        offset_(offset) {}

  LocalWriter(const LocalWriter&) = delete;
  LocalWriter& operator=(const LocalWriter&) = delete;
  LocalWriter(LocalWriter&&) = delete;
  LocalWriter& operator=(LocalWriter&&) = delete;
  // Leaving the ingest in place is the point: it can be resumed, or GC collects it when stale.
  ~LocalWriter() override = default;

  Result<> Write(std::string_view data) override {
    BERTH_TRY(CheckOpen());
    Result<> written = os::WriteAll(fd_.get(), data);
    if (!written.ok()) {
      // Part of `data` may have landed: the hash no longer matches the file. Give up the
      // writer; a resumed writer rehashes whatever is there.
      state_ = State::kBroken;
      Release();
      return std::move(written).error().AddContext("writing ingest " + options_.ref);
    }
    hash_.Update(data);
    offset_ += data.size();
    return {};
  }

  Result<> Commit(const Context& ctx, std::optional<uint64_t> size,
                  std::optional<Digest> expected) override {
    BERTH_TRY(CheckOpen());
    BERTH_TRY(ctx.Check());
    if (!size) {
      size = options_.expected_size;
    }
    if (!expected) {
      expected = options_.expected;
    }
    if (size && *size != offset_) {
      BERTH_TRY(Discard());
      return Error::InvalidArgument("ingest " + options_.ref + ": unexpected commit size " +
                                    std::to_string(offset_) + ", expected " +
                                    std::to_string(*size));
    }
    Digest actual = hash_.Finish();
    if (expected && *expected != actual) {
      BERTH_TRY(Discard());
      return Error::InvalidArgument("ingest " + options_.ref + ": unexpected commit digest " +
                                    actual.ToString() + ", expected " + expected->ToString());
    }

    std::string data_path = dir_ + "/data";
    std::string target = store_.BlobPath(actual);
    bool synced = false;
    auto sync = [&]() -> Result<> {
      if (!synced) {
        if (::fsync(fd_.get()) != 0) {
          return Error::FromErrno("fsync " + data_path, errno);
        }
        synced = true;
      }
      return {};
    };
    // Sync outside the GC lock unless the blob is (probably) there already.
    if (!os::Exists(target)) {
      BERTH_TRY(sync());
    }
    bool existed = false;
    {
      FileLock gc_lock =
          BERTH_TRY(FileLock::Acquire(store_.gc_lock_path_, FileLock::Mode::kShared));
      if (!options_.lease.empty()) {
        BERTH_TRY_CONTEXT(store_.leases_->AddResourceHoldingGcLock(options_.lease, actual),
                          "adding " + actual.ToString() + " to lease " + options_.lease);
      }
      // Checked again under the lock: a GC may have removed it since.
      existed = os::Exists(target);
      if (!existed) {
        BERTH_TRY(sync());
        Result<> renamed = RenameNoReplace(data_path, target);
        if (!renamed.ok()) {
          if (renamed.error().code() != ErrorCode::kAlreadyExists) {
            return std::move(renamed).error().AddContext("committing ingest " + options_.ref);
          }
          existed = true;
        }
      }
    }
    if (existed) {
      BERTH_TRY(UnlinkIfExists(data_path));
    } else {
      if (::fchmod(fd_.get(), 0444) != 0) {
        // Read-only only once committed, so that a failed commit leaves a resumable ingest.
        return Error::FromErrno("chmod " + target, errno);
      }
      // Outside the GC lock: the rename is visible already, this only makes it survive a crash.
      BERTH_TRY_CONTEXT(SyncDirectory(std::filesystem::path(target).parent_path().string()),
                        "committing ingest " + options_.ref);
    }
    state_ = State::kCommitted;
    // The blob is committed whatever happens now; a directory left behind is collected as a
    // stale ingest.
    (void)RemoveIngestDir(dir_);
    Release();
    if (existed) {
      return Error::AlreadyExists("content " + actual.ToString() + " already exists");
    }
    return {};
  }

  Result<> Close() override {
    if (state_ == State::kOpen) {
      state_ = State::kClosed;
      Result<> closed = fd_.Close();
      Release();
      return closed;
    }
    return {};
  }

  Digest digest() const override { return hash_.Finish(); }
  uint64_t offset() const override { return offset_; }
  const std::string& ref() const override { return options_.ref; }

 private:
  enum class State { kOpen, kCommitted, kClosed, kBroken };

  Result<> CheckOpen() const {
    switch (state_) {
      case State::kOpen:
        return {};
      case State::kCommitted:
        return Error::FailedPrecondition("ingest " + options_.ref + " already committed");
      case State::kClosed:
        return Error::FailedPrecondition("ingest " + options_.ref + " writer closed");
      case State::kBroken:
        return Error::FailedPrecondition("ingest " + options_.ref + " writer failed earlier");
    }
    return {};
  }

  // Drops the ingest entirely (after a failed verification).
  Result<> Discard() {
    state_ = State::kClosed;
    Result<> removed = RemoveIngestDir(dir_);
    Release();
    return removed;
  }

  // Releases the ref.
  void Release() {
    fd_.Reset();
    dir_lock_.Reset();
  }

  LocalStore& store_;
  WriterOptions options_;
  std::string dir_;
  UniqueFd dir_lock_;  // Holds the ingest directory's flock.
  UniqueFd fd_;        // The data file.
  digest::Sha256 hash_;
  uint64_t offset_;
  State state_ = State::kOpen;
};

LocalStore::LocalStore(std::string root)
    : root_(std::move(root)),
      blobs_dir_(root_ + "/blobs/sha256"),
      ingest_dir_(root_ + "/ingest"),
      trash_dir_(root_ + "/trash"),
      gc_lock_path_(root_ + "/gc.lock") {}

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  if (root.empty()) {
    return Error::InvalidArgument("content store root is empty");
  }
  std::unique_ptr<LocalStore> store(new LocalStore(root));
  BERTH_TRY_CONTEXT(os::MakeDirs(store->blobs_dir_), "opening content store " + root);
  BERTH_TRY_CONTEXT(os::MakeDirs(store->ingest_dir_), "opening content store " + root);
  BERTH_TRY_CONTEXT(os::MakeDirs(store->trash_dir_), "opening content store " + root);
  store->leases_ =
      BERTH_TRY_CONTEXT(LocalLeaseManager::Open(root), "opening content store " + root);
  return store;
}

std::string LocalStore::TrashPath(const std::string& name) const {
  std::string path = trash_dir_;
  path += '/';
  path += name;
  path += '.';
  path += RandomSuffix();  // The same blob may be collected, rewritten and collected again.
  return path;
}

std::string LocalStore::BlobPath(const Digest& digest) const {
  return blobs_dir_ + "/" + digest.hex();
}

Result<std::string> LocalStore::ValidatedBlobPath(const Digest& digest) const {
  if (digest.empty()) {
    return Error::InvalidArgument("empty digest");
  }
  if (digest.algorithm() != "sha256") {
    return Error::NotFound("content " + digest.ToString() + " not found (only sha256 is stored)");
  }
  return BlobPath(digest);
}

std::string LocalStore::IngestDir(const std::string& ref) const {
  // Hashing the ref keeps arbitrary ref strings (slashes, colons) out of the file system.
  return ingest_dir_ + "/" + digest::FromBytes(ref).hex();
}

Result<content::Info> LocalStore::Info(const Context& ctx, const Digest& digest) {
  BERTH_TRY(ctx.Check());
  std::string path = BERTH_TRY(ValidatedBlobPath(digest));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Error::NotFound("content " + digest.ToString() + " not found");
    }
    return Error::FromErrno("stat " + path, errno);
  }
  content::Info info;
  info.digest = digest;
  info.size = static_cast<uint64_t>(st.st_size);
  info.created_at = FromTimespec(st.st_mtim);
  info.updated_at = FromTimespec(st.st_ctim);
  return info;
}

Result<bool> LocalStore::Exists(const Context& ctx, const Digest& digest) {
  Result<content::Info> info = Info(ctx, digest);
  if (info.ok()) {
    return true;
  }
  if (info.error().code() == ErrorCode::kNotFound) {
    return false;
  }
  return std::move(info).error();
}

Result<std::unique_ptr<BlobReader>> LocalStore::OpenReader(const Context& ctx,
                                                           const Digest& digest) {
  BERTH_TRY(ctx.Check());
  std::string path = BERTH_TRY(ValidatedBlobPath(digest));
  Result<UniqueFd> fd = os::Open(path, O_RDONLY);
  if (!fd.ok()) {
    if (fd.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound("content " + digest.ToString() + " not found");
    }
    return std::move(fd).error();
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) {
    return Error::FromErrno("stat " + path, errno);
  }
  return std::unique_ptr<BlobReader>(
      new FdBlobReader(std::move(fd).value(), static_cast<uint64_t>(st.st_size)));
}

Result<std::unique_ptr<Writer>> LocalStore::OpenWriter(const Context& ctx,
                                                       const WriterOptions& options) {
  BERTH_TRY(ctx.Check());
  if (options.ref.empty()) {
    return Error::InvalidArgument("ingest ref is empty");
  }
  if (!options.lease.empty()) {
    // Fail now rather than at Commit, after all the bytes were written.
    BERTH_TRY(leases_->ListResources(ctx, options.lease));
  }
  if (options.expected) {
    std::string target = BERTH_TRY(ValidatedBlobPath(*options.expected));
    // Under the GC lock, so that the blob cannot vanish between the check and the lease.
    FileLock gc_lock = BERTH_TRY(FileLock::Acquire(gc_lock_path_, FileLock::Mode::kShared));
    if (os::Exists(target)) {
      if (!options.lease.empty()) {
        BERTH_TRY(leases_->AddResourceHoldingGcLock(options.lease, *options.expected));
      }
      return Error::AlreadyExists("content " + options.expected->ToString() + " already exists");
    }
  }
  std::string dir = IngestDir(options.ref);
  std::string data_path = dir + "/data";
  UniqueFd dir_lock;
  // A GC or Abort may remove the directory between our mkdir and our lock: retry until we hold
  // the lock on the directory the path names.
  for (int attempt = 0;; ++attempt) {
    if (attempt == 100) {
      return Error::Unavailable("ingest " + options.ref + " keeps disappearing");
    }
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error::FromErrno("mkdir " + dir, errno);
    }
    IngestLock lock = BERTH_TRY(LockIngestDir(dir, /*wait_briefly=*/true));
    if (lock.state == IngestLock::State::kBusy) {
      return Error::Unavailable("ingest " + options.ref + " is locked by another writer");
    }
    if (lock.state == IngestLock::State::kLocked) {
      dir_lock = std::move(lock.fd);
      break;
    }
  }
  UniqueFd fd = BERTH_TRY(os::Open(data_path, O_RDWR | O_CREAT, 0644));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Error::FromErrno("stat " + data_path, errno);
  }
  if (!os::Exists(dir + "/ref")) {
    BERTH_TRY(WriteSmallFile(dir + "/ref", options.ref));
  }
  if (options.expected || options.expected_size) {
    std::string text;
    if (options.expected) {
      text += "digest " + options.expected->ToString() + "\n";
    }
    if (options.expected_size) {
      text += "size " + std::to_string(*options.expected_size) + "\n";
    }
    BERTH_TRY(WriteSmallFile(dir + "/expected", text));
  }

  // Resuming: hash what an earlier writer left, then append after it.
  digest::Sha256 hash;
  auto offset = static_cast<uint64_t>(st.st_size);
  if (offset > 0) {
    std::vector<char> buf(kDefaultBufferSize);
    uint64_t pos = 0;
    while (pos < offset) {
      ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Error::FromErrno("reading ingest " + data_path, errno);
      }
      if (n == 0) {
        break;
      }
      hash.Update(buf.data(), static_cast<size_t>(n));
      pos += static_cast<uint64_t>(n);
    }
    offset = pos;
  }
  if (::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return Error::FromErrno("seek " + data_path, errno);
  }
  return std::unique_ptr<Writer>(new LocalWriter(
      *this, options, std::move(dir), std::move(dir_lock), std::move(fd), std::move(hash), offset));
}

Result<std::vector<Status>> LocalStore::ListIngests(const Context& ctx) {
  BERTH_TRY(ctx.Check());
  std::vector<Status> out;
  for (const std::string& name : BERTH_TRY(ListDir(ingest_dir_))) {
    std::string dir = ingest_dir_ + "/" + name;
    Result<std::string> ref = os::ReadFile(dir + "/ref");
    struct stat ref_st {};
    struct stat data_st {};
    if (!ref.ok() || ::stat((dir + "/ref").c_str(), &ref_st) != 0 ||
        ::stat((dir + "/data").c_str(), &data_st) != 0) {
      continue;  // Being created or removed right now.
    }
    Status status;
    status.ref = std::move(ref).value();
    status.offset = static_cast<uint64_t>(data_st.st_size);
    status.started_at = FromTimespec(ref_st.st_mtim);
    status.updated_at = FromTimespec(data_st.st_mtim);
    Result<std::string> expected = os::ReadFile(dir + "/expected");
    if (expected.ok()) {
      size_t pos = 0;
      while (pos < expected->size()) {
        size_t eol = expected->find('\n', pos);
        if (eol == std::string::npos) {
          eol = expected->size();
        }
        std::string_view line(expected->data() + pos, eol - pos);
        if (line.rfind("digest ", 0) == 0) {
          Result<Digest> d = Digest::Parse(line.substr(7));
          if (d.ok()) {
            status.expected = std::move(d).value();
          }
        } else if (line.rfind("size ", 0) == 0) {
          status.expected_size = std::strtoull(std::string(line.substr(5)).c_str(), nullptr, 10);
        }
        pos = eol + 1;
      }
    }
    out.push_back(std::move(status));
  }
  return out;
}

Result<> LocalStore::Abort(const Context& ctx, const std::string& ref) {
  BERTH_TRY(ctx.Check());
  std::string dir = IngestDir(ref);
  IngestLock lock = BERTH_TRY(LockIngestDir(dir, /*wait_briefly=*/true));
  switch (lock.state) {
    case IngestLock::State::kGone:
      return Error::NotFound("ingest " + ref + " not found");
    case IngestLock::State::kBusy:
      return Error::Unavailable("ingest " + ref + " is locked by a writer");
    case IngestLock::State::kLocked:
      break;
  }
  return RemoveIngestDir(dir);
}

Result<> LocalStore::Walk(const Context& ctx,
                          const std::function<Result<>(const content::Info&)>& fn) {
  for (const std::string& name : BERTH_TRY(ListDir(blobs_dir_))) {
    BERTH_TRY(ctx.Check());
    if (!IsSha256Hex(name)) {
      continue;
    }
    Result<content::Info> info = Info(ctx, Digest::FromSha256Hex(name));
    if (!info.ok()) {
      if (info.error().code() == ErrorCode::kNotFound) {
        continue;  // Deleted while we walked.
      }
      return std::move(info).error();
    }
    BERTH_TRY(fn(*info));
  }
  return {};
}

Result<> LocalStore::Delete(const Context& ctx, const Digest& digest) {
  BERTH_TRY(ctx.Check());
  std::string path = BERTH_TRY(ValidatedBlobPath(digest));
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return Error::NotFound("content " + digest.ToString() + " not found");
    }
    return Error::FromErrno("unlink " + path, errno);
  }
  return {};
}

Result<GcStats> LocalStore::GarbageCollect(const Context& ctx, const std::set<Digest>& roots,
                                           const GcOptions& options) {
  BERTH_TRY(ctx.Check());
  GcStats stats;
  {
    FileLock gc_lock = BERTH_TRY(FileLock::Acquire(gc_lock_path_, FileLock::Mode::kExclusive));
    stats.leases_expired = BERTH_TRY(leases_->DeleteExpiredHoldingGcLock(Clock::now()));
    std::set<Digest> keep = BERTH_TRY(leases_->AllResourcesHoldingGcLock());
    keep.insert(roots.begin(), roots.end());
    for (const std::string& name : BERTH_TRY(ListDir(blobs_dir_))) {
      BERTH_TRY(ctx.Check());
      if (!IsSha256Hex(name) || keep.count(Digest::FromSha256Hex(name)) > 0) {
        continue;
      }
      std::string path = blobs_dir_ + "/" + name;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        continue;  // Deleted meanwhile.
      }
      std::string trash = TrashPath(name);
      if (::rename(path.c_str(), trash.c_str()) != 0) {
        if (errno == ENOENT) {
          continue;
        }
        return RenameFailed(path, trash, errno);
      }
      ++stats.blobs_removed;
      stats.bytes_removed += static_cast<uint64_t>(st.st_size);
    }
  }
  stats.ingests_removed = BERTH_TRY(CollectIngests(ctx, options.ingest_max_age));
  return stats;
}

Result<size_t> LocalStore::CollectIngests(const Context& ctx, std::chrono::seconds max_age) {
  size_t removed = 0;
  auto now = Clock::now();
  // An ingest's age is that of its last write, or of its directory if a writer died before
  // creating the data file.
  auto young = [&](const std::string& dir) {
    struct stat st {};
    if (::stat((dir + "/data").c_str(), &st) != 0 && ::stat(dir.c_str(), &st) != 0) {
      return true;  // Gone already: nothing to do.
    }
    return now - FromTimespec(st.st_mtim) < max_age;
  };
  for (const std::string& name : BERTH_TRY(ListDir(ingest_dir_))) {
    BERTH_TRY(ctx.Check());
    std::string dir = ingest_dir_ + "/" + name;
    if (young(dir)) {
      continue;  // Skipped without even probing the lock.
    }
    IngestLock lock = BERTH_TRY(LockIngestDir(dir, /*wait_briefly=*/false));
    if (lock.state != IngestLock::State::kLocked || young(dir)) {
      continue;  // A live writer holds it, or resumed it since our first look.
    }
    // Moved while we hold its lock: a writer waiting for it finds the path gone and starts a
    // fresh directory.
    std::string trash = TrashPath("ingest-" + name);
    if (::rename(dir.c_str(), trash.c_str()) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return RenameFailed(dir, trash, errno);
    }
    ++removed;
  }
  return removed;
}

Result<size_t> LocalStore::EmptyTrash(const Context& ctx) {
  size_t removed = 0;
  for (const std::string& name : BERTH_TRY(ListDir(trash_dir_))) {
    BERTH_TRY(ctx.Check());
    BERTH_TRY(RemoveAll(trash_dir_ + "/" + name));
    ++removed;
  }
  return removed;
}

}  // namespace berth::content
