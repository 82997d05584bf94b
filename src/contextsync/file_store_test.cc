#include "contextsync/file_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
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
using testing::Describe;
using testing::Must;
using testing::TempDir;

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) {
    ++n;
  }
  return n;
}

Result<> Put(FileStore& store, std::string_view content) {
  std::unique_ptr<IngestWriter> w =
      BERTH_TRY(store.BeginIngest(digest::FromBytes(content), content.size()));
  BERTH_TRY(w->Write(content));
  return w->Close();
}

TEST(FileStoreTest, IngestVerifiesAndCommits) {
  TempDir t;
  auto store = Must(FileStore::Open(t / "store"));
  digest::Digest d = digest::FromBytes("hello");
  EXPECT_FALSE(store->Has(d));
  Must(Put(*store, "hello"));
  EXPECT_TRUE(store->Has(d));
  EXPECT_EQ(archive::testing::ReadFileOrEmpty(t / ("store/blobs/" + d.hex())), "hello");
  EXPECT_EQ(CountFiles(t / "store/tmp"), 0u);
}

TEST(FileStoreTest, DigestMismatchLeavesNothing) {
  TempDir t;
  auto store = Must(FileStore::Open(t / "store"));
  digest::Digest d = digest::FromBytes("hello");
  auto w = Must(store->BeginIngest(d, 5));
  Must(w->Write("jello"));
  Result<> closed = w->Close();
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().code(), ErrorCode::kDataLoss);
  EXPECT_FALSE(store->Has(d));
  EXPECT_EQ(CountFiles(t / "store/blobs"), 0u);
  EXPECT_EQ(CountFiles(t / "store/tmp"), 0u);
}

TEST(FileStoreTest, ShortAndLongIngestsFail) {
  TempDir t;
  auto store = Must(FileStore::Open(t / "store"));
  digest::Digest d = digest::FromBytes("hello");
  {
    auto w = Must(store->BeginIngest(d, 5));
    Must(w->Write("hel"));
    Result<> closed = w->Close();
    ASSERT_FALSE(closed.ok());
    EXPECT_EQ(closed.error().code(), ErrorCode::kDataLoss);
  }
  {
    auto w = Must(store->BeginIngest(d, 5));
    Result<> wrote = w->Write("hello!");
    ASSERT_FALSE(wrote.ok());
    EXPECT_EQ(wrote.error().code(), ErrorCode::kDataLoss);
  }
  {
    // Abandoned without Close().
    auto w = Must(store->BeginIngest(d, 5));
    Must(w->Write("hello"));
  }
  EXPECT_FALSE(store->Has(d));
  EXPECT_EQ(CountFiles(t / "store/tmp"), 0u);
  EXPECT_FALSE(
      store->BeginIngest(digest::Digest::Parse("sha512:" + std::string(128, 'a')).value(), 1).ok());
  EXPECT_FALSE(store->BeginIngest(d, kMaxFileSize + 1).ok());
}

