#include "content/local_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "content/file_lock.h"
#include "content/testing/store_conformance.h"
#include "digest/digest.h"
#include "os/file.h"

namespace berth::content {
namespace {

using testing::StoreConformanceTest;
using testing::StoreFactory;
using testing::StoreFactoryName;

INSTANTIATE_TEST_SUITE_P(LocalStore, StoreConformanceTest,
                         ::testing::Values(StoreFactory{
                             "local",
                             [](const std::string& dir) -> Result<std::unique_ptr<Store>> {
                               return std::unique_ptr<Store>(BERTH_TRY(LocalStore::Open(dir)));
                             }}),
                         StoreFactoryName);

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-local-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    Result<std::unique_ptr<LocalStore>> store = LocalStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    store_.reset();
    (void)::system(("rm -rf " + root_).c_str());
  }

  Digest Put(const std::string& data) {
    StringReader src(data);
    WriterOptions o;
    o.ref = "put-" + data;
    Result<Digest> d = WriteBlob(ctx_, *store_, src, o);
    EXPECT_TRUE(d.ok()) << d.error().ToString();
    return d.ok() ? *d : Digest();
  }

  size_t CountEntries(const std::string& dir) {
    size_t n = 0;
    std::string cmd = "ls -A " + dir + " | wc -l";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p != nullptr) {
      if (fscanf(p, "%zu", &n) != 1) {
        n = SIZE_MAX;
      }
      ::pclose(p);
    }
    return n;
  }

  Context ctx_ = Context::Background();
  std::string root_;
  std::unique_ptr<LocalStore> store_;
};

TEST_F(LocalStoreTest, BlobsLiveAtTheirDigestPathReadOnly) {
  Digest d = Put("hello");
  std::string path = root_ + "/blobs/sha256/" + d.hex();
  EXPECT_EQ(store_->BlobPath(d), path);
  Result<std::string> text = os::ReadFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(CountEntries(root_ + "/ingest"), 0u);
}

TEST_F(LocalStoreTest, ReopenSeesContentAndLeases) {
  Digest d = Put("persisted");
  LeaseOptions o;
  o.id = "keep";
  ASSERT_TRUE(store_->leases().Create(ctx_, o).ok());
  ASSERT_TRUE(store_->leases().AddResource(ctx_, "keep", d).ok());
  store_.reset();

  Result<std::unique_ptr<LocalStore>> reopened = LocalStore::Open(root_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(*(*reopened)->Exists(ctx_, d));
  Result<std::vector<Digest>> resources = (*reopened)->leases().ListResources(ctx_, "keep");
  ASSERT_TRUE(resources.ok()) << resources.error().ToString();
  EXPECT_EQ(*resources, std::vector<Digest>{d});
  ASSERT_TRUE((*reopened)->GarbageCollect(ctx_, {}).ok());
  EXPECT_TRUE(*(*reopened)->Exists(ctx_, d));
}

TEST_F(LocalStoreTest, TwoInstancesShareLocks) {
  Result<std::unique_ptr<LocalStore>> other = LocalStore::Open(root_);
  ASSERT_TRUE(other.ok());
  WriterOptions o;
  o.ref = "shared-ref";
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, o);
  ASSERT_TRUE(w.ok());
  Result<std::unique_ptr<Writer>> w2 = (*other)->OpenWriter(ctx_, o);
  ASSERT_FALSE(w2.ok());
  EXPECT_EQ(w2.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE((*w)->Write("x").ok());
  ASSERT_TRUE((*w)->Commit(ctx_).ok());
  EXPECT_TRUE(*(*other)->Exists(ctx_, digest::FromBytes("x")));
}

TEST_F(LocalStoreTest, GcMovesToTrashAndEmptyTrashDeletes) {
  Digest d = Put("to be collected");
  Result<GcStats> stats = store_->GarbageCollect(ctx_, {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->blobs_removed, 1u);
  EXPECT_FALSE(os::Exists(store_->BlobPath(d)));
  EXPECT_EQ(CountEntries(root_ + "/trash"), 1u);  // Deleted lazily.

  Result<size_t> emptied = store_->EmptyTrash(ctx_);
  ASSERT_TRUE(emptied.ok()) << emptied.error().ToString();
  EXPECT_EQ(*emptied, 1u);
  EXPECT_EQ(CountEntries(root_ + "/trash"), 0u);
}

// An ingest left by a process that crashed (no lock holder, old mtime) is collected by GC
// with its default age limit; the directory goes through the trash like blobs do.
TEST_F(LocalStoreTest, CrashLeftoversAreCollected) {
  std::string old_ingest = root_ + "/ingest/" + digest::FromBytes("crashed").hex();
  ASSERT_TRUE(os::MakeDirs(old_ingest).ok());
  ASSERT_TRUE(os::WriteFileAtomic(old_ingest + "/ref", "crashed").ok());
  ASSERT_TRUE(os::WriteFileAtomic(old_ingest + "/data", "partial layer bytes").ok());
  // A directory whose writer died before it even created the data file.
  std::string empty_ingest = root_ + "/ingest/" + digest::FromBytes("died-early").hex();
  ASSERT_TRUE(os::MakeDirs(empty_ingest).ok());
  // Two days old.
  timespec times[2] = {{::time(nullptr) - 2 * 86400, 0}, {::time(nullptr) - 2 * 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (old_ingest + "/data").c_str(), times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, empty_ingest.c_str(), times, 0), 0);
  // And a fresh abandoned one, which stays (it may yet be resumed).
  {
    WriterOptions o;
    o.ref = "recent";
    Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, o);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write("recent bytes").ok());
  }

  Result<std::vector<Status>> before = store_->ListIngests(ctx_);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 2u);  // The data-less directory is not a listable ingest.

  Result<GcStats> stats = store_->GarbageCollect(ctx_, {});
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_EQ(stats->ingests_removed, 2u);
  EXPECT_FALSE(os::Exists(old_ingest));
  EXPECT_FALSE(os::Exists(empty_ingest));
  Result<std::vector<Status>> after = store_->ListIngests(ctx_);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].ref, "recent");
  EXPECT_EQ((*after)[0].offset, 12u);
  ASSERT_TRUE(store_->EmptyTrash(ctx_).ok());
  EXPECT_EQ(CountEntries(root_ + "/trash"), 0u);
}

