// Snapshotter: file system snapshots for the engine, the containerd snapshotter contract.
//
// A snapshot is a file system tree identified by a key. It is either
//   active     writable, made by Prepare(key, parent): the parent's tree plus an empty upper
//              layer that collects the changes (a RUN step's root file system, an unpacking
//              layer);
//   view       read-only, made by View(key, parent): the parent's tree, nothing collected;
//   committed  immutable, made by Commit(name, key) from an active snapshot: a parent for
//              further snapshots. Its changes relative to its parent are the layer diff.
// Snapshots are never handed out as paths: Prepare, View and Mounts return Mount values that the
// caller mounts wherever and for as long as it needs (snapshot/mount.h does the mounting).
//
// Contract for every implementation (checked by the tests beside overlay_snapshotter):
//   - Keys and names share one namespace. Prepare/View fail with AlreadyExists for a key in use,
//     NotFound for a missing parent, FailedPrecondition for a parent that is not committed.
//   - Commit(name, key) turns active `key` into committed `name`; `key` no longer exists.
//     AlreadyExists when `name` exists: then `key` is left as it was. Two builders that commit
//     the same content under the same name race benignly, so callers treat AlreadyExists from
//     Commit as success (and Remove their active key), as containerd's do.
//   - Remove fails with FailedPrecondition while a snapshot has children; NotFound when absent.
//     The caller unmounts what it mounted before removing it.
//   - Several Snapshotter objects (and processes) may share one root; every method is
//     thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "snapshot/mount.h"

namespace berth::snapshot {

enum class Kind { kView, kActive, kCommitted };

std::string_view KindName(Kind kind);

struct Info {
  std::string name;    // the key (active, view) or name (committed)
  std::string parent;  // "" for none
  Kind kind = Kind::kActive;
  int64_t created_unix_nano = 0;
};

// Space used by a snapshot's own layer (its upper directory), not by its parents.
struct DiskUsage {
  int64_t bytes = 0;   // allocated bytes (st_blocks * 512), hard links counted once
  int64_t inodes = 0;  // files, directories, links, whiteouts
};

class Snapshotter {
 public:
  Snapshotter() = default;
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;
  Snapshotter(Snapshotter&&) = delete;
  Snapshotter& operator=(Snapshotter&&) = delete;
  virtual ~Snapshotter() = default;

  virtual Result<Info> Stat(const Context& ctx, const std::string& key) = 0;

  // Creates active snapshot `key` over committed `parent` ("" for an empty tree) and returns
  // the mounts that show it writable.
  virtual Result<std::vector<Mount>> Prepare(const Context& ctx, const std::string& key,
                                             const std::string& parent) = 0;
  // Creates a read-only view `key` of committed `parent`.
  virtual Result<std::vector<Mount>> View(const Context& ctx, const std::string& key,
                                          const std::string& parent) = 0;
  // The mounts of an active snapshot or view (committed snapshots are not mountable: View them).
  virtual Result<std::vector<Mount>> Mounts(const Context& ctx, const std::string& key) = 0;

  // See the file comment for AlreadyExists.
  // REQUIRES: `key` is active and not mounted any more.
  virtual Result<> Commit(const Context& ctx, const std::string& name, const std::string& key) = 0;

  virtual Result<> Remove(const Context& ctx, const std::string& key) = 0;

  // Calls `fn` for every snapshot (in no particular order) until it returns an error.
  virtual Result<> Walk(const Context& ctx, const std::function<Result<>(const Info&)>& fn) = 0;

  // The space the snapshot's own upper directory takes.
  virtual Result<DiskUsage> Usage(const Context& ctx, const std::string& key) = 0;
};

}  // namespace berth::snapshot
