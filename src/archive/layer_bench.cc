// berth-layer-bench: exports a directory as a layer and compares the throughput with the peer
// pipeline `tar -c DIR | igzip -1 > /dev/null` (or `zstd -1 -T2`) in the same run.
//
//   berth-layer-bench DIR [gzip|zstd] [runs]
//
// Prints MB/s of uncompressed tar per second (MB = 10^6 bytes) for: the two-thread ExportLayer,
// the same chain on one thread, and the peer shell pipeline; the best of `runs` (default 3)
// after one warm-up run that fills the page cache. Build it in a Release tree.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "archive/export.h"
#include "archive/tar_writer.h"
#include "compress/compress.h"
#include "digest/hashing_writer.h"

namespace {

using berth::Context;
using berth::Result;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The same chain as ExportLayer on the calling thread alone: the baseline the pipeline beats.
Result<uint64_t> ExportOneThread(const std::string& dir, berth::compress::Format format) {
  berth::DiscardWriter sink;
  berth::digest::HashingWriter blob(sink);
  auto compressor = BERTH_TRY(berth::compress::NewWriter(format, blob));
  berth::digest::HashingWriter diff(*compressor);
  BERTH_TRY(berth::archive::WriteLayerTar(Context::Background(), dir, diff));
  BERTH_TRY(compressor->Close());
  return diff.bytes();
}

double TimeShell(const std::string& command) {
  Clock::time_point start = Clock::now();
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe, cert-env33-c)
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "peer command failed: %s\n", command.c_str());
    return -1;
  }
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [gzip|zstd] [runs]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  auto format = berth::compress::ParseFormat(argc > 2 ? argv[2] : "gzip");
  if (!format.ok() || *format == berth::compress::Format::kNone) {
    std::fprintf(stderr, "format must be gzip or zstd\n");
    return 2;
  }
  int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  std::string peer =
      "tar -cf - -C '" + dir + "' . | " +
      (*format == berth::compress::Format::kGzip ? "igzip -1 -c" : "zstd -1 -T2 -c") +
      " > /dev/null";

  berth::archive::ExportOptions options;
  options.compression = *format;
  double best_export = 1e9, best_single = 1e9, best_peer = 1e9;
  berth::archive::ExportedLayer layer;
  for (int i = 0; i <= runs; ++i) {  // run 0 warms the page cache
    berth::DiscardWriter sink;
    Clock::time_point start = Clock::now();
    auto exported = berth::archive::ExportLayer(Context::Background(), dir, sink, options);
    double t = Seconds(start);
    if (!exported.ok()) {
      std::fprintf(stderr, "error: %s\n", exported.error().ToString().c_str());
      return 1;
    }
    layer = *exported;
    start = Clock::now();
    auto single = ExportOneThread(dir, *format);
    double t1 = Seconds(start);
    if (!single.ok()) {
      std::fprintf(stderr, "error: %s\n", single.error().ToString().c_str());
      return 1;
    }
    double tp = TimeShell(peer);
    if (i > 0) {
      best_export = std::min(best_export, t);
      best_single = std::min(best_single, t1);
      if (tp > 0) {
        best_peer = std::min(best_peer, tp);
      }
    }
  }
  double mb = static_cast<double>(layer.uncompressed_size) / 1e6;
  std::printf("layer: %.1f MB tar, %.1f MB %s, %llu entries\n", mb,
              static_cast<double>(layer.compressed_size) / 1e6,
              std::string(berth::compress::FormatName(*format)).c_str(),
              static_cast<unsigned long long>(layer.tar.entries));
  std::printf("  diff_id %s\n  blob    %s\n", layer.diff_id.ToString().c_str(),
              layer.blob_digest.ToString().c_str());
  std::printf("berth ExportLayer (2 threads, tar+sha256+%s+sha256): %.3f s  %.0f MB/s\n",
              std::string(berth::compress::FormatName(*format)).c_str(), best_export,
              mb / best_export);
  std::printf("berth same chain on 1 thread:                       %.3f s  %.0f MB/s\n",
              best_single, mb / best_single);
  std::printf("peer `%s`: %.3f s  %.0f MB/s (no hashing)\n", peer.c_str(), best_peer,
              mb / best_peer);
  std::printf("ratio berth/peer: %.2fx\n", best_peer / best_export);
  return 0;
}
