// The engine's OpRunner and ResultCache: graph ops run on overlay snapshots.
//
// References (the solver's outputs) are snapshot names, with two exceptions: "" is scratch (an
// empty file system) and "context:" is the local build context, which is never snapshotted:
// copies read the context directory itself.
//   Source docker-image  the image's layers unpacked into a chain of committed snapshots named
//                        by chain id ("chain-<hex>"), shared between builds;
//   Exec                 a new snapshot over the rootfs input, run under runc, committed;
//   File                 a new snapshot over the base input, fileop::ApplyFileOp, committed;
//   Merge                materialised: the later inputs' layers re-applied over the first
//                        input, one committed snapshot per layer.
// Every image layer snapshot gets a cache index record "layer:<snapshot>" holding the layer
// blob's descriptor, so the exporter reuses base image blobs and what it exported before.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/single_flight.h"
#include "base/unique_fd.h"
#include "cache/index.h"
#include "engine/progress.h"
#include "engine/resolver.h"
#include "executor/executor.h"
#include "executor/spec.h"
#include "fileop/checksum.h"
#include "snapshot/overlay_snapshotter.h"
#include "solver/solver.h"

namespace berth::engine {

// Local contexts (the build context and `--build-context name=DIR`) are refs "context:<name>"
// (the main one is "context:context", from its source "local://context").
inline constexpr std::string_view kContextPrefix = "context:";
inline bool IsContextRef(std::string_view ref) {
  return ref.starts_with(kContextPrefix);
}

// A local directory the build reads files from, with its .dockerignore patterns.
struct LocalContext {
  std::string dir;
  std::vector<std::string> excludes;
};

// Opens the blob of a layer to unpack (fetching it first, for a cache import).
using OpenLayerFn = std::function<Result<std::unique_ptr<Reader>>(const cache::Layer&)>;

// Unpacks `layers` (bottom first) into the shared chain of committed snapshots ("chain-<hex>",
// one per layer chain id, computed from the layers' diff ids) and records each layer's blob in
// the index (project ""), so that exports reuse them. Layers already unpacked are kept and their
// blobs not opened; each one unpacked must hash to its diff id (DataLoss otherwise: chain
// snapshots are shared, see snapshot::ApplyLayerSnapshot). `what` names the layers' image or
// cache in messages. Returns the top snapshot ("" for no layers).
Result<std::string> UnpackChain(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                                cache::Index& index, const std::vector<cache::Layer>& layers,
                                const std::string& what, const OpenLayerFn& open);

// Unpacks `image`'s layers into the shared chain of committed snapshots ("chain-<hex>", one per
// layer chain id; layers already unpacked are kept) and records each layer's blob in the index
// (project ""), so that exports reuse them. Returns the top snapshot ("" for no layers).
Result<std::string> UnpackImage(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                                cache::Index& index, content::Store& content,
                                const LoadedImage& image);

// The cache index key that records the exported layer of snapshot `name`.
std::string LayerKey(const std::string& snapshot);

// The directory under `root` ($BERTH_ROOT) holding `project`'s RUN cache mounts, one directory
// per mount id (32 hex digits). The embedded default's ("" project) is cache-mounts/ itself,
// which also holds every other project's directory (16 hex digits): callers that remove the
// default's mounts remove only the 32-digit names.
std::string CacheMountsDir(const std::string& root, const std::string& project);

// The lock that keeps snapshot GC away from running builds: every build holds it shared (an
// IndexCache does, for its lifetime), and GC (engine/cache_admin.h) removes snapshots and cache
// mounts only while it holds it exclusively. `lock_dir` is IndexCache's.
std::string GcLockPath(const std::string& lock_dir);

// The directory holding committed snapshot `name`'s own layer (its overlay upper).
Result<std::string> UpperDir(const snapshot::OverlaySnapshotter& snapshotter,
                             const std::string& name);

// A fresh unique name with `prefix`.
std::string UniqueName(const std::string& prefix);

// Content checksums of local contexts, shared by the runners of one BuildAll: targets of a bake
// that copy the same files from the same directory read them once (the contexts do not change
// during a build). Thread-safe; concurrent requests for one key compute it once.
class ContextChecksums {
 public:
  Result<digest::Digest> Get(const Context& ctx, const std::string& dir,
                             const std::string& selector, const fileop::ChecksumOptions& options);

 private:
  SingleFlight<std::string, digest::Digest> flight_;
  std::mutex mu_;
  std::map<std::string, digest::Digest> done_;
};

struct RunnerEnv {
  snapshot::OverlaySnapshotter* snapshotter = nullptr;
  executor::Executor* executor = nullptr;
  cache::Index* index = nullptr;
  content::Store* content = nullptr;
  const StoreResolver* resolver = nullptr;
  const graph::Graph* graph = nullptr;
  Progress* progress = nullptr;
  // By name: "context" is the build context; others come from --build-context.
  std::map<std::string, LocalContext> contexts;
  std::string root;  // $BERTH_ROOT
  std::optional<int64_t> source_date_epoch;
  // RUN --mount=type=secret values by id, and type=ssh agent sockets by id.
  std::map<std::string, std::string> secrets;
  std::map<std::string, std::string> ssh;
  std::vector<executor::Rlimit> rlimits;  // --ulimit
  uint64_t shm_size = 0;                  // --shm-size; 0 = the executor's default
  // The project whose cache mounts RUN uses ("" for the embedded default).
  std::string project;
  // Shared with the other builds of a BuildAll (nullptr: every checksum is computed).
  ContextChecksums* checksums = nullptr;
};

class Runner final : public solver::OpRunner {
 public:
  explicit Runner(RunnerEnv env) : env_(std::move(env)) {}
  // Removes what remote sources fetched for steps that turned out cached.
  ~Runner() override;

