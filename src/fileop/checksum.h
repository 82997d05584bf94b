// Content checksums of selected paths, for the cache keys of File copy ops (DESIGN.md, Cache
// keys): the digest changes when the content, name, type, mode, owner, size, link target or
// security.capability of any selected entry changes, and does not change with mtimes, atimes
// or the order in which the directory lists its entries.
//
// The selection is resolved exactly as a copy resolves it (fileop.h): in the root, symlinks
// below the selection never followed, nothing read from outside the root.
#pragma once

#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "digest/digest.h"

namespace berth::fileop {

struct ChecksumOptions {
  bool follow_symlinks = true;  // for the selected path itself, inside the root
  bool wildcard = true;         // the selector may be a glob
  std::vector<std::string> include_patterns;
  std::vector<std::string> exclude_patterns;
  // Leave owners out (for the build context, whose owners a copy resets to 0:0).
  bool ignore_owners = false;
};

// A digest over the entries selected by `selector` (a path or glob relative to `root`).
// Streams file contents (never a whole file in memory); hashes files on two threads.
// Errors: NotFound for a missing path or a glob without matches; file system errors.
Result<digest::Digest> Checksum(const Context& ctx, const std::string& root,
                                const std::string& selector, const ChecksumOptions& options = {});

}  // namespace berth::fileop
