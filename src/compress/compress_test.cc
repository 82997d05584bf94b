#include "compress/compress.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "digest/hashing_writer.h"

namespace berth::compress {
namespace {

// Deterministic test data: alternating 64 KiB runs of pseudo-random bytes (incompressible) and
// of text-like lines (compressible), handed out at most `chunk` bytes per Read(). The bytes
// depend only on their position, not on how they are read.
class PatternReader final : public Reader {
 public:
  static constexpr uint64_t kRun = 64 * 1024;

  PatternReader(uint64_t size, size_t chunk) : size_(size), chunk_(chunk) {}

  Result<size_t> Read(char* buf, size_t size) override {
    size_t n = static_cast<size_t>(std::min<uint64_t>({size, chunk_, size_ - pos_}));
    for (size_t done = 0; done < n;) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n - done, kRun - pos_ % kRun));
      if ((pos_ / kRun) % 2 == 0) {
        FillRandom(buf + done, k);
      } else {
        std::memcpy(buf + done, Text().data() + pos_ % kRun, k);
      }
      done += k;
      pos_ += k;
    }
    return n;
  }

 private:
  static uint64_t SplitMix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }

  void FillRandom(char* out, size_t k) {
    uint64_t p = pos_;
    while (k > 0) {
      uint64_t word = SplitMix(p / 8);
      size_t skip = p % 8;
      size_t take = std::min(k, 8 - skip);
      std::memcpy(out, reinterpret_cast<const char*>(&word) + skip, take);
      out += take;
      p += take;
      k -= take;
    }
  }

  static const std::string& Text() {
    static const std::string text = [] {
      std::string t;
      for (int i = 0; t.size() < kRun; ++i) {
        t += "usr/lib/x86_64-linux-gnu/libfoo.so." + std::to_string(i % 97) + " 0644 root\n";
      }
      t.resize(kRun);
      return t;
    }();
    return text;
  }

  uint64_t size_;
  size_t chunk_;
  uint64_t pos_ = 0;
};

// Serves a string at most `chunk` bytes per Read(), to exercise short reads upstream.
class TrickleReader final : public Reader {
 public:
  TrickleReader(std::string_view data, size_t chunk) : data_(data), chunk_(chunk) {}
  Result<size_t> Read(char* buf, size_t size) override {
    size_t n = std::min({size, chunk_, data_.size() - pos_});
    data_.copy(buf, n, pos_);
    pos_ += n;
    return n;
  }

 private:
  std::string_view data_;
  size_t chunk_;
  size_t pos_ = 0;
};

class FailingWriter final : public Writer {
 public:
  Result<> Write(std::string_view) override { return Error::Unavailable("downstream gone"); }
  Result<> Close() override { return {}; }
};

std::string Compress(Format format, std::string_view data, size_t write_chunk = 4096,
                     const WriterOptions& options = {}) {
  StringWriter sink;
  Result<std::unique_ptr<Writer>> w = NewWriter(format, sink, options);
  EXPECT_TRUE(w.ok()) << w.error().ToString();
  if (!w.ok()) {
    return "";
  }
  while (!data.empty()) {
    size_t n = std::min(write_chunk, data.size());
    EXPECT_TRUE((*w)->Write(data.substr(0, n)).ok());
    data.remove_prefix(n);
  }
  EXPECT_TRUE((*w)->Close().ok());
  EXPECT_FALSE(sink.closed());
  return sink.Take();
}

// Decompresses `data` reading `read_chunk` bytes per call from an upstream that returns at most
// `upstream_chunk` bytes per call.
Result<std::string> Decompress(std::string_view data, size_t read_chunk = 4096,
                               size_t upstream_chunk = SIZE_MAX, Format* format = nullptr) {
  TrickleReader upstream(data, upstream_chunk);
  std::unique_ptr<DecompressingReader> r = BERTH_TRY(NewReader(upstream));
  if (format != nullptr) {
    *format = r->format();
  }
  std::string out;
  std::vector<char> buf(read_chunk);
  for (;;) {
    size_t n = BERTH_TRY(r->Read(buf.data(), buf.size()));
    if (n == 0) {
      return out;
    }
    out.append(buf.data(), n);
  }
}

