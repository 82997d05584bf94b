#include "contextsync/file_store.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "contextsync/internal.h"
#include "os/file.h"

namespace berth::contextsync {
namespace {

constexpr uint32_t kBlobMode = 0644;
constexpr std::string_view kUsageHeader = "berth-usage 1\n";
constexpr int64_t kStaleIngestSeconds = 3600;

int64_t NowSeconds() {
  return static_cast<int64_t>(::time(nullptr));
}

std::string RandomName(std::string_view prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::string(prefix) + std::to_string(rng());
}

std::string VariantName(const std::string& hex, uint32_t mode) {
  if (mode == kBlobMode) {
    return hex;
  }
  std::string name = hex + ".0000";
  for (size_t i = name.size() - 1; mode != 0; --i, mode >>= 3) {
    name[i] = static_cast<char>('0' + (mode & 7));
  }
  return name;
}

std::string_view ParentOf(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view BaseOf(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Copies all of `src` to `dst` (both at offset 0): a reflink where the file system shares
// extents, else copy_file_range, else read and write.
Result<> CopyFd(int src, int dst, const std::string& what) {
  if (::ioctl(dst, FICLONE, src) == 0) {
    return {};
  }
  for (;;) {
    ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, size_t{1} << 30, 0);
    if (n > 0) {
      continue;
    }
    if (n == 0) {
      return {};
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
      break;
    }
    return Error::FromErrno("copy " + what, errno);
  }
  // copy_file_range refused before copying anything: plain read and write.
  std::vector<char> buf(kDefaultBufferSize);
  for (;;) {
    ssize_t n = ::read(src, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("read " + what, errno);
    }
    if (n == 0) {
      return {};
    }
    BERTH_TRY_CONTEXT(os::WriteAll(dst, std::string_view(buf.data(), static_cast<size_t>(n))),
                      "copy " + what);
  }
}

}  // namespace

// ---- IngestWriter ----

IngestWriter::IngestWriter(FileStore& store, digest::Digest expected, uint64_t size, UniqueFd fd,
                           std::string tmp_path)
    : store_(store),
      expected_(std::move(expected)),
      size_(size),
      fd_(std::move(fd)),
      tmp_path_(std::move(tmp_path)) {}

IngestWriter::~IngestWriter() {
  fd_.Reset();
  if (!tmp_path_.empty()) {
    ::unlinkat(store_.tmp_.get(), tmp_path_.c_str(), 0);
  }
}

Result<> IngestWriter::Write(std::string_view data) {
  if (closed_ || !fd_) {
    return Error::FailedPrecondition("ingest of " + expected_.ToString() + " is closed");
  }
  if (data.size() > size_ - hash_.bytes()) {
    return Error::DataLoss("blob " + expected_.ToString() + ": more than the expected " +
                           std::to_string(size_) + " bytes");
  }
  BERTH_TRY_CONTEXT(os::WriteAll(fd_.get(), data), "ingest of " + expected_.ToString());
  hash_.Update(data);
  return {};
}

Result<> IngestWriter::Close() {
  if (closed_) {
    return {};
  }
  closed_ = true;
  auto discard = [&](Error error) -> Result<> {
    fd_.Reset();
    if (!tmp_path_.empty()) {
      ::unlinkat(store_.tmp_.get(), tmp_path_.c_str(), 0);
      tmp_path_.clear();
    }
    return error;
  };
  if (!fd_) {
    return Error::FailedPrecondition("ingest of " + expected_.ToString() + " failed before");
  }
  if (hash_.bytes() != size_) {
    return discard(Error::DataLoss("blob " + expected_.ToString() + ": got " +
                                   std::to_string(hash_.bytes()) + " of " + std::to_string(size_) +
                                   " bytes"));
  }
  digest::Digest got = hash_.Finish();
  if (got != expected_) {
    return discard(
        Error::DataLoss("blob " + expected_.ToString() + ": content hashes to " + got.ToString()));
  }
  if (store_.options_.durable && ::fdatasync(fd_.get()) != 0) {
    return discard(Error::FromErrno("fdatasync ingest of " + expected_.ToString(), errno));
  }
  if (::fchmod(fd_.get(), kBlobMode) != 0) {
    return discard(Error::FromErrno("chmod ingest of " + expected_.ToString(), errno));
  }
  const std::string& hex = expected_.hex();
  int rc = 0;
  if (tmp_path_.empty()) {
    std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
    rc = ::linkat(AT_FDCWD, proc.c_str(), store_.blobs_.get(), hex.c_str(), AT_SYMLINK_FOLLOW);
  } else {
    rc = ::linkat(store_.tmp_.get(), tmp_path_.c_str(), store_.blobs_.get(), hex.c_str(), 0);
  }
  if (rc != 0 && errno != EEXIST) {
    return discard(Error::FromErrno("commit blob " + expected_.ToString(), errno));
  }
  existed_ = rc != 0;
  fd_.Reset();
  if (!tmp_path_.empty()) {
    ::unlinkat(store_.tmp_.get(), tmp_path_.c_str(), 0);
    tmp_path_.clear();
  }
  store_.Touch(hex);
  return {};
}

// ---- FileStore ----

FileStore::FileStore(std::string root, Options options, UniqueFd blobs, UniqueFd tmp, bool proc_fd)
    : root_(std::move(root)),
      options_(options),
      blobs_(std::move(blobs)),
      tmp_(std::move(tmp)),
      proc_fd_(proc_fd) {}

FileStore::~FileStore() {
  bool dirty = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirty = usage_dirty_;
  }
  if (dirty) {
    (void)SaveUsage();
  }
}

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::string& root, Options options) {
  BERTH_TRY_CONTEXT(os::MakeDirs(root + "/blobs", 0700), "file store");
  BERTH_TRY_CONTEXT(os::MakeDirs(root + "/tmp", 0700), "file store");
  UniqueFd blobs = BERTH_TRY(os::Open(root + "/blobs", O_RDONLY | O_DIRECTORY));
  UniqueFd tmp = BERTH_TRY(os::Open(root + "/tmp", O_RDONLY | O_DIRECTORY));
  bool proc_fd = ::access("/proc/self/fd", X_OK) == 0;
  std::unique_ptr<FileStore> store(
      new FileStore(root, options, std::move(blobs), std::move(tmp), proc_fd));
  Result<std::string> usage = os::ReadFile(root + "/usage");
  if (usage.ok() && usage->starts_with(kUsageHeader)) {
    std::string_view text(*usage);
    text.remove_prefix(kUsageHeader.size());
    while (!text.empty()) {
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      int64_t secs = 0;
      if (line.size() > 65 && line[64] == ' ' && IsHex64(line.substr(0, 64))) {
        auto [p, ec] = std::from_chars(line.data() + 65, line.data() + line.size(), secs);
        if (ec == std::errc() && p == line.data() + line.size()) {
          store->last_use_[std::string(line.substr(0, 64))] = secs;
        }
      }
    }
  }
  store->usage_saved_at_ = NowSeconds();
  return store;
}

