#include "fileop/fileop.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "archive/testing/tree.h"

namespace berth::fileop {
namespace {

using archive::testing::DescribeTree;
using archive::testing::MakeDir;
using archive::testing::ReadFileOrEmpty;
using archive::testing::TempDir;
using archive::testing::WriteFile;

struct stat Lstat(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

bool Exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// A build context, another stage's rootfs and a destination with /etc/passwd and /etc/group.
class FileOpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeDir(ctx_ / "dir");
    WriteFile(ctx_ / "dir/a.txt", "a");
    MakeDir(ctx_ / "dir/sub");
    WriteFile(ctx_ / "dir/sub/b.txt", "b", 0600);
    WriteFile(ctx_ / "dir/sub/c.log", "c");
    WriteFile(ctx_ / "file.txt", "file");
    WriteFile(ctx_ / "hello1.txt", "h1");
    WriteFile(ctx_ / "hello2.md", "h2");
    ASSERT_EQ(::chown((ctx_ / "file.txt").c_str(), 1234, 1234), 0);
    MakeDir(dst_ / "etc");
    WriteFile(dst_ / "etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n");
    WriteFile(dst_ / "etc/group", "root:x:0:\nappgrp:x:1001:\nstaff:x:50:\n");
    env_.dest_root = dst_.path();
    env_.sources = {SourceRoot{ctx_.path(), true}, SourceRoot{stage_.path(), false}};
  }

  Result<> Copy(graph::CopyAction a) { return Apply(Context::Background(), a, env_); }

  static graph::CopyAction Cp(std::string src, std::string dest) {
    graph::CopyAction a;
    a.src_input = 0;
    a.src = std::move(src);
    a.dest = std::move(dest);
    return a;
  }

  TempDir ctx_;
  TempDir stage_;
  TempDir dst_;
  FileOpEnv env_;
};

TEST_F(FileOpTest, DirectoryCopiesContents) {
  ASSERT_TRUE(Copy(Cp("dir", "/app")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "app/a.txt"), "a");
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "app/sub/b.txt"), "b");
  EXPECT_FALSE(Exists(dst_ / "app/dir"));
  EXPECT_EQ(Lstat(dst_ / "app/sub/b.txt").st_mode & 07777, 0600u);
}

TEST_F(FileOpTest, FileIntoDirectoryAndRename) {
  ASSERT_TRUE(Copy(Cp("file.txt", "/app/")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "app/file.txt"), "file");
  ASSERT_TRUE(Copy(Cp("file.txt", "/renamed.txt")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "renamed.txt"), "file");
  // An existing directory without the slash also receives the file.
  ASSERT_TRUE(Copy(Cp("file.txt", "/etc")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "etc/file.txt"), "file");
  // Overwrites an existing file.
  WriteFile(ctx_ / "file.txt", "new");
  ASSERT_TRUE(Copy(Cp("file.txt", "/renamed.txt")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "renamed.txt"), "new");
}

TEST_F(FileOpTest, ContextFilesBecomeRootOwnedStageFilesKeepOwners) {
  ASSERT_TRUE(Copy(Cp("file.txt", "/f")).ok());
  EXPECT_EQ(Lstat(dst_ / "f").st_uid, 0u);
  WriteFile(stage_ / "owned", "x");
  ASSERT_EQ(::chown((stage_ / "owned").c_str(), 555, 556), 0);
  graph::CopyAction a = Cp("owned", "/owned");
  a.src_input = 1;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "owned").st_uid, 555u);
  EXPECT_EQ(Lstat(dst_ / "owned").st_gid, 556u);
}

TEST_F(FileOpTest, Globs) {
  ASSERT_TRUE(Copy(Cp("hello*", "/g/")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "g/hello1.txt"), "h1");
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "g/hello2.md"), "h2");
  ASSERT_TRUE(Copy(Cp("dir/*/*.txt", "/h/")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "h/b.txt"), "b");
  EXPECT_FALSE(Exists(dst_ / "h/c.log"));
  ASSERT_TRUE(Copy(Cp("hello?.[tm]*", "/q/")).ok());
  EXPECT_TRUE(Exists(dst_ / "q/hello1.txt"));
}