std::string SmallData() {
  PatternReader src(1024 * 1024 + 17, SIZE_MAX);
  return *ReadAll(src);
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/berth-compress-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)::system(("rm -rf " + path).c_str()); }
  std::string path;
};

bool WriteFile(const std::string& path, std::string_view data) {
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return false;
  }
  bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
  return fclose(f) == 0 && ok;
}

std::string ReadFileOrEmpty(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return "";
  }
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    out.append(buf, n);
  }
  fclose(f);
  return out;
}

const Format kCompressed[] = {Format::kGzip, Format::kZstd};
const Format kAll[] = {Format::kNone, Format::kGzip, Format::kZstd};

TEST(FormatTest, ParseAndName) {
  EXPECT_EQ(*ParseFormat("gzip"), Format::kGzip);
  EXPECT_EQ(*ParseFormat("zstd"), Format::kZstd);
  EXPECT_EQ(*ParseFormat("uncompressed"), Format::kNone);
  EXPECT_EQ(*ParseFormat("none"), Format::kNone);
  Result<Format> bad = ParseFormat("lz4");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ParseFormat("GZIP").ok());
  for (Format f : kAll) {
    EXPECT_EQ(*ParseFormat(FormatName(f)), f);
  }
}

TEST(FormatTest, DetectFromMagic) {
  EXPECT_EQ(DetectFormat("\x1f\x8b"), Format::kGzip);
  EXPECT_EQ(DetectFormat(std::string_view("\x28\xb5\x2f\xfd", 4)), Format::kZstd);
  EXPECT_EQ(DetectFormat(std::string_view("\x50\x2a\x4d\x18", 4)), Format::kZstd);  // skippable
  EXPECT_EQ(DetectFormat(std::string_view("\x28\xb5\x2f", 3)), Format::kNone);
  EXPECT_EQ(DetectFormat("\x1f"), Format::kNone);
  EXPECT_EQ(DetectFormat(""), Format::kNone);
  EXPECT_EQ(DetectFormat("ustar"), Format::kNone);
  for (Format f : kAll) {
    EXPECT_EQ(DetectFormat(Compress(f, "some content")), f) << FormatName(f);
  }
}

TEST(CompressTest, SmallRoundTripsThroughOddBuffers) {
  const std::string inputs[] = {"", "x", "hello, world\n", SmallData()};
  for (Format f : kAll) {
    for (const std::string& input : inputs) {
      for (size_t write_chunk : {size_t{1}, size_t{7}, size_t{65536}}) {
        if (write_chunk < 16 && input.size() > 100'000) {
          continue;
        }
        std::string compressed = Compress(f, input, write_chunk);
        for (auto [read_chunk, upstream_chunk] :
             {std::pair<size_t, size_t>{1, SIZE_MAX}, {3, 1}, {4093, 17}, {1 << 20, SIZE_MAX}}) {
          if (read_chunk < 16 && input.size() > 100'000) {
            continue;
          }
          Format detected = Format::kNone;
          Result<std::string> out = Decompress(compressed, read_chunk, upstream_chunk, &detected);
          ASSERT_TRUE(out.ok()) << FormatName(f) << ": " << out.error().ToString();
          EXPECT_TRUE(*out == input) << FormatName(f) << " size " << input.size() << " chunks "
                                     << write_chunk << "/" << read_chunk << "/" << upstream_chunk;
          // The empty stream is detected as what it is only when it has a header.
          if (!(f == Format::kNone)) {
            EXPECT_EQ(detected, f);
          }
        }
      }
    }
  }
}

TEST(CompressTest, CompressesCompressibleData) {
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += "line " + std::to_string(i % 100) + " of a very repetitive file\n";
  }
  for (Format f : kCompressed) {
    std::string c = Compress(f, text);
    EXPECT_LT(c.size() * 10, text.size()) << FormatName(f);
  }
}

