// libFuzzer target for the format-detecting decompressor (compress::NewReader), which reads every
// layer blob pulled from a registry or found in an image archive: untrusted input.
//
// Two checks per input:
//   1. The input itself is decompressed in small and odd-sized reads. Besides crashes, hangs and
//      sanitizer reports (libFuzzer's -rss_limit_mb and -malloc_limit_mb catch allocations
//      without bound), the target traps when corrupt input fails with anything but DataLoss, when
//      input in no known format does not pass through unchanged, or when reading goes on after
//      the decoder reported its end. Output beyond kMaxOutput (a decompression bomb) stops the
//      read: memory must stay bounded however much a stream expands.
//   2. For one input in two (chosen by its first byte, which also picks the format and level),
//      the input taken as plain data is compressed with gzip or zstd and must decompress back to
//      exactly itself. Setting up a compressor costs several times a decompression, so doing this
//      for every input would slow the search down sevenfold.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/io.h"
#include "compress/compress.h"

namespace {

namespace compress = berth::compress;

constexpr size_t kMaxOutput = size_t{256} << 20;

void Check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

// Decompresses `input`, reading with buffer sizes that cycle through awkward values. Returns the
// output when the stream ended cleanly.
std::optional<std::string> Decompress(std::string_view input, bool keep_output) {
  berth::ViewReader upstream(input);
  berth::Result<std::unique_ptr<compress::DecompressingReader>> reader =
      compress::NewReader(upstream);
  if (!reader.ok()) {
    Check(reader.error().code() == berth::ErrorCode::kDataLoss);
    return std::nullopt;
  }
  static constexpr size_t kSizes[] = {1, 7, 4096, 65536, 3, 131072};
  std::string out;
  std::string buf(131072, '\0');
  size_t total = 0;
  for (size_t i = 0;; ++i) {
    size_t want = kSizes[i % std::size(kSizes)];
    berth::Result<size_t> n = (*reader)->Read(buf.data(), want);
    if (!n.ok()) {
      Check(n.error().code() == berth::ErrorCode::kDataLoss);
      Check(!n.error().message().empty());
      return std::nullopt;
    }
    Check(*n <= want);
    if (*n == 0) {
      // The end is sticky.
      berth::Result<size_t> again = (*reader)->Read(buf.data(), 16);
      Check(again.ok() && *again == 0);
      break;
    }
    total += *n;
    if (keep_output) {
      out.append(buf.data(), *n);
    }
    if (total > kMaxOutput) {
      return std::nullopt;  // a bomb: stopping here is the caller's defence, and it worked
    }
  }
  if ((*reader)->format() == compress::Format::kNone) {
    Check(total == input.size());
    Check(!keep_output || out == input);
  }
  return out;
}

void RoundTrip(std::string_view data, compress::Format format, int level) {
  berth::StringWriter compressed;
  compress::WriterOptions options;
  options.level = level;
  options.threads = 0;
  berth::Result<std::unique_ptr<berth::Writer>> writer =
      compress::NewWriter(format, compressed, options);
  Check(writer.ok());
  // Written in two pieces so the stream state carries across writes.
  size_t half = data.size() / 2;
  Check((*writer)->Write(data.substr(0, half)).ok());
  Check((*writer)->Write(data.substr(half)).ok());
  Check((*writer)->Close().ok());
  berth::ViewReader upstream(compressed.data());
  berth::Result<std::unique_ptr<compress::DecompressingReader>> reader =
      compress::NewReader(upstream);
  Check(reader.ok());
  // Empty zstd output still holds a frame header; empty gzip a member header.
  Check((*reader)->format() == format);
  std::optional<std::string> back = Decompress(compressed.data(), true);
  Check(back.has_value() && *back == data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)Decompress(input, size < (size_t{1} << 20));
  int selector = size > 0 ? data[0] : 0;
  switch (selector % 4) {
    case 0:
      RoundTrip(input, compress::Format::kGzip, (selector / 4) % 10);
      break;
    case 1:
      RoundTrip(input, compress::Format::kZstd, (selector / 4) % 2 == 0 ? 1 : -1);
      break;
    default:
      break;
  }
  return 0;
}
