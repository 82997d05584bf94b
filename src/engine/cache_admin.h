// Cache management on a state root ($BERTH_ROOT, or berthd's ROOT/builder): what
// `berth cache ls|reset`, berthd's cache endpoints and berthd's eviction after a build do.
//
// Removal follows the index's two phases (cache/index.h): records are marked, then a snapshot
// GC removes every committed snapshot that no live record keeps (nor a descendant of one), then
// the marked records are forgotten. "layer:<snapshot>" records (exported-layer descriptors) do
// not keep a step's snapshot alive and go with it; those of base image chains ("chain-...",
// shared by every project) do.
//
// Running builds: GC runs only while it holds the GC lock (GcLockPath) exclusively, and every
// build holds it shared, so no snapshot a running build looked up, made or exports is removed,
// nor a cache mount it may be using. When a build is running, the records are still marked (and
// invisible at once), and the snapshots and cache mounts wait for the next reset or eviction of
// that project that finds no build running (`deferred` says so).
//
// Eviction never marks records used since `keep_used_since`: the caller passes the start of the
// oldest build of the project still running.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "cache/index.h"

namespace berth::engine {

// The project's cache entries, most recently used first (the embedded default's "layer:"
// descriptor records are not entries and are left out).
Result<std::vector<cache::Record>> ListCache(const Context& ctx, const std::string& root,
                                             const std::string& project);

struct CacheCleanup {
  int64_t entries = 0;    // records this call removed from the project's cache
  int64_t bytes = 0;      // their sizes
  int64_t snapshots = 0;  // snapshots the GC removed (the project's, and orphans of earlier runs)
  bool cache_mounts = false;  // the project's RUN cache mounts were removed (reset only)
  // A build was running: snapshots and cache mounts are left for a later reset or eviction.
  bool deferred = false;
};

// Drops all of `project`'s cache entries, their snapshots and its RUN cache mounts (the
// embedded default keeps base image chains: they belong to the image store). Another project's
// entries, snapshots and mounts are never touched, including snapshots both use.
Result<CacheCleanup> ResetCache(const Context& ctx, const std::string& root,
                                const std::string& project);

// Drops `project`'s least recently used entries until its entries total at most `cap_bytes`
// (0: no cap, only finishes earlier deferred removals), never one used at or after
// `keep_used_since` (cache::Time::max(): none kept), then collects their snapshots.
Result<CacheCleanup> EvictCache(const Context& ctx, const std::string& root,
                                const std::string& project, int64_t cap_bytes,
                                cache::Time keep_used_since);

struct BlobCollection {
  int64_t blobs = 0;     // blobs deleted
  int64_t bytes = 0;     // their bytes
  bool skipped = false;  // a build holds the GC lock: nothing was touched
};

// Deletes the blobs of `root`'s content store that nothing keeps: not reachable from an image of
// the image store, not a layer blob of a live cache record of any project, not in a lease (the
// registry's saved builds and uploads, a build's export or pull). Runs only when no build holds
// the GC lock (berthd after its expiry of saved builds; it tries again next time).
Result<BlobCollection> CollectBlobs(const Context& ctx, const std::string& root);

struct Recovery {
  int64_t containers = 0;  // containers (runc, crun) left running by builds that are gone
  int64_t unmounted = 0;   // mounts left under the root by builds that are gone
  int64_t snapshots = 0;   // active snapshots and views they left
  bool skipped = false;    // a build holds the GC lock: nothing was touched
};

// After a crash (berthd killed mid-build), before builds start on `root` again: kills and
// deletes the containers dead builds left running, detaches what is still mounted under `root`
// (a dead build's rootfs and bind mounts) and removes the active
// snapshots and views dead builds left (committed snapshots are the cache's to keep or
// collect). Touches nothing while a build holds the GC lock: only call it when no build on
// `root` can be alive but a lock holder (berthd at start, for its builder's root).
Result<Recovery> RecoverRoot(const Context& ctx, const std::string& root);

// After a build on the embedded default (`project` ""): evicts down to the cap in
// `root`/config.toml (`[cache] cap`, engine/config.h), if one is set. Builds of berthd's projects
// are left to the builder, which applies each project's cap. Failures are logged, not returned:
// the build they follow has succeeded. REQUIRES: the caller's IndexCache is gone (its GC lock
// would defer the snapshots' removal).
void EvictToConfiguredCap(const Context& ctx, const std::string& root, const std::string& project);

}  // namespace berth::engine
