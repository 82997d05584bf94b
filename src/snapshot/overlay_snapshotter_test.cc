#include "snapshot/overlay_snapshotter.h"

#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "archive/tar_writer.h"
#include "archive/testing/tree.h"
#include "gtest/gtest.h"
#include "snapshot/apply_layer.h"
#include "snapshot/mount.h"
#include "snapshot/testing/overlay.h"

namespace berth::snapshot {
namespace {

using archive::testing::DescribeTree;
using archive::testing::ReadFileOrEmpty;
using archive::testing::TarBuilder;
using archive::testing::TempDir;
using archive::testing::WriteFile;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The upperdir= of an active snapshot's mounts ("" for a bind mount: its source).
std::string UpperOf(const std::vector<Mount>& mounts) {
  for (const std::string& o : mounts.at(0).options) {
    if (o.starts_with("upperdir=")) {
      return o.substr(9);
    }
  }
  return mounts.at(0).source;
}

class OverlaySnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = testing::OverlayUnavailableReason();
    if (!reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ::mkdir((dir_ / "mnt").c_str(), 0755);
    sn_ = Open();
  }

  std::unique_ptr<OverlaySnapshotter> Open(OverlayOptions options = {}) {
    Result<std::unique_ptr<OverlaySnapshotter>> s =
        OverlaySnapshotter::Open(dir_ / "root", options);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  ScopedMount MountOrDie(const std::vector<Mount>& mounts) {
    Result<ScopedMount> m = MountAll(mounts, mnt());
    EXPECT_TRUE(m.ok()) << m.error().ToString();
    return m.ok() ? std::move(*m) : ScopedMount();
  }

  // Prepares `key` over `parent`, lets `change` edit the mounted tree, commits as `name`.
  // Returns the layer's upper directory.
  template <typename F>
  std::string Layer(Snapshotter& s, const std::string& name, const std::string& parent, F change) {
    std::string key = name + "-active";
    Result<std::vector<Mount>> mounts = s.Prepare(ctx_, key, parent);
    EXPECT_TRUE(mounts.ok()) << mounts.error().ToString();
    if (!mounts.ok()) {
      return "";
    }
    {
      ScopedMount m = MountOrDie(*mounts);
      change(mnt());
      EXPECT_TRUE(m.Unmount().ok());
    }
    Result<> c = s.Commit(ctx_, name, key);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return UpperOf(*mounts);
  }

  std::string mnt() const { return dir_ / "mnt"; }

  Context ctx_ = Context::Background();
  TempDir dir_;
  std::unique_ptr<OverlaySnapshotter> sn_;
};

TEST_F(OverlaySnapshotterTest, PrepareCommitViewChain) {
  Layer(*sn_, "base", "", [](const std::string& root) {
    WriteFile(root + "/a", "from base");
    WriteFile(root + "/gone", "deleted later");
    ::mkdir((root + "/dir").c_str(), 0755);
    WriteFile(root + "/dir/x", "x");
  });
  std::string upper = Layer(*sn_, "top", "base", [](const std::string& root) {
    // The merged view shows the lower files.
    EXPECT_EQ(ReadFileOrEmpty(root + "/a"), "from base");
    EXPECT_EQ(ReadFileOrEmpty(root + "/dir/x"), "x");
    WriteFile(root + "/b", "from top");
    ASSERT_EQ(::unlink((root + "/gone").c_str()), 0);
  });
  // The upper holds only the change, with an overlay whiteout for the deletion.
  EXPECT_TRUE(Exists(upper + "/b"));
  EXPECT_FALSE(Exists(upper + "/a"));
  struct stat st {};
  ASSERT_EQ(::lstat((upper + "/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, 0u);

  Result<Info> info = sn_->Stat(ctx_, "top");
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->kind, Kind::kCommitted);
  EXPECT_EQ(info->parent, "base");
  EXPECT_FALSE(sn_->Stat(ctx_, "top-active").ok());

  Result<std::vector<Mount>> view = sn_->View(ctx_, "v", "top");
  ASSERT_TRUE(view.ok()) << view.error().ToString();
  EXPECT_EQ(view->at(0).type, "overlay");
  {
    ScopedMount m = MountOrDie(*view);
    EXPECT_EQ(ReadFileOrEmpty(mnt() + "/a"), "from base");
    EXPECT_EQ(ReadFileOrEmpty(mnt() + "/b"), "from top");
    EXPECT_FALSE(Exists(mnt() + "/gone"));
    EXPECT_NE(::mkdir((mnt() + "/new").c_str(), 0755), 0);  // a view is read-only
  }
  Result<Info> vinfo = sn_->Stat(ctx_, "v");
  ASSERT_TRUE(vinfo.ok());
  EXPECT_EQ(vinfo->kind, Kind::kView);
  // The same mounts come back from Mounts().
  Result<std::vector<Mount>> again = sn_->Mounts(ctx_, "v");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *view);
  EXPECT_EQ(sn_->Mounts(ctx_, "top").error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(OverlaySnapshotterTest, ExportedDiffHasOciWhiteouts) {
  Layer(*sn_, "base", "", [](const std::string& root) {
    WriteFile(root + "/keep", "k");
    WriteFile(root + "/remove-me", "r");
  });
  std::string upper = Layer(*sn_, "top", "base", [](const std::string& root) {
    ASSERT_EQ(::unlink((root + "/remove-me").c_str()), 0);
    WriteFile(root + "/added", "a");
  });
  StringWriter out;
  archive::TarOptions options;
  options.layout = archive::SourceLayout::kOverlayUpper;
  Result<archive::TarStats> stats = archive::WriteLayerTar(ctx_, upper, out, options);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_EQ(stats->whiteouts, 1u);
  EXPECT_NE(out.data().find(".wh.remove-me"), std::string::npos);
  EXPECT_NE(out.data().find("added"), std::string::npos);
  EXPECT_EQ(out.data().find("keep"), std::string::npos);
}

TEST_F(OverlaySnapshotterTest, ApplyLayerSnapshotTurnsOciWhiteoutsIntoOverlayOnes) {
  TarBuilder l1;
  l1.Dir("etc/").File("etc/a", "a1").File("etc/b", "b1").Dir("opq/").File("opq/old", "o");
  l1.Symlink("link", "etc");
  std::string layer1 = l1.Finish();
  TarBuilder l2;
  l2.Whiteout("etc/a").Opaque("opq").File("opq/new", "n").File("link/c", "through symlink");
  std::string layer2 = l2.Finish();

  StringReader r1(layer1);
  Result<std::string> n1 = ApplyLayerSnapshot(ctx_, *sn_, "", "layer1", r1);
  ASSERT_TRUE(n1.ok()) << n1.error().ToString();
  StringReader r2(layer2);
  Result<std::string> n2 = ApplyLayerSnapshot(ctx_, *sn_, "layer1", "layer2", r2);
  ASSERT_TRUE(n2.ok()) << n2.error().ToString();
  EXPECT_EQ(*n2, "layer2");

  Result<std::vector<Mount>> view = sn_->View(ctx_, "v", "layer2");
  ASSERT_TRUE(view.ok()) << view.error().ToString();
  {
    ScopedMount m = MountOrDie(*view);
    EXPECT_FALSE(Exists(mnt() + "/etc/a"));
    EXPECT_EQ(ReadFileOrEmpty(mnt() + "/etc/b"), "b1");
    EXPECT_FALSE(Exists(mnt() + "/opq/old"));
    EXPECT_EQ(ReadFileOrEmpty(mnt() + "/opq/new"), "n");
    EXPECT_EQ(ReadFileOrEmpty(mnt() + "/etc/c"), "through symlink");
  }
  // Applying the same layer again under the same name is success (AlreadyExists), and leaves no
  // active snapshot behind.
  StringReader r2b(layer2);
  Result<std::string> again = ApplyLayerSnapshot(ctx_, *sn_, "layer1", "layer2", r2b);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  int count = 0;
  ASSERT_TRUE(sn_->Walk(ctx_,
                        [&](const Info&) -> Result<> {
                          count++;
                          return {};
                        })
                  .ok());
  EXPECT_EQ(count, 3);  // layer1, layer2, v
}

TEST_F(OverlaySnapshotterTest, ALayerThatIsNotItsDiffIdIsNotCommitted) {
  TarBuilder l1;
  l1.Dir("etc/").File("etc/a", "a1");
  std::string layer = l1.Finish();
  digest::Digest right = digest::FromBytes(layer);
  digest::Digest wrong = digest::FromBytes("another layer");

  StringReader lying(layer);
  Result<std::string> refused =
      ApplyLayerSnapshot(ctx_, *sn_, "", "chain-x", lying, nullptr, &wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kDataLoss) << refused.error().ToString();
  EXPECT_FALSE(sn_->Stat(ctx_, "chain-x").ok());

  StringReader honest(layer);
  archive::ApplyStats stats;
  Result<std::string> applied =
      ApplyLayerSnapshot(ctx_, *sn_, "", "chain-x", honest, &stats, &right);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ(stats.diff_id, right);
}

TEST_F(OverlaySnapshotterTest, FailedApplyLeavesNoSnapshot) {
  StringReader bad("this is not a tar archive, not even close............................");
  Result<std::string> n = ApplyLayerSnapshot(ctx_, *sn_, "", "bad", bad);
  ASSERT_FALSE(n.ok());
  int count = 0;
  ASSERT_TRUE(sn_->Walk(ctx_,
                        [&](const Info&) -> Result<> {
                          count++;
                          return {};
                        })
                  .ok());
  EXPECT_EQ(count, 0);
}

TEST_F(OverlaySnapshotterTest, LongChainIsFlattenedAndStillRight) {
  constexpr int kLayers = 150;
  std::string parent;
  for (int i = 0; i < kLayers; ++i) {
    std::string name = "l" + std::to_string(i);
    Layer(*sn_, name, parent, [i](const std::string& root) {
      WriteFile(root + "/f" + std::to_string(i), std::to_string(i));
      WriteFile(root + "/common", std::to_string(i));
      if (i >= 2) {
        ASSERT_EQ(::unlink((root + "/f" + std::to_string(i - 2)).c_str()), 0);
      }
      if (i == 3) {
        ::mkdir((root + "/d").c_str(), 0755);
        WriteFile(root + "/d/inner", "3");
      }
      if (i == 140) {
        WriteFile(root + "/d/inner140", "140");
      }
    });
    if (HasFailure()) {
      return;
    }
    parent = name;
  }
  EXPECT_GE(sn_->flattens(), 1u);
  Result<std::vector<Mount>> view = sn_->View(ctx_, "v", parent);
  ASSERT_TRUE(view.ok()) << view.error().ToString();
  ScopedMount m = MountOrDie(*view);
  EXPECT_EQ(ReadFileOrEmpty(mnt() + "/common"), std::to_string(kLayers - 1));
  EXPECT_EQ(ReadFileOrEmpty(mnt() + "/f149"), "149");
  EXPECT_EQ(ReadFileOrEmpty(mnt() + "/f148"), "148");
  EXPECT_FALSE(Exists(mnt() + "/f147"));
  EXPECT_FALSE(Exists(mnt() + "/f0"));
  EXPECT_EQ(ReadFileOrEmpty(mnt() + "/d/inner"), "3");
  EXPECT_EQ(ReadFileOrEmpty(mnt() + "/d/inner140"), "140");
  std::string listing = DescribeTree(mnt(), {.mtimes = false});
  EXPECT_EQ(std::count(listing.begin(), listing.end(), '\n'), 6) << listing;
}

TEST_F(OverlaySnapshotterTest, FlattensAtTheConfiguredDepth) {
  sn_ = Open({.max_lowers = 4});
  std::string parent;
  for (int i = 0; i < 10; ++i) {
    std::string name = "l" + std::to_string(i);
    Layer(*sn_, name, parent,
          [i](const std::string& root) { WriteFile(root + "/f" + std::to_string(i), "x"); });
    parent = name;
  }
  EXPECT_EQ(sn_->flattens(), 2u);
  Result<std::vector<Mount>> view = sn_->View(ctx_, "v", parent);
  ASSERT_TRUE(view.ok());
  ScopedMount m = MountOrDie(*view);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Exists(mnt() + "/f" + std::to_string(i))) << i;
  }
}

TEST_F(OverlaySnapshotterTest, RemoveRefusesParentsAndDeletes) {
  std::string upper =
      Layer(*sn_, "base", "", [](const std::string& root) { WriteFile(root + "/a", "a"); });
  ASSERT_TRUE(sn_->Prepare(ctx_, "child", "base").ok());
  Result<> r = sn_->Remove(ctx_, "base");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(sn_->Remove(ctx_, "child").ok());
  ASSERT_TRUE(sn_->Remove(ctx_, "base").ok());
  EXPECT_EQ(sn_->Stat(ctx_, "base").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(sn_->Remove(ctx_, "base").error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(Exists(upper));
}

TEST_F(OverlaySnapshotterTest, RemoveManyGoesChildrenFirstAndSkipsParents) {
  std::string base_upper =
      Layer(*sn_, "base", "", [](const std::string& root) { WriteFile(root + "/a", "a"); });
  Layer(*sn_, "mid", "base", [](const std::string& root) { WriteFile(root + "/b", "b"); });
  Layer(*sn_, "top", "mid", [](const std::string& root) { WriteFile(root + "/c", "c"); });
  Layer(*sn_, "other", "base", [](const std::string& root) { WriteFile(root + "/d", "d"); });
  ASSERT_TRUE(sn_->Prepare(ctx_, "work", "other").ok());

  // "base" keeps a child outside the list ("other"), "other" its active child; "gone" is absent.
  Result<std::vector<std::string>> removed =
      sn_->RemoveMany(ctx_, {"base", "mid", "top", "other", "gone"});
  ASSERT_TRUE(removed.ok()) << removed.error().ToString();
  EXPECT_EQ(*removed, (std::vector<std::string>{"top", "mid"}));
  EXPECT_EQ(sn_->Stat(ctx_, "mid").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(sn_->Stat(ctx_, "base").ok());
  EXPECT_TRUE(sn_->Stat(ctx_, "other").ok());

  ASSERT_TRUE(sn_->Remove(ctx_, "work").ok());
  removed = sn_->RemoveMany(ctx_, {"base", "other"});
  ASSERT_TRUE(removed.ok()) << removed.error().ToString();
  EXPECT_EQ(*removed, (std::vector<std::string>{"other", "base"}));
  EXPECT_FALSE(Exists(base_upper));
}

TEST_F(OverlaySnapshotterTest, ErrorsFollowTheContract) {
  ASSERT_TRUE(sn_->Prepare(ctx_, "a", "").ok());
  EXPECT_EQ(sn_->Prepare(ctx_, "a", "").error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(sn_->Prepare(ctx_, "b", "missing").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(sn_->Prepare(ctx_, "b", "a").error().code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(sn_->Prepare(ctx_, "a2", "").ok());
  ASSERT_TRUE(sn_->Commit(ctx_, "A", "a").ok());
  // A second commit of the same name: AlreadyExists, and the active key stays.
  Result<> again = sn_->Commit(ctx_, "A", "a2");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(sn_->Stat(ctx_, "a2").ok());
  EXPECT_EQ(sn_->Commit(ctx_, "B", "A").error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(sn_->Stat(ctx_, "").error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(OverlaySnapshotterTest, KeysWithSlashesAndColons) {
  std::string name = "sha256:abc/def/../../x";
  Layer(*sn_, name, "", [](const std::string& root) { WriteFile(root + "/a", "a"); });
  Result<Info> info = sn_->Stat(ctx_, name);
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->name, name);
}

TEST_F(OverlaySnapshotterTest, PersistsAcrossReopen) {
  Layer(*sn_, "base", "", [](const std::string& root) { WriteFile(root + "/a", "a"); });
  ASSERT_TRUE(sn_->Prepare(ctx_, "work", "base").ok());
  sn_.reset();
  std::unique_ptr<OverlaySnapshotter> s = Open();
  ASSERT_NE(s, nullptr);
  Result<Info> info = s->Stat(ctx_, "work");
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->kind, Kind::kActive);
  Result<std::vector<Mount>> mounts = s->Mounts(ctx_, "work");
  ASSERT_TRUE(mounts.ok());
  ScopedMount m = MountOrDie(*mounts);
  EXPECT_EQ(ReadFileOrEmpty(mnt() + "/a"), "a");
  // New ids do not collide with old ones.
  Result<std::vector<Mount>> other = s->Prepare(ctx_, "other", "base");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(UpperOf(*other), UpperOf(*mounts));
}

TEST_F(OverlaySnapshotterTest, TwoSnapshottersShareARoot) {
  std::unique_ptr<OverlaySnapshotter> other = Open();
  ASSERT_NE(other, nullptr);
  constexpr int kPerThread = 20;
  auto work = [&](Snapshotter* s, const std::string& prefix) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string key = prefix + std::to_string(i);
      ASSERT_TRUE(s->Prepare(ctx_, key, "").ok());
      // Both race to commit the same names: exactly one wins each, the other sees AlreadyExists.
      Result<> c = s->Commit(ctx_, "shared" + std::to_string(i), key);
      if (!c.ok()) {
        ASSERT_EQ(c.error().code(), ErrorCode::kAlreadyExists);
        ASSERT_TRUE(s->Remove(ctx_, key).ok());
      }
    }
  };
  std::thread t1(work, sn_.get(), "one-");
  std::thread t2(work, other.get(), "two-");
  t1.join();
  t2.join();
  int count = 0;
  ASSERT_TRUE(sn_->Walk(ctx_,
                        [&](const Info& info) -> Result<> {
                          EXPECT_EQ(info.kind, Kind::kCommitted);
                          count++;
                          return {};
                        })
                  .ok());
  EXPECT_EQ(count, kPerThread);
}

TEST_F(OverlaySnapshotterTest, UsageCountsTheOwnLayer) {
  Layer(*sn_, "base", "",
        [](const std::string& root) { WriteFile(root + "/big", std::string(1 << 20, 'x')); });
  Layer(*sn_, "top", "base", [](const std::string& root) { WriteFile(root + "/small", "s"); });
  Result<DiskUsage> base = sn_->Usage(ctx_, "base");
  ASSERT_TRUE(base.ok()) << base.error().ToString();
  EXPECT_GE(base->bytes, 1 << 20);
  EXPECT_EQ(base->inodes, 2);  // the root directory and big
  Result<DiskUsage> top = sn_->Usage(ctx_, "top");
  ASSERT_TRUE(top.ok());
  EXPECT_LT(top->bytes, 1 << 20);
  EXPECT_EQ(top->inodes, 2);
}

}  // namespace
}  // namespace berth::snapshot
