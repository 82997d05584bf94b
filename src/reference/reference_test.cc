#include "reference/reference.h"

#include <gtest/gtest.h>

namespace berth::reference {
namespace {

std::string Norm(const std::string& s) {
  Result<Reference> r = ParseNormalized(s);
  return r.ok() ? r->String() : "error: " + r.error().message();
}

TEST(ReferenceTest, NormalisesLikeDocker) {
  EXPECT_EQ(Norm("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Norm("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(Norm("library/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Norm("user/app"), "docker.io/user/app:latest");
  EXPECT_EQ(Norm("index.docker.io/user/app"), "docker.io/user/app:latest");
  EXPECT_EQ(Norm("localhost:5000/app:v1"), "localhost:5000/app:v1");
  EXPECT_EQ(Norm("localhost/app"), "localhost/app:latest");
  EXPECT_EQ(Norm("ghcr.io/o/r/deep:t"), "ghcr.io/o/r/deep:t");
  std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(Norm("busybox@" + d), "docker.io/library/busybox@" + d);
  EXPECT_EQ(Norm("busybox:1@" + d), "docker.io/library/busybox:1@" + d);
}

TEST(ReferenceTest, Familiar) {
  EXPECT_EQ(ParseNormalized("busybox")->Familiar(), "busybox:latest");
  EXPECT_EQ(ParseNormalized("user/app:1")->Familiar(), "user/app:1");
  EXPECT_EQ(ParseNormalized("localhost:5000/a")->Familiar(), "localhost:5000/a:latest");
}

TEST(ReferenceTest, RejectsBadInput) {
  for (const char* bad : {"", "BusyBox", "busybox:", "busybox@sha256:abc", "a//b", "-a", "a:b:c",
                          "busybox:-x", "UPPER/app"}) {
    EXPECT_FALSE(ParseNormalized(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace berth::reference
