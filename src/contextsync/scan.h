// Scan: builds the Manifest of a context directory on the client, the first step of an
// incremental context sync (see contextsync.h).
//
// The walk never follows a symlink (a symlink is an entry, its target a string) and so never
// leaves the root; sockets, FIFOs and devices are skipped, as BuildKit's context transfer does.
// .dockerignore patterns apply with moby/patternmatcher's rules, including '!' re-includes:
// an excluded directory is still walked when a later '!' pattern names something below it, and
// appears in the manifest only if something below it does.
//
// Files are hashed on a small thread pool. A stat cache in a caller-given directory remembers,
// per path, (size, mtime, ctime, inode, device) -> digest, so that a re-scan of an unchanged
// context opens no file. Any change of those fields rehashes. Entries changed too recently to
// be told apart by their timestamps (git's "racily clean" problem) are not cached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "contextsync/manifest.h"

namespace berth::contextsync {

struct ScanOptions {
  // Where the stat cache lives (created if missing); empty: no cache, every file is hashed.
  // One cache file per context directory (keyed by its real path). Keep it outside the
  // context, or .dockerignore it: the scan would list its temporary file.
  std::string cache_dir;
  // Threads hashing files.
  size_t hash_threads = 2;
};

struct ScanStats {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;         // total size of the files in the manifest
  uint64_t hashed_files = 0;  // files read and hashed in this scan
  uint64_t hashed_bytes = 0;
  uint64_t cache_hits = 0;       // files whose digest came from the stat cache
  uint64_t skipped_special = 0;  // sockets, FIFOs, devices left out
  uint64_t excluded = 0;         // entries .dockerignore left out (excluded directories count 1)
};

// Walks `dir` and returns its manifest. `excludes` are .dockerignore patterns as
// patternmatcher::ReadIgnoreFile returns them. `stats`, if not null, receives counts.
// Errors: InvalidArgument for a bad pattern or a path beyond the manifest limits; the errno
// error of a file that cannot be read (with its path); Cancelled when `ctx` is. A stat cache
// that cannot be read or written never fails the scan (it is rebuilt).
Result<Manifest> Scan(const Context& ctx, const std::string& dir,
                      const std::vector<std::string>& excludes, const ScanOptions& options = {},
                      ScanStats* stats = nullptr);

}  // namespace berth::contextsync
