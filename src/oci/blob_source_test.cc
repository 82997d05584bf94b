#include "oci/blob_source.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oci/media_types.h"
#include "os/file.h"

namespace berth::oci {
namespace {

using ::testing::HasSubstr;

// A source that serves whatever bytes it was given under any digest: for corrupt-blob tests.
class LyingSource final : public BlobSource {
 public:
  void Put(const digest::Digest& d, std::string data) { blobs_[d] = std::move(data); }
  Result<std::unique_ptr<Reader>> Open(const digest::Digest& d) override {
    auto it = blobs_.find(d);
    if (it == blobs_.end()) {
      return Error::NotFound("no " + d.ToString());
    }
    return std::unique_ptr<Reader>(std::make_unique<StringReader>(it->second));
  }

 private:
  std::map<digest::Digest, std::string> blobs_;
};

Result<std::string> ReadThrough(std::unique_ptr<Reader> inner, const digest::Digest& d,
                                int64_t size) {
  VerifyingReader r(std::move(inner), d, size);
  return ReadAll(r);
}

TEST(VerifyingReaderTest, PassesGoodContent) {
  digest::Digest d = digest::FromBytes("hello");
  Result<std::string> r = ReadThrough(std::make_unique<StringReader>("hello"), d, 5);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, "hello");
  EXPECT_TRUE(ReadThrough(std::make_unique<StringReader>("hello"), d, -1).ok());
}

TEST(VerifyingReaderTest, RejectsWrongDigestAndSize) {
  digest::Digest d = digest::FromBytes("hello");
  Result<std::string> wrong = ReadThrough(std::make_unique<StringReader>("hellO"), d, 5);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(wrong.error().message(), HasSubstr("content has digest"));

  Result<std::string> longer = ReadThrough(std::make_unique<StringReader>("hello!"), d, 5);
  ASSERT_FALSE(longer.ok());
  EXPECT_EQ(longer.error().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(longer.error().message(), HasSubstr("larger than its size 5"));

  Result<std::string> shorter = ReadThrough(std::make_unique<StringReader>("hell"), d, 5);
  ASSERT_FALSE(shorter.ok());
  EXPECT_THAT(shorter.error().message(), HasSubstr("has 4 bytes, want 5"));
}

TEST(ReadBlobTest, VerifiesAndParses) {
  MemoryBlobSource blobs;
  Manifest m;
  m.media_type = std::string(kMediaTypeImageManifest);
  m.config = blobs.Add(kMediaTypeImageConfig, "{}");
  Descriptor md = blobs.Add(kMediaTypeImageManifest, Serialize(m));
  Result<Manifest> back = ReadManifest(blobs, md);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, m);

  // The config is "{}", not an image config: the error names the blob and the field.
  Result<ImageConfig> bad = ReadImageConfig(blobs, m.config);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().ToString(), HasSubstr(m.config.digest.ToString()));
  EXPECT_THAT(bad.error().ToString(), HasSubstr("architecture: required field missing"));

  Descriptor missing = DescribeBlob(kMediaTypeImageManifest, "absent");
  EXPECT_EQ(ReadManifest(blobs, missing).error().code(), ErrorCode::kNotFound);

  Descriptor too_big = md;
  too_big.size = static_cast<int64_t>(kMaxDocumentSize) + 1;
  EXPECT_EQ(ReadBlob(blobs, too_big).error().code(), ErrorCode::kResourceExhausted);

  Descriptor wrong_size = md;
  wrong_size.size -= 1;
  EXPECT_EQ(ReadBlob(blobs, wrong_size).error().code(), ErrorCode::kDataLoss);
}

TEST(ReadBlobTest, CorruptSourceIsDataLoss) {
  LyingSource source;
  Descriptor d = DescribeBlob(kMediaTypeImageManifest, "the real content");
  source.Put(d.digest, "the fake content");  // same size, other bytes
  Result<std::string> r = ReadBlob(source, d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
}

TEST(ResolveManifestTest, FollowsNestedIndexes) {
  MemoryBlobSource blobs;
  Manifest amd64;
  amd64.media_type = std::string(kMediaTypeImageManifest);
  amd64.config = blobs.Add(kMediaTypeImageConfig, "{\"a\":1}");
  Manifest arm64 = amd64;
  arm64.config = blobs.Add(kMediaTypeImageConfig, "{\"a\":2}");
  Descriptor amd64_d = blobs.Add(kMediaTypeImageManifest, Serialize(amd64));
  Descriptor arm64_d = blobs.Add(kMediaTypeImageManifest, Serialize(arm64));
  amd64_d.platform = Platform{{"linux", "amd64", ""}, "", {}};
  arm64_d.platform = Platform{{"linux", "arm64", "v8"}, "", {}};

  Index inner;
  inner.media_type = std::string(kMediaTypeImageIndex);
  inner.manifests = {amd64_d, arm64_d};
  Descriptor inner_d = blobs.Add(kMediaTypeImageIndex, Serialize(inner));
  Index outer;
  outer.media_type = std::string(kMediaTypeImageIndex);
  outer.manifests = {inner_d};
  Descriptor outer_d = blobs.Add(kMediaTypeImageIndex, Serialize(outer));

  platform::Platform want{"linux", "aarch64", ""};
  Result<Descriptor> got = ResolveManifest(blobs, outer_d, PlatformMatcher::Compatible(want));
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->digest, arm64_d.digest);
  // A manifest resolves to itself.
  EXPECT_EQ(ResolveManifest(blobs, amd64_d, PlatformMatcher::Compatible(want))->digest,
            amd64_d.digest);
  // No s390x anywhere.
  Result<Descriptor> none =
      ResolveManifest(blobs, outer_d, PlatformMatcher::Compatible({"linux", "s390x", ""}));
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  // A layer is not something to resolve.
  EXPECT_EQ(ResolveManifest(blobs, amd64.config, PlatformMatcher::Compatible(want)).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(DirBlobSourceTest, OpensFilesByDigest) {
  std::string root = ::testing::TempDir() + "berth-oci-dirblobs";
  std::filesystem::remove_all(root);
  ASSERT_TRUE(os::MakeDirs(root + "/sha256").ok());
  DirBlobSource source(root);
  digest::Digest d = digest::FromBytes("blob");
  ASSERT_TRUE(os::WriteFileAtomic(source.PathOf(d), "blob").ok());
  Result<std::unique_ptr<Reader>> r = source.Open(d);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ReadAll(**r).value(), "blob");
  EXPECT_EQ(source.Open(digest::FromBytes("other")).error().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace berth::oci
