// OverlaySnapshotter: the Snapshotter on overlayfs, laid out as containerd's overlay snapshotter.
//
// Layout under the root directory:
//   snapshots/<id>/fs     the snapshot's own layer: the overlay upper directory of an active
//                         snapshot, and after Commit the layer diff itself (overlay whiteouts
//                         and opaque directories included; archive::WriteLayerTar with
//                         SourceLayout::kOverlayUpper turns it into an OCI layer tar)
//   snapshots/<id>/work   overlay's work directory (active snapshots only)
//   meta/<key>.json       one record per snapshot (id, kind, parent, the ids of the directories
//                         stacked below it), written atomically; keys are %-escaped
//   lock                  flock(2) taken around every metadata change, so several snapshotters
//                         and processes can share a root
//   trash/                removed snapshots, renamed here first and then deleted
// Ids are small decimal numbers so that lowerdir= stays short. The JSON records are the
// stopgap store: the solver's cache index brings SQLite, and the records move there with it.
//
// Mounts: a snapshot without parents is a bind mount of its fs directory (read-only for a
// view); with parents it is an overlay whose lowerdir lists the parents' fs directories nearest
// first (a view of a single parent binds that parent's fs read-only).
//
// Deep chains: the kernel stacks at most 500 lowers and mount(2) takes one page (4096 bytes) of
// options. Before a Prepare or View would stack more than `max_lowers` directories (default 128)
// or need more than `max_option_bytes` (default 3800) of options, the parent chain is flattened:
// its merged tree is materialised once into a new directory (the bottom tree copied, then every
// diff above it applied in order with whiteouts honoured), recorded on the parent, and used as
// the single lower from then on by the parent's descendants. Flattening costs a copy of the
// merged tree once per `max_lowers` layers; it never changes what a mount shows.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/snapshotter.h"

namespace berth::snapshot {

struct OverlayOptions {
  int max_lowers = 128;
  size_t max_option_bytes = 3800;
};

class OverlaySnapshotter final : public Snapshotter {
 public:
  // Opens (creating if needed) the snapshotter rooted at `root`.
  static Result<std::unique_ptr<OverlaySnapshotter>> Open(const std::string& root,
                                                          OverlayOptions options = {});

  Result<Info> Stat(const Context& ctx, const std::string& key) override;
  Result<std::vector<Mount>> Prepare(const Context& ctx, const std::string& key,
                                     const std::string& parent) override;
  Result<std::vector<Mount>> View(const Context& ctx, const std::string& key,
                                  const std::string& parent) override;
  Result<std::vector<Mount>> Mounts(const Context& ctx, const std::string& key) override;
  Result<> Commit(const Context& ctx, const std::string& name, const std::string& key) override;
  Result<> Remove(const Context& ctx, const std::string& key) override;
  Result<> Walk(const Context& ctx, const std::function<Result<>(const Info&)>& fn) override;
  Result<DiskUsage> Usage(const Context& ctx, const std::string& key) override;

  // Removes those of `keys` that have no children once the others among `keys` are gone
  // (children before their parents), in one scan of the records: for GC, where Remove's scan
  // per snapshot would make removing k of n snapshots cost k*n reads. Keys that are absent or
  // keep a child outside `keys` are skipped. Returns the keys removed.
  Result<std::vector<std::string>> RemoveMany(const Context& ctx,
                                              const std::vector<std::string>& keys);

  const std::string& root() const { return root_; }
  // How many times this object flattened a chain (for tests and metrics).
  uint64_t flattens() const { return flattens_.load(); }

  struct Record;

 private:
  OverlaySnapshotter(std::string root, OverlayOptions options)
      : root_(std::move(root)), options_(options) {}

  Result<std::vector<Mount>> CreateSnapshot(const Context& ctx, Kind kind, const std::string& key,
                                            const std::string& parent);
  // Materialises `parent`'s merged tree and records it as the parent's flattened lower.
  Result<> Flatten(const Context& ctx, const std::string& parent);
  Result<uint64_t> AllocateId();
  std::vector<Mount> MountsOf(const Record& record) const;
  bool Fits(const std::vector<uint64_t>& lowers) const;
  std::string FsDir(uint64_t id) const;
  std::string WorkDir(uint64_t id) const;
  std::string MetaPath(const std::string& key) const;

  std::string root_;
  OverlayOptions options_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> flattens_{0};
};

}  // namespace berth::snapshot