// 64 MiB streamed through odd-sized buffers in both directions, compared by digest.
TEST(CompressTest, LargeStreamRoundTrip) {
  constexpr uint64_t kSize = 64ull << 20;
  for (Format f : kAll) {
    StringWriter compressed;
    digest::Digest original;
    {
      Result<std::unique_ptr<Writer>> w = NewWriter(f, compressed);
      ASSERT_TRUE(w.ok());
      digest::HashingWriter hash_in(**w);
      PatternReader src(kSize, 100'003);
      std::vector<char> buf(65'537);
      Result<uint64_t> n = Copy(hash_in, src, buf);
      ASSERT_TRUE(n.ok()) << n.error().ToString();
      ASSERT_EQ(*n, kSize);
      ASSERT_TRUE((*w)->Close().ok());
      original = hash_in.digest();
    }
    if (f != Format::kNone) {
      // Half the data is random, half compresses well.
      EXPECT_LT(compressed.data().size(), kSize * 3 / 4) << FormatName(f);
    }
    TrickleReader upstream(compressed.data(), 99'991);
    Result<std::unique_ptr<DecompressingReader>> r = NewReader(upstream);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->format(), f);
    digest::HashingWriter hash_out;
    std::vector<char> buf(12'345);
    Result<uint64_t> n = Copy(hash_out, **r, buf);
    ASSERT_TRUE(n.ok()) << FormatName(f) << ": " << n.error().ToString();
    EXPECT_EQ(*n, kSize);
    EXPECT_EQ(hash_out.digest(), original) << FormatName(f);
  }
}

TEST(CompressTest, AllGzipLevelsRoundTrip) {
  std::string data = SmallData();
  for (int level = 0; level <= 9; ++level) {
    WriterOptions options;
    options.level = level;
    std::string c = Compress(Format::kGzip, data, 65536, options);
    Result<std::string> out = Decompress(c);
    ASSERT_TRUE(out.ok()) << "level " << level << ": " << out.error().ToString();
    EXPECT_TRUE(*out == data) << "level " << level;
  }
}

TEST(CompressTest, ZstdLevelsAndSingleThread) {
  std::string data = SmallData();
  for (int level : {-5, 1, 3, 9}) {
    for (int threads : {0, 2}) {
      WriterOptions options;
      options.level = level;
      options.threads = threads;
      std::string c = Compress(Format::kZstd, data, 65536, options);
      Result<std::string> out = Decompress(c);
      ASSERT_TRUE(out.ok()) << level << "/" << threads << ": " << out.error().ToString();
      EXPECT_TRUE(*out == data);
    }
  }
}

TEST(CompressTest, BadOptionsAreInvalidArgument) {
  StringWriter sink;
  WriterOptions options;
  options.level = 10;
  Result<std::unique_ptr<Writer>> w = NewWriter(Format::kGzip, sink, options);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), ErrorCode::kInvalidArgument);
  options.level = 100;
  w = NewWriter(Format::kZstd, sink, options);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), ErrorCode::kInvalidArgument);
  options.level = WriterOptions::kDefaultLevel;
  options.threads = -1;
  EXPECT_FALSE(NewWriter(Format::kZstd, sink, options).ok());
}

TEST(CompressTest, WriteAfterCloseAndDownstreamErrors) {
  for (Format f : kAll) {
    StringWriter sink;
    std::unique_ptr<Writer> w = NewWriter(f, sink).value();
    ASSERT_TRUE(w->Write("abc").ok());
    ASSERT_TRUE(w->Close().ok());
    ASSERT_TRUE(w->Close().ok());
    Result<> r = w->Write("more");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);

    FailingWriter failing;
    std::unique_ptr<Writer> w2 = NewWriter(f, failing).value();
    // Compressors buffer, so the failure shows on a later write or at Close().
    Result<> result = w2->Write(SmallData());
    if (result.ok()) {
      result = w2->Close();
    }
    ASSERT_FALSE(result.ok()) << FormatName(f);
    EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  }
}

