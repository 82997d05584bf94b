// The cache export document: what `--cache-to` writes and `--cache-from` reads.
//
// An exported cache is an OCI image manifest whose config blob (media type kMediaTypeCacheConfig)
// is a CacheConfig and whose layers are every layer blob the config names, so that a registry
// keeps them alive and an OCI layout holds them. Layers are the same blobs images are made of
// (gzip tars of snapshots), shared with the build's images wherever they are the same.
//
// A record maps one solver cache key to its result: the chain of layers, bottom first, whose
// stack is the result's file system. Keys do not depend on the machine (see DESIGN.md, "Cache
// keys"), so a record made on one machine is a hit on another.
//
// The config is untrusted input (any registry or directory a user names): ParseCacheConfig
// checks every field, bounds the sizes, and its errors name the field.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cache/index.h"

namespace berth::cache {

inline constexpr std::string_view kMediaTypeCacheConfig =
    "application/vnd.berth.cache.config.v1+json";

// One exported result.
struct ExportedRecord {
  std::string key;            // the solver's cache key
  std::vector<size_t> chain;  // indexes into CacheConfig::layers, bottom first; not empty
  std::string description;    // the step, as `berth cache ls` shows it (informative)

  friend bool operator==(const ExportedRecord&, const ExportedRecord&) = default;
};

struct CacheConfig {
  std::vector<Layer> layers;  // media type, digest, size and diff id of each layer blob
  std::vector<ExportedRecord> records;

  friend bool operator==(const CacheConfig&, const CacheConfig&) = default;
};

// Bounds on what a parsed config may hold.
inline constexpr size_t kMaxCacheLayers = 100000;
inline constexpr size_t kMaxCacheRecords = 100000;
inline constexpr size_t kMaxCacheKeyLength = 4096;

// JSON with keys in a fixed order: {"layers": [{"mediaType","digest","size","diffID"}],
// "records": [{"key","layers": [indexes],"description"}]}.
std::string SerializeCacheConfig(const CacheConfig& config);

// InvalidArgument naming the field ("records[3].layers[1]: no layer 12") for anything malformed:
// bad JSON, a missing or mistyped field, a bad digest, a negative size, an index out of range,
// an empty chain or key, a duplicate key, more than the bounds above.
Result<CacheConfig> ParseCacheConfig(std::string_view json);

}  // namespace berth::cache
