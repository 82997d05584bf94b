// ContextTrees: an unchanged context is materialized once and shared; unused trees beyond the
// kept number go, oldest use first; a tree in use never goes.
#include "service/context_trees.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "contextsync/scan.h"
#include "os/file.h"
#include "snapshot/fs_util.h"

namespace berth::service {
namespace {

class ContextTreesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-trees-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    files_ = contextsync::FileStore::Open(dir_ + "/project/files").value();
  }
  void TearDown() override { (void)snapshot::RemoveAll(dir_); }

  // A context holding `text` in a.txt, synced into the file store; returns its manifest.
  contextsync::Manifest Context(const std::string& name, const std::string& text) {
    std::string ctx = dir_ + "/" + name;
    EXPECT_EQ(::mkdir(ctx.c_str(), 0755), 0);
    EXPECT_TRUE(os::WriteFileAtomic(ctx + "/a.txt", text).ok());
    contextsync::Manifest m = contextsync::Scan(berth::Context::Background(), ctx, {}).value();
    std::vector<digest::Digest> missing = files_->Missing(m).value();
    for (const digest::Digest& d : missing) {
      std::unique_ptr<contextsync::IngestWriter> w = files_->BeginIngest(d, text.size()).value();
      EXPECT_TRUE(w->Write(text).ok());
      EXPECT_TRUE(w->Close().ok());
    }
    return m;
  }
  Result<std::shared_ptr<const std::string>> Acquire(ContextTrees& trees, const std::string& id,
                                                     const contextsync::Manifest& m) {
    return trees.Acquire(berth::Context::Background(), dir_ + "/project", id, m, *files_);
  }

  std::string dir_;
  std::unique_ptr<contextsync::FileStore> files_;
};

TEST_F(ContextTreesTest, SameManifestSharesOneTree) {
  ContextTrees trees(/*keep=*/1);
  contextsync::Manifest m = Context("one", "hello\n");
  std::vector<std::shared_ptr<const std::string>> held(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < held.size(); ++i) {
    threads.emplace_back([&, i] { held[i] = Acquire(trees, "aaaa", m).value(); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const auto& h : held) {
    EXPECT_EQ(*h, *held[0]);
  }
  EXPECT_EQ(os::ReadFile(*held[0] + "/a.txt").value_or(""), "hello\n");
  struct stat before {};
  ASSERT_EQ(::stat((*held[0] + "/a.txt").c_str(), &before), 0);
  held.clear();
  // Released, and kept (keep = 1): the next build of the manifest reuses it as it is.
  std::shared_ptr<const std::string> again = Acquire(trees, "aaaa", m).value();
  struct stat after {};
  ASSERT_EQ(::stat((*again + "/a.txt").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(trees.size(dir_ + "/project"), 1U);
}

TEST_F(ContextTreesTest, UnusedTreesBeyondKeepGoOldestFirstButNeverOneInUse) {
  ContextTrees trees(/*keep=*/1);
  contextsync::Manifest m1 = Context("c1", "one\n");
  contextsync::Manifest m2 = Context("c2", "two\n");
  contextsync::Manifest m3 = Context("c3", "three\n");
  std::shared_ptr<const std::string> t1 = Acquire(trees, "1111", m1).value();
  std::shared_ptr<const std::string> t2 = Acquire(trees, "2222", m2).value();
  // Both in use: neither goes, though keep is 1.
  EXPECT_TRUE(os::Exists(*t1));
  EXPECT_TRUE(os::Exists(*t2));
  std::string p1 = *t1;
  t1.reset();  // now unused and the oldest: it goes
  EXPECT_FALSE(os::Exists(p1));
  std::string p2 = *t2;
  t2.reset();
  EXPECT_TRUE(os::Exists(p2));  // the only one left: kept
  std::shared_ptr<const std::string> t3 = Acquire(trees, "3333", m3).value();
  EXPECT_FALSE(os::Exists(p2));
  EXPECT_EQ(os::ReadFile(*t3 + "/a.txt").value_or(""), "three\n");
  // Gone means made again when asked for.
  std::shared_ptr<const std::string> back = Acquire(trees, "1111", m1).value();
  EXPECT_EQ(os::ReadFile(*back + "/a.txt").value_or(""), "one\n");
}

TEST_F(ContextTreesTest, AFailedTreeLeavesNothingAndTheNextTryWorks) {
  ContextTrees trees;
  contextsync::Manifest m = Context("c", "content\n");
  contextsync::Manifest missing = m;
  // A manifest whose file the store lacks cannot be materialized.
  std::string other = dir_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  ASSERT_TRUE(os::WriteFileAtomic(other + "/a.txt", "never synced\n").ok());
  missing = contextsync::Scan(berth::Context::Background(), other, {}).value();
  EXPECT_FALSE(Acquire(trees, "bbbb", missing).ok());
  EXPECT_EQ(trees.size(dir_ + "/project"), 0U);
  EXPECT_FALSE(os::Exists(dir_ + "/project/trees/bbbb"));
  EXPECT_TRUE(Acquire(trees, "bbbb", m).ok());
}

}  // namespace
}  // namespace berth::service
