// berth-compress-bench FILE [gzip|zstd|uncompressed ...]: measures compression and
// decompression throughput of FILE (read through the page cache) for each format, hashing the
// output as an export does. Build it in a Release tree; sanitizer builds measure nothing useful.
#include <fcntl.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/io.h"
#include "compress/compress.h"
#include "digest/hashing_writer.h"

namespace berth {
namespace {

// Wall-clock and process CPU time (all threads, so zstd's workers count).
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = CpuSeconds();

  static double CpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
  double WallSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  }
  double CpuSecondsSince() const { return CpuSeconds() - cpu; }
};

Result<> Run(const std::string& path, compress::Format format) {
  std::vector<char> buf(kDefaultBufferSize);
  // Compress: file -> compressor -> sha256 -> discard.
  digest::HashingWriter hash;
  Timer compress_timer;
  uint64_t in_bytes = 0;
  {
    FdReader file(BERTH_TRY(([&]() -> Result<UniqueFd> {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        return Error::FromErrno("open " + path, errno);
      }
      return UniqueFd(fd);
    })()));
    std::unique_ptr<Writer> w = BERTH_TRY(compress::NewWriter(format, hash));
    in_bytes = BERTH_TRY(Copy(*w, file, buf));
    BERTH_TRY(w->Close());
  }
  double compress_wall = compress_timer.WallSeconds();
  double compress_cpu = compress_timer.CpuSecondsSince();

  // Decompress from memory: compressed bytes -> reader -> sha256.
  StringWriter compressed;
  {
    FdReader file(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
    std::unique_ptr<Writer> w = BERTH_TRY(compress::NewWriter(format, compressed));
    BERTH_TRY(Copy(*w, file, buf));
    BERTH_TRY(w->Close());
  }
  StringReader source(compressed.Take());
  Timer decompress_timer;
  std::unique_ptr<compress::DecompressingReader> r = BERTH_TRY(compress::NewReader(source));
  digest::HashingWriter out_hash;
  uint64_t out_bytes = BERTH_TRY(Copy(out_hash, *r, buf));
  double decompress_wall = decompress_timer.WallSeconds();
  double decompress_cpu = decompress_timer.CpuSecondsSince();
  if (out_bytes != in_bytes) {
    return Error::Internal("round trip lost bytes");
  }
  double mb = static_cast<double>(in_bytes) / 1e6;
  std::printf(
      "%-12s %6.1f MB -> %6.1f MB (%5.1f%%)  compress %6.1f MB/s wall %6.1f MB/s per CPU-s"
      "  decompress %6.1f MB/s wall %6.1f MB/s per CPU-s\n",
      std::string(compress::FormatName(format)).c_str(), mb,
      static_cast<double>(hash.bytes()) / 1e6,
      100.0 * static_cast<double>(hash.bytes()) / static_cast<double>(in_bytes), mb / compress_wall,
      mb / compress_cpu, mb / decompress_wall, mb / decompress_cpu);
  return {};
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [gzip|zstd|uncompressed ...]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> formats(argv + 2, argv + argc);
  if (formats.empty()) {
    formats = {"gzip", "zstd"};
  }
  for (const std::string& name : formats) {
    berth::Result<berth::compress::Format> format = berth::compress::ParseFormat(name);
    if (!format.ok()) {
      std::fprintf(stderr, "error: %s\n", format.error().ToString().c_str());
      return 2;
    }
    berth::Result<> r = berth::Run(argv[1], *format);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
      return 1;
    }
  }
  return 0;
}
