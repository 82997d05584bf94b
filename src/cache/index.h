// cache: the persistent cache index, the table the solver consults for every vertex.
//
// The solver computes a cache key for each vertex (op digest + input keys + content checksums;
// see DESIGN.md, "Cache keys") and asks the index whether a result is stored under it. A record
// names the committed snapshot that holds the result and, once the result has been exported as
// a layer, the layer blobs (one descriptor per compression), so that a second export needs no
// tar, compression or hashing. The index stores keys; it never computes them.
//
// Records live per project (a project id; "" is the embedded default), and every operation is
// scoped to one project: a key of project A is invisible to project B.
//
// Removal is two-phase so that a crash never leaves a record pointing at a removed snapshot:
//   1. Delete, Reset or Evict marks records "removing" and returns a Removal: the snapshots and
//      blobs that no live record references any more. Marked records are invisible at once
//      (Lookup, List, TotalSize, GcRoots skip them).
//   2. The caller removes those snapshots and blobs (NotFound counts as done), then calls
//      Forget(project, removal.keys) to delete the marked records.
// A crash between 1 and 2 leaves marked records that reference nothing anyone will use; the
// next Evict returns them again (so their removal is finished), and GC, which takes GcRoots()
// as its roots, may collect their snapshots and blobs meanwhile.
//
// Concurrency: every method is thread-safe, and several processes (two `berth build` at once, a
// `berthd`) may share one index. Put is first-writer-wins: when two builders put the same key,
// both succeed and both get the stored record back; the loser sees a snapshot other than its own
// and removes its own snapshot.
//
// Errors: InvalidArgument for an empty key or snapshot; NotFound for a missing key (Lookup,
// AddLayer, Delete); Unavailable when another process holds the index locked for longer than
// the busy timeout; DataLoss when the index's storage is damaged.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "digest/digest.h"

namespace berth::cache {

using Time = std::chrono::system_clock::time_point;

// An exported layer of a record's snapshot: the blob in the content store and how it was made.
struct Layer {
  std::string media_type;   // e.g. application/vnd.oci.image.layer.v1.tar+gzip
  digest::Digest digest;    // the blob (compressed)
  int64_t size = 0;         // the blob's size in bytes
  digest::Digest diff_id;   // the uncompressed tar's digest
  std::string compression;  // "gzip", "zstd", or "" for an uncompressed tar

  friend bool operator==(const Layer&, const Layer&) = default;
};

// One cached result.
struct Record {
  std::string key;       // The cache key (set by the index on output).
  std::string snapshot;  // The committed snapshot holding the result.
  int output_index = 0;  // Which output of the vertex.
  int64_t size = 0;      // Bytes the result takes (the snapshot's own layer).
  // Set by Put when left at the epoch (the default); kept as given otherwise.
  Time created_at;
  Time last_used_at;
  std::string description;    // For `berth cache ls`: "[build 3/7] RUN make".
  std::string location;       // "Dockerfile:7".
  std::string platform;       // "linux/amd64".
  std::vector<Layer> layers;  // Exported layers, in the order they were added.

  friend bool operator==(const Record&, const Record&) = default;
};

// What the caller releases after marking records for removal (see the file comment).
struct Removal {
  std::vector<std::string> keys;       // The marked records: pass to Forget() afterwards.
  std::vector<std::string> snapshots;  // Snapshots no live record references, sorted.
  // Layer blobs no live record references, sorted. Other holders (tagged images, leases) may
  // still use them: release them through content GC with every holder's roots, not by deleting
  // them outright.
  std::vector<digest::Digest> blobs;
  int64_t bytes = 0;  // Sum of the marked records' sizes.
};

// Everything the index keeps alive: the roots for snapshot and content GC.
struct GcRoots {
  std::set<std::string> snapshots;
  std::set<digest::Digest> blobs;
};

class Index {
 public:
  Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;
  Index(Index&&) = delete;
  Index& operator=(Index&&) = delete;
  virtual ~Index() = default;

  // The live record under `key`, with last_used_at set to now. NotFound if absent or being
  // removed.
  virtual Result<Record> Lookup(const Context& ctx, const std::string& project,
                                const std::string& key) = 0;

  // Stores `record` under `key` unless a live record is there already; returns the stored
  // record either way (first writer wins; see the file comment). A record being removed is
  // replaced, unless it names the same snapshot, which is being removed: then Unavailable, and
  // the caller builds the result afresh (under a new snapshot) or does not cache it.
  virtual Result<Record> Put(const Context& ctx, const std::string& project, const std::string& key,
                             const Record& record) = 0;

  // Adds an exported layer to the live record under `key`. Adding a layer whose digest the
  // record already has is a no-op. NotFound if there is no live record.
  virtual Result<> AddLayer(const Context& ctx, const std::string& project, const std::string& key,
                            const Layer& layer) = 0;

  // The project's live records, most recently used first.
  virtual Result<std::vector<Record>> List(const Context& ctx, const std::string& project) = 0;

  // Marks the record under `key` for removal. NotFound if there is no live record.
  virtual Result<Removal> Delete(const Context& ctx, const std::string& project,
                                 const std::string& key) = 0;

  // Marks all of the project's records for removal (`berth cache reset`). Other projects keep
  // theirs, including snapshots and blobs they share with this one.
  virtual Result<Removal> Reset(const Context& ctx, const std::string& project) = 0;

  // Marks the project's least recently used records for removal until the live records total
  // at most `cap_bytes`; also returns records left marked by an unfinished earlier removal.
  // Records used at or after `keep_used_since` (by a build still running) are never marked, even
  // when the project stays over its cap without them; Time::max() keeps none. Records of size 0
  // are never marked either: dropping them frees nothing (descriptors, shared base images).
  virtual Result<Removal> Evict(const Context& ctx, const std::string& project, int64_t cap_bytes,
                                Time keep_used_since) = 0;

  // Deletes the marked records among `keys` (live records are left alone: one may have been put
  // again meanwhile). Idempotent.
  virtual Result<> Forget(const Context& ctx, const std::string& project,
                          const std::vector<std::string>& keys) = 0;

  // Sum of the sizes of the project's live records.
  virtual Result<int64_t> TotalSize(const Context& ctx, const std::string& project) = 0;

  // Every snapshot and blob a live record of any project references. Records whose key starts
  // with `weak_prefix` (when not empty) keep their blobs but not their snapshot: such a record
  // describes a snapshot (its exported layer) without being a reason to keep it.
  virtual Result<cache::GcRoots> GcRoots(const Context& ctx, const std::string& weak_prefix) = 0;
};

}  // namespace berth::cache
