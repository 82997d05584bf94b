#include "os/file.h"

#include <stdlib.h>

#include <gtest/gtest.h>

namespace berth::os {
namespace {

TEST(FileTest, WriteReadRoundTrip) {
  char tmpl[] = "/tmp/berth-file-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c").ok());
  std::string path = dir + "/a/b/c/f";
  ASSERT_TRUE(WriteFileAtomic(path, "hello").ok());
  EXPECT_EQ(ReadFile(path).value(), "hello");
  ASSERT_TRUE(WriteFileAtomic(path, "again").ok());
  EXPECT_EQ(ReadFile(path).value(), "again");
  Result<std::string> missing = ReadFile(dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  std::string cmd = "rm -rf " + dir;
  ASSERT_EQ(system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace berth::os
