// Image import (`berth image import`, like `docker import`): a root filesystem, as a directory
// or a tar, becomes a one-layer image stored under a name.
//
// The layer goes to the content store in one streaming pass (tar -> SHA-256 diff ID -> compress
// -> content ingest, which hashes the blob); then an OCI image config (the platform, the layer's
// diff ID, one history entry "berth image import", the creation time) and an OCI manifest are
// stored, and the name points at the manifest. Everything written is held by a lease until the
// name protects it, so a concurrent garbage collection cannot take it.
//
// With a SOURCE_DATE_EPOCH the creation time is that instant and no file in the layer has a
// later mtime, so importing the same tree twice gives the same image digest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "compress/compress.h"
#include "content/store.h"
#include "images/store.h"
#include "oci/image.h"
#include "platform/platform.h"

namespace berth::images {

struct ImportOptions {
  // The image's platform; unset means the host's (platform::HostPlatform()).
  std::optional<platform::Platform> platform;
  // Execution defaults recorded in the config (like `docker import --change`).
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  // Seconds since the epoch: the creation time and the latest mtime in the layer. Unset: the
  // creation time is now and mtimes stay as they are. (The CLI fills it from
  // SOURCE_DATE_EPOCH.)
  std::optional<int64_t> source_date_epoch;
  compress::Format compression = compress::Format::kGzip;
  // The history entry's comment, e.g. "imported from rootfs.tar".
  std::string comment;
};

struct ImportResult {
  Image image;  // the stored name; image.target is the manifest
  oci::Descriptor config;
  oci::Descriptor layer;
  digest::Digest diff_id;
  uint64_t uncompressed_size = 0;
};

// Imports `source` (a directory, a tar file, plain or compressed with anything libarchive
// reads, or "-" for a tar on standard input) as the image `name`.
//
// Tar input is untrusted: every entry is rewritten into a canonical layer tar (names relative,
// without "./"; atime/ctime dropped; mtimes clamped to source_date_epoch), and entries whose path
// or hard link target contains a ".." component, or whose name is an OCI whiteout (".wh."), fail
// the import with InvalidArgument naming the entry. Nothing is stored under the name then (the
// partial layer is discarded).
//
// Errors: InvalidArgument for a bad name (a digest reference included: the digest is computed
// here), a bad platform, or input that is not a tar; NotFound when `source` does not exist;
// errors from the content store, the file system and ExportLayer pass through.
Result<ImportResult> Import(const Context& ctx, content::Store& content, Store& images,
                            const std::string& source, std::string_view name,
                            const ImportOptions& options = {});

// The RFC 3339 (UTC, whole seconds) form of `seconds` since the epoch: "2024-01-02T03:04:05Z".
std::string FormatRfc3339(int64_t seconds);

}  // namespace berth::images