TEST_F(FileOpTest, MissingSourceAndEmptyGlob) {
  Result<> r = Copy(Cp("nope.txt", "/x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("nope.txt"), std::string::npos);
  r = Copy(Cp("nomatch*", "/x/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("nomatch*"), std::string::npos);
  graph::CopyAction a = Cp("nomatch*", "/x/");
  a.allow_empty_wildcard = true;
  EXPECT_TRUE(Copy(a).ok());
}

TEST_F(FileOpTest, Parents) {
  graph::CopyAction a = Cp("dir/sub/b.txt", "/dst/");
  a.parents = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "dst/dir/sub/b.txt"), "b");
  a = Cp("dir/./sub/b.txt", "/pv/");
  a.parents = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "pv/sub/b.txt"), "b");
  a = Cp("dir/*/*.log", "/gl/");
  a.parents = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "gl/dir/sub/c.log"), "c");
  a = Cp("dir/sub", "/pd/");
  a.parents = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "pd/dir/sub/b.txt"), "b");
}

TEST_F(FileOpTest, ExcludesAndIncludes) {
  graph::CopyAction a = Cp("dir", "/ex");
  a.exclude_patterns = {"*.log", "a.txt"};
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_TRUE(Exists(dst_ / "ex/sub/b.txt"));
  EXPECT_FALSE(Exists(dst_ / "ex/a.txt"));
  // "*.log" matches only at the top level, as in .dockerignore.
  EXPECT_TRUE(Exists(dst_ / "ex/sub/c.log"));
  a.exclude_patterns = {"**/*.log"};
  ASSERT_TRUE(Copy(Cp("dir", "/ex2")).ok());
  a.dest = "/ex3";
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_FALSE(Exists(dst_ / "ex3/sub/c.log"));
  EXPECT_TRUE(Exists(dst_ / "ex3/a.txt"));

  a = Cp("hello*", "/exg/");
  a.exclude_patterns = {"*.md"};
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_TRUE(Exists(dst_ / "exg/hello1.txt"));
  EXPECT_FALSE(Exists(dst_ / "exg/hello2.md"));

  a = Cp("dir", "/inc");
  a.include_patterns = {"sub/*.txt"};
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_TRUE(Exists(dst_ / "inc/sub/b.txt"));
  EXPECT_FALSE(Exists(dst_ / "inc/sub/c.log"));
  EXPECT_FALSE(Exists(dst_ / "inc/a.txt"));
}

TEST_F(FileOpTest, ChownByNameAndNumber) {
  graph::CopyAction a = Cp("dir", "/byname");
  a.chown = graph::ChownOpt{"app", ""};
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "byname/sub/b.txt").st_uid, 1000u);
  EXPECT_EQ(Lstat(dst_ / "byname/sub/b.txt").st_gid, 1001u);
  EXPECT_EQ(Lstat(dst_ / "byname/sub").st_uid, 1000u);
  EXPECT_EQ(Lstat(dst_ / "byname").st_uid, 1000u);

  a = Cp("file.txt", "/bynum");
  a.chown = graph::ChownOpt{"4242", ""};
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "bynum").st_uid, 4242u);
  EXPECT_EQ(Lstat(dst_ / "bynum").st_gid, 4242u);

  a = Cp("file.txt", "/usergroup");
  a.chown = graph::ChownOpt{"app", "staff"};
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "usergroup").st_uid, 1000u);
  EXPECT_EQ(Lstat(dst_ / "usergroup").st_gid, 50u);
}

