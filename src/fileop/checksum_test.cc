#include "fileop/checksum.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "archive/testing/tree.h"

namespace berth::fileop {
namespace {

using archive::testing::MakeDir;
using archive::testing::SetMtime;
using archive::testing::TempDir;
using archive::testing::WriteFile;

void Populate(const TempDir& d, bool reverse = false) {
  MakeDir(d / "src");
  MakeDir(d / "src/sub");
  std::vector<std::string> names = {"a.txt", "b.txt", "c.log", "d.bin"};
  if (reverse) {
    std::reverse(names.begin(), names.end());
  }
  for (const std::string& n : names) {
    WriteFile(d / ("src/" + n), "content of " + n);
  }
  WriteFile(d / "src/sub/deep.txt", "deep");
  ASSERT_EQ(::symlink("a.txt", (d / "src/link").c_str()), 0);
  // Enough files to use the second hashing thread.
  for (int i = 0; i < 40; ++i) {
    WriteFile(d / ("src/sub/f" + std::to_string(i)),
              std::string(static_cast<size_t>(i) * 1000, 'x'));
  }
}

digest::Digest Sum(const TempDir& d, const std::string& sel = "src", ChecksumOptions o = {}) {
  Result<digest::Digest> r = Checksum(Context::Background(), d.path(), sel, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? *r : digest::Digest();
}

TEST(ChecksumTest, MtimeDoesNotCountAndOrderDoesNot) {
  TempDir a, b;
  Populate(a);
  Populate(b, true);
  SetMtime(b / "src/a.txt", 12345);
  SetMtime(b / "src/sub", 12345);
  digest::Digest da = Sum(a);
  EXPECT_FALSE(da.empty());
  EXPECT_EQ(da, Sum(b));
  EXPECT_EQ(da, Sum(a));
}

TEST(ChecksumTest, ChangesAreSeen) {
  TempDir a;
  Populate(a);
  digest::Digest base = Sum(a);
  WriteFile(a / "src/sub/f7", std::string(7000, 'x').replace(3500, 1, "y"));
  digest::Digest byte = Sum(a);
  EXPECT_NE(byte, base);
  ASSERT_EQ(::chmod((a / "src/b.txt").c_str(), 0600), 0);
  digest::Digest mode = Sum(a);
  EXPECT_NE(mode, byte);
  ASSERT_EQ(::chown((a / "src/b.txt").c_str(), 7, 7), 0);
  digest::Digest owner = Sum(a);
  EXPECT_NE(owner, mode);
  ChecksumOptions no_owners;
  no_owners.ignore_owners = true;
  EXPECT_EQ(Sum(a, "src", no_owners), Sum(a, "src", no_owners));
  ASSERT_EQ(::rename((a / "src/c.log").c_str(), (a / "src/c2.log").c_str()), 0);
  digest::Digest name = Sum(a);
  EXPECT_NE(name, owner);
  ASSERT_EQ(::unlink((a / "src/link").c_str()), 0);
  ASSERT_EQ(::symlink("b.txt", (a / "src/link").c_str()), 0);
  EXPECT_NE(Sum(a), name);
}

TEST(ChecksumTest, ExcludedFilesDoNotCount) {
  TempDir a;
  Populate(a);
  ChecksumOptions o;
  o.exclude_patterns = {"*.log"};
  digest::Digest before = Sum(a, "src", o);
  WriteFile(a / "src/c.log", "changed");
  EXPECT_EQ(Sum(a, "src", o), before);
  WriteFile(a / "src/a.txt", "changed");
  EXPECT_NE(Sum(a, "src", o), before);
}

TEST(ChecksumTest, GlobsFilesAndErrors) {
  TempDir a;
  Populate(a);
  digest::Digest txt = Sum(a, "src/*.txt");
  WriteFile(a / "src/c.log", "changed");
  EXPECT_EQ(Sum(a, "src/*.txt"), txt);
  WriteFile(a / "src/b.txt", "changed");
  EXPECT_NE(Sum(a, "src/*.txt"), txt);
  EXPECT_NE(Sum(a, "src/a.txt"), Sum(a, "src/b.txt"));
  Result<digest::Digest> r = Checksum(Context::Background(), a.path(), "nope*");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  r = Checksum(Context::Background(), a.path(), "missing");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST(ChecksumTest, SymlinkOutOfRootIsNotFollowed) {
  TempDir a;
  ASSERT_EQ(::symlink("/etc/passwd", (a / "pw").c_str()), 0);
  // Followed inside the root, /etc/passwd does not exist there.
  Result<digest::Digest> r = Checksum(Context::Background(), a.path(), "pw");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  ChecksumOptions o;
  o.follow_symlinks = false;
  EXPECT_FALSE(Sum(a, "pw", o).empty());
}

}  // namespace
}  // namespace berth::fileop
