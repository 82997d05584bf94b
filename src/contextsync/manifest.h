// Manifest: the list of entries of a build context after .dockerignore, the first message of an
// incremental context sync (see contextsync.h for the protocol).
//
// An entry is a path relative to the context root, its type (file, directory, symlink), its
// permission bits, and for files the size and SHA-256 of the content, for symlinks the target.
// Owners are not kept (BuildKit resets context files to 0:0) and neither are mtimes, so that
// touching a file without changing it changes nothing.
//
// Entries are sorted in walk order: by path, comparing '/'-separated components in turn
// (ManifestLess), so a directory comes right before everything below it. Every entry's parent is
// the root or a directory entry of the same manifest; a symlink is never a parent.
//
// A manifest arriving from a client is untrusted: ParseManifestJson validates every field
// (ValidateManifest) before anyone looks at a path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "digest/digest.h"

namespace berth::contextsync {

// Bounds on what a manifest may hold, so that a hostile one cannot exhaust memory or disk.
inline constexpr size_t kMaxEntries = 1'000'000;
inline constexpr size_t kMaxPathLength = 4096;                // bytes, like PATH_MAX
inline constexpr size_t kMaxNameLength = 255;                 // bytes per component, like NAME_MAX
inline constexpr size_t kMaxLinkTargetLength = 4096;          // bytes
inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 40;   // 1 TiB per file
inline constexpr uint64_t kMaxTotalSize = uint64_t{1} << 44;  // 16 TiB per context
inline constexpr size_t kMaxManifestJsonBytes = size_t{512} << 20;

enum class EntryType { kFile, kDir, kSymlink };

// "file", "dir" or "symlink".
std::string_view EntryTypeName(EntryType type);

struct Entry {
  // Relative to the context root, '/'-separated, clean: no "", ".", ".." components, no leading
  // or trailing '/', no NUL.
  std::string path;
  EntryType type = EntryType::kFile;
  // Permission bits with setuid, setgid and sticky (mode & 07777).
  uint32_t mode = 0;
  // Files: the content's size and SHA-256. Zero and empty for the other types.
  uint64_t size = 0;
  digest::Digest digest;
  // Symlinks: the target as stored in the link, any string (never followed here).
  std::string link_target;

  friend bool operator==(const Entry& a, const Entry& b) = default;
};

struct Manifest {
  std::vector<Entry> entries;

  friend bool operator==(const Manifest& a, const Manifest& b) = default;
};

// The walk order: compares component by component, i.e. byte-wise with '/' below every other
// byte, so "a" < "a/b" < "a-b".
bool ManifestLess(std::string_view a, std::string_view b);

// Checks one path: non-empty, relative, clean, no NUL, within the length limits.
// Errors: InvalidArgument naming the problem.
Result<> ValidatePath(std::string_view path);

// Checks a whole manifest: every entry (paths, modes, sizes within limits, sha256 digests on
// files and only on files, the empty-content digest on empty files, non-empty symlink targets
// without NUL), strictly increasing ManifestLess order (so no duplicates), every parent a
// directory entry, and the entry count and total size within limits.
// Errors: InvalidArgument naming the entry and the problem.
Result<> ValidateManifest(const Manifest& manifest);

// The manifest as compact JSON:
//   {"version":1,"entries":[{"path":"src","type":"dir","mode":493},
//     {"path":"src/a.c","type":"file","mode":420,"size":12,"digest":"sha256:..."},
//     {"path":"link","type":"symlink","mode":511,"target":"src/a.c"}]}
// A path or target that is not valid UTF-8 is written as "path_hex" / "target_hex" (the bytes in
// lower-case hex) instead, so that every file name survives the round trip.
std::string ManifestToJson(const Manifest& manifest);

// Parses and validates (ValidateManifest) a manifest sent by a client. Unknown fields, a
// missing or unknown version, wrong types and anything ValidateManifest refuses are rejected.
// Errors: InvalidArgument with the entry index and field.
Result<Manifest> ParseManifestJson(std::string_view json);

// The distinct digests of the non-empty files, in manifest order.
std::vector<digest::Digest> FileDigests(const Manifest& manifest);

// The paths of the manifest's files whose content is one of `digests` (every path of a content
// that occurs twice), in manifest order: what a build record lists as the files sent.
std::vector<std::string> PathsWithDigests(const Manifest& manifest,
                                          const std::vector<digest::Digest>& digests);

// The SHA-256 of ManifestToJson(manifest): equal for equal manifests, so it names a context
// state (to reuse a materialized tree, or in a build record).
digest::Digest ManifestDigest(const Manifest& manifest);

// The SHA-256 of empty content.
const digest::Digest& EmptyDigest();

}  // namespace berth::contextsync