TEST_F(FileOpTest, UnknownUserOrGroupIsAnError) {
  graph::CopyAction a = Cp("file.txt", "/x");
  a.chown = graph::ChownOpt{"nobody-here", ""};
  Result<> r = Copy(a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().ToString().find("nobody-here"), std::string::npos);
  a.chown = graph::ChownOpt{"app", "nogroup-here"};
  r = Copy(a);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().ToString().find("nogroup-here"), std::string::npos);
  EXPECT_FALSE(Exists(dst_ / "x"));
}

TEST_F(FileOpTest, ChmodOctalAndSymbolicAppliesToDirectories) {
  graph::CopyAction a = Cp("dir", "/oct");
  a.chmod = "0750";
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "oct/a.txt").st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(dst_ / "oct/sub").st_mode & 07777, 0750u);
  a = Cp("dir", "/sym");
  a.chmod = "a=rX,u+w";
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "sym/a.txt").st_mode & 07777, 0644u);
  EXPECT_EQ(Lstat(dst_ / "sym/sub").st_mode & 07777, 0755u);
  a.chmod = "u+q";
  EXPECT_FALSE(Copy(a).ok());
}

TEST_F(FileOpTest, SymlinksAreCopiedAsLinksAndNeverFollowedOut) {
  ASSERT_EQ(::symlink("/etc/shadow", (ctx_ / "dir/shadow").c_str()), 0);
  ASSERT_EQ(::symlink("a.txt", (ctx_ / "dir/alink").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/shadow", (ctx_ / "topshadow").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../etc", (ctx_ / "updir").c_str()), 0);
  ASSERT_TRUE(Copy(Cp("dir", "/s")).ok());
  struct stat st = Lstat(dst_ / "s/shadow");
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  char buf[64] = {};
  ASSERT_GT(::readlink((dst_ / "s/shadow").c_str(), buf, sizeof(buf) - 1), 0);
  EXPECT_STREQ(buf, "/etc/shadow");
  EXPECT_TRUE(S_ISLNK(Lstat(dst_ / "s/alink").st_mode));

  // Following the named source resolves inside the context: /etc/shadow there does not exist.
  Result<> r = Copy(Cp("topshadow", "/t"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(Exists(dst_ / "t"));
  // With a file of that name inside the context, that one is copied.
  MakeDir(ctx_ / "etc");
  WriteFile(ctx_ / "etc/shadow", "inside");
  ASSERT_TRUE(Copy(Cp("topshadow", "/t")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "t"), "inside");
  ASSERT_TRUE(Copy(Cp("updir/shadow", "/u")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "u"), "inside");
  // Not following copies the link itself.
  graph::CopyAction a = Cp("topshadow", "/nf");
  a.follow_symlinks = false;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_TRUE(S_ISLNK(Lstat(dst_ / "nf").st_mode));
}

TEST_F(FileOpTest, DestinationSymlinkCannotRedirectOutOfRoot) {
  TempDir outside;
  ASSERT_EQ(::symlink(outside.path().c_str(), (dst_ / "escape").c_str()), 0);
  ASSERT_TRUE(Copy(Cp("file.txt", "/escape/")).ok());
  EXPECT_FALSE(Exists(outside / "file.txt"));
  EXPECT_EQ(ReadFileOrEmpty(dst_ / outside.path().substr(1) + "/file.txt"), "file");
}

TEST_F(FileOpTest, HardlinksPreservedXattrsAndMtimes) {
  ASSERT_EQ(::link((ctx_ / "dir/a.txt").c_str(), (ctx_ / "dir/a2.txt").c_str()), 0);
  archive::testing::SetXattr(ctx_ / "dir/a.txt", "user.test", "v");
  archive::testing::SetMtime(ctx_ / "dir/sub/b.txt", 1234567);
  archive::testing::SetMtime(ctx_ / "dir/sub", 7654321);
  ASSERT_TRUE(Copy(Cp("dir", "/hl")).ok());
  EXPECT_EQ(Lstat(dst_ / "hl/a.txt").st_ino, Lstat(dst_ / "hl/a2.txt").st_ino);
  EXPECT_EQ(Lstat(dst_ / "hl/sub/b.txt").st_mtime, 1234567);
  EXPECT_EQ(Lstat(dst_ / "hl/sub").st_mtime, 7654321);
  char v[8] = {};
  EXPECT_EQ(::lgetxattr((dst_ / "hl/a.txt").c_str(), "user.test", v, sizeof(v)), 1);

  graph::CopyAction a = Cp("dir", "/ts");
  a.timestamp = 1000;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(Lstat(dst_ / "ts/sub/b.txt").st_mtime, 1000);
  EXPECT_EQ(Lstat(dst_ / "ts/sub").st_mtime, 1000);

  env_.source_date_epoch = 2000000;
  ASSERT_TRUE(Copy(Cp("dir", "/sde")).ok());
  EXPECT_EQ(Lstat(dst_ / "sde/sub/b.txt").st_mtime, 1234567);
  EXPECT_EQ(Lstat(dst_ / "sde/a.txt").st_mtime, 2000000);
}

TEST_F(FileOpTest, FileCannotReplaceDirectory) {
  MakeDir(dst_ / "d");
  MakeDir(dst_ / "d/file.txt");
  WriteFile(dst_ / "d/file.txt/keep", "k");
  Result<> r = Copy(Cp("file.txt", "/d/file.txt/../"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "d/file.txt/keep"), "k");
}

TEST_F(FileOpTest, AddExtractsTarballs) {
  archive::testing::TarBuilder tb;
  tb.Dir("top/").File("top/x.txt", "x").Symlink("top/l", "x.txt");
  std::string tar = tb.Finish();
  WriteFile(ctx_ / "a.tar", tar);
  // gzip via the system tool keeps this test independent of compress/'s API.
  ASSERT_EQ(archive::testing::Shell("gzip -c " + (ctx_ / "a.tar") + " > " + (ctx_ / "a.tgz")), 0);
  graph::CopyAction a = Cp("a.tgz", "/unpacked");
  a.attempt_unpack = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "unpacked/top/x.txt"), "x");
  EXPECT_TRUE(S_ISLNK(Lstat(dst_ / "unpacked/top/l").st_mode));
  // Not an archive: copied as a file.
  a = Cp("file.txt", "/plain/");
  a.attempt_unpack = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "plain/file.txt"), "file");
  // Without attempt_unpack the tar is a file.
  ASSERT_TRUE(Copy(Cp("a.tar", "/asfile.tar")).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "asfile.tar"), tar);
}

