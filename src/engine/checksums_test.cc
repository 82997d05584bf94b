// ContextChecksums: the builds of one BuildAll read each context once.
#include <stdlib.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/runner.h"
#include "os/file.h"
#include "snapshot/fs_util.h"

namespace berth::engine {
namespace {

class ContextChecksumsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-checksums-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/a.txt", "alpha\n").ok());
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/b.txt", "bravo\n").ok());
  }
  void TearDown() override { (void)snapshot::RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(ContextChecksumsTest, EachSelectionIsReadOnce) {
  ContextChecksums sums;
  Context ctx = Context::Background();
  std::vector<digest::Digest> first(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < first.size(); ++i) {
    threads.emplace_back([&, i] { first[i] = sums.Get(ctx, dir_, "a.txt", {}).value(); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const digest::Digest& d : first) {
    EXPECT_EQ(d, first[0]);
  }
  // The file changes under the build: the remembered checksum stands (it was read once).
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/a.txt", "changed\n").ok());
  EXPECT_EQ(sums.Get(ctx, dir_, "a.txt", {}).value(), first[0]);
  // Another selection, or other options, is another checksum.
  EXPECT_NE(sums.Get(ctx, dir_, "b.txt", {}).value(), first[0]);
  digest::Digest fresh = sums.Get(ctx, dir_, "a.txt", {.ignore_owners = true}).value();
  EXPECT_NE(fresh, first[0]);
  EXPECT_EQ(fresh, fileop::Checksum(ctx, dir_, "a.txt", {.ignore_owners = true}).value());
  // Errors are not remembered.
  EXPECT_EQ(sums.Get(ctx, dir_, "c.txt", {}).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/c.txt", "charlie\n").ok());
  EXPECT_TRUE(sums.Get(ctx, dir_, "c.txt", {}).ok());
}

}  // namespace
}  // namespace berth::engine