TEST(FileStoreTest, ConcurrentIngestsOfOneDigestAllSucceed) {
  TempDir t;
  auto store = Must(FileStore::Open(t / "store"));
  std::string content(size_t{300} * 1024, 'z');
  content += "tail";
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  std::atomic<int> existed{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto w = store->BeginIngest(digest::FromBytes(content), content.size());
      if (!w.ok()) {
        return;
      }
      const std::string_view view = content;
      for (size_t off = 0; off < view.size(); off += 4096) {
        if (!(*w)->Write(view.substr(off, 4096)).ok()) {
          return;
        }
      }
      if ((*w)->Close().ok()) {
        ++ok;
        existed += (*w)->existed() ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(existed.load(), kThreads - 1);
  EXPECT_EQ(CountFiles(t / "store/blobs"), 1u);
  EXPECT_EQ(CountFiles(t / "store/tmp"), 0u);
}

TEST(FileStoreTest, MissingListsAbsentAndTornBlobs) {
  TempDir t;
  auto store = Must(FileStore::Open(t / "store"));
  Must(Put(*store, "have"));
  Must(Put(*store, "torn!"));
  // A power cut left the blob at the right name with the wrong length.
  ASSERT_EQ(::truncate((t / ("store/blobs/" + digest::FromBytes("torn!").hex())).c_str(), 2), 0);
  Manifest m;
  auto file = [](std::string path, std::string_view content) {
    Entry e;
    e.path = std::move(path);
    e.mode = 0644;
    e.size = content.size();
    e.digest = digest::FromBytes(content);
    return e;
  };
  m.entries = {file("a", "have"), file("b", "need"),  file("c", "have"),
               file("d", ""),     file("e", "torn!"), file("f", "need")};
  std::vector<digest::Digest> missing = Must(store->Missing(m));
  EXPECT_EQ(missing,
            (std::vector<digest::Digest>{digest::FromBytes("need"), digest::FromBytes("torn!")}));
  EXPECT_FALSE(store->Has(digest::FromBytes("torn!")));
  Manifest bad;
  bad.entries = {file("../x", "have")};
  EXPECT_FALSE(store->Missing(bad).ok());
}

class MaterializeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = t_ / "src";
    MakeDir(src_);
    MakeDir(src_ + "/bin");
    WriteFile(src_ + "/bin/tool", "#!/bin/sh\necho hi\n", 0755);
    WriteFile(src_ + "/bin/same-as-tool", "#!/bin/sh\necho hi\n", 0755);
    WriteFile(src_ + "/bin/tool-but-0644", "#!/bin/sh\necho hi\n", 0644);
    WriteFile(src_ + "/secret", "private", 0600);
    WriteFile(src_ + "/suid", "s", 04755);
    WriteFile(src_ + "/empty", "", 0640);
    MakeDir(src_ + "/ro", 0555);
    MakeDir(src_ + "/ro/inner");
    WriteFile(src_ + "/ro/inner/f", "in a read-only dir");
    ASSERT_EQ(::chmod((src_ + "/ro").c_str(), 0755), 0);
    WriteFile(src_ + "/ro/g", "g");
    ASSERT_EQ(::chmod((src_ + "/ro").c_str(), 0555), 0);
    Symlink("../../etc/shadow", src_ + "/escape");
    Symlink("bin/tool", src_ + "/tool-link");
    store_ = Must(FileStore::Open(t_ / "store"));
  }

  Manifest Upload() {
    BundleStats stats;
    return testing::Sync(src_, {}, {}, *store_, &stats);
  }

  TempDir t_;
  std::string src_;
  std::unique_ptr<FileStore> store_;
};

TEST_F(MaterializeTest, RecreatesTheTree) {
  Manifest m = Upload();
  std::string dest = t_ / "dest";
  MaterializeStats stats = Must(store_->Materialize(Context::Background(), m, dest));
  EXPECT_EQ(Describe(dest), Describe(src_));
  EXPECT_EQ(stats.dirs, 3u);
  EXPECT_EQ(stats.symlinks, 2u);
  EXPECT_EQ(stats.empty, 1u);
  // bin/same-as-tool has the content and mode of bin/tool: copied, so no two paths share an
  // inode (a COPY would make them a hardlink).
  EXPECT_EQ(stats.linked + stats.copied, 7u);
  EXPECT_GE(stats.copied, 1u);
  struct stat a {};
  struct stat b {};
  ASSERT_EQ(::stat((dest + "/bin/tool").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest + "/bin/same-as-tool").c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);
  // A second tree links the same blobs: one more link on the 0755 variant.
  std::string dest2 = t_ / "dest2";
  Must(store_->Materialize(Context::Background(), m, dest2));
  EXPECT_EQ(Describe(dest2), Describe(src_));
}

