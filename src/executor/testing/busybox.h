// Test helper: a minimal busybox root file system made from the host's busybox-static.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "archive/testing/tree.h"

namespace berth::executor::testing {

inline constexpr const char* kBusybox = "/bin/busybox";

// "" when a busybox rootfs can be made here, else why not (for GTEST_SKIP).
inline std::string BusyboxUnavailableReason() {
  if (::access(kBusybox, X_OK) != 0) {
    return "no /bin/busybox (install busybox-static)";
  }
  return "";
}

// Fills `dir` with busybox, a relative symlink per applet in /bin, /etc/passwd and /etc/group with
// root and nobody (65534) and a user `builder` (1000) in the supplementary group `extra` (2000),
// and the usual empty directories. Returns false on failure.
inline bool MakeBusyboxRootfs(const std::string& dir) {
  using archive::testing::Shell;
  using archive::testing::WriteFile;
  std::string cmd = "set -e; cd '" + dir +
                    "'; chmod 755 .; mkdir -p bin etc tmp root proc sys dev; chmod 1777 tmp; "
                    "cp " +
                    kBusybox +
                    " bin/busybox; "
                    // Relative links: `busybox --install -s` would point them at the host's
                    // path of the binary.
                    "for a in $(bin/busybox --list); do [ \"$a\" = busybox ] || "
                    "ln -s busybox bin/$a; done";
  if (Shell(cmd) != 0) {
    return false;
  }
  WriteFile(dir + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\n"
            "builder:x:1000:1000:builder:/home/builder:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  WriteFile(dir + "/etc/group",
            "root:x:0:\nbuilder:x:1000:\nextra:x:2000:builder,other\nnobody:x:65534:\n");
  return true;
}

}  // namespace berth::executor::testing
