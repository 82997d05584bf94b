#include "snapshot/mount.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "archive/testing/tree.h"
#include "gtest/gtest.h"

namespace berth::snapshot {
namespace {

using archive::testing::TempDir;
using archive::testing::WriteFile;

bool IsMountPoint(const std::string& path) {
  struct stat a {};
  struct stat b {};
  if (::stat(path.c_str(), &a) != 0 || ::stat((path + "/..").c_str(), &b) != 0) {
    return false;
  }
  return a.st_dev != b.st_dev;
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "mount(2) needs root";
    }
  }
};

TEST_F(MountTest, TmpfsMountsAndUnmounts) {
  TempDir dir;
  std::string target = dir / "m";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  {
    Result<ScopedMount> m = MountAll({Mount{"tmpfs", "tmpfs", {"size=1m", "mode=755"}}}, target);
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    EXPECT_TRUE(IsMountPoint(target));
    WriteFile(target + "/x", "y");
    ASSERT_TRUE(m->Unmount().ok());
    EXPECT_FALSE(IsMountPoint(target));
    EXPECT_FALSE(m->mounted());
  }
  EXPECT_FALSE(IsMountPoint(target));
}

TEST_F(MountTest, DestructorUnmounts) {
  TempDir dir;
  std::string target = dir / "m";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  {
    Result<ScopedMount> m = MountAll({Mount{"tmpfs", "tmpfs", {}}}, target);
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    ScopedMount moved = std::move(*m);
    EXPECT_TRUE(IsMountPoint(target));
  }
  EXPECT_FALSE(IsMountPoint(target));
}

TEST_F(MountTest, ReadOnlyBindRefusesWrites) {
  TempDir dir;
  std::string source = dir / "src";
  std::string target = dir / "dst";
  ASSERT_EQ(::mkdir(source.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  WriteFile(source + "/file", "data");
  Result<ScopedMount> m = MountAll({Mount{"bind", source, {"rbind", "ro"}}}, target);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(archive::testing::ReadFileOrEmpty(target + "/file"), "data");
  int fd = ::open((target + "/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  ASSERT_TRUE(m->Unmount().ok());
}

TEST_F(MountTest, FailedMountLeavesNothingMounted) {
  TempDir dir;
  std::string target = dir / "m";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  Result<ScopedMount> m = MountAll(
      {Mount{"tmpfs", "tmpfs", {}}, Mount{"overlay", "overlay", {"lowerdir=/nonexistent-x"}}},
      target);
  ASSERT_FALSE(m.ok());
  EXPECT_FALSE(IsMountPoint(target));
}

TEST_F(MountTest, RefusesOptionsLongerThanAPage) {
  TempDir dir;
  Result<> r =
      MountAt(Mount{"overlay", "overlay", {"lowerdir=" + std::string(5000, 'a')}}, dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::snapshot
