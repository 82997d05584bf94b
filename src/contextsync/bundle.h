// The upload bundle: the file contents a client sends after the server named what it lacks, as
// one zstd-compressed stream (see contextsync.h for the protocol).
//
// Inside the compression, the stream is framed:
//   "BCTXSYN1"                                   magic and version (8 bytes)
//   'F' <32-byte sha256> <u64 LE size> <bytes>    one record per file, each digest at most once
//   'E' <u64 LE file count> <u64 LE byte count>   end, followed by nothing
// The reader knows from the manifest which digests it asked for and their sizes, so it never
// takes more bytes than it expects, and it verifies each file's digest before the file enters
// the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "contextsync/file_store.h"
#include "contextsync/manifest.h"
#include "digest/digest.h"

namespace berth::contextsync {

struct BundleStats {
  uint64_t files = 0;            // file records sent or received
  uint64_t bytes = 0;            // their content bytes, uncompressed
  uint64_t wire_bytes = 0;       // bytes of the compressed stream
  uint64_t already_present = 0;  // received files the store had meanwhile (a concurrent sync)
  std::vector<digest::Digest> digests;  // the digests sent or received, in stream order
};

struct BundleOptions {
  // zstd level (compress::WriterOptions); the throughput default when unset.
  int level = -1000;
  // zstd worker threads.
  int threads = 2;
};

// Client side. Writes the contents of the manifest's files whose digests are in `wanted` (read
// from `dir`, each digest once) as a compressed bundle to `out` (borrowed; not closed).
// Each file is opened beneath `dir` without following any symlink and must still hash to its
// manifest digest.
// Errors: InvalidArgument when `wanted` names a digest the manifest has no file for;
// FailedPrecondition when a file changed since the scan (scan again); errno errors of reads;
// the errors of `out`. After an error `out` holds an incomplete bundle, which readers reject.
Result<BundleStats> WriteBundle(const Context& ctx, const std::string& dir,
                                const Manifest& manifest, const std::vector<digest::Digest>& wanted,
                                Writer& out, const BundleOptions& options = {});

// Server side. Reads a bundle from `in` (compressed with zstd, or not compressed at all) and
// ingests every file into `store`, verifying its digest. `expected` are the digests the server
// lacks (what FileStore::Missing returns); their sizes come from `manifest`. Every record must
// be a file of the manifest, at most once, with the manifest's size, and all of `expected` must
// arrive; a record of the manifest not in `expected` is taken too (another upload of the same
// context stored it after this client asked what was missing). A file enters the store only once
// complete and verified; a truncated or corrupt bundle leaves no partial file behind, though files
// verified before the fault stay. Errors: InvalidArgument for an `expected` digest the manifest has
// no file for; DataLoss for a malformed, truncated or unexpected record, a digest mismatch,
// trailing data or missing files; Cancelled when `ctx` is.
Result<BundleStats> ReadBundle(const Context& ctx, Reader& in, FileStore& store,
                               const Manifest& manifest,
                               const std::vector<digest::Digest>& expected);

}  // namespace berth::contextsync
