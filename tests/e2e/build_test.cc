// `berth build` end to end: a busybox base imported into a temporary BERTH_ROOT, a Dockerfile
// with FROM, WORKDIR, ENV, COPY, RUN and CMD built through the binary, the image checked with
// `berth image ls`, `berth image save --format oci` and umoci, and the cache checked across
// rebuilds (no change, an mtime-only change, a content change).
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "os/file.h"

namespace berth {
namespace {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

int Sh(const std::string& command) {
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

// Why this host cannot run builds, or "" when it can.
std::string MissingCapability() {
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

  CmdResult Berth(const std::string& args) {
    std::string cmd = "env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) + "/berth " +
                      args + " </dev/null >" + dir_ + "/out 2>" + dir_ + "/err";
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

TEST_F(BuildE2eTest, BuildsCachesAndRebuildsFromTheChangedCopy) {
  CmdResult first = Build();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.rfind("sha256:", 0), 0u) << first.out;
  EXPECT_NE(first.err.find("ran-step-42"), std::string::npos) << first.err;

  CmdResult ls = Berth("image ls --format json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  nlohmann::json list = nlohmann::json::parse(ls.out);
  bool found = false;
  for (const auto& image : list) {
    found = found || image["name"] == "docker.io/library/app:v1";
  }
  EXPECT_TRUE(found) << ls.out;

  // The image as umoci sees it.
  CmdResult saved = Berth("image save app:v1 --format oci -o " + dir_ + "/app.tar");
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  if (Sh("command -v umoci >/dev/null 2>&1") == 0) {
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/layout && tar -C " + dir_ + "/layout -xf " + dir_ +
                 "/app.tar && umoci unpack --image " + dir_ + "/layout:v1 " + dir_ +
                 "/bundle >/dev/null 2>&1"),
              0);
    EXPECT_EQ(os::ReadFile(dir_ + "/bundle/rootfs/app/out.txt").value_or(""), "greetings\nhello\n");
    EXPECT_EQ(os::ReadFile(dir_ + "/bundle/rootfs/app/greet.txt").value_or(""), "greetings\n");
    EXPECT_TRUE(os::Exists(dir_ + "/bundle/rootfs/bin/busybox"));
    std::string config = os::ReadFile(dir_ + "/bundle/config.json").value_or("{}");
    nlohmann::json spec = nlohmann::json::parse(config);
    EXPECT_EQ(spec["process"]["args"], nlohmann::json({"cat", "/app/out.txt"})) << config;
    EXPECT_EQ(spec["process"]["cwd"], "/app") << config;
    EXPECT_NE(config.find("GREETING=hello"), std::string::npos) << config;
  } else {
    ADD_FAILURE() << "umoci is not installed: cannot check the image's files";
  }

  // No change: every Dockerfile step is cached and no RUN runs.
  CmdResult again = Build();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.err.find("ran-step-42"), std::string::npos) << again.err;
  size_t dockerfile_steps = 0;
  for (const auto& [description, status] : Steps(again.err)) {
    if (description.starts_with("[internal]")) {
      continue;
    }
    ++dockerfile_steps;
    EXPECT_EQ(status, "CACHED") << description << "\n" << again.err;
  }
  EXPECT_GE(dockerfile_steps, 3u) << again.err;

  // mtime only: still all cached.
  ASSERT_EQ(Sh("touch -d '2001-01-01' " + dir_ + "/ctx/greet.txt"), 0);
  CmdResult touched = Build();
  ASSERT_EQ(touched.exit_code, 0) << touched.err;
  EXPECT_EQ(touched.err.find("ran-step-42"), std::string::npos) << touched.err;
  for (const auto& [description, status] : Steps(touched.err)) {
    if (!description.starts_with("[internal]")) {
      EXPECT_EQ(status, "CACHED") << description << "\n" << touched.err;
    }
  }

  // New content: the COPY and everything after it run again; what comes before stays cached.
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/greet.txt", "salutations\n").ok());
  CmdResult changed = Build();
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_NE(changed.err.find("ran-step-42"), std::string::npos) << changed.err;
  for (const auto& [description, status] : Steps(changed.err)) {
    if (description.starts_with("[internal]")) {
      continue;
    }
    bool after_copy = description.find("COPY") != std::string::npos ||
                      description.find("RUN") != std::string::npos;
    EXPECT_EQ(status, after_copy ? "DONE " : "CACHED") << description << "\n" << changed.err;
  }
}

TEST_F(BuildE2eTest, FailingRunNamesTheStepLineAndExitCode) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nRUN echo about to fail && exit 3\n")
                  .ok());
  CmdResult r = Build();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Dockerfile:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exit code: 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("about to fail"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

class BuildFlagsE2eTest : public BuildE2eTest {};

TEST_F(BuildFlagsE2eTest, LabelIidfileQuietAndPlatform) {
  CmdResult quiet = Berth("build -q --label org.example.team=builders --iidfile " + dir_ +
                          "/iid -t app:v2 " + dir_ + "/ctx");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  std::string iid = os::ReadFile(dir_ + "/iid").value_or("");
  ASSERT_EQ(iid.rfind("sha256:", 0), 0u) << iid;
  // -q prints only the image ID and no progress.
  EXPECT_EQ(quiet.out, iid + "\n");
  EXPECT_EQ(quiet.err.find("#1"), std::string::npos) << quiet.err;
  // The label is in the image config the iidfile names.
  ASSERT_EQ(Berth("image save app:v2 --format oci -o " + dir_ + "/v2.tar").exit_code, 0);
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/v2 && tar -xf " + dir_ + "/v2.tar -C " + dir_ + "/v2"), 0);
  std::string config =
      os::ReadFile(dir_ + "/v2/blobs/sha256/" + iid.substr(std::string("sha256:").size()))
          .value_or("");
  EXPECT_NE(config.find("\"org.example.team\":\"builders\""), std::string::npos) << config;

  CmdResult foreign = Berth("build --platform linux/s390x " + dir_ + "/ctx");
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("only the host platform"), std::string::npos) << foreign.err;
  CmdResult bad_label = Berth("build --label novalue " + dir_ + "/ctx");
  EXPECT_EQ(bad_label.exit_code, 2) << bad_label.err;
}

}  // namespace
}  // namespace berth
