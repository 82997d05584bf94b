// berth-compress-bench FILE [gzip|zstd|uncompressed ...]: measures compression and
// decompression throughput of FILE (read through the page cache) for each format, hashing the
// output as an export does. Build it in a Release tree; sanitizer builds measure nothing useful.
#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/io.h"
#include "compress/compress.h"
#include "digest/hashing_writer.h"

namespace berth {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

Result<> Run(const std::string& path, compress::Format format) {
  std::vector<char> buf(kDefaultBufferSize);
  // Compress: file -> compressor -> sha256 -> discard.
  digest::HashingWriter hash;
  auto start = std::chrono::steady_clock::now();
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
  double compress_s = Seconds(start);

  // Decompress from memory: compressed bytes -> reader -> sha256.
  StringWriter compressed;
  {
    FdReader file(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
    std::unique_ptr<Writer> w = BERTH_TRY(compress::NewWriter(format, compressed));
    BERTH_TRY(Copy(*w, file, buf));
    BERTH_TRY(w->Close());
  }
  StringReader source(compressed.Take());
  start = std::chrono::steady_clock::now();
  std::unique_ptr<compress::DecompressingReader> r = BERTH_TRY(compress::NewReader(source));
  digest::HashingWriter out_hash;
  uint64_t out_bytes = BERTH_TRY(Copy(out_hash, *r, buf));
  double decompress_s = Seconds(start);
  if (out_bytes != in_bytes) {
    return Error::Internal("round trip lost bytes");
  }
  std::printf(
      "%-12s in %7.1f MB  out %7.1f MB (%5.1f%%)  compress %7.1f MB/s  decompress %7.1f MB/s\n",
      std::string(compress::FormatName(format)).c_str(), in_bytes / 1e6, hash.bytes() / 1e6,
      100.0 * hash.bytes() / in_bytes, in_bytes / 1e6 / compress_s, in_bytes / 1e6 / decompress_s);
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
