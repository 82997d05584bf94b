// Streaming compression for layer blobs: gzip (ISA-L igzip), zstd (libzstd, multi-threaded) and
// pass-through, as Writers that compress into a downstream Writer and a Reader that detects the
// format from magic bytes and decompresses.
//
// Everything streams through buffers allocated once per stream; no blob is ever held whole in
// memory. Levels default to throughput (see DESIGN.md, "Performance principles"): igzip level 1
// and zstd level 1 on two worker threads.
//
// The codec libraries' headers stay inside compress.cc.
#pragma once

#include <memory>
#include <string_view>

#include "base/io.h"
#include "base/result.h"

namespace berth::compress {

enum class Format { kNone, kGzip, kZstd };

// Parses a format name as users and OCI tooling spell it: "gzip", "zstd", and "uncompressed" (or
// "none"). InvalidArgument for anything else.
Result<Format> ParseFormat(std::string_view name);
// "gzip", "zstd" or "uncompressed".
std::string_view FormatName(Format format);
// The format whose magic bytes start `prefix`: gzip needs 2 bytes (1f 8b), zstd 4 (a zstd or
// skippable frame magic number). Anything else, including a too short prefix, is kNone.
Format DetectFormat(std::string_view prefix);

struct WriterOptions {
  // kDefaultLevel picks the format's throughput default. gzip takes gzip's 0-9 scale, mapped
  // onto igzip's four levels (0 -> 0, 1 -> 1, 2..5 -> 2, 6..9 -> 3); zstd takes its own levels
  // (ZSTD_minCLevel() for its fastest negative modes up to 22; 0 means zstd's own default, 3).
  // Out-of-range levels are InvalidArgument.
  static constexpr int kDefaultLevel = -1000;
  int level = kDefaultLevel;
  // zstd worker threads (ZSTD_c_nbWorkers); 0 compresses on the calling thread. gzip ignores it.
  int threads = 2;
};

// Returns a Writer that compresses everything written to it in `format` and writes the result to
// `downstream` (borrowed: it must outlive the returned writer). Close() writes the trailer and
// flushes, but does not close `downstream`. kNone forwards unchanged. The output is a single
// gzip member or zstd frame that `gzip -d` / `zstd -d` read.
// Errors: InvalidArgument for a bad level; Internal if the codec cannot be set up.
Result<std::unique_ptr<Writer>> NewWriter(Format format, Writer& downstream,
                                          const WriterOptions& options = {});

// A Reader that yields the decompressed contents of a borrowed upstream Reader.
class DecompressingReader : public Reader {
 public:
  // The format detected from the first bytes of the upstream.
  virtual Format format() const = 0;
};

// Peeks at the first bytes of `upstream` (borrowed: it must outlive the result), detects the
// format and returns a reader that decompresses it; unrecognised input passes through unchanged.
// gzip input may hold several members (as `cat a.gz b.gz` makes) and trailing zero padding; zstd
// input may hold several frames. Read() fails with DataLoss on corrupt or truncated input
// (including a bad gzip CRC or length) and never returns 0 before the encoded stream has ended
// cleanly. Errors from `upstream` pass through.
Result<std::unique_ptr<DecompressingReader>> NewReader(Reader& upstream);

}  // namespace berth::compress