TEST_F(FileOpTest, AddRefusesHostileTarsAndKeepsWhiteouts) {
  TempDir outside;
  struct Case {
    const char* name;
    std::string tar;
  };
  std::vector<Case> cases;
  {
    archive::testing::TarBuilder tb;
    tb.File("../../../../../../" + outside.path().substr(1) + "/pwned", "x");
    cases.push_back({"dotdot", tb.Finish()});
  }
  {
    archive::testing::TarBuilder tb;
    tb.Symlink("link", outside.path()).File("link/pwned", "x");
    cases.push_back({"through symlink", tb.Finish()});
  }
  {
    archive::testing::TarBuilder tb;
    tb.Hardlink("hl", "../../../../../etc/passwd");
    cases.push_back({"hardlink out", tb.Finish()});
  }
  for (const Case& c : cases) {
    WriteFile(ctx_ / "evil.tar", c.tar);
    graph::CopyAction a = Cp("evil.tar", "/evil");
    a.attempt_unpack = true;
    Result<> r = Copy(a);
    EXPECT_FALSE(r.ok()) << c.name;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << c.name << r.error().ToString();
    }
    EXPECT_FALSE(Exists(outside / "pwned")) << c.name;
  }
  archive::testing::TarBuilder tb;
  tb.File("keep.txt", "k").Whiteout("keep.txt");
  WriteFile(ctx_ / "wh.tar", tb.Finish());
  graph::CopyAction a = Cp("wh.tar", "/wh");
  a.attempt_unpack = true;
  ASSERT_TRUE(Copy(a).ok());
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "wh/keep.txt"), "k");
  EXPECT_TRUE(Exists(dst_ / "wh/.wh.keep.txt"));
}

