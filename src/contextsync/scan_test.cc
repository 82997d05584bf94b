#include "contextsync/scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "contextsync/testing/util.h"

namespace berth::contextsync {
namespace {

using archive::testing::MakeDir;
using archive::testing::Symlink;
using archive::testing::WriteFile;
using testing::Must;
using testing::Paths;
using testing::TempDir;

// Files made right before a scan are "racily clean" and not cached; the tests wait past the
// file system clock's tick before the scan whose cache they rely on.
void WaitPastClockTick() {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

const Entry* Find(const Manifest& m, const std::string& path) {
  for (const Entry& e : m.entries) {
    if (e.path == path) {
      return &e;
    }
  }
  return nullptr;
}

TEST(ScanTest, ListsFilesDirsAndSymlinksInWalkOrder) {
  TempDir t;
  std::string ctx = t / "ctx";
  MakeDir(ctx);
  WriteFile(ctx + "/b.txt", "bee");
  WriteFile(ctx + "/run.sh", "#!/bin/sh\n", 0755);
  WriteFile(ctx + "/empty", "");
  MakeDir(ctx + "/a");
  MakeDir(ctx + "/a/deep", 0700);
  WriteFile(ctx + "/a/deep/x", "x");
  MakeDir(ctx + "/a-b");
  Symlink("b.txt", ctx + "/link");
  ASSERT_EQ(::mkfifo((ctx + "/fifo").c_str(), 0644), 0);

  ScanStats stats;
  Manifest m = Must(Scan(Context::Background(), ctx, {}, {}, &stats));
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"a", "a/deep", "a/deep/x", "a-b", "b.txt", "empty",
                                                "link", "run.sh"}));
  EXPECT_EQ(Find(m, "a/deep")->mode, 0700u);
  EXPECT_EQ(Find(m, "a/deep")->type, EntryType::kDir);
  const Entry* b = Find(m, "b.txt");
  EXPECT_EQ(b->size, 3u);
  EXPECT_EQ(b->digest, digest::FromBytes("bee"));
  EXPECT_EQ(b->mode, 0644u);
  EXPECT_EQ(Find(m, "run.sh")->mode, 0755u);
  EXPECT_EQ(Find(m, "empty")->digest, EmptyDigest());
  EXPECT_EQ(Find(m, "link")->type, EntryType::kSymlink);
  EXPECT_EQ(Find(m, "link")->link_target, "b.txt");
  EXPECT_EQ(stats.files, 4u);
  EXPECT_EQ(stats.dirs, 3u);
  EXPECT_EQ(stats.symlinks, 1u);
  EXPECT_EQ(stats.skipped_special, 1u);
  EXPECT_EQ(stats.bytes, 3u + 10u + 0u + 1u);
  EXPECT_TRUE(ValidateManifest(m).ok());
}

TEST(ScanTest, NeverFollowsSymlinks) {
  TempDir t;
  std::string ctx = t / "ctx";
  std::string outside = t / "outside";
  MakeDir(ctx);
  MakeDir(outside);
  WriteFile(outside + "/secret", "do not send");
  Symlink(outside, ctx + "/dirlink");
  Symlink(outside + "/secret", ctx + "/filelink");
  Symlink("../outside/secret", ctx + "/relative");
  Symlink("/nonexistent", ctx + "/dangling");

  Manifest m = Must(Scan(Context::Background(), ctx, {}));
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"dangling", "dirlink", "filelink", "relative"}));
  for (const Entry& e : m.entries) {
    EXPECT_EQ(e.type, EntryType::kSymlink) << e.path;
    EXPECT_TRUE(e.digest.empty());
  }
  EXPECT_EQ(Find(m, "dirlink")->link_target, outside);
}

TEST(ScanTest, AppliesDockerignoreWithReincludes) {
  TempDir t;
  std::string ctx = t / "ctx";
  MakeDir(ctx);
  for (std::string dir :
       {"/build", "/build/sub", "/docs", "/src", "/node_modules", "/node_modules/pkg"}) {
    MakeDir(ctx + dir);
  }
  for (std::string file : {"/app.log", "/keep.log", "/main.c", "/build/out.o", "/build/keep.txt",
                           "/build/sub/x.o", "/docs/a.md", "/docs/b.tmp", "/src/util.c",
                           "/src/util.log", "/node_modules/pkg/index.js", "/.dockerignore"}) {
    WriteFile(ctx + file, file);
  }
  std::vector<std::string> excludes = {"*.log",           "!keep.log", "build",
                                       "!build/keep.txt", "**/*.tmp",  "node_modules"};
  ScanStats stats;
  Manifest m = Must(Scan(Context::Background(), ctx, excludes, {}, &stats));
  // "build" is excluded but walked for its re-included file; it appears (before that file)
  // and its other contents do not. "*.log" is not recursive: src/util.log stays.
  EXPECT_EQ(Paths(m), (std::vector<std::string>{".dockerignore", "build", "build/keep.txt", "docs",
                                                "docs/a.md", "keep.log", "main.c", "src",
                                                "src/util.c", "src/util.log"}));
  EXPECT_GT(stats.excluded, 0u);
}

