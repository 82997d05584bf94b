// Cache reset and eviction over a real cache index and overlay snapshotter (snapshots are made
// and committed as directories; nothing is mounted, so no root is needed).
#include "engine/cache_admin.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "base/io.h"
#include "base/unique_fd.h"
#include "cache/sqlite_index.h"
#include "engine/runner.h"
#include "images/root.h"
#include "os/file.h"
#include "snapshot/fs_util.h"
#include "snapshot/overlay_snapshotter.h"

namespace berth::engine {
namespace {

using namespace std::chrono_literals;

class CacheAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cache-admin-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    Result<std::unique_ptr<snapshot::OverlaySnapshotter>> s =
        snapshot::OverlaySnapshotter::Open(root_ + "/snapshots");
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    snapshotter_ = std::move(*s);
    Result<std::unique_ptr<cache::SqliteIndex>> index =
        cache::SqliteIndex::Open({.path = root_ + "/cache.db"});
    ASSERT_TRUE(index.ok()) << index.error().ToString();
    index_ = std::move(*index);
  }
  void TearDown() override { (void)snapshot::RemoveAll(root_); }

  void Snapshot(const std::string& name, const std::string& parent) {
    ASSERT_TRUE(snapshotter_->Prepare(ctx_, "active-" + name, parent).ok()) << name;
    ASSERT_TRUE(snapshotter_->Commit(ctx_, name, "active-" + name).ok()) << name;
  }

  // A record of `snapshot` under `key`, last used `age` before a fixed instant.
  void Put(const std::string& project, const std::string& key, const std::string& snapshot,
           int64_t size, std::chrono::seconds age = 0s) {
    cache::Record r;
    r.snapshot = snapshot;
    r.size = size;
    r.description = "step " + key;
    r.last_used_at = kNow - age;
    ASSERT_TRUE(index_->Put(ctx_, project, key, r).ok()) << key;
  }

  std::set<std::string> Snapshots() {
    std::set<std::string> names;
    EXPECT_TRUE(snapshotter_
                    ->Walk(ctx_,
                           [&](const snapshot::Info& info) -> Result<> {
                             names.insert(info.name);
                             return {};
                           })
                    .ok());
    return names;
  }

  std::set<std::string> Keys(const std::string& project) {
    Result<std::vector<cache::Record>> list = ListCache(ctx_, root_, project);
    EXPECT_TRUE(list.ok()) << list.error().ToString();
    std::set<std::string> keys;
    for (const cache::Record& r : list.value_or(std::vector<cache::Record>{})) {
      keys.insert(r.key);
    }
    return keys;
  }

  // A base image chain, project p's steps on it, project q's, and a snapshot both use.
  void MakeTwoProjects() {
    Snapshot("chain-base", "");
    Snapshot("a1", "chain-base");
    Snapshot("a2", "a1");
    Snapshot("b1", "chain-base");
    Snapshot("shared", "chain-base");
    Put("", LayerKey("chain-base"), "chain-base", 0);
    Put("p", "from", "chain-base", 0);
    Put("p", "k1", "a1", 100);
    Put("p", "k2", "a2", 200);
    Put("p", "ks", "shared", 50);
    Put("", LayerKey("a2"), "a2", 0);  // a2 was exported
    Put("q", "from", "chain-base", 0);
    Put("q", "k1", "b1", 400);
    Put("q", "ks", "shared", 50);
  }