// The protocol that keeps GC from deleting a blob between its commit and its lease: while GC
// holds gc.lock exclusively, a commit into a lease and AddResource wait.
TEST_F(LocalStoreTest, LeasedCommitAndAddResourceWaitForGc) {
  Result<Lease> lease = store_->leases().Create(ctx_);
  ASSERT_TRUE(lease.ok());
  WriterOptions o;
  o.ref = "waits";
  o.lease = lease->id;
  Result<std::unique_ptr<Writer>> w = store_->OpenWriter(ctx_, o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("blocked until gc is done").ok());

  Result<FileLock> gc = FileLock::Acquire(root_ + "/gc.lock", FileLock::Mode::kExclusive);
  ASSERT_TRUE(gc.ok());
  std::atomic<bool> committed{false};
  std::atomic<bool> added{false};
  std::thread commit([&] {
    EXPECT_TRUE((*w)->Commit(ctx_).ok());
    committed = true;
  });
  std::thread add([&] {
    EXPECT_TRUE(store_->leases().AddResource(ctx_, lease->id, digest::FromBytes("x")).ok());
    added = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(committed.load());
  EXPECT_FALSE(added.load());
  EXPECT_FALSE(*store_->Exists(ctx_, digest::FromBytes("blocked until gc is done")));
  gc = Error::Cancelled("released");  // Drops the lock.
  commit.join();
  add.join();
  EXPECT_TRUE(committed.load());
  EXPECT_TRUE(added.load());
  EXPECT_TRUE(*store_->Exists(ctx_, digest::FromBytes("blocked until gc is done")));
}

TEST_F(LocalStoreTest, CorruptLeaseFileIsDataLoss) {
  ASSERT_TRUE(os::WriteFileAtomic(root_ + "/leases/broken", "not a lease\n").ok());
  Result<std::vector<Digest>> r = store_->leases().ListResources(ctx_, "broken");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
  // GC refuses to run on a lease set it cannot read, rather than deleting what it protects.
  Digest d = Put("maybe protected");
  Result<GcStats> gc = store_->GarbageCollect(ctx_, {});
  ASSERT_FALSE(gc.ok());
  EXPECT_TRUE(*store_->Exists(ctx_, d));
}

TEST_F(LocalStoreTest, NonSha256DigestsAreNotFound) {
  Result<Digest> d = Digest::Parse("sha512:" + std::string(128, 'a'));
  ASSERT_TRUE(d.ok());
  Result<Info> info = store_->Info(ctx_, *d);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code(), ErrorCode::kNotFound);
  Result<Info> empty = store_->Info(ctx_, Digest());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::content
