// The local image store: image names (normalised references such as
// "docker.io/library/busybox:latest") mapped to the descriptor of their manifest or index.
//
// This is what `docker images` lists and what `FROM name` resolves against first. The store
// holds only the names; the blobs they reach (indexes, manifests, configs, layers) live in the
// content store, and a name is what keeps them there: deleting a name garbage-collects the
// content store with the remaining names' blobs as roots, so a layer two images share stays
// until both are gone.
//
// Implementations: FileStore (one JSON file per name, file_store.h). A SQLite-backed store is
// planned behind the same interface.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "oci/image.h"

namespace berth::images {

using Time = std::chrono::system_clock::time_point;

struct Image {
  // The normalised reference, e.g. "docker.io/library/busybox:latest" (or "...@sha256:...").
  std::string name;
  // An image manifest or an image index, stored in the content store.
  oci::Descriptor target;
  Time created_at;  // when the name was first stored
  Time updated_at;  // when the name last changed target

  friend bool operator==(const Image&, const Image&) = default;
};

// Normalises a user-supplied image name the way Docker does ("busybox" ->
// "docker.io/library/busybox:latest"). InvalidArgument for a malformed reference.
Result<std::string> NormalizeName(std::string_view name);

// The name store. All methods are thread-safe and safe against other processes sharing the
// same root. Names passed in are normalised first (NormalizeName), so "busybox" and
// "docker.io/library/busybox:latest" are the same image.
class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) = delete;
  Store& operator=(Store&&) = delete;
  virtual ~Store() = default;

  // Points `name` at `target`, creating or replacing the name. The caller must have stored the
  // target's blobs in the content store and must keep them protected (a lease) until Put
  // returns; from then on the name protects them. Returns the stored record.
  // InvalidArgument for a bad name or a target that is neither a manifest nor an index.
  virtual Result<Image> Put(const Context& ctx, std::string_view name,
                            const oci::Descriptor& target) = 0;
  // NotFound when the name is not stored.
  virtual Result<Image> Get(const Context& ctx, std::string_view name) = 0;
  // Every stored image, sorted by name.
  virtual Result<std::vector<Image>> List(const Context& ctx) = 0;
  // Removes `name`, then garbage-collects the content store (see GarbageCollect). NotFound when
  // the name is not stored (and nothing is collected).
  virtual Result<content::GcStats> Delete(const Context& ctx, std::string_view name) = 0;
  // Garbage-collects the content store with every blob reachable from a stored name as a root
  // (leases protect the rest: in-flight imports, pulls, builds). Blobs a name references but the
  // content store lacks are skipped, so one broken image does not stop the collection.
  // `extra_roots` are kept too (the cache's layer blobs, for a caller that holds the cache's GC
  // lock).
  virtual Result<content::GcStats> GarbageCollect(const Context& ctx,
                                                  const std::set<digest::Digest>& extra_roots) = 0;
  Result<content::GcStats> GarbageCollect(const Context& ctx) { return GarbageCollect(ctx, {}); }
};

}  // namespace berth::images
