#include "engine/cache_admin.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "cache/sqlite_index.h"
#include "engine/config.h"
#include "engine/runner.h"
#include "executor/runc_executor.h"
#include "images/root.h"
#include "os/file.h"
#include "snapshot/fs_util.h"
#include "snapshot/mount.h"
#include "snapshot/overlay_snapshotter.h"

namespace berth::engine {
namespace {

constexpr char kLayerPrefix[] = "layer:";
constexpr int64_t kNoCap = std::numeric_limits<int64_t>::max();

struct Stores {
  std::unique_ptr<cache::SqliteIndex> index;
  std::unique_ptr<snapshot::OverlaySnapshotter> snapshotter;
};

Result<std::unique_ptr<cache::SqliteIndex>> OpenIndex(const std::string& root) {
  BERTH_TRY(os::MakeDirs(root, 0755));
  return cache::SqliteIndex::Open({.path = root + "/cache.db"});
}

Result<Stores> OpenStores(const std::string& root) {
  Stores s;
  s.index = BERTH_TRY(OpenIndex(root));
  s.snapshotter = BERTH_TRY(snapshot::OverlaySnapshotter::Open(root + "/snapshots"));
  return s;
}

bool IsLayerKey(const std::string& key) {
  return key.starts_with(kLayerPrefix);
}

// The GC lock held exclusively, or nothing when a build holds it (shared).
Result<UniqueFd> TryLockForGc(const std::string& root) {
  std::string dir = root + "/locks";
  BERTH_TRY(os::MakeDirs(dir, 0700));
  std::string path = GcLockPath(dir);
  UniqueFd fd = BERTH_TRY(os::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return UniqueFd();
    }
    if (errno != EINTR) {
      return Error::FromErrno("flock " + path, errno);
    }
  }
  return fd;
}

// Removes every committed snapshot that no live record keeps, children first, with the
// "layer:" records that describe them. REQUIRES: the GC lock held exclusively. Returns how many
// snapshots went.
Result<int64_t> CollectSnapshots(const Context& ctx, const Stores& s) {
  cache::GcRoots roots = BERTH_TRY(s.index->GcRoots(ctx, kLayerPrefix));
  std::set<std::string> described;  // snapshots with a "layer:" record
  for (const cache::Record& r : BERTH_TRY(s.index->List(ctx, ""))) {
    if (!IsLayerKey(r.key)) {
      continue;
    }
    described.insert(r.snapshot);
    if (r.snapshot.starts_with("chain-")) {
      roots.snapshots.insert(r.snapshot);  // base image layers: the image store's
    }
  }
  std::map<std::string, snapshot::Info> all;
  BERTH_TRY(s.snapshotter->Walk(ctx, [&](const snapshot::Info& info) -> Result<> {
    all[info.name] = info;
    return {};
  }));
  // Kept: the roots, every active snapshot or view (a build's work in progress), and every
  // ancestor of those.
  std::set<std::string> keep;
  for (const auto& [name, info] : all) {
    if (roots.snapshots.count(name) == 0 && info.kind == snapshot::Kind::kCommitted) {
      continue;
    }
    for (std::string n = name; !n.empty() && keep.insert(n).second;) {
      auto it = all.find(n);
      n = it == all.end() ? "" : it->second.parent;
    }
  }
  // The "layer:" records of the doomed snapshots are marked first (a crash then leaves records
  // nobody sees, never a record of a missing snapshot), and forgotten once the snapshots are gone.
  std::vector<std::string> names;
  std::vector<std::string> forget;
  for (const auto& [name, info] : all) {
    if (keep.count(name) != 0) {
      continue;
    }
    names.push_back(name);
    if (described.count(name) == 0) {
      continue;
    }
    Result<cache::Removal> marked = s.index->Delete(ctx, "", LayerKey(name));
    if (marked.ok()) {
      forget.insert(forget.end(), marked->keys.begin(), marked->keys.end());
    } else if (marked.error().code() != ErrorCode::kNotFound) {
      return std::move(marked).error();
    }
  }
  // Children go before their parents. A snapshot that gained a child the walk did not see stays
  // for a later GC (it cannot while the GC lock is held, but another tool may share the root).
  std::vector<std::string> gone = BERTH_TRY(s.snapshotter->RemoveMany(ctx, names));
  BERTH_TRY(s.index->Forget(ctx, "", forget));
  return static_cast<int64_t>(gone.size());
}

}  // namespace

