#include "digest/hashing_writer.h"

#include <gtest/gtest.h>

namespace berth::digest {
namespace {

TEST(HashingWriterTest, ForwardsAndHashes) {
  StringWriter sink;
  HashingWriter w(sink);
  ASSERT_TRUE(w.Write("hello ").ok());
  ASSERT_TRUE(w.Write("").ok());
  ASSERT_TRUE(w.Write("world").ok());
  ASSERT_TRUE(w.Close().ok());
  EXPECT_EQ(sink.data(), "hello world");
  EXPECT_FALSE(sink.closed());  // Wrappers never close what they wrap.
  EXPECT_EQ(w.digest(), FromBytes("hello world"));
  EXPECT_EQ(w.bytes(), 11u);
  EXPECT_FALSE(w.Write("more").ok());
}

TEST(HashingWriterTest, DigestOnlySink) {
  HashingWriter w;
  EXPECT_EQ(w.digest().ToString(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_TRUE(w.Write("abc").ok());
  EXPECT_EQ(w.digest().hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// A downstream that fails: the failed bytes must not reach the digest.
class FailingWriter final : public Writer {
 public:
  Result<> Write(std::string_view) override { return Error::Unavailable("disk on fire"); }
  Result<> Close() override { return {}; }
};

TEST(HashingWriterTest, DownstreamErrorPropagatesAndIsNotHashed) {
  FailingWriter sink;
  HashingWriter w(sink);
  Result<> r = w.Write("abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(w.bytes(), 0u);
}

}  // namespace
}  // namespace berth::digest
