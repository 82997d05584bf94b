// One-pass layer export: tree -> tar -> SHA-256 (diff ID) -> compress -> SHA-256 (blob digest)
// -> sink, the export path of DESIGN.md's "stream, don't stage".
//
// Two threads share the work: the calling thread walks the tree, writes the tar and hashes it;
// a second thread compresses, hashes the compressed bytes and writes them to the sink. A bounded
// queue of reused buffers sits between them, so memory stays at a few MiB whatever the layer's
// size and both cores stay busy (compression is the slower half).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "archive/tar_writer.h"
#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "compress/compress.h"
#include "digest/digest.h"

namespace berth::archive {

struct ExportOptions {
  TarOptions tar;
  compress::Format compression = compress::Format::kGzip;
  compress::WriterOptions compression_options;
  // The queue between the two threads: `queue_buffers` buffers of `buffer_size` bytes (4 MiB by
  // default: enough slack that the compressing thread keeps going while the tar thread is
  // descheduled on a busy machine, small enough to stay in L3).
  size_t buffer_size = kDefaultBufferSize;
  size_t queue_buffers = 16;
};

struct ExportedLayer {
  digest::Digest diff_id;      // SHA-256 of the uncompressed tar
  digest::Digest blob_digest;  // SHA-256 of the bytes written to the sink
  uint64_t uncompressed_size = 0;
  uint64_t compressed_size = 0;
  TarStats tar;
};

// Exports the tree under `dir` as a compressed layer blob written to `sink`, which it does not
// Close() (the caller owns it; a content store ingester, say, commits it against blob_digest).
// Blocks until done. Errors: as WriteLayerTar() and compress::NewWriter(), plus the sink's; on
// any error both threads stop promptly and the sink holds an incomplete blob.
Result<ExportedLayer> ExportLayer(const Context& ctx, const std::string& dir, Writer& sink,
                                  const ExportOptions& options = {});

}  // namespace berth::archive