void FileStore::Touch(const std::string& hex) {
  std::lock_guard<std::mutex> lock(mu_);
  last_use_[hex] = NowSeconds();
  usage_dirty_ = true;
}

bool FileStore::Has(const digest::Digest& digest) const {
  if (digest.algorithm() != "sha256") {
    return false;
  }
  struct stat st {};
  return ::fstatat(blobs_.get(), digest.hex().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

Result<std::vector<digest::Digest>> FileStore::Missing(const Manifest& manifest) {
  BERTH_TRY(ValidateManifest(manifest));
  std::vector<digest::Digest> missing;
  std::vector<std::string> present;
  std::set<std::string_view> seen;
  for (const Entry& e : manifest.entries) {
    if (e.type != EntryType::kFile || e.size == 0 || !seen.insert(e.digest.hex()).second) {
      continue;
    }
    const std::string& hex = e.digest.hex();
    struct stat st {};
    if (::fstatat(blobs_.get(), hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {
        return Error::FromErrno("stat blob " + e.digest.ToString(), errno);
      }
      missing.push_back(e.digest);
      continue;
    }
    if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != e.size) {
      // Torn by a power cut (or tampered with): drop it and fetch it again. (Variant() checks
      // the size of the mode variants it reuses.)
      ::unlinkat(blobs_.get(), hex.c_str(), 0);
      missing.push_back(e.digest);
      continue;
    }
    present.push_back(hex);
  }
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = NowSeconds();
  for (const std::string& hex : present) {
    last_use_[hex] = now;
  }
  usage_dirty_ = true;
  return missing;
}

Result<std::unique_ptr<IngestWriter>> FileStore::BeginIngest(const digest::Digest& expected,
                                                             uint64_t size) {
  if (expected.algorithm() != "sha256" || !IsHex64(expected.hex())) {
    return Error::InvalidArgument("file store: want a sha256 digest, got \"" + expected.ToString() +
                                  "\"");
  }
  if (size > kMaxFileSize) {
    return Error::InvalidArgument("file store: blob size " + std::to_string(size) +
                                  " above the limit");
  }
  if (proc_fd_) {
    int fd = ::openat(tmp_.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
      return std::unique_ptr<IngestWriter>(
          new IngestWriter(*this, expected, size, UniqueFd(fd), ""));
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return Error::FromErrno("create ingest file in " + root_ + "/tmp", errno);
    }
  }
  std::string name = RandomName("ingest-");
  int fd = ::openat(tmp_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error::FromErrno("create " + root_ + "/tmp/" + name, errno);
  }
  return std::unique_ptr<IngestWriter>(
      new IngestWriter(*this, expected, size, UniqueFd(fd), std::move(name)));
}

Result<std::string> FileStore::Variant(const std::string& hex, uint32_t mode, uint64_t size) {
  std::string name = VariantName(hex, mode);
  if (name == hex) {
    return name;
  }
  struct stat st {};
  if (::fstatat(blobs_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == size) {
      return name;
    }
    ::unlinkat(blobs_.get(), name.c_str(), 0);
  }
  UniqueFd src(::openat(blobs_.get(), hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src) {
    if (errno == ENOENT) {
      return Error::NotFound("blob sha256:" + hex + " is not in the file store");
    }
    return Error::FromErrno("open blob sha256:" + hex, errno);
  }
  std::string tmp = RandomName("variant-");
  UniqueFd dst(::openat(tmp_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!dst) {
    return Error::FromErrno("create " + root_ + "/tmp/" + tmp, errno);
  }
  Result<> made = CopyFd(src.get(), dst.get(), "blob sha256:" + hex);
  if (made.ok() && ::fchmod(dst.get(), mode) != 0) {
    made = Error::FromErrno("chmod " + tmp, errno);
  }
  if (made.ok() && ::linkat(tmp_.get(), tmp.c_str(), blobs_.get(), name.c_str(), 0) != 0 &&
      errno != EEXIST) {
    made = Error::FromErrno("link variant " + name, errno);
  }
  ::unlinkat(tmp_.get(), tmp.c_str(), 0);
  BERTH_TRY(std::move(made));
  return name;
}

Result<bool> FileStore::PlaceFile(int dir_fd, const std::string& name, const Entry& e,
                                  bool must_copy, bool* cross_device) {
  const std::string& hex = e.digest.hex();
  if (!must_copy && !*cross_device) {
    std::string variant = BERTH_TRY(Variant(hex, e.mode, e.size));
    if (::linkat(blobs_.get(), variant.c_str(), dir_fd, name.c_str(), 0) == 0) {
      return true;
    }
    if (errno == ENOENT) {
      return Error::NotFound("blob " + e.digest.ToString() + " is not in the file store");
    }
    if (errno == EXDEV) {
      *cross_device = true;
    } else if (errno != EMLINK && errno != EPERM) {
      return Error::FromErrno("link " + e.path, errno);
    }
  }
  UniqueFd src(::openat(blobs_.get(), hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!src) {
    if (errno == ENOENT) {
      return Error::NotFound("blob " + e.digest.ToString() + " is not in the file store");
    }
    return Error::FromErrno("open blob " + e.digest.ToString(), errno);
  }
  UniqueFd dst(
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!dst) {
    return Error::FromErrno("create " + e.path, errno);
  }
  BERTH_TRY(CopyFd(src.get(), dst.get(), e.path));
  if (::fchmod(dst.get(), e.mode) != 0) {
    return Error::FromErrno("chmod " + e.path, errno);
  }
  return false;
}

Result<> FileStore::PlaceLeaves(const Context& ctx, int root, const std::vector<Leaf>& leaves,
                                size_t begin, size_t end, const std::atomic<bool>& stop,
                                MaterializeStats* stats) {
  // The directory of the previous leaf stays open: leaves come grouped by directory.
  std::string_view open_path;
  UniqueFd open_fd;
  bool cross_device = false;
  for (size_t i = begin; i < end; ++i) {
    if ((i - begin) % 256 == 0) {
      BERTH_TRY(ctx.Check());
      if (stop.load(std::memory_order_relaxed)) {
        return Error::Cancelled("materialize: stopped by another worker's error");
      }
    }
    const Entry& e = *leaves[i].entry;
    std::string_view parent = ParentOf(e.path);
    int dir_fd = root;
    if (!parent.empty()) {
      if (!open_fd || parent != open_path) {
        open_fd = BERTH_TRY(internal::OpenBeneath(root, std::string(parent),
                                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        open_path = parent;
      }
      dir_fd = open_fd.get();
    }
    std::string name(BaseOf(e.path));
    if (e.type == EntryType::kSymlink) {
      if (::symlinkat(e.link_target.c_str(), dir_fd, name.c_str()) != 0) {
        return Error::FromErrno("symlink " + e.path, errno);
      }
      ++stats->symlinks;
    } else if (e.size == 0) {
      UniqueFd fd(::openat(dir_fd, name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd || ::fchmod(fd.get(), e.mode) != 0) {
        return Error::FromErrno("create " + e.path, errno);
      }
      ++stats->empty;
    } else {
      bool linked = BERTH_TRY(PlaceFile(dir_fd, name, e, leaves[i].must_copy, &cross_device));
      ++(linked ? stats->linked : stats->copied);
      Touch(e.digest.hex());
    }
  }
  return {};
}

Result<MaterializeStats> FileStore::Materialize(const Context& ctx, const Manifest& manifest,
                                                const std::string& dest) {
  BERTH_TRY(ValidateManifest(manifest));
  if (::mkdir(dest.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error::FromErrno("mkdir " + dest, errno);
  }
  UniqueFd root = BERTH_TRY(os::Open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  if (!BERTH_TRY(internal::ListNames(root.get(), dest)).empty()) {
    return Error::FailedPrecondition("materialize: " + dest + " is not empty");
  }

  // Pass 1, in manifest order: the directories (writable for now), and the list of everything
  // else, each file marked for copying when its content and mode came up before in this tree.
  // (Two paths of one tree never share an inode: a COPY of both would make them a hardlink.)
  MaterializeStats stats;
  struct OpenDir {
    std::string_view path;
    UniqueFd fd;
  };
  std::vector<OpenDir> stack;
  std::vector<const Entry*> dirs;
  std::vector<Leaf> leaves;
  std::set<std::pair<std::string_view, uint32_t>> placed;
  for (const Entry& e : manifest.entries) {
    if (e.type != EntryType::kDir) {
      bool must_copy = e.type == EntryType::kFile && e.size > 0 &&
                       !placed.insert({e.digest.hex(), e.mode}).second;
      leaves.push_back({&e, must_copy});
      continue;
    }
    std::string_view parent = ParentOf(e.path);
    while (!stack.empty() && stack.back().path != parent) {
      stack.pop_back();
    }
    if (!parent.empty() && stack.empty()) {
      return Error::Internal("materialize: parent of " + e.path + " is not open");
    }
    int dir_fd = stack.empty() ? root.get() : stack.back().fd.get();
    std::string name(BaseOf(e.path));
    if (::mkdirat(dir_fd, name.c_str(), 0700) != 0) {
      return Error::FromErrno("mkdir " + e.path, errno);
    }
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      return Error::FromErrno("open " + e.path, errno);
    }
    stack.push_back({e.path, std::move(fd)});
    dirs.push_back(&e);
    ++stats.dirs;
  }
  stack.clear();

  // Pass 2: files and symlinks, in two halves on two threads when there are many (linkat and
  // file creation are kernel time, and directories lock separately).
  constexpr size_t kParallelFrom = 1000;
  std::atomic<bool> stop{false};
  size_t half = leaves.size() >= kParallelFrom ? leaves.size() / 2 : leaves.size();
  MaterializeStats second;
  Result<> second_result;
  std::thread helper;
  if (half < leaves.size()) {
    helper = std::thread([&] {
      second_result = PlaceLeaves(ctx, root.get(), leaves, half, leaves.size(), stop, &second);
      if (!second_result.ok()) {
        stop = true;
      }
    });
  }
  Result<> first_result = PlaceLeaves(ctx, root.get(), leaves, 0, half, stop, &stats);
  if (!first_result.ok()) {
    stop = true;
  }
  if (helper.joinable()) {
    helper.join();
  }
  // Report the error that caused the stop, not the other worker's Cancelled.
  if (!first_result.ok() &&
      (second_result.ok() || first_result.error().code() != ErrorCode::kCancelled)) {
    return std::move(first_result).error();
  }
  BERTH_TRY(std::move(second_result));
  stats.symlinks += second.symlinks;
  stats.linked += second.linked;
  stats.copied += second.copied;
  stats.empty += second.empty;

  // Pass 3: directory modes, children before parents (reverse manifest order), so that a
  // read-only directory could still be filled.
  std::reverse(dirs.begin(), dirs.end());
  for (const Entry* dir : dirs) {
    const Entry& e = *dir;
    UniqueFd fd = BERTH_TRY(
        internal::OpenBeneath(root.get(), e.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (::fchmod(fd.get(), e.mode) != 0) {
      return Error::FromErrno("chmod " + e.path, errno);
    }
  }
  bool save = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    save = usage_dirty_ && NowSeconds() - usage_saved_at_ >= 60;
  }
  if (save) {
    (void)SaveUsage();
  }
  return stats;
}

Result<> FileStore::SaveUsage() {
  std::string out(kUsageHeader);
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.reserve(out.size() + last_use_.size() * 80);
    for (const auto& [hex, secs] : last_use_) {
      out += hex;
      out += ' ';
      out += std::to_string(secs);
      out += '\n';
    }
    usage_dirty_ = false;
    usage_saved_at_ = NowSeconds();
  }
  return os::WriteFileAtomic(root_ + "/usage", out, 0600);
}

Result<PruneStats> FileStore::Prune(const Context& ctx, uint64_t keep_bytes,
                                    std::chrono::seconds protect_recent) {
  int64_t now = NowSeconds();
  // Abandoned named ingests and variants (a killed server's; O_TMPFILE ones vanish by
  // themselves).
  for (const std::string& name : BERTH_TRY(internal::ListNames(tmp_.get(), root_ + "/tmp"))) {
    struct stat st {};
    if (::fstatat(tmp_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        now - st.st_mtim.tv_sec > kStaleIngestSeconds) {
      ::unlinkat(tmp_.get(), name.c_str(), 0);
    }
  }

  struct Group {
    std::vector<std::string> names;
    uint64_t bytes = 0;
    int64_t last_use = 0;
  };
  std::map<std::string, Group> groups;
  for (const std::string& name : BERTH_TRY(internal::ListNames(blobs_.get(), root_ + "/blobs"))) {
    BERTH_TRY(ctx.Check());
    std::string hex = name.substr(0, 64);
    struct stat st {};
    if (!IsHex64(hex) || ::fstatat(blobs_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    Group& g = groups[hex];
    g.names.push_back(name);
    g.bytes += static_cast<uint64_t>(st.st_size);
    if (name == hex) {
      g.last_use = st.st_mtim.tv_sec;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [hex, g] : groups) {
      // A recorded use is at least as late as the blob's arrival (its mtime).
      if (auto it = last_use_.find(hex); it != last_use_.end()) {
        g.last_use = it->second;
      }
    }
  }
  std::vector<std::pair<std::string, Group*>> order;
  uint64_t total = 0;
  for (auto& [hex, g] : groups) {
    order.emplace_back(hex, &g);
    total += g.bytes;
  }
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.second->last_use < b.second->last_use; });
  PruneStats stats;
  std::vector<std::string> removed;
  for (auto& [hex, g] : order) {
    if (total > keep_bytes && now - g->last_use >= protect_recent.count()) {
      for (const std::string& name : g->names) {
        ::unlinkat(blobs_.get(), name.c_str(), 0);
      }
      total -= g->bytes;
      ++stats.removed_blobs;
      stats.removed_bytes += g->bytes;
      removed.push_back(hex);
    } else {
      ++stats.kept_blobs;
      stats.kept_bytes += g->bytes;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& hex : removed) {
      last_use_.erase(hex);
    }
    // Forget blobs that are gone.
    for (auto it = last_use_.begin(); it != last_use_.end();) {
      it = groups.contains(it->first) ? std::next(it) : last_use_.erase(it);
    }
  }
  BERTH_TRY(SaveUsage());
  return stats;
}

}  // namespace berth::contextsync
