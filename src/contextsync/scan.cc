#include "contextsync/scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <deque>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/io.h"
#include "base/thread_pool.h"
#include "base/unique_fd.h"
#include "contextsync/internal.h"
#include "digest/digest.h"
#include "os/file.h"
#include "patternmatcher/patternmatcher.h"

namespace berth::contextsync {
namespace {

using patternmatcher::PatternMatcher;

constexpr std::string_view kCacheHeader = "berth-statcache 1\n";
constexpr size_t kMaxCacheFileBytes = size_t{256} << 20;
// Hash tasks queued at once; bounds the open descriptors.
constexpr size_t kMaxInFlight = 64;
constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t Ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

// What identifies an unchanged file: if all of these are equal, the content is taken as equal.
struct StatKey {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;

  static StatKey Of(const struct stat& st) {
    return {static_cast<uint64_t>(st.st_size), Ns(st.st_mtim), Ns(st.st_ctim),
            static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_dev)};
  }
  friend bool operator==(const StatKey&, const StatKey&) = default;
};

struct CacheEntry {
  StatKey key;
  std::string hex;
};

// The stat cache of one context directory: loaded whole, rewritten whole (atomically, by
// rename) when the scan learnt something.
class StatCache {
 public:
  // Opens the cache for `dir` in `cache_dir`. Never fails: without a usable cache directory
  // the cache is simply empty and not saved.
  void Load(const std::string& cache_dir, const std::string& dir) {
    if (cache_dir.empty()) {
      return;
    }
    if (!os::MakeDirs(cache_dir, 0700).ok()) {
      return;
    }
    char real[PATH_MAX];
    if (::realpath(dir.c_str(), real) == nullptr) {
      return;
    }
    path_ = cache_dir + "/statcache-" + digest::FromBytes(real).hex().substr(0, 32);
    // The temporary file that will become the new cache is created now: its ctime is the file
    // system's clock at the start of the scan, the line between trusted and racy entries.
    std::random_device rd;
    tmp_ = path_ + ".tmp-" + std::to_string(rd());
    tmp_fd_ = UniqueFd(::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    struct stat st {};
    if (!tmp_fd_ || ::fstat(tmp_fd_.get(), &st) != 0) {
      tmp_fd_.Reset();
      path_.clear();
      return;
    }
    start_ns_ = Ns(st.st_ctim);
    Result<std::string> text = os::ReadFile(path_);
    if (text.ok() && text->size() <= kMaxCacheFileBytes && !Parse(*text)) {
      old_.clear();
    }
  }

  ~StatCache() {
    if (tmp_fd_) {
      tmp_fd_.Reset();
      ::unlink(tmp_.c_str());
    }
  }
  StatCache() = default;
  StatCache(const StatCache&) = delete;
  StatCache& operator=(const StatCache&) = delete;
  StatCache(StatCache&&) = delete;
  StatCache& operator=(StatCache&&) = delete;

  bool enabled() const { return !path_.empty(); }

  // The cached digest of `path` if its stat matches.
  const std::string* Lookup(const std::string& path, const StatKey& key) {
    auto it = old_.find(path);
    if (it == old_.end() || !(it->second.key == key)) {
      return nullptr;
    }
    return &it->second.hex;
  }

  // Records the digest of `path` for the next scan, unless its timestamps are too close to now
  // to prove a later change would show.
  void Put(const std::string& path, const StatKey& key, const std::string& hex, bool hit) {
    if (!enabled() || path.find('\n') != std::string::npos) {
      return;
    }
    // A file system with whole-second timestamps gets a two-second margin.
    int64_t margin = key.ctime_ns % kNsPerSec == 0 ? 2 * kNsPerSec : 0;
    if (key.ctime_ns + margin >= start_ns_ || key.mtime_ns + margin >= start_ns_) {
      changed_ = true;
      return;
    }
    if (!hit) {
      changed_ = true;
    }
    new_.push_back({path, {key, hex}});
  }

  // Writes the new cache if anything changed (entries added or dropped).
  void Save() {
    if (!enabled() || !tmp_fd_) {
      return;
    }
    if (new_.size() != old_.size()) {
      changed_ = true;
    }
    if (!changed_) {
      return;
    }
    std::string out(kCacheHeader);
    out.reserve(new_.size() * 160);
    for (const auto& [path, e] : new_) {
      out += e.hex;
      for (uint64_t v : {e.key.size, static_cast<uint64_t>(e.key.mtime_ns),
                         static_cast<uint64_t>(e.key.ctime_ns), e.key.ino, e.key.dev}) {
        out += ' ';
        out += std::to_string(v);
      }
      out += ' ';
      out += path;
      out += '\n';
    }
    // No fsync: after a crash the cache is either the old one, the new one or unreadable, and
    // an unreadable cache only costs a rehash.
    if (!os::WriteAll(tmp_fd_.get(), out).ok() || !tmp_fd_.Close().ok() ||
        ::rename(tmp_.c_str(), path_.c_str()) != 0) {
      ::unlink(tmp_.c_str());
    }
    tmp_fd_.Reset();
  }

 private:
  bool Parse(std::string_view text) {
    if (!text.starts_with(kCacheHeader)) {
      return false;
    }
    text.remove_prefix(kCacheHeader.size());
    while (!text.empty()) {
      size_t nl = text.find('\n');
      if (nl == std::string_view::npos) {
        return false;
      }
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl + 1);
      if (line.size() < 65 || line[64] != ' ') {
        return false;
      }
      CacheEntry e;
      e.hex = std::string(line.substr(0, 64));
      line.remove_prefix(65);
      uint64_t v[5];
      for (uint64_t& field : v) {
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), field);
        if (ec != std::errc() || p == line.data() + line.size() || *p != ' ') {
          return false;
        }
        line.remove_prefix(static_cast<size_t>(p - line.data()) + 1);
      }
      e.key = {v[0], static_cast<int64_t>(v[1]), static_cast<int64_t>(v[2]), v[3], v[4]};
      if (!digest::Digest::Parse("sha256:" + e.hex).ok()) {
        return false;
      }
      old_.emplace(std::string(line), std::move(e));
    }
    return true;
  }

  std::string path_;
  std::string tmp_;
  UniqueFd tmp_fd_;
  int64_t start_ns_ = 0;
  bool changed_ = false;
  std::unordered_map<std::string, CacheEntry> old_;
  std::vector<std::pair<std::string, CacheEntry>> new_;
};

