// Layer tar writer: turns a directory tree (a plain directory or an overlayfs upper directory)
// into an OCI layer tar, streamed to a Writer.
//
// The output is a PAX tar (ustar headers, PAX extended headers only where ustar cannot hold a
// field: long or non-ASCII names, xattrs as SCHILY.xattr.*, large ids or sizes), the format
// Docker and containerd write. Entries come in a depth-first walk with each directory's children
// sorted bytewise by their name in the tar, so the same tree always gives the same bytes; with
// a SOURCE_DATE_EPOCH the mtimes are clamped to it as well. The root directory itself is not an
// entry (as in Docker's and containerd's layer diffs). Names carry no "./" prefix; directories
// end in "/".
//
// The walk opens every directory and file relative to its parent's descriptor with O_NOFOLLOW,
// so a tree changing under the writer can make it fail but never makes it read outside `dir`.
// Files are streamed through buffers reused for the whole tar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"

namespace berth::archive {

enum class SourceLayout {
  // Every file is what it is.
  kDirectory,
  // An overlayfs upper directory: a 0:0 character device is a whiteout (written as an empty
  // regular file `.wh.<name>`), a directory with the xattr trusted.overlay.opaque=y (or
  // user.overlay.opaque=y) is opaque (written with a `<dir>/.wh..wh..opq` entry right after the
  // directory), and user.overlay.* xattrs are dropped like trusted.overlay.* ones.
  kOverlayUpper,
};

struct TarOptions {
  SourceLayout layout = SourceLayout::kDirectory;
  // SOURCE_DATE_EPOCH (seconds): mtimes later than this are written as this. Unset keeps them.
  // Either way mtimes are truncated to whole seconds (as Docker does) and atime/ctime are never
  // written, so two runs over an unchanged tree give identical bytes.
  std::optional<int64_t> source_date_epoch;
};

struct TarStats {
  uint64_t entries = 0;    // tar entries written, whiteouts included
  uint64_t whiteouts = 0;  // `.wh.` entries among them (overlay whiteouts and opaque markers)
  uint64_t bytes = 0;      // bytes written to the output
};

// Writes the layer tar of the tree under `dir` to `out`. Does not Close() `out` (its owner
// does). Regular files, directories, symlinks, hard links (the second and later paths of an
// inode become hard link entries to the first), character and block devices and FIFOs are
// written with their mode, uid/gid, mtime and xattrs (including security.capability; never
// trusted.overlay.*). Sockets are skipped, as in Docker.
//
// Errors: NotFound or InvalidArgument if `dir` is not a directory; InvalidArgument for a file
// whose name starts with ".wh." (reserved for whiteouts); Unimplemented for overlay uppers that
// need their lower layers (trusted.overlay.redirect or trusted.overlay.metacopy); Aborted when a
// file changes under the walk; errors from `out` and from the file system pass through;
// Cancelled/DeadlineExceeded from `ctx` (checked between entries). After an error `out` holds an
// incomplete tar.
Result<TarStats> WriteLayerTar(const Context& ctx, const std::string& dir, Writer& out,
                               const TarOptions& options = {});

// Reads SOURCE_DATE_EPOCH from the environment: nullopt when unset or empty, InvalidArgument
// when it is not a non-negative decimal integer.
Result<std::optional<int64_t>> SourceDateEpochFromEnv();

}  // namespace berth::archive
