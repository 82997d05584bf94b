// Internal to fileop: the pieces Apply() and Checksum() are built from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "base/context.h"
#include "base/result.h"
#include "fileop/fileop.h"
#include "graph/graph.h"

namespace berth::fileop::internal {

using Owner = std::pair<uint32_t, uint32_t>;

// The uid:gid a chown names, resolved against <dest_root>/etc/passwd and /etc/group as
// BuildKit does (a bare numeric user gives uid:uid). nullopt when there is no chown.
Result<std::optional<Owner>> ResolveChown(const std::optional<graph::ChownOpt>& chown,
                                          const std::string& dest_root);

Result<> Copy(const Context& ctx, const graph::CopyAction& action, const FileOpEnv& env);

struct UnpackOptions {
  std::optional<Owner> owner;        // replaces the owners the tar records
  std::optional<int64_t> timestamp;  // replaces the mtimes the tar records
  std::optional<int64_t> source_date_epoch;
};

// Whether the regular file open as `fd` (O_PATH is enough) is a tar archive, possibly
// compressed.
Result<bool> IsTarArchive(int fd);

// Extracts the tar in `fd` into the directory `dest_dir` without whiteout processing.
// Errors: InvalidArgument for an entry that would leave `dest_dir` ("..", a path through a
// symlink, a hard link to outside); DataLoss for a corrupt archive.
Result<> ExtractTar(const Context& ctx, int fd, int dest_dir, const UnpackOptions& options);

}  // namespace berth::fileop::internal