TEST_F(FileOpTest, MkdirMkfileRmSymlink) {
  graph::FileOp op;
  graph::MkdirAction md;
  md.path = "/a/b/c";
  md.mode = 0700;
  md.chown = graph::ChownOpt{"app", ""};
  md.timestamp = 5000;
  graph::MkfileAction mf;
  mf.path = "/a/b/c/f.txt";
  mf.data = "hello";
  mf.mode = 0640;
  mf.chown = graph::ChownOpt{"1000", "staff"};
  graph::SymlinkAction sl{"/a/b/c/f.txt", "/a/link"};
  op.actions = {md, mf, sl};
  ASSERT_TRUE(ApplyFileOp(Context::Background(), op, env_).ok());
  EXPECT_EQ(Lstat(dst_ / "a/b/c").st_mode & 07777, 0700u);
  EXPECT_EQ(Lstat(dst_ / "a/b").st_uid, 1000u);
  EXPECT_EQ(Lstat(dst_ / "a/b").st_mtime, 5000);
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "a/b/c/f.txt"), "hello");
  EXPECT_EQ(Lstat(dst_ / "a/b/c/f.txt").st_mode & 07777, 0640u);
  EXPECT_EQ(Lstat(dst_ / "a/b/c/f.txt").st_gid, 50u);
  EXPECT_TRUE(S_ISLNK(Lstat(dst_ / "a/link").st_mode));

  graph::MkdirAction noparents;
  noparents.path = "/x/y";
  noparents.make_parents = false;
  EXPECT_FALSE(Apply(Context::Background(), noparents, env_).ok());

  // mkfile over a symlink replaces the link, never writes through it.
  TempDir outside;
  WriteFile(outside / "target", "orig");
  ASSERT_EQ(::symlink((outside / "target").c_str(), (dst_ / "trap").c_str()), 0);
  graph::MkfileAction over;
  over.path = "/trap";
  over.data = "new";
  ASSERT_TRUE(Apply(Context::Background(), over, env_).ok());
  EXPECT_EQ(ReadFileOrEmpty(outside / "target"), "orig");
  EXPECT_EQ(ReadFileOrEmpty(dst_ / "trap"), "new");

  graph::RmAction rm;
  rm.path = "/a/b";
  ASSERT_TRUE(Apply(Context::Background(), rm, env_).ok());
  EXPECT_FALSE(Exists(dst_ / "a/b"));
  rm.path = "/missing";
  EXPECT_TRUE(Apply(Context::Background(), rm, env_).ok());
  rm.allow_not_found = false;
  Result<> r = Apply(Context::Background(), rm, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  WriteFile(dst_ / "r1.tmp", "");
  WriteFile(dst_ / "r2.tmp", "");
  rm.path = "/*.tmp";
  ASSERT_TRUE(Apply(Context::Background(), rm, env_).ok());
  EXPECT_FALSE(Exists(dst_ / "r1.tmp"));
  EXPECT_FALSE(Exists(dst_ / "r2.tmp"));
  // rm through a symlinked parent stays in the root.
  ASSERT_EQ(::symlink(outside.path().c_str(), (dst_ / "out").c_str()), 0);
  rm.path = "/out/target";
  rm.allow_not_found = true;
  ASSERT_TRUE(Apply(Context::Background(), rm, env_).ok());
  EXPECT_EQ(ReadFileOrEmpty(outside / "target"), "orig");
}

}  // namespace
}  // namespace berth::fileop
