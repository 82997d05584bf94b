// Mount values and the mount(2) calls that apply them.
//
// A snapshotter hands out Mount values (type, source, options), never paths, as containerd
// does: the caller decides where and for how long a snapshot is mounted. This file turns those
// values into mount(2) calls. It never runs the mount(8) command: the syscall takes 0.3-0.9 ms
// for an overlay with 10 lowers, the command ~5 ms (DESIGN.md, measured facts).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace berth::snapshot {

// One mount, as containerd's mount.Mount: `type` is a file system type ("overlay", "tmpfs") or
// "bind"; `options` are mount(8)-style words. Flag words (ro, rw, bind, rbind, nosuid, nodev,
// noexec, relatime, ...) become mount flags; everything else ("lowerdir=...", "size=64m")
// joins the data string passed to the file system.
struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;

  friend bool operator==(const Mount&, const Mount&) = default;
};

// Mounts `mount` on the existing directory (or file, for a bind of a file) `target`. A bind
// with "ro" is mounted and then remounted read-only, as the kernel requires.
// Errors: InvalidArgument for an empty target, errno-based errors from mount(2).
Result<> MountAt(const Mount& mount, const std::string& target);

// umount2(target, flags).
Result<> Unmount(const std::string& target, int flags = 0);

// Owns the mounts stacked on one target and unmounts them (last first) when it goes away.
// Move-only. Unmount() is the normal path and reports errors; the destructor is the safety net:
// it tries a plain unmount and falls back to a lazy one (MNT_DETACH) so a busy mount never
// outlives its owner.
class ScopedMount {
 public:
  ScopedMount() = default;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ScopedMount(ScopedMount&& other) noexcept;
  ScopedMount& operator=(ScopedMount&& other) noexcept;
  ~ScopedMount();

  // Takes ownership of `count` mounts stacked on `target` (already mounted).
  ScopedMount(std::string target, int count) : target_(std::move(target)), count_(count) {}

  const std::string& target() const { return target_; }
  bool mounted() const { return count_ > 0; }

  // Unmounts everything this handle owns. On error the rest stays owned (the destructor will
  // detach it). Idempotent.
  Result<> Unmount();

  // Gives up ownership without unmounting.
  void Release() { count_ = 0; }

 private:
  void DetachAll() noexcept;

  std::string target_;
  int count_ = 0;
};

// Mounts `mounts` in order on `target` (containerd's mount.All) and returns the owning handle.
// If one fails, the ones already mounted are unmounted again.
Result<ScopedMount> MountAll(const std::vector<Mount>& mounts, const std::string& target);

}  // namespace berth::snapshot