struct Hashed {
  digest::Digest digest;
  uint64_t bytes = 0;
  bool stable = false;  // the stat after reading equals the one before
};

Result<Hashed> HashFile(const Context& ctx, int fd, const struct stat& before,
                        const std::string& path) {
  thread_local std::vector<char> buf(kDefaultBufferSize);
  digest::Sha256 hash;
  for (;;) {
    BERTH_TRY(ctx.Check());
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("read " + path, errno);
    }
    if (n == 0) {
      break;
    }
    hash.Update(buf.data(), static_cast<size_t>(n));
  }
  Hashed h;
  h.digest = hash.Finish();
  h.bytes = hash.bytes();
  struct stat after {};
  h.stable = ::fstat(fd, &after) == 0 && StatKey::Of(after) == StatKey::Of(before) &&
             h.bytes == static_cast<uint64_t>(before.st_size);
  return h;
}

class Scanner {
 public:
  Scanner(Context ctx, const ScanOptions& options, ScanStats* stats)
      : ctx_(std::move(ctx)), pool_(std::max<size_t>(1, options.hash_threads)), stats_(stats) {}

  Result<> Init(const std::string& dir, const std::vector<std::string>& excludes,
                const ScanOptions& options) {
    if (!excludes.empty()) {
      matcher_ = BERTH_TRY_CONTEXT(PatternMatcher::Create(excludes), ".dockerignore");
    }
    cache_.Load(options.cache_dir, dir);
    return {};
  }

