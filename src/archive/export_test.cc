#include "archive/export.h"

#include <string>

#include <gtest/gtest.h>

#include "archive/apply.h"
#include "archive/testing/tree.h"
#include "compress/compress.h"
#include "digest/digest.h"

namespace berth::archive {
namespace {

using testing::DescribeTree;
using testing::MakeDir;
using testing::TempDir;
using testing::WriteFile;

// A tree of `files` files with mixed compressible and random-looking content.
void MakeTree(const std::string& root, int files) {
  MakeDir(root);
  uint64_t x = 42;
  for (int d = 0; d < 4; ++d) {
    std::string dir = root + "/d" + std::to_string(d);
    MakeDir(dir);
    for (int i = 0; i < files / 4; ++i) {
      std::string data;
      size_t size = (i * 7919) % 50000;
      data.reserve(size);
      for (size_t k = 0; k < size; ++k) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        data += (k / 64) % 2 == 0 ? static_cast<char>(x >> 56) : static_cast<char>('a' + k % 7);
      }
      WriteFile(dir + "/f" + std::to_string(i), data);
    }
  }
}

std::string Decompress(const std::string& blob) {
  StringReader in(blob);
  auto reader = compress::NewReader(in);
  EXPECT_TRUE(reader.ok());
  auto all = ReadAll(**reader, 1 << 30);
  EXPECT_TRUE(all.ok()) << all.error().ToString();
  return *all;
}

// A sink that fails after `limit` bytes.
class FailingWriter final : public Writer {
 public:
  explicit FailingWriter(size_t limit) : limit_(limit) {}
  Result<> Write(std::string_view data) override {
    written_ += data.size();
    if (written_ > limit_) {
      return Error(ErrorCode::kResourceExhausted, "disk full (test)");
    }
    return {};
  }
  Result<> Close() override { return {}; }

 private:
  size_t limit_;
  size_t written_ = 0;
};

TEST(ExportTest, DigestsAndSizesDescribeTheBlob) {
  TempDir t;
  std::string root = t / "root";
  MakeTree(root, 120);
  StringWriter plain;
  ASSERT_TRUE(WriteLayerTar(Context::Background(), root, plain).ok());

  for (compress::Format format :
       {compress::Format::kGzip, compress::Format::kZstd, compress::Format::kNone}) {
    SCOPED_TRACE(compress::FormatName(format));
    ExportOptions options;
    options.compression = format;
    // Small buffers and a short queue exercise the hand-over between the threads.
    options.buffer_size = 4096;
    options.queue_buffers = 2;
    StringWriter sink;
    Result<ExportedLayer> layer = ExportLayer(Context::Background(), root, sink, options);
    ASSERT_TRUE(layer.ok()) << layer.error().ToString();
    EXPECT_EQ(layer->diff_id, digest::FromBytes(plain.data()));
    EXPECT_EQ(layer->uncompressed_size, plain.data().size());
    EXPECT_EQ(layer->blob_digest, digest::FromBytes(sink.data()));
    EXPECT_EQ(layer->compressed_size, sink.data().size());
    EXPECT_EQ(layer->tar.entries, 124u);
    EXPECT_FALSE(sink.closed());  // the caller owns the sink
    EXPECT_EQ(Decompress(sink.data()), plain.data());
    if (format == compress::Format::kNone) {
      EXPECT_EQ(layer->blob_digest, layer->diff_id);
    } else {
      EXPECT_LT(layer->compressed_size, layer->uncompressed_size);
    }

    std::string dst = t / ("dst-" + std::string(compress::FormatName(format)));
    MakeDir(dst);
    StringReader blob(sink.data());
    Result<ApplyStats> applied = ApplyLayer(Context::Background(), blob, dst);
    ASSERT_TRUE(applied.ok()) << applied.error().ToString();
    EXPECT_EQ(DescribeTree(dst), DescribeTree(root));
  }
}

TEST(ExportTest, SinkFailureStopsBothThreads) {
  TempDir t;
  std::string root = t / "root";
  MakeTree(root, 200);
  for (size_t limit : {size_t{0}, size_t{10000}, size_t{300000}}) {
    FailingWriter sink(limit);
    ExportOptions options;
    options.buffer_size = 4096;
    options.queue_buffers = 2;
    options.compression = compress::Format::kNone;
    Result<ExportedLayer> layer = ExportLayer(Context::Background(), root, sink, options);
    ASSERT_FALSE(layer.ok());
    EXPECT_EQ(layer.error().code(), ErrorCode::kResourceExhausted) << layer.error().ToString();
  }
}

TEST(ExportTest, TarFailureStopsBothThreads) {
  StringWriter sink;
  Result<ExportedLayer> layer = ExportLayer(Context::Background(), "/nonexistent/dir", sink);
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.error().code(), ErrorCode::kNotFound);

  TempDir t;
  std::string root = t / "root";
  MakeTree(root, 40);
  Context ctx = Context::Background().WithCancel();
  ctx.Cancel("user pressed ^C");
  layer = ExportLayer(ctx, root, sink);
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.error().code(), ErrorCode::kCancelled);
}

TEST(ExportTest, BadCompressionLevelFailsUpFront) {
  TempDir t;
  StringWriter sink;
  ExportOptions options;
  options.compression_options.level = 99;
  Result<ExportedLayer> layer = ExportLayer(Context::Background(), t.path(), sink, options);
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::archive