TEST_F(MaterializeTest, RefusesANonEmptyDestination) {
  Manifest m = Upload();
  std::string dest = t_ / "dest";
  MakeDir(dest);
  WriteFile(dest + "/already", "x");
  Result<MaterializeStats> r = store_->Materialize(Context::Background(), m, dest);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(MaterializeTest, MissingBlobIsNotFound) {
  Manifest m = Must(Scan(Context::Background(), src_, {}));
  Result<MaterializeStats> r = store_->Materialize(Context::Background(), m, t_ / "dest");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << r.error().ToString();
}

// Enough files for Materialize to use both threads; the blob missing in the second half must
// surface as NotFound, not as the other thread's Cancelled.
TEST(FileStoreTest, MaterializeOnTwoThreadsReportsTheRealError) {
  TempDir t;
  auto store = Must(FileStore::Open(t / "store"));
  Manifest m;
  Entry dir;
  dir.path = "d";
  dir.type = EntryType::kDir;
  dir.mode = 0555;
  m.entries.push_back(dir);
  constexpr int kFiles = 1500;
  for (int i = 0; i < kFiles; ++i) {
    std::string content = "file " + std::to_string(i);
    Entry e;
    e.path = "d/" + std::to_string(100000 + i);
    e.mode = i % 2 == 0 ? 0644 : 0755;
    e.size = content.size();
    e.digest = digest::FromBytes(content);
    m.entries.push_back(e);
    if (i != kFiles - 10) {
      Must(Put(*store, content));
    }
  }
  Result<MaterializeStats> r = store->Materialize(Context::Background(), m, t / "dest");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << r.error().ToString();
  // With the blob there, the whole tree appears, the directory read-only at the end.
  Must(Put(*store, "file " + std::to_string(kFiles - 10)));
  MaterializeStats stats = Must(store->Materialize(Context::Background(), m, t / "dest2"));
  EXPECT_EQ(stats.linked, uint64_t{kFiles});
  EXPECT_EQ(CountFiles(t / "dest2/d"), size_t{kFiles});
  struct stat st {};
  ASSERT_EQ(::stat((t / "dest2/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  ASSERT_EQ(::stat((t / "dest2/d/100001").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  // Materialized trees are removed by their owner; make the read-only directory writable.
  ASSERT_EQ(::chmod((t / "dest/d").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((t / "dest2/d").c_str(), 0755), 0);
}

TEST(FileStorePruneTest, DropsLeastRecentlyUsedFirst) {
  TempDir t;
  auto blob = [](char c) {
    return std::string(1000, c);
  };
  {
    auto store = Must(FileStore::Open(t / "store"));
    for (char c : {'a', 'b', 'c'}) {
      Must(Put(*store, blob(c)));
    }
  }
  // Age the usage records: a used longest ago, c most recently.
  std::string usage = "berth-usage 1\n";
  int64_t age = 3;
  for (char c : {'a', 'b', 'c'}) {
    usage += digest::FromBytes(blob(c)).hex() + " " +
             std::to_string(::time(nullptr) - 100000 * age--) + "\n";
  }
  WriteFile(t / "store/usage", usage);
  auto store = Must(FileStore::Open(t / "store"));
  PruneStats stats = Must(store->Prune(Context::Background(), 2000, std::chrono::seconds(0)));
  EXPECT_EQ(stats.removed_blobs, 1u);
  EXPECT_EQ(stats.kept_blobs, 2u);
  EXPECT_FALSE(store->Has(digest::FromBytes(blob('a'))));
  // A sync that needs b marks it used; the protection window then spares it.
  Manifest m;
  Entry e;
  e.path = "b";
  e.mode = 0644;
  e.size = 1000;
  e.digest = digest::FromBytes(blob('b'));
  m.entries = {e};
  EXPECT_TRUE(Must(store->Missing(m)).empty());
  stats = Must(store->Prune(Context::Background(), 0, std::chrono::hours(1)));
  EXPECT_EQ(stats.removed_blobs, 1u);
  EXPECT_TRUE(store->Has(digest::FromBytes(blob('b'))));
  EXPECT_FALSE(store->Has(digest::FromBytes(blob('c'))));
  stats = Must(store->Prune(Context::Background(), 0, std::chrono::seconds(0)));
  EXPECT_EQ(stats.removed_blobs, 1u);
  EXPECT_EQ(CountFiles(t / "store/blobs"), 0u);
}

}  // namespace
}  // namespace berth::contextsync