  Result<std::string> ContentKey(const Context& ctx, const graph::Vertex& vertex,
                                 const std::vector<solver::Input>& inputs) override;
  Result<std::vector<std::string>> Run(const Context& ctx, const graph::Vertex& vertex,
                                       const std::vector<solver::Input>& inputs) override;

  // The commits git sources resolved to, by vertex (for provenance).
  std::map<graph::VertexId, std::string> ResolvedCommits() {
    std::lock_guard lock(remote_mu_);
    return resolved_;
  }

 private:
  Result<std::string> RunImage(const Context& ctx, const graph::Vertex& vertex,
                               const graph::SourceOp& op);
  Result<std::string> RunExec(const Context& ctx, const graph::Vertex& vertex,
                              const graph::ExecOp& op, const std::vector<solver::Input>& inputs);
  Result<std::string> RunFile(const Context& ctx, const graph::Vertex& vertex,
                              const graph::FileOp& op, const std::vector<solver::Input>& inputs);
  Result<std::string> RunMerge(const Context& ctx, const std::vector<solver::Input>& inputs);
  // fileop::Checksum of a local context, through env_.checksums when set.
  Result<digest::Digest> ContextChecksum(const Context& ctx, const std::string& dir,
                                         const std::string& selector,
                                         const fileop::ChecksumOptions& options);
  // HTTP and git sources: ContentKey fetches (HTTP) or resolves (git), Run makes the snapshot.
  Result<std::string> RemoteKey(const Context& ctx, const graph::Vertex& vertex,
                                const graph::SourceOp& op);
  Result<std::string> RunRemote(const Context& ctx, const graph::Vertex& vertex,
                                const graph::SourceOp& op);
  // A committed snapshot holding a copy of directory `dir`'s contents.
  Result<std::string> SnapshotOfDir(const Context& ctx, const graph::Vertex& vertex,
                                    const std::string& dir);
  // The local context `ref` names, or nullptr if `ref` is not a (known) local context.
  const LocalContext* ContextOf(const std::string& ref) const;
  graph::VertexId IdOf(const graph::Vertex& vertex) const;
  std::string TempDir(const std::string& prefix) const;

  // Notes what made snapshot `out` for IndexCache::Put (see StepNote in the .cc).
  void NoteStep(const graph::Vertex& vertex, const std::string& out);

  RunnerEnv env_;
  std::mutex remote_mu_;
  std::mutex notes_mu_;
  std::vector<std::string> noted_;  // snapshots this runner noted; their notes die with it
  std::map<graph::VertexId, std::string> fetched_;   // HTTP: the temp dir holding the file
  std::map<graph::VertexId, std::string> resolved_;  // git: the commit
};

// The solver's result cache over the cache index (project ""). Results that are not snapshots
// (scratch, the context) are not stored; a record whose snapshot is gone counts as a miss and is
// dropped. Records carry the step that made them (description, Dockerfile location, platform)
// as the Runner noted it, for `berth cache ls`.
//
// For its whole lifetime an IndexCache holds the GC lock (GcLockPath) shared, so that no
// snapshot this build looked up, made or exports is collected under it.
class IndexCache final : public solver::ResultCache {
 public:
  // `lock_dir` holds the key lock files (created if needed).
  // Entries live under `project` in the index ("" for the embedded default): builds of one
  // project never see another's.
  IndexCache(cache::Index& index, snapshot::Snapshotter& snapshotter, std::string lock_dir,
             std::string project = "");
  ~IndexCache() override;
  IndexCache(const IndexCache&) = delete;
  IndexCache& operator=(const IndexCache&) = delete;
  IndexCache(IndexCache&&) = delete;
  IndexCache& operator=(IndexCache&&) = delete;

  Result<std::vector<std::string>> Lookup(const Context& ctx, const std::string& key) override;
  Result<std::vector<std::string>> Put(const Context& ctx, const std::string& key,
                                       const std::vector<std::string>& outputs) override;
  // Marks the old record for removal and stores the new one. (The old snapshot stays on disk
  // until snapshot GC, which is not written yet.)
  Result<std::vector<std::string>> Replace(const Context& ctx, const std::string& key,
                                           const std::vector<std::string>& outputs) override;
  // An exclusive flock(2) on one of kLockStripes files chosen by the key, so that two berth
  // processes on one root make each key once. Waiting polls so that `ctx` can cancel it.
  Result<std::unique_ptr<KeyLock>> LockKey(const Context& ctx, const std::string& key) override;

  static constexpr int kLockStripes = 1024;

  // Where a miss goes before it counts as one: a result from elsewhere (an imported cache, see
  // cache_io.h) to store under the key, or nullopt. Called from solver threads.
  using Fallback =
      std::function<Result<std::optional<cache::Record>>(const Context&, const std::string& key)>;
  void SetFallback(Fallback fallback) { fallback_ = std::move(fallback); }

  // The size of the layer stored under `key`, as the record found or stored by this cache said
  // (0 when this cache has not seen the key). For build records; no index access.
  int64_t LayerSize(const std::string& key) const;

 private:
  // The GC lock, or why it could not be taken (reported by every method).
  Result<> Held() const;
  void NoteSize(const std::string& key, int64_t size);

  cache::Index& index_;
  snapshot::Snapshotter& snapshotter_;
  std::string lock_dir_;
  std::string project_;
  UniqueFd gc_lock_;
  std::optional<Error> gc_lock_error_;
  mutable std::mutex sizes_mu_;
  std::map<std::string, int64_t> sizes_;  // key -> layer size, of the records seen
  Fallback fallback_;
};

}  // namespace berth::engine