  const cache::Time kNow = cache::Time() + std::chrono::seconds(1'800'000'000);
  Context ctx_ = Context::Background();
  std::string root_;
  std::unique_ptr<snapshot::OverlaySnapshotter> snapshotter_;
  std::unique_ptr<cache::SqliteIndex> index_;
};

TEST_F(CacheAdminTest, ResetDropsOnlyThatProjectsEntriesSnapshotsAndMounts) {
  MakeTwoProjects();
  std::string p_mounts = CacheMountsDir(root_, "p");
  std::string q_mounts = CacheMountsDir(root_, "q");
  ASSERT_NE(p_mounts, q_mounts);
  ASSERT_TRUE(os::MakeDirs(p_mounts + "/0123456789abcdef0123456789abcdef").ok());
  ASSERT_TRUE(os::MakeDirs(q_mounts + "/0123456789abcdef0123456789abcdef").ok());

  Result<CacheCleanup> reset = ResetCache(ctx_, root_, "p");
  ASSERT_TRUE(reset.ok()) << reset.error().ToString();
  EXPECT_EQ(reset->entries, 4);
  EXPECT_EQ(reset->bytes, 350);
  EXPECT_FALSE(reset->deferred);
  EXPECT_TRUE(reset->cache_mounts);
  // p's own steps go, with the exported layer's record; the base chain and what q uses stay.
  EXPECT_EQ(reset->snapshots, 2);
  EXPECT_EQ(Snapshots(), (std::set<std::string>{"chain-base", "b1", "shared"}));
  EXPECT_TRUE(Keys("p").empty());
  EXPECT_EQ(Keys("q"), (std::set<std::string>{"from", "k1", "ks"}));
  Result<cache::Record> exported = index_->Lookup(ctx_, "", LayerKey("a2"));
  ASSERT_FALSE(exported.ok());
  EXPECT_EQ(exported.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(index_->Lookup(ctx_, "", LayerKey("chain-base")).ok());
  EXPECT_FALSE(os::Exists(p_mounts));
  EXPECT_TRUE(os::Exists(q_mounts + "/0123456789abcdef0123456789abcdef"));
}

TEST_F(CacheAdminTest, ARunningBuildDefersSnapshotRemoval) {
  MakeTwoProjects();
  // A build holds the GC lock shared, as an IndexCache does.
  ASSERT_TRUE(os::MakeDirs(root_ + "/locks", 0700).ok());
  Result<UniqueFd> held = os::Open(GcLockPath(root_ + "/locks"), O_RDWR | O_CREAT | O_CLOEXEC);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(flock(held->get(), LOCK_SH), 0);

  Result<CacheCleanup> reset = ResetCache(ctx_, root_, "q");
  ASSERT_TRUE(reset.ok()) << reset.error().ToString();
  EXPECT_TRUE(reset->deferred);
  EXPECT_EQ(reset->entries, 3);
  EXPECT_EQ(reset->snapshots, 0);
  EXPECT_TRUE(Keys("q").empty()) << "the entries are gone at once";
  EXPECT_EQ(Snapshots().count("b1"), 1u) << "the snapshots wait for the build";

  // The build ends; the next eviction of q finishes the removal.
  held = UniqueFd();
  Result<CacheCleanup> evicted = EvictCache(ctx_, root_, "q", 0, cache::Time::max());
  ASSERT_TRUE(evicted.ok()) << evicted.error().ToString();
  EXPECT_FALSE(evicted->deferred);
  EXPECT_EQ(evicted->snapshots, 1);  // b1 (shared is still p's)
  EXPECT_EQ(Snapshots(), (std::set<std::string>{"chain-base", "a1", "a2", "shared"}));
  EXPECT_EQ(Keys("p"), (std::set<std::string>{"from", "k1", "k2", "ks"}));
}

TEST_F(CacheAdminTest, EvictionGoesLeastRecentlyUsedFirstAndKeepsRunningBuildsEntries) {
  Snapshot("chain-base", "");
  Put("", LayerKey("chain-base"), "chain-base", 0);
  Snapshot("s1", "chain-base");
  Snapshot("s2", "s1");
  Snapshot("s3", "chain-base");
  Snapshot("s4", "chain-base");
  Put("p", "k1", "s1", 100, 40s);  // oldest, but s2 (newer) stacks on it
  Put("p", "k2", "s2", 100, 30s);
  Put("p", "k3", "s3", 100, 20s);
  Put("p", "k4", "s4", 100, 10s);  // used by a build still running

  // A 50-byte cap wants all four gone: k1, k2 and k3 go, but k4 was used since the running
  // build started, so it stays although the project is still over its cap.
  Result<CacheCleanup> evicted = EvictCache(ctx_, root_, "p", 50, kNow - 15s);
  ASSERT_TRUE(evicted.ok()) << evicted.error().ToString();
  EXPECT_EQ(evicted->entries, 3);
  EXPECT_EQ(evicted->bytes, 300);
  EXPECT_EQ(Keys("p"), std::set<std::string>{"k4"});
  EXPECT_EQ(Snapshots(), (std::set<std::string>{"chain-base", "s4"}));

  // Under a larger cap: nothing to do.
  Result<CacheCleanup> none = EvictCache(ctx_, root_, "p", 150, cache::Time::max());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->entries, 0);
  EXPECT_EQ(none->snapshots, 0);
  EXPECT_EQ(Keys("p"), std::set<std::string>{"k4"});
}

TEST_F(CacheAdminTest, EvictionStopsAtTheCapAndKeepsParentsOfLiveEntries) {
  Snapshot("chain-base", "");
  Put("", LayerKey("chain-base"), "chain-base", 0);
  Snapshot("s1", "chain-base");
  Snapshot("s2", "s1");
  Put("p", "k1", "s1", 100, 40s);
  Put("p", "k2", "s2", 100, 30s);
  Result<CacheCleanup> evicted = EvictCache(ctx_, root_, "p", 150, cache::Time::max());
  ASSERT_TRUE(evicted.ok()) << evicted.error().ToString();
  EXPECT_EQ(evicted->entries, 1);
  EXPECT_EQ(Keys("p"), std::set<std::string>{"k2"});
  // s1's entry is gone, but s2 stacks on it: it stays until s2 goes.
  EXPECT_EQ(Snapshots(), (std::set<std::string>{"chain-base", "s1", "s2"}));
  EXPECT_EQ(evicted->snapshots, 0);
  EXPECT_EQ(EvictCache(ctx_, root_, "p", -1, cache::Time::max()).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(CacheAdminTest, TheDefaultProjectKeepsBaseImagesAndHidesLayerRecords) {
  Snapshot("chain-base", "");
  Snapshot("step", "chain-base");
  Put("", LayerKey("chain-base"), "chain-base", 0);
  Put("", "from", "chain-base", 0);
  Put("", "run", "step", 100);
  Put("", LayerKey("step"), "step", 0);
  EXPECT_EQ(Keys(""), (std::set<std::string>{"from", "run"}));
  std::string mounts = CacheMountsDir(root_, "");
  ASSERT_TRUE(os::MakeDirs(mounts + "/0123456789abcdef0123456789abcdef").ok());
  ASSERT_TRUE(os::MakeDirs(CacheMountsDir(root_, "p") + "/0123456789abcdef0123456789abcdef").ok());

  Result<CacheCleanup> reset = ResetCache(ctx_, root_, "");
  ASSERT_TRUE(reset.ok()) << reset.error().ToString();
  EXPECT_EQ(reset->entries, 2);
  EXPECT_EQ(Snapshots(), std::set<std::string>{"chain-base"});
  EXPECT_TRUE(Keys("").empty());
  EXPECT_TRUE(index_->Lookup(ctx_, "", LayerKey("chain-base")).ok());
  // The default's own mounts go; another project's directory inside cache-mounts/ stays.
  EXPECT_FALSE(os::Exists(mounts + "/0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(os::Exists(CacheMountsDir(root_, "p") + "/0123456789abcdef0123456789abcdef"));
}

TEST_F(CacheAdminTest, RecoveryRemovesWhatDeadBuildsLeftUnlessABuildRuns) {
  Snapshot("chain-base", "");
  ASSERT_TRUE(snapshotter_->Prepare(ctx_, "active-dead", "chain-base").ok());
  ASSERT_TRUE(snapshotter_->View(ctx_, "view-dead", "chain-base").ok());

  // A build holds the GC lock: it may own those, so nothing is touched.
  ASSERT_TRUE(os::MakeDirs(root_ + "/locks", 0700).ok());
  Result<UniqueFd> held = os::Open(GcLockPath(root_ + "/locks"), O_RDWR | O_CREAT | O_CLOEXEC);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(flock(held->get(), LOCK_SH), 0);
  Result<Recovery> skipped = RecoverRoot(ctx_, root_);
  ASSERT_TRUE(skipped.ok()) << skipped.error().ToString();
  EXPECT_TRUE(skipped->skipped);
  EXPECT_EQ(Snapshots(), (std::set<std::string>{"chain-base", "active-dead", "view-dead"}));

  held = UniqueFd();
  Result<Recovery> recovered = RecoverRoot(ctx_, root_);
  ASSERT_TRUE(recovered.ok()) << recovered.error().ToString();
  EXPECT_FALSE(recovered->skipped);
  EXPECT_EQ(recovered->snapshots, 2);
  EXPECT_EQ(recovered->unmounted, 0);
  EXPECT_EQ(Snapshots(), std::set<std::string>{"chain-base"});
}

TEST_F(CacheAdminTest, BlobCollectionKeepsImagesCacheLayersAndLeases) {
  std::unique_ptr<images::Root> store = images::Root::Open(root_).value();
  auto write = [&](const std::string& data) {
    StringReader src(data);
    return content::WriteBlob(ctx_, store->content(), src, {.ref = "t-" + data}).value();
  };
  // An image's manifest, config and layer; a cache layer; a leased blob; and an orphan.
  digest::Digest config = write(R"({"architecture":"amd64","os":"linux"})");
  digest::Digest layer = write("image layer");
  std::string manifest_text =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      config.ToString() +
      R"(","size":37},"layers":[{"mediaType":)"
      R"("application/vnd.oci.image.layer.v1.tar","digest":")" +
      layer.ToString() + R"(","size":11}]})";
  digest::Digest manifest = write(manifest_text);
  ASSERT_TRUE(store->images()
                  .Put(ctx_, "docker.io/library/kept:latest",
                       {.media_type = "application/vnd.oci.image.manifest.v1+json",
                        .digest = manifest,
                        .size = static_cast<int64_t>(manifest_text.size())})
                  .ok());
  digest::Digest cached = write("cached layer");
  Put("p", "k1", "s1", 100);
  ASSERT_TRUE(index_
                  ->AddLayer(ctx_, "p", "k1",
                             {.media_type = "application/vnd.oci.image.layer.v1.tar",
                              .digest = cached,
                              .size = 12,
                              .diff_id = cached})
                  .ok());
  digest::Digest leased = write("leased");
  ASSERT_TRUE(store->content().leases().Create(ctx_, {.id = "registry"}).ok());
  ASSERT_TRUE(store->content().leases().AddResource(ctx_, "registry", leased).ok());
  digest::Digest orphan = write("nobody's");

  // A build running (the GC lock held shared): nothing happens.
  {
    ASSERT_TRUE(os::MakeDirs(root_ + "/locks", 0700).ok());
    UniqueFd held = os::Open(GcLockPath(root_ + "/locks"), O_RDWR | O_CREAT, 0600).value();
    ASSERT_EQ(::flock(held.get(), LOCK_SH), 0);
    BlobCollection skipped = CollectBlobs(ctx_, root_).value();
    EXPECT_TRUE(skipped.skipped);
    EXPECT_TRUE(store->content().Exists(ctx_, orphan).value());
  }
  BlobCollection collected = CollectBlobs(ctx_, root_).value();
  EXPECT_FALSE(collected.skipped);
  EXPECT_EQ(collected.blobs, 1);
  EXPECT_EQ(collected.bytes, 8);
  EXPECT_FALSE(store->content().Exists(ctx_, orphan).value());
  for (const digest::Digest& d : {config, layer, manifest, cached, leased}) {
    EXPECT_TRUE(store->content().Exists(ctx_, d).value()) << d.ToString();
  }
}

}  // namespace
}  // namespace berth::engine
