#include "snapshot/apply_layer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "base/scope_exit.h"
#include "snapshot/fs_util.h"
#include "snapshot/mount.h"

namespace berth::snapshot {

Result<std::string> ApplyLayerSnapshot(const Context& ctx, Snapshotter& snapshotter,
                                       const std::string& parent, const std::string& name,
                                       Reader& layer, archive::ApplyStats* stats,
                                       const digest::Digest* expect_diff_id) {
  static std::atomic<uint64_t> counter{0};
  std::string key =
      "extract-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + " " + name;
  std::vector<Mount> mounts = BERTH_TRY(snapshotter.Prepare(ctx, key, parent));
  bool committed = false;
  auto remove_active = ScopeExit([&] {
    if (!committed) {
      (void)snapshotter.Remove(ctx, key);
    }
  });
  std::string target = BERTH_TRY(MakeTempDir("berth-apply-"));
  auto remove_target = ScopeExit([&] { ::rmdir(target.c_str()); });
  {
    ScopedMount mounted = BERTH_TRY(MountAll(mounts, target));
    archive::ApplyOptions options;
    options.follow_symlinks_in_root = true;
    archive::ApplyStats applied = BERTH_TRY_CONTEXT(
        archive::ApplyLayer(ctx, layer, target, options), "unpacking layer " + name);
    if (stats != nullptr) {
      *stats = applied;
    }
    if (expect_diff_id != nullptr && applied.diff_id != *expect_diff_id) {
      return Error::DataLoss("layer " + name + ": its content has diff ID " +
                             applied.diff_id.ToString() + ", not " + expect_diff_id->ToString());
    }
    BERTH_TRY(mounted.Unmount());
  }
  Result<> commit = snapshotter.Commit(ctx, name, key);
  if (!commit.ok()) {
    if (commit.error().code() == ErrorCode::kAlreadyExists) {
      return name;  // someone else unpacked it first; ours is removed by remove_active
    }
    return std::move(commit).error();
  }
  committed = true;
  return name;
}

}  // namespace berth::snapshot