TEST(CompressTest, SystemToolsReadOurOutput) {
  TempDir dir;
  std::string data = SmallData();
  struct Case {
    Format format;
    const char* tool;
  };
  for (Case c : {Case{Format::kGzip, "gzip -dc"}, Case{Format::kZstd, "zstd -q -dc"}}) {
    std::string in = dir.path + "/in";
    std::string out = dir.path + "/out";
    ASSERT_TRUE(WriteFile(in, Compress(c.format, data)));
    std::string cmd = std::string(c.tool) + " < " + in + " > " + out;
    ASSERT_EQ(::system(cmd.c_str()), 0) << cmd;
    EXPECT_TRUE(ReadFileOrEmpty(out) == data) << c.tool;
  }
  // gzip -t checks the stream's CRC and length fields too.
  ASSERT_TRUE(WriteFile(dir.path + "/t.gz", Compress(Format::kGzip, data)));
  EXPECT_EQ(::system(("gzip -t " + dir.path + "/t.gz").c_str()), 0);
}

TEST(CompressTest, WeReadSystemToolsOutput) {
  TempDir dir;
  std::string data = SmallData();
  std::string file = dir.path + "/layer.tar";
  ASSERT_TRUE(WriteFile(file, data));
  // gzip stores the file name (FNAME) in the header when it compresses a named file.
  for (const char* cmd :
       {"gzip -c -6 %s > %s.out", "gzip -c -1 -n %s > %s.out", "zstd -q -c -3 %s > %s.out",
        "zstd -q -c -19 --long=27 %s > %s.out", "zstd -q -c --no-check %s > %s.out"}) {
    char buf[512];
    snprintf(buf, sizeof(buf), cmd, file.c_str(), file.c_str());
    ASSERT_EQ(::system(buf), 0) << buf;
    std::string compressed = ReadFileOrEmpty(file + ".out");
    Result<std::string> out = Decompress(compressed, 8191, 5000);
    ASSERT_TRUE(out.ok()) << buf << ": " << out.error().ToString();
    EXPECT_TRUE(*out == data) << buf;
  }
}

TEST(CompressTest, MultiMemberGzipAndMultiFrameZstd) {
  TempDir dir;
  std::string a = "first part\n";
  std::string b = SmallData();
  std::string file = dir.path + "/c";
  ASSERT_TRUE(WriteFile(file, "third part, from gzip(1)\n"));
  ASSERT_EQ(::system(("gzip " + file).c_str()), 0);
  std::string from_gzip = ReadFileOrEmpty(file + ".gz");
  ASSERT_FALSE(from_gzip.empty());

  std::string gz = Compress(Format::kGzip, a) + Compress(Format::kGzip, "") +
                   Compress(Format::kGzip, b) + from_gzip;
  std::string zst = Compress(Format::kZstd, a) + Compress(Format::kZstd, b);
  for (auto [read_chunk, upstream_chunk] :
       {std::pair<size_t, size_t>{4096, SIZE_MAX}, {1000, 1}, {77, 13}}) {
    if (upstream_chunk == 1) {
      // One byte at a time through the whole MiB would be slow: use the small members only.
      Result<std::string> small = Decompress(
          Compress(Format::kGzip, a) + Compress(Format::kGzip, "xyz") + from_gzip, read_chunk, 1);
      ASSERT_TRUE(small.ok()) << small.error().ToString();
      EXPECT_EQ(*small, a + "xyz" + "third part, from gzip(1)\n");
      continue;
    }
    Result<std::string> out = Decompress(gz, read_chunk, upstream_chunk);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    EXPECT_TRUE(*out == a + b + "third part, from gzip(1)\n");
    out = Decompress(zst, read_chunk, upstream_chunk);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    EXPECT_TRUE(*out == a + b);
  }
  // gzip(1) output agrees with the concatenation.
  ASSERT_TRUE(WriteFile(dir.path + "/multi.gz", gz));
  ASSERT_EQ(::system(("gzip -dc " + dir.path + "/multi.gz > " + dir.path + "/multi").c_str()), 0);
  EXPECT_TRUE(ReadFileOrEmpty(dir.path + "/multi") == a + b + "third part, from gzip(1)\n");
}