  Result<> Walk(int dir_fd, const std::string& rel, const PatternMatcher::MatchInfo& info) {
    std::vector<std::string> names = BERTH_TRY(ListDir(dir_fd, rel));
    for (const std::string& name : names) {
      BERTH_TRY(ctx_.Check());
      std::string path = rel;
      if (!path.empty()) {
        path += '/';
      }
      path += name;
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
          continue;  // removed while we walked
        }
        return Error::FromErrno("stat " + path, errno);
      }
      PatternMatcher::MatchInfo child_info;
      bool excluded = false;
      if (matcher_) {
        excluded = BERTH_TRY_CONTEXT(matcher_->MatchesUsingParentResults(path, info, &child_info),
                                     ".dockerignore");
      }
      bool is_dir = S_ISDIR(st.st_mode);
      if (excluded && (!is_dir || !ReincludesBelow(path))) {
        ++stats_->excluded;
        continue;
      }
      Entry e;
      e.path = path;
      e.mode = static_cast<uint32_t>(st.st_mode & 07777);
      if (is_dir) {
        e.type = EntryType::kDir;
        UniqueFd sub(
            ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) {
          return Error::FromErrno("open " + path, errno);
        }
        bool pushed = false;
        if (excluded) {
          // Listed only if something below it is (Emit flushes pending directories).
          pending_.push_back(std::move(e));
          pushed = true;
        } else {
          Emit(std::move(e));
        }
        BERTH_TRY(Walk(sub.get(), path, child_info));
        if (pushed && !pending_.empty() && pending_.back().path == path) {
          pending_.pop_back();
          ++stats_->excluded;
        }
      } else if (S_ISLNK(st.st_mode)) {
        e.type = EntryType::kSymlink;
        std::string target(kMaxLinkTargetLength + 1, '\0');
        ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
        if (n < 0) {
          return Error::FromErrno("readlink " + path, errno);
        }
        if (static_cast<size_t>(n) > kMaxLinkTargetLength) {
          return Error::InvalidArgument("symlink " + path + ": target too long");
        }
        target.resize(static_cast<size_t>(n));
        e.link_target = std::move(target);
        Emit(std::move(e));
      } else if (S_ISREG(st.st_mode)) {
        BERTH_TRY(AddFile(dir_fd, name, std::move(e), st));
      } else {
        ++stats_->skipped_special;
      }
    }
    return {};
  }

  Result<Manifest> Finish() {
    while (!inflight_.empty()) {
      BERTH_TRY(DrainOne());
    }
    cache_.Save();
    for (const Entry& e : entries_) {
      switch (e.type) {
        case EntryType::kFile:
          ++stats_->files;
          stats_->bytes += e.size;
          break;
        case EntryType::kDir:
          ++stats_->dirs;
          break;
        case EntryType::kSymlink:
          ++stats_->symlinks;
          break;
      }
    }
    Manifest m;
    m.entries = std::move(entries_);
    BERTH_TRY_CONTEXT(ValidateManifest(m), "scanning the context");
    return m;
  }

 private:
  struct InFlight {
    size_t index;
    StatKey key;
    std::future<Result<Hashed>> result;
  };

  static Result<std::vector<std::string>> ListDir(int dir_fd, const std::string& rel) {
    std::vector<std::string> names =
        BERTH_TRY(internal::ListNames(dir_fd, rel.empty() ? std::string(".") : rel));
    // Within one directory, walk order is byte order of the names.
    std::sort(names.begin(), names.end());
    return names;
  }

  // fsutil's rule, which the engine's COPY follows too (fileop/copy.cc): an excluded directory
  // is walked when a '!' pattern names something below it.
  bool ReincludesBelow(const std::string& path) const {
    if (!matcher_->exclusions()) {
      return false;
    }
    std::string dir_slash = path + "/";
    for (const patternmatcher::Pattern& p : matcher_->patterns()) {
      if (p.exclusion() && (p.text() + "/").starts_with(dir_slash)) {
        return true;
      }
    }
    return false;
  }

  size_t Emit(Entry e) {
    for (Entry& dir : pending_) {
      entries_.push_back(std::move(dir));
    }
    pending_.clear();
    entries_.push_back(std::move(e));
    return entries_.size() - 1;
  }

  Result<> AddFile(int dir_fd, const std::string& name, Entry e, const struct stat& lst) {
    e.type = EntryType::kFile;
    std::string path = e.path;
    StatKey key = StatKey::Of(lst);
    if (lst.st_size == 0) {
      // Nothing to hash or cache.
      e.digest = EmptyDigest();
      Emit(std::move(e));
      return {};
    }
    if (const std::string* hex = cache_.Lookup(path, key)) {
      e.size = key.size;
      e.digest = digest::Digest::FromSha256Hex(*hex);
      ++stats_->cache_hits;
      cache_.Put(path, key, *hex, /*hit=*/true);
      Emit(std::move(e));
      return {};
    }
    auto fd = std::make_shared<UniqueFd>(
        ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!*fd) {
      return Error::FromErrno("open " + path, errno);
    }
    auto st = std::make_shared<struct stat>();
    if (::fstat(fd->get(), st.get()) != 0) {
      return Error::FromErrno("stat " + path, errno);
    }
    if (!S_ISREG(st->st_mode)) {
      return Error::FailedPrecondition(path + ": changed type while the context was scanned");
    }
    e.mode = static_cast<uint32_t>(st->st_mode & 07777);
    size_t index = Emit(std::move(e));
    Context ctx = ctx_;
    inflight_.push_back(
        {index, StatKey::Of(*st), pool_.Submit([ctx, fd, st, path]() -> Result<Hashed> {
           return HashFile(ctx, fd->get(), *st, path);
         })});
    if (inflight_.size() >= kMaxInFlight) {
      BERTH_TRY(DrainOne());
    }
    return {};
  }

  Result<> DrainOne() {
    InFlight f = std::move(inflight_.front());
    inflight_.pop_front();
    Hashed h = BERTH_TRY(f.result.get());
    Entry& e = entries_[f.index];
    e.size = h.bytes;
    e.digest = h.bytes == 0 ? EmptyDigest() : h.digest;
    ++stats_->hashed_files;
    stats_->hashed_bytes += h.bytes;
    if (h.stable) {
      cache_.Put(e.path, f.key, h.digest.hex(), /*hit=*/false);
    }
    return {};
  }

  Context ctx_;
  ThreadPool pool_;
  ScanStats* stats_;
  std::optional<PatternMatcher> matcher_;
  StatCache cache_;
  std::vector<Entry> entries_;
  std::vector<Entry> pending_;
  std::deque<InFlight> inflight_;
};

}  // namespace

Result<Manifest> Scan(const Context& ctx, const std::string& dir,
                      const std::vector<std::string>& excludes, const ScanOptions& options,
                      ScanStats* stats) {
  ScanStats local_stats;
  if (stats == nullptr) {
    stats = &local_stats;
  }
  *stats = ScanStats{};
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    return Error::FromErrno("open context " + dir, errno);
  }
  // The scanner's thread pool joins (finishing queued hashes) before anything they use goes.
  Scanner scanner(ctx, options, stats);
  BERTH_TRY(scanner.Init(dir, excludes, options));
  Result<> walked = scanner.Walk(root.get(), "", {});
  if (!walked.ok()) {
    return std::move(walked).error().AddContext("scanning " + dir);
  }
  return scanner.Finish();
}

}  // namespace berth::contextsync
