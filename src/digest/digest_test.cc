#include "digest/digest.h"

#include <gtest/gtest.h>

namespace berth::digest {
namespace {

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(FromBytes("").ToString(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(FromBytes("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, IncrementalEqualsOneShot) {
  Sha256 h;
  h.Update("hello ");
  Digest partial = h.Finish();
  h.Update("world");
  EXPECT_EQ(h.Finish(), FromBytes("hello world"));
  EXPECT_EQ(partial, FromBytes("hello "));
  EXPECT_EQ(h.bytes(), 11u);
}

TEST(DigestTest, Parse) {
  std::string good = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(Digest::Parse(good)->ToString(), good);
  EXPECT_FALSE(Digest::Parse("sha256:abc").ok());
  EXPECT_FALSE(Digest::Parse("md5:" + std::string(32, 'a')).ok());
  EXPECT_FALSE(Digest::Parse("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(Digest::Parse("nocolon").ok());
}

}  // namespace
}  // namespace berth::digest