TEST(ScanTest, ExcludedDirectoryWithNothingReincludedIsLeftOut) {
  TempDir t;
  std::string ctx = t / "ctx";
  MakeDir(ctx);
  MakeDir(ctx + "/gen");
  MakeDir(ctx + "/gen/deep");
  WriteFile(ctx + "/gen/deep/a", "a");
  WriteFile(ctx + "/f", "f");
  // The re-include names a path below gen that does not exist: gen is walked, stays out.
  Manifest m = Must(Scan(Context::Background(), ctx, {"gen", "!gen/deep/missing"}));
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"f"}));
}

TEST(ScanTest, BadPatternIsAnError) {
  TempDir t;
  Result<Manifest> r = Scan(Context::Background(), t.path(), {"["});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ScanTest, MissingDirectoryIsAnError) {
  TempDir t;
  Result<Manifest> r = Scan(Context::Background(), t / "nope", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << r.error().ToString();
}

TEST(ScanTest, CancelledContextStops) {
  TempDir t;
  WriteFile(t / "a", "a");
  Context ctx = Context::Background().WithCancel();
  ctx.Cancel();
  Result<Manifest> r = Scan(ctx, t.path(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
}

class StatCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = t_ / "ctx";
    MakeDir(ctx_);
    MakeDir(ctx_ + "/d");
    for (int i = 0; i < 50; ++i) {
      WriteFile(ctx_ + "/d/f" + std::to_string(i), "content " + std::to_string(i));
    }
    options_.cache_dir = t_ / "cache";
    WaitPastClockTick();
  }

  Manifest ScanOnce(ScanStats* stats) {
    return Must(Scan(Context::Background(), ctx_, {}, options_, stats));
  }

  TempDir t_;
  std::string ctx_;
  ScanOptions options_;
};

TEST_F(StatCacheTest, UnchangedRescanHashesNothing) {
  ScanStats first;
  Manifest a = ScanOnce(&first);
  EXPECT_EQ(first.hashed_files, 50u);
  EXPECT_EQ(first.cache_hits, 0u);
  ScanStats second;
  Manifest b = ScanOnce(&second);
  EXPECT_EQ(second.hashed_files, 0u);
  EXPECT_EQ(second.cache_hits, 50u);
  EXPECT_EQ(a, b);
}

TEST_F(StatCacheTest, SameSizeChangeWithRestoredMtimeIsRehashed) {
  ScanStats stats;
  Manifest before = ScanOnce(&stats);
  std::string f = ctx_ + "/d/f7";
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  WriteFile(f, "content X");  // same length as "content 7"
  // Put the mtime back: only ctime (and the content) tell the change.
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  WaitPastClockTick();
  Manifest after = ScanOnce(&stats);
  EXPECT_EQ(stats.hashed_files, 1u);
  EXPECT_EQ(stats.cache_hits, 49u);
  const Entry* e = Find(after, "d/f7");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->digest, digest::FromBytes("content X"));
  EXPECT_NE(*e, *Find(before, "d/f7"));
}

TEST_F(StatCacheTest, ReplacedFileIsRehashed) {
  ScanStats stats;
  ScanOnce(&stats);
  // A new inode with the same size and mtime.
  std::string f = ctx_ + "/d/f3";
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  WriteFile(f + ".new", "content Y");
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (f + ".new").c_str(), times, 0), 0);
  ASSERT_EQ(::rename((f + ".new").c_str(), f.c_str()), 0);
  WaitPastClockTick();
  Manifest after = ScanOnce(&stats);
  EXPECT_EQ(stats.hashed_files, 1u);
  EXPECT_EQ(Find(after, "d/f3")->digest, digest::FromBytes("content Y"));
}

TEST_F(StatCacheTest, RacilyCleanFilesAreNotTrusted) {
  // Written right before the scan: within the clock tick, so not cached.
  WriteFile(ctx_ + "/d/fresh", "fresh");
  ScanStats stats;
  ScanOnce(&stats);
  EXPECT_EQ(stats.hashed_files, 51u);
  // A change now could keep size and timestamps; the next scan must hash the file again.
  WriteFile(ctx_ + "/d/fresh", "FRESH");
  Manifest m = ScanOnce(&stats);
  EXPECT_GE(stats.hashed_files, 1u);
  EXPECT_EQ(Find(m, "d/fresh")->digest, digest::FromBytes("FRESH"));
}

TEST_F(StatCacheTest, CorruptCacheIsRebuilt) {
  ScanStats stats;
  Manifest a = ScanOnce(&stats);
  int corrupted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.cache_dir)) {
    std::ofstream(entry.path(), std::ios::trunc) << "berth-statcache 1\nnot a line\n";
    ++corrupted;
  }
  ASSERT_EQ(corrupted, 1);
  Manifest b = ScanOnce(&stats);
  EXPECT_EQ(stats.hashed_files, 50u);
  EXPECT_EQ(a, b);
  ScanOnce(&stats);
  EXPECT_EQ(stats.hashed_files, 0u);
}

TEST_F(StatCacheTest, DeletedFilesLeaveTheManifest) {
  ScanStats stats;
  ScanOnce(&stats);
  ASSERT_EQ(::unlink((ctx_ + "/d/f0").c_str()), 0);
  Manifest m = ScanOnce(&stats);
  EXPECT_EQ(Find(m, "d/f0"), nullptr);
  EXPECT_EQ(stats.files, 49u);
  EXPECT_EQ(stats.hashed_files, 0u);
}

}  // namespace
}  // namespace berth::contextsync