Result<BlobCollection> CollectBlobs(const Context& ctx, const std::string& root) {
  UniqueFd lock = BERTH_TRY(TryLockForGc(root));
  if (!lock) {
    return BlobCollection{.skipped = true};
  }
  std::unique_ptr<cache::SqliteIndex> index = BERTH_TRY(OpenIndex(root));
  cache::GcRoots roots = BERTH_TRY(index->GcRoots(ctx, ""));
  std::unique_ptr<images::Root> store = BERTH_TRY(images::Root::Open(root));
  content::GcStats stats = BERTH_TRY(store->images().GarbageCollect(ctx, roots.blobs));
  return BlobCollection{.blobs = static_cast<int64_t>(stats.blobs_removed),
                        .bytes = static_cast<int64_t>(stats.bytes_removed)};
}

namespace {

// Removes the project's RUN cache mounts. The embedded default's are cache-mounts/<32 hex>;
// the 16-hex directories there are other projects'.
Result<> RemoveCacheMounts(const std::string& root, const std::string& project) {
  std::string dir = CacheMountsDir(root, project);
  if (!project.empty()) {
    return snapshot::RemoveAll(dir);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (d == nullptr) {
    if (errno == ENOENT) {
      return {};
    }
    return Error::FromErrno("opendir " + dir, errno);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d.get())) {  // NOLINT(concurrency-mt-unsafe)
    std::string n = e->d_name;
    if (n.size() == 32 && n.find_first_not_of("0123456789abcdef") == std::string::npos) {
      names.push_back(dir + "/" + n);
    }
  }
  for (const std::string& path : names) {
    BERTH_TRY(snapshot::RemoveAll(path));
  }
  return {};
}

// Phase two for whatever the project has marked: GC (when no build runs) and forgetting.
Result<CacheCleanup> Finish(const Context& ctx, const Stores& s, const std::string& root,
                            const std::string& project, bool cache_mounts, CacheCleanup out) {
  UniqueFd lock = BERTH_TRY(TryLockForGc(root));
  if (lock.get() < 0) {
    out.deferred = true;
    return out;
  }
  // Every record of the project marked so far, by this call or an unfinished earlier one.
  cache::Removal marked = BERTH_TRY(s.index->Evict(ctx, project, kNoCap, cache::Time::max()));
  out.snapshots = BERTH_TRY(CollectSnapshots(ctx, s));
  if (cache_mounts) {
    BERTH_TRY(RemoveCacheMounts(root, project));
    out.cache_mounts = true;
  }
  BERTH_TRY(s.index->Forget(ctx, project, marked.keys));
  return out;
}

// The mount points under `root` (mountinfo's fifth field, with its \ooo escapes undone),
// deepest first.
Result<std::vector<std::string>> MountsUnder(const std::string& root) {
  std::string text = BERTH_TRY(os::ReadFile("/proc/self/mountinfo"));
  std::vector<std::string> points;
  for (const std::string& line : StrSplit(text, '\n')) {
    std::vector<std::string> fields = StrSplit(line, ' ');
    if (fields.size() < 5) {
      continue;
    }
    const std::string& escaped = fields[4];
    std::string point;
    for (size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] == '\\' && i + 3 < escaped.size() &&
          escaped.find_first_not_of("01234567", i + 1) >= i + 4) {
        point += static_cast<char>(std::stoi(escaped.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        point += escaped[i];
      }
    }
    if (point.starts_with(root + "/")) {
      points.push_back(std::move(point));
    }
  }
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return points;
}

}  // namespace

