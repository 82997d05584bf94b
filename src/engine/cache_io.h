// External build cache: `--cache-to` exports the results a build used, `--cache-from` makes a
// later build (on another machine, or after `berth cache reset`) hit them. The document is
// cache/export_format.h's: an OCI manifest whose config maps cache keys to layer chains.
//
//   type=registry,ref=REF[,mode=min|max]   pushed to / pulled from a registry (the engine's
//                                          registry client: config.toml mirrors, docker
//                                          credentials); a bare REF means the same
//   type=local,dest=DIR[,tag=T][,mode=..]  an OCI layout directory (export; tag "latest")
//   type=local,src=DIR[,tag=T|,digest=D]   the same, read (import)
//
// mode=min (the default) exports the steps whose results are layers of the final image;
// mode=max every step of every stage the build ran. ignore-error=true turns a failed export into
// a warning. Attributes buildx users pass that change nothing here (oci-mediatypes,
// image-manifest, compression=gzip, compression-level, force-compression) are accepted; other
// types (inline, gha, s3, azblob) and unknown attributes are errors naming them.
//
// Import is lazy: the cache's config is read when the build starts; a key's layers are fetched
// and unpacked (diff ids verified) only when the solver misses that key locally, and the result
// is then recorded in the project's index like any other.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "cache/index.h"
#include "content/store.h"
#include "engine/exporter.h"
#include "snapshot/overlay_snapshotter.h"

namespace berth::engine {

struct CacheSpec {
  enum class Type { kRegistry, kLocal };
  Type type = Type::kRegistry;
  std::string ref;             // kRegistry: the reference, as given
  std::string dir;             // kLocal: src (import) or dest (export)
  std::string tag = "latest";  // kLocal: the layout's ref name
  std::string digest;          // kLocal import: a manifest digest instead of the tag
  bool max = false;            // mode=max
  bool ignore_error = false;   // ignore-error=true
  std::string text;            // the spec as given, for messages
};

// --cache-from and --cache-to values. InvalidArgument names the offending attribute;
// Unimplemented names a type berth does not have.
Result<CacheSpec> ParseCacheImport(std::string_view spec);
Result<CacheSpec> ParseCacheExport(std::string_view spec);

// The caches a build imports from. Thread-safe after the Adds (Fetch runs on solver threads).
class CacheImporter {
 public:
  // Borrows the stores; `root` ($BERTH_ROOT) locates the registry client's config.
  CacheImporter(content::Store& content, snapshot::OverlaySnapshotter& snapshotter,
                cache::Index& index, std::string root);
  ~CacheImporter();
  CacheImporter(const CacheImporter&) = delete;
  CacheImporter& operator=(const CacheImporter&) = delete;

  // Reads the config of the cache `spec` names and returns how many records it holds. NotFound
  // when there is no such cache yet (the first build of a branch: callers warn and go on, as
  // buildx does); InvalidArgument for a malformed one.
  Result<size_t> Add(const Context& ctx, const CacheSpec& spec);

  // The result stored under `key` in one of the added caches, unpacked into the shared chain
  // snapshots (blobs fetched into the content store first, so that images reuse them), as a
  // record to put under `key`; nullopt when no added cache has the key.
  Result<std::optional<cache::Record>> Fetch(const Context& ctx, const std::string& key);

 private:
  struct Source;
  Result<> EnsureBlob(const Context& ctx, const Source& source, const cache::Layer& layer);

  content::Store& content_;
  snapshot::OverlaySnapshotter& snapshotter_;
  cache::Index& index_;
  std::string root_;
  std::vector<std::unique_ptr<Source>> sources_;
  // key -> (source, record index in its config); the first source added wins.
  std::map<std::string, std::pair<size_t, size_t>> keys_;
};

// A result to export: its cache key and snapshot.
struct CacheResult {
  std::string key;
  std::string snapshot;
  std::string description;
};

// Exports `results` (each with its whole layer chain, layers exported first where they have not
// been) to the cache `spec` names. `root` ($BERTH_ROOT) locates the registry client's config.
// Returns the number of records written.
Result<size_t> ExportCache(const Context& ctx, const ExportEnv& env, const std::string& root,
                           const std::vector<CacheResult>& results, const CacheSpec& spec,
                           std::optional<int64_t> source_date_epoch);

}  // namespace berth::engine
