#include "fileop/chmod.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

namespace berth::fileop {
namespace {

uint32_t ApplyMode(const char* spec, uint32_t mode) {
  Result<ModeChange> m = ModeChange::Parse(spec);
  EXPECT_TRUE(m.ok()) << spec;
  return m.ok() ? m->Apply(mode) : 0xffffffff;
}

TEST(ModeChangeTest, Octal) {
  EXPECT_EQ(ApplyMode("0755", S_IFREG | 0600), 0755u);
  EXPECT_EQ(ApplyMode("644", S_IFDIR | 0777), 0644u);
  EXPECT_EQ(ApplyMode("4755", S_IFREG | 0), 04755u);
}

TEST(ModeChangeTest, Symbolic) {
  EXPECT_EQ(ApplyMode("u+x", S_IFREG | 0644), 0744u);
  EXPECT_EQ(ApplyMode("u+x,g-w", S_IFREG | 0664), 0744u);
  EXPECT_EQ(ApplyMode("a=rX", S_IFREG | 0600), 0444u);
  EXPECT_EQ(ApplyMode("a=rX", S_IFREG | 0700), 0555u);
  EXPECT_EQ(ApplyMode("a=rX", S_IFDIR | 0700), 0555u);
  EXPECT_EQ(ApplyMode("go=u", S_IFREG | 0640), 0666u);
  EXPECT_EQ(ApplyMode("+x", S_IFREG | 0644), 0755u);
  EXPECT_EQ(ApplyMode("o-rwx", S_IFREG | 0777), 0770u);
  EXPECT_EQ(ApplyMode("u+s", S_IFREG | 0755), 04755u);
  EXPECT_EQ(ApplyMode("+t", S_IFDIR | 0777), 01777u);
}

TEST(ModeChangeTest, Invalid) {
  for (const char* bad : {"", "0999", "77777", "u", "z+x", "u+x,", "u+q", "u+x;g+w"}) {
    Result<ModeChange> m = ModeChange::Parse(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(m.error().message().find(bad), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::fileop
