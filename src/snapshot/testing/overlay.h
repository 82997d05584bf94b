// Test helpers: whether overlayfs can be mounted here, and mount-and-look shortcuts.
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "archive/testing/tree.h"

namespace berth::snapshot::testing {

// "" when this process can mount overlayfs, else the reason it cannot (for GTEST_SKIP).
inline std::string OverlayUnavailableReason() {
  if (::geteuid() != 0) {
    return "mounting overlayfs needs root";
  }
  archive::testing::TempDir dir;
  for (const char* d : {"l1", "l2", "m"}) {
    ::mkdir((dir / d).c_str(), 0755);
  }
  std::string options = "lowerdir=" + (dir / "l1") + ":" + (dir / "l2");
  if (::mount("overlay", (dir / "m").c_str(), "overlay", 0, options.c_str()) != 0) {
    return "overlayfs cannot be mounted here";
  }
  ::umount2((dir / "m").c_str(), MNT_DETACH);
  return "";
}

}  // namespace berth::snapshot::testing
