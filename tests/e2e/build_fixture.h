// The fixture of the `berth build` end-to-end tests: a temporary BERTH_ROOT with a busybox base
// imported (made by scripts/make-busybox-rootfs), a context directory, and helpers to run the
// berth binary and read its progress lines. Tests skip, naming the reason, on a host that cannot
// build (not root, no runc, no overlayfs, no busybox-static).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "os/file.h"

namespace berth::e2e {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline int Sh(const std::string& command) {
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

// Why this host cannot run builds, or "" when it can.
inline std::string MissingCapability() {
  if (geteuid() != 0) {
    return "needs root (overlayfs mounts and runc)";
  }
  if (Sh("command -v runc >/dev/null 2>&1 || test -x /usr/sbin/runc") != 0) {
    return "runc is not installed";
  }
  if (Sh("grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null") != 0) {
    return "overlayfs is not available";
  }
  if (Sh("command -v busybox >/dev/null 2>&1 || test -x /bin/busybox") != 0) {
    return "busybox-static is not installed (scripts/make-busybox-rootfs needs it)";
  }
  return "";
}

constexpr const char* kDockerfile = R"DF(FROM busybox
WORKDIR /app
ENV GREETING=hello
COPY greet.txt ./
RUN echo "ran-step-$((40+2))" && cat greet.txt > out.txt && echo "$GREETING" >> out.txt
CMD ["cat", "/app/out.txt"]
)DF";

class BuildE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string missing = MissingCapability();
    if (!missing.empty()) {
      GTEST_SKIP() << missing;
    }
    char tmpl[] = "/tmp/berth-build-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    ASSERT_EQ(Sh(std::string(BERTH_SOURCE_DIR) + "/scripts/make-busybox-rootfs " + dir_ +
                 "/rootfs >/dev/null"),
              0);
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/ctx"), 0);
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", kDockerfile).ok());
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/greet.txt", "greetings\n").ok());
    CmdResult imported = Berth("image import " + dir_ + "/rootfs busybox:latest");
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }
  void TearDown() override {
    if (dir_.empty()) {
      return;
    }
    // Nothing of a build stays mounted; unmount defensively before removing.
    Sh("grep -o " + Quote(dir_ + "[^ ]*") + " /proc/self/mounts | sort -r | xargs -r umount -l");
    Sh("rm -rf " + Quote(dir_));
  }

  // Runs berth with `args` (shell words), stdin from `stdin_path`; stdout and stderr captured.
  CmdResult Berth(const std::string& args, const std::string& stdin_path = "/dev/null") {
    std::string cmd = "env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) + "/berth " +
                      args + " <" + Quote(stdin_path) + " >" + dir_ + "/out 2>" + dir_ + "/err";
    CmdResult r;
    r.exit_code = Sh(cmd);
    r.out = os::ReadFile(dir_ + "/out").value_or("");
    r.err = os::ReadFile(dir_ + "/err").value_or("");
    return r;
  }

  CmdResult Build() { return Berth("build -t app:v1 --progress plain " + dir_ + "/ctx"); }

  // The progress lines' step descriptions ("[2/5] COPY ...") mapped to their final status.
  static std::vector<std::pair<std::string, std::string>> Steps(const std::string& err) {
    std::vector<std::pair<std::string, std::string>> steps;  // "#n" -> description, status
    std::map<std::string, size_t> by_number;
    size_t pos = 0;
    while (pos < err.size()) {
      size_t end = err.find('\n', pos);
      if (end == std::string::npos) {
        end = err.size();
      }
      std::string line = err.substr(pos, end - pos);
      pos = end + 1;
      if (!line.starts_with("#")) {
        continue;
      }
      size_t space = line.find(' ');
      std::string number = line.substr(0, space);
      std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
      auto it = by_number.find(number);
      if (it == by_number.end()) {
        by_number[number] = steps.size();
        steps.emplace_back(rest, "");
      } else if (rest == "CACHED" || rest.starts_with("DONE") || rest.starts_with("ERROR")) {
        steps[it->second].second = rest == "CACHED" ? "CACHED" : rest.substr(0, 5);
      }
    }
    return steps;
  }

  std::string dir_;
  std::string root_;
};

}  // namespace berth::e2e