TEST(CompressTest, GzipTrailingZerosAcceptedGarbageRejected) {
  std::string gz = Compress(Format::kGzip, "payload");
  Result<std::string> padded = Decompress(gz + std::string(1024, '\0'));
  ASSERT_TRUE(padded.ok()) << padded.error().ToString();
  EXPECT_EQ(*padded, "payload");

  for (std::string tail :
       {std::string("garbage"), std::string("\0\0x", 3), std::string("\x1f", 1)}) {
    Result<std::string> r = Decompress(gz + tail);
    ASSERT_FALSE(r.ok()) << tail.size();
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
  }
  Result<std::string> z = Decompress(Compress(Format::kZstd, "payload") + "garbage");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().code(), ErrorCode::kDataLoss);
}

// Every strict prefix of a compressed stream long enough to be recognised is an error.
TEST(CompressTest, TruncatedInputIsDataLoss) {
  std::string data = "truncate me " + std::string(5000, 'q') + "end";
  for (Format f : kCompressed) {
    std::string c = Compress(f, data);
    for (size_t len = 4; len < c.size(); ++len) {
      for (size_t upstream_chunk : {size_t{1}, SIZE_MAX}) {
        Result<std::string> r = Decompress(std::string_view(c).substr(0, len), 64, upstream_chunk);
        ASSERT_FALSE(r.ok()) << FormatName(f) << " prefix " << len << " of " << c.size();
        EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
      }
    }
  }
  // The header alone is too short for a gzip trailer.
  Result<std::string> r = Decompress(std::string("\x1f\x8b\x08\x00", 4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
}

// Flipping any byte after the gzip header, or anywhere in a zstd frame, yields an error or (for
// fields that do not affect the content, e.g. a zstd window size) exactly the original data:
// never different data, never a crash.
TEST(CompressTest, CorruptionIsDetected) {
  std::string data;
  for (int i = 0; i < 1500; ++i) {
    data += "entry " + std::to_string(i * 7919 % 1000) + "\n";
  }
  for (Format f : kCompressed) {
    std::string c = Compress(f, data);
    size_t first = f == Format::kGzip ? 10 : 4;  // gzip MTIME/XFL/OS are not covered by checks.
    size_t errors = 0;
    for (size_t pos = first; pos < c.size(); ++pos) {
      std::string bad = c;
      bad[pos] = static_cast<char>(bad[pos] ^ (pos % 2 == 0 ? 0x01 : 0x80));
      Result<std::string> r = Decompress(bad);
      if (r.ok()) {
        EXPECT_TRUE(*r == data) << FormatName(f) << " flip at " << pos << " gave other data";
      } else {
        EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
        ++errors;
      }
    }
    EXPECT_GT(errors, (c.size() - first) * 3 / 4) << FormatName(f);
  }
}

TEST(CompressTest, GzipChecksumAndLengthAreVerified) {
  std::string c = Compress(Format::kGzip, "checked content");
  std::string bad_crc = c;
  bad_crc[c.size() - 8] = static_cast<char>(bad_crc[c.size() - 8] ^ 0x55);
  Result<std::string> r = Decompress(bad_crc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("CRC"), std::string::npos) << r.error().message();
  std::string bad_len = c;
  bad_len[c.size() - 1] = 0x7f;
  r = Decompress(bad_len);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("length"), std::string::npos) << r.error().message();
}

TEST(CompressTest, UncompressedPassesThrough) {
  for (std::string input : {std::string(""), std::string("a"), std::string("\x1f", 1),
                            std::string("plain tar bytes"), SmallData()}) {
    Format f = Format::kGzip;
    Result<std::string> out = Decompress(input, 1000, 333, &f);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(f, Format::kNone);
    EXPECT_TRUE(*out == input);
  }
}

}  // namespace
}  // namespace berth::compress