Result<Recovery> RecoverRoot(const Context& ctx, const std::string& root) {
  Recovery out;
  UniqueFd lock = BERTH_TRY(TryLockForGc(root));
  if (lock.get() < 0) {
    out.skipped = true;
    return out;
  }
  // Containers a dead berthd left running go first (they hold the mounts below), in every
  // runtime's state directory.
  for (const auto& [state, runtime] :
       {std::pair<std::string, std::string>{"runc", "runc"}, {"runtime-crun", "crun"}}) {
    if (!os::Exists(root + "/" + state)) {
      continue;
    }
    Result<std::unique_ptr<executor::RuncExecutor>> ex = executor::RuncExecutor::Create(
        {.state_dir = root + "/" + state, .bundle_dir = root + "/bundles", .runtime = runtime});
    if (ex.ok()) {
      out.containers += BERTH_TRY((*ex)->RemoveLeftovers());
    }
  }
  // Mount points are listed by their real paths.
  char* real = ::realpath(root.c_str(), nullptr);
  std::string real_root = real != nullptr ? real : root;
  std::free(real);  // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
  for (const std::string& point : BERTH_TRY(MountsUnder(real_root))) {
    if (snapshot::Unmount(point, MNT_DETACH).ok()) {
      ++out.unmounted;
    }
  }
  std::unique_ptr<snapshot::OverlaySnapshotter> snapshotter =
      BERTH_TRY(snapshot::OverlaySnapshotter::Open(root + "/snapshots"));
  std::vector<std::string> stale;
  BERTH_TRY(snapshotter->Walk(ctx, [&](const snapshot::Info& info) -> Result<> {
    if (info.kind != snapshot::Kind::kCommitted) {
      stale.push_back(info.name);
    }
    return {};
  }));
  for (const std::string& name : stale) {
    Result<> removed = snapshotter->Remove(ctx, name);
    if (removed.ok()) {
      ++out.snapshots;
    } else if (removed.error().code() != ErrorCode::kNotFound) {
      return std::move(removed).error().AddContext("removing snapshot " + name);
    }
  }
  return out;
}

Result<std::vector<cache::Record>> ListCache(const Context& ctx, const std::string& root,
                                             const std::string& project) {
  std::unique_ptr<cache::SqliteIndex> index = BERTH_TRY(OpenIndex(root));
  std::vector<cache::Record> records = BERTH_TRY(index->List(ctx, project));
  if (project.empty()) {
    std::erase_if(records, [](const cache::Record& r) { return IsLayerKey(r.key); });
  }
  return records;
}

Result<CacheCleanup> ResetCache(const Context& ctx, const std::string& root,
                                const std::string& project) {
  Stores s = BERTH_TRY(OpenStores(root));
  CacheCleanup out;
  if (project.empty()) {
    // Not Index::Reset: the default's "layer:" records describe snapshots (and base images)
    // rather than being cache entries; they go with their snapshots in the GC.
    for (const cache::Record& r : BERTH_TRY(s.index->List(ctx, project))) {
      if (IsLayerKey(r.key)) {
        continue;
      }
      Result<cache::Removal> marked = s.index->Delete(ctx, project, r.key);
      if (!marked.ok()) {
        if (marked.error().code() == ErrorCode::kNotFound) {
          continue;  // removed meanwhile
        }
        return std::move(marked).error();
      }
      out.entries += static_cast<int64_t>(marked->keys.size());
      out.bytes += marked->bytes;
    }
  } else {
    cache::Removal marked = BERTH_TRY(s.index->Reset(ctx, project));
    out.entries = static_cast<int64_t>(marked.keys.size());
    out.bytes = marked.bytes;
  }
  return Finish(ctx, s, root, project, /*cache_mounts=*/true, out);
}

Result<CacheCleanup> EvictCache(const Context& ctx, const std::string& root,
                                const std::string& project, int64_t cap_bytes,
                                cache::Time keep_used_since) {
  if (cap_bytes < 0) {
    return Error::InvalidArgument("cache cap: must not be negative");
  }
  Stores s = BERTH_TRY(OpenStores(root));
  cache::Removal marked =
      BERTH_TRY(s.index->Evict(ctx, project, cap_bytes == 0 ? kNoCap : cap_bytes, keep_used_since));
  if (marked.keys.empty()) {
    return CacheCleanup{};  // nothing over the cap and nothing left from before
  }
  CacheCleanup out;
  // Evict returns earlier marks too; they were counted by the call that made them, but their
  // sizes are unknown here, so the count covers all.
  out.entries = static_cast<int64_t>(marked.keys.size());
  out.bytes = marked.bytes;
  return Finish(ctx, s, root, project, /*cache_mounts=*/false, out);
}

void EvictToConfiguredCap(const Context& ctx, const std::string& root, const std::string& project) {
  if (!project.empty()) {
    return;
  }
  Result<EngineConfig> config = LoadEngineConfig(root);
  if (!config.ok()) {
    log::Warn("cache cap: " + config.error().ToString());
    return;
  }
  if (config->cache_cap_bytes <= 0) {
    return;
  }
  Result<CacheCleanup> evicted =
      EvictCache(ctx, root, project, config->cache_cap_bytes, cache::Time::max());
  if (!evicted.ok()) {
    log::Warn("evicting the cache down to its cap: " + evicted.error().ToString());
  }
}

}  // namespace berth::engine
