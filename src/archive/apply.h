// Layer applier: unpacks an OCI layer tar (uncompressed, gzip or zstd) onto a directory,
// honouring OCI whiteouts. This is how pulled image layers become snapshots.
//
// The tar is untrusted. Nothing is ever created, changed or removed outside the target
// directory, whatever the tar holds:
//   - paths are taken relative to the target (a leading "/" or "./" is dropped, as Docker does);
//     a ".." component anywhere makes the entry hostile;
//   - every parent directory is opened beneath the target without following symlinks
//     (openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or a component-by-component O_NOFOLLOW
//     walk where openat2 is missing), so an entry is never written through a symlink, whether
//     the symlink came from a lower layer or from this tar;
//   - the final component is created with O_CREAT | O_EXCL | O_NOFOLLOW (or mkdirat, symlinkat,
//     mknodat, linkat) after removing what was there, so a planted symlink is replaced, never
//     followed;
//   - hard link targets and whiteouts are resolved by the same rules.
// Hostile entries fail the whole apply with InvalidArgument naming the entry. What was applied
// before stays: apply into a fresh snapshot and discard it on error.
//
// ApplyOptions::follow_symlinks_in_root relaxes the second rule to what containerd and Docker do:
// parents resolve through symlinks, but as if the target were the file system root
// (openat2(RESOLVE_IN_ROOT)), so "/etc" in a symlink means <target>/etc. Still nothing escapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "digest/digest.h"

namespace berth::archive {

struct ApplyOptions {
  // Restore file owners (needs CAP_CHOWN); when false, files belong to the caller. Unset: only
  // when running as root.
  std::optional<bool> preserve_owners;
  // Restore xattrs. Xattrs the file system or the caller's privileges refuse (ENOTSUP, EPERM)
  // are skipped and counted in ApplyStats::xattrs_skipped, as Docker does; trusted.overlay.* and
  // user.overlay.* are always dropped so a layer cannot steer overlayfs.
  bool preserve_xattrs = true;
  // See the file comment. Needs openat2 (Linux 5.6); Unimplemented without it.
  bool follow_symlinks_in_root = false;
};

struct ApplyStats {
  uint64_t entries = 0;         // tar entries read
  uint64_t whiteouts = 0;       // `.wh.` entries among them
  uint64_t file_bytes = 0;      // regular file data written
  uint64_t xattrs_skipped = 0;  // xattrs the file system or privileges refused
  // SHA-256 of the whole uncompressed tar stream: the layer's diff ID, to check against the
  // one an image config (or a cache) claims for it.
  digest::Digest diff_id;
};

// Applies the layer read from `layer` onto the directory `target`. Compression is detected from
// the first bytes (compress::NewReader). Entries replace what is in the target at their path (a
// directory entry over an existing directory only updates its metadata). `.wh.<name>` removes
// <name> from lower layers; `.wh..wh..opq` empties its directory of everything this layer did not
// put there. Modes, mtimes (directories' set last), xattrs and, with preserve_owners, owners are
// restored; regular files, directories, symlinks, hard links, devices and FIFOs are created
// (devices need CAP_MKNOD).
//
// Errors: InvalidArgument for hostile entries (see the file comment) and for entries that
// contradict the tree (a file below a non-directory, a hard link to a missing file); DataLoss for
// corrupt or truncated input; file system errors pass through with the entry named in the
// context; Cancelled/DeadlineExceeded from `ctx` (checked between entries).
Result<ApplyStats> ApplyLayer(const Context& ctx, Reader& layer, const std::string& target,
                              const ApplyOptions& options = {});

}  // namespace berth::archive
