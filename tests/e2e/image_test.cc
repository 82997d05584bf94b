// `berth image ...` end to end: import, ls, save, unpack, rm, push and pull through the built
// binary, in a temporary BERTH_ROOT, checked with skopeo where it is installed.
#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "os/file.h"
#include "registry/testing/docker_registry.h"

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

// The lines of `text` that start with `prefix` and contain `part`.
size_t CountLines(const std::string& text, const std::string& prefix, const std::string& part) {
  size_t n = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? end : end - start);
    n += line.rfind(prefix, 0) == 0 && line.find(part) != std::string::npos;
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return n;
}

class ImageE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-image-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    // A small root filesystem.
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/rootfs/etc " + dir_ + "/rootfs/bin && echo hi > " + dir_ +
                 "/rootfs/etc/motd && printf '#!/bin/sh\\necho hi\\n' > " + dir_ +
                 "/rootfs/bin/hi && chmod 755 " + dir_ + "/rootfs/bin/hi && ln -s hi " + dir_ +
                 "/rootfs/bin/hello"),
              0);
  }
  void TearDown() override { Sh("rm -rf " + Quote(dir_)); }

  // Runs `env BERTH_ROOT=<root> berth ARGS` (`env_prefix` adds more variables).
  CmdResult Berth(const std::string& args, const std::string& env_prefix = "") {
    std::string cmd = "env BERTH_ROOT=" + Quote(root_) + " " + env_prefix + " " +
                      std::string(BERTH_BIN) + "/berth " + args + " </dev/null >" + dir_ +
                      "/out 2>" + dir_ + "/err";
    CmdResult r;
    r.exit_code = Sh(cmd);
    r.out = os::ReadFile(dir_ + "/out").value_or("");
    r.err = os::ReadFile(dir_ + "/err").value_or("");
    return r;
  }

  nlohmann::json List() {
    CmdResult r = Berth("image ls --format json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  size_t BlobCount() {
    size_t n = 0;
    DIR* d = opendir((root_ + "/content/blobs/sha256").c_str());
    if (d == nullptr) {
      return 0;
    }
    while (struct dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
      n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
  }

  std::string dir_;
  std::string root_;
};

TEST_F(ImageE2eTest, ImportListSaveRemove) {
  CmdResult imported =
      Berth("image import " + dir_ + "/rootfs app:v1 --change 'CMD [\"/bin/hi\"]'");
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  ASSERT_EQ(imported.out.rfind("sha256:", 0), 0u) << imported.out;
  std::string digest = imported.out.substr(0, imported.out.size() - 1);

  ASSERT_EQ(Sh("tar -C " + dir_ + "/rootfs -czf " + dir_ + "/rootfs.tgz ."), 0);
  CmdResult from_tar = Berth("image import " + dir_ + "/rootfs.tgz localhost:5000/team/tool");
  ASSERT_EQ(from_tar.exit_code, 0) << from_tar.err;

  CmdResult table = Berth("image ls");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("REPOSITORY", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("DIGEST"), std::string::npos);
  EXPECT_NE(table.out.find("app "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("localhost:5000/team/tool   latest"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(digest), std::string::npos) << table.out;

  nlohmann::json list = List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "docker.io/library/app:v1");
  EXPECT_EQ(list[0]["repository"], "app");
  EXPECT_EQ(list[0]["tag"], "v1");
  EXPECT_EQ(list[0]["digest"], digest);
  EXPECT_GT(list[0]["size"].get<int64_t>(), 0);
  EXPECT_EQ(list[1]["name"], "localhost:5000/team/tool:latest");

  // Save in both formats.
  CmdResult oci =
      Berth("image save app:v1 localhost:5000/team/tool --format oci -o " + dir_ + "/oci.tar");
  ASSERT_EQ(oci.exit_code, 0) << oci.err;
  CmdResult docker = Berth("image save app:v1 -o " + dir_ + "/docker.tar");
  ASSERT_EQ(docker.exit_code, 0) << docker.err;
  ASSERT_EQ(Sh("tar -tf " + dir_ + "/oci.tar | grep -qx index.json"), 0);
  ASSERT_EQ(Sh("tar -xOf " + dir_ + "/docker.tar manifest.json | grep -q app:v1"), 0);
  if (Sh("command -v skopeo >/dev/null") == 0) {
    CmdResult inspect{};
    inspect.exit_code = Sh("skopeo inspect --config oci-archive:" + dir_ + "/oci.tar:v1 >" + dir_ +
                           "/inspect 2>&1");
    std::string text = os::ReadFile(dir_ + "/inspect").value_or("");
    ASSERT_EQ(inspect.exit_code, 0) << text;
    nlohmann::json config = nlohmann::json::parse(text);
    EXPECT_EQ(config["config"]["Cmd"][0], "/bin/hi");
    EXPECT_EQ(config["history"][0]["created_by"], "berth image import");
    ASSERT_EQ(
        Sh("skopeo inspect docker-archive:" + dir_ + "/docker.tar >" + dir_ + "/inspect 2>&1"), 0)
        << os::ReadFile(dir_ + "/inspect").value_or("");
    EXPECT_EQ(nlohmann::json::parse(os::ReadFile(dir_ + "/inspect").value())["Digest"].is_string(),
              true);
  }

  // Removing one image keeps the layer the other shares; removing both frees every blob.
  size_t before = BlobCount();
  EXPECT_GE(before, 4u);
  CmdResult rm = Berth("image rm app:v1");
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_NE(rm.out.find("Untagged: app:v1"), std::string::npos) << rm.out;
  EXPECT_EQ(List().size(), 1u);
  EXPECT_GT(BlobCount(), 0u);
  EXPECT_LT(BlobCount(), before);
  ASSERT_EQ(Berth("image rm localhost:5000/team/tool").exit_code, 0);
  EXPECT_EQ(List().size(), 0u);
  EXPECT_EQ(BlobCount(), 0u);
}

TEST_F(ImageE2eTest, SourceDateEpochGivesTheSameDigest) {
  CmdResult a = Berth("image import " + dir_ + "/rootfs r:a", "SOURCE_DATE_EPOCH=1700000000");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(Sh("touch " + dir_ + "/rootfs/etc/motd && sleep 1"), 0);
  CmdResult b = Berth("image import " + dir_ + "/rootfs r:b", "SOURCE_DATE_EPOCH=1700000000");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  CmdResult bad = Berth("image import " + dir_ + "/rootfs r:c", "SOURCE_DATE_EPOCH=yesterday");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.rfind("error: ", 0), 0u) << bad.err;
}

TEST_F(ImageE2eTest, RootFlagOverridesTheEnvironment) {
  std::string other = dir_ + "/other-root";
  ASSERT_EQ(Berth("image import --root " + other + " " + dir_ + "/rootfs x").exit_code, 0);
  EXPECT_EQ(List().size(), 0u);
  CmdResult ls = Berth("image ls --root " + other + " --format json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(nlohmann::json::parse(ls.out).size(), 1u);
  CmdResult ls2 = Berth("image --root " + other + " ls -q");
  ASSERT_EQ(ls2.exit_code, 0) << ls2.err;
  EXPECT_EQ(ls2.out, "docker.io/library/x:latest\n");
}

TEST_F(ImageE2eTest, UnpackAppliesTheLayersIntoADirectory) {
  ASSERT_EQ(Berth("image import " + dir_ + "/rootfs app:v1").exit_code, 0);
  std::string out = dir_ + "/unpacked";
  CmdResult unpack = Berth("image unpack app:v1 " + out);
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  EXPECT_EQ(os::ReadFile(out + "/etc/motd").value_or(""), "hi\n");
  EXPECT_EQ(Sh("test -x " + out + "/bin/hi"), 0);
  EXPECT_EQ(Sh("test \"$(readlink " + out + "/bin/hello)\" = hi"), 0);
  EXPECT_EQ(Sh("diff -r --no-dereference " + dir_ + "/rootfs " + out), 0);

  // A directory with something in it is refused and left alone; an empty one is used.
  CmdResult again = Berth("image unpack app:v1 " + out);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not empty"), std::string::npos) << again.err;
  ASSERT_EQ(Sh("mkdir " + dir_ + "/empty"), 0);
  EXPECT_EQ(Berth("image unpack app:v1 " + dir_ + "/empty").exit_code, 0);
  EXPECT_EQ(os::ReadFile(dir_ + "/empty/etc/motd").value_or(""), "hi\n");

  CmdResult missing = Berth("image unpack nothing:here " + dir_ + "/x");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "error: no such image: docker.io/library/nothing:here\n");
  EXPECT_NE(Sh("test -e " + dir_ + "/x"), 0);
  EXPECT_EQ(Berth("image unpack app:v1").exit_code, 2);
}

TEST_F(ImageE2eTest, ErrorsAndUsage) {
  // A hostile tar is refused and stores nothing.
  ASSERT_EQ(Sh("cd " + dir_ +
               " && mkdir -p a && echo x > evil && cd a && tar -cPf ../hostile.tar "
               "../evil"),
            0);
  CmdResult hostile = Berth("image import " + dir_ + "/hostile.tar evil");
  EXPECT_EQ(hostile.exit_code, 1);
  EXPECT_EQ(hostile.err.rfind("error: ", 0), 0u) << hostile.err;
  EXPECT_NE(hostile.err.find(".."), std::string::npos) << hostile.err;
  EXPECT_EQ(List().size(), 0u);
  EXPECT_EQ(BlobCount(), 0u);

  CmdResult missing = Berth("image rm nothing:here");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "error: no such image: docker.io/library/nothing:here\n");
  CmdResult save_missing = Berth("image save nothing -o " + dir_ + "/x.tar");
  EXPECT_EQ(save_missing.exit_code, 1);
  EXPECT_EQ(save_missing.err.rfind("error: ", 0), 0u) << save_missing.err;
  EXPECT_NE(Sh("test -e " + dir_ + "/x.tar"), 0) << "a failed save left a file";

  CmdResult bad_format = Berth("image ls --format yaml");
  EXPECT_EQ(bad_format.exit_code, 2);
  EXPECT_EQ(bad_format.err.rfind("error: ", 0), 0u) << bad_format.err;
  CmdResult bad_change = Berth("image import " + dir_ + "/rootfs x --change 'RUN true'");
  EXPECT_EQ(bad_change.exit_code, 2);
  EXPECT_EQ(bad_change.err.rfind("error: ", 0), 0u) << bad_change.err;
  CmdResult bad_name = Berth("image import " + dir_ + "/rootfs UPPER");
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_EQ(bad_name.err.rfind("error: ", 0), 0u) << bad_name.err;
  CmdResult no_args = Berth("image import");
  EXPECT_EQ(no_args.exit_code, 2);
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

// push → rm → pull through a real docker-registry on loopback, checked with skopeo.
class ImageRegistryE2eTest : public ImageE2eTest {};

TEST_F(ImageRegistryE2eTest, PushRemovePullKeepsDigest) {
  if (!registry::test::DockerRegistry::Available()) {
    GTEST_SKIP() << "docker-registry is not installed (scripts/setup installs it)";
  }
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/registry"), 0);
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string name = (*reg)->host() + "/e2e/app:v1";
  ASSERT_EQ(Berth("image import " + dir_ + "/rootfs " + name).exit_code, 0);
  nlohmann::json before = List();
  ASSERT_EQ(before.size(), 1u);
  std::string digest = before[0].value("digest", "");
  ASSERT_FALSE(digest.empty()) << before.dump();

  CmdResult push = Berth("image push " + name);
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.out.find(digest), std::string::npos) << push.out;
  // Progress: a line per blob on stderr (a layer and a config), each with its size and time.
  EXPECT_GE(CountLines(push.err, "push sha256:", ": done ("), 2u) << push.err;
  EXPECT_NE(push.err.find("B in "), std::string::npos) << push.err;
  // A second push finds every blob in place.
  CmdResult again = Berth("image push " + name);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.err.find(": done"), std::string::npos) << again.err;
  EXPECT_GE(CountLines(again.err, "push sha256:", ": exists ("), 2u) << again.err;
  CmdResult quiet = Berth("image push -q " + name);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");

  if (Sh("command -v skopeo >/dev/null") == 0) {
    EXPECT_EQ(Sh("skopeo inspect --tls-verify=false docker://" + name + " >/dev/null 2>&1"), 0);
  }

  ASSERT_EQ(Berth("image rm " + name).exit_code, 0);
  EXPECT_EQ(BlobCount(), 0u);
  CmdResult pull = Berth("image pull " + name);
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_GE(CountLines(pull.err, "pull sha256:", ": done ("), 2u) << pull.err;
  nlohmann::json after = List();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].value("digest", ""), digest);
  // What was pulled unpacks to the tree that was imported.
  CmdResult unpack = Berth("image unpack " + name + " " + dir_ + "/pulled");
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  EXPECT_EQ(Sh("diff -r --no-dereference " + dir_ + "/rootfs " + dir_ + "/pulled"), 0);
  ASSERT_EQ(Berth("image rm " + name).exit_code, 0);
  CmdResult quiet_pull = Berth("image pull --quiet " + name);
  ASSERT_EQ(quiet_pull.exit_code, 0) << quiet_pull.err;
  EXPECT_EQ(quiet_pull.err, "");

  CmdResult missing = Berth("image pull " + (*reg)->host() + "/e2e/nope:v1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err.rfind("error: ", 0), 0u) << missing.err;
}

}  // namespace
}  // namespace berth
