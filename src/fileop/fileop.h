// File operations of the build graph: executes graph::FileOp actions (copy, mkdir, mkfile, rm,
// symlink) on a mounted snapshot, with the semantics of Dockerfile COPY/ADD under BuildKit.
//
// Every path an action names is resolved inside a root directory as if that directory were the
// file system root (openat2(RESOLVE_IN_ROOT)): a symlink "/etc/x" in a source means
// <source root>/etc/x. Below a copied selection nothing is followed at all: symlinks are copied
// as symlinks, and every file is opened beneath its directory with O_NOFOLLOW. So nothing is
// ever read from outside a source root or written outside the destination root, whatever
// symlinks the build context or an image holds.
//
// Semantics (BuildKit's file backend and tonistiigi/fsutil's copy):
//   - a source is a path or, with allow_wildcard, a glob ('*', '?', "[...]") matched one path
//     component at a time below its first non-wildcard directory;
//   - a directory source copies its contents (dir_copy_contents) into the destination; a file
//     source lands inside the destination when that is an existing directory or ends in "/",
//     and is renamed to it otherwise;
//   - parents (COPY --parents) keeps the matched path below the destination; "/./" in the
//     source marks where the kept part starts ("a/./b/c" keeps "b/c");
//   - include/exclude patterns (patternmatcher semantics) filter entries by their path relative
//     to the selected source;
//   - owners: an explicit chown wins (resolved against the destination's /etc/passwd and
//     /etc/group; a bare numeric user gives uid:uid as BuildKit does); otherwise files from a
//     SourceRoot with reset_owners (the build context) become 0:0 and other sources keep theirs;
//   - chmod (octal or symbolic) applies to every copied file and directory, not to symlinks;
//   - hard links within one copy stay hard links; xattrs are copied; mtimes are kept, or set to
//     the action's timestamp, and then clamped to FileOpEnv::source_date_epoch if given;
//   - attempt_unpack (ADD): a source file that is a tar (plain, gzip, bzip2, xz, zstd) is
//     extracted into the destination directory without whiteout processing; hostile entries
//     ("..", paths through symlinks) fail the action.
//
// Errors: NotFound naming a missing source path or unmatched glob; InvalidArgument for an
// unknown user or group, a bad chmod, a hostile archive entry, or a file that would replace a
// directory; file system errors pass through with the path in the message. Actions are not
// atomic: apply them to a fresh snapshot and discard it on error.
//
// Thread-safety: the functions are reentrant; concurrent actions on the same destination root
// race as the underlying file system calls do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "graph/graph.h"

namespace berth::fileop {

// A directory a copy reads from.
struct SourceRoot {
  std::string path;  // "" = scratch (an empty file system)
  // Files copied from here belong to 0:0 unless the action has a chown: BuildKit's local
  // context transfer does not keep host owners.
  bool reset_owners = false;
};

struct FileOpEnv {
  std::string dest_root;            // writable directory the actions change
  std::vector<SourceRoot> sources;  // by Op input index (CopyAction::src_input)
  // When set, no mtime written is later than this Unix time.
  std::optional<int64_t> source_date_epoch;
};

// Applies one action to env.dest_root.
Result<> Apply(const Context& ctx, const graph::FileAction& action, const FileOpEnv& env);

// Applies op.actions in order, stopping at the first error (named by its index in the context).
Result<> ApplyFileOp(const Context& ctx, const graph::FileOp& op, const FileOpEnv& env);

}  // namespace berth::fileop
