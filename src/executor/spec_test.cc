#include "executor/spec.h"

#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "archive/testing/tree.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::executor {
namespace {

using archive::testing::MakeDir;
using archive::testing::Symlink;
using archive::testing::TempDir;
using archive::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ResolveUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeDir(dir_ / "etc");
    WriteFile(dir_ / "etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\n"
              "# comment\n"
              "broken line\n"
              "builder:x:1000:1000:builder:/home/builder:/bin/sh\n"
              "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    WriteFile(dir_ / "etc/group",
              "root:x:0:\nbuilder:x:1000:\nextra:x:2000:builder,other\nmore:x:2001:builder\n"
              "nobody:x:65534:\n");
  }
  TempDir dir_;
};

TEST_F(ResolveUserTest, RootByDefault) {
  Result<ResolvedUser> u = ResolveUser(dir_.path(), "");
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/root");
}

TEST_F(ResolveUserTest, NameGivesUidGidHomeAndSupplementaryGroups) {
  Result<ResolvedUser> u = ResolveUser(dir_.path(), "builder");
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->home, "/home/builder");
  EXPECT_THAT(u->additional_gids, ElementsAre(2000u, 2001u));
}

TEST_F(ResolveUserTest, NumericUidFoundOrNot) {
  Result<ResolvedUser> u = ResolveUser(dir_.path(), "65534");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 65534u);
  EXPECT_EQ(u->gid, 65534u);
  Result<ResolvedUser> v = ResolveUser(dir_.path(), "4242");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->uid, 4242u);
  EXPECT_EQ(v->gid, 0u);
  EXPECT_EQ(v->home, "/");
}

TEST_F(ResolveUserTest, ExplicitGroupReplacesPrimaryAndDropsSupplementary) {
  Result<ResolvedUser> u = ResolveUser(dir_.path(), "builder:extra");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 2000u);
  EXPECT_THAT(u->additional_gids, IsEmpty());
  Result<ResolvedUser> v = ResolveUser(dir_.path(), "1000:777");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->gid, 777u);
}

TEST_F(ResolveUserTest, UnknownNamesAreErrors) {
  Result<ResolvedUser> u = ResolveUser(dir_.path(), "nosuchuser");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(u.error().message(), ::testing::HasSubstr("nosuchuser"));
  Result<ResolvedUser> g = ResolveUser(dir_.path(), "builder:nosuchgroup");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ResolveUserTest, SymlinksResolveInsideTheRoot) {
  // An image whose /etc/passwd is an absolute symlink must not read the host's file.
  TempDir other;
  MakeDir(other / "etc");
  MakeDir(other / "real");
  WriteFile(other / "real/passwd", "app:x:4321:4321::/app:/bin/sh\n");
  Symlink("/real/passwd", other / "etc/passwd");
  Symlink("../../../../../../real/group", other / "etc/group");  // missing inside
  Result<ResolvedUser> u = ResolveUser(other.path(), "app");
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  EXPECT_EQ(u->uid, 4321u);
  // The host's passwd has root; the image's does not, so a name from the host is unknown.
  EXPECT_FALSE(ResolveUser(other.path(), "root").ok());
}

TEST_F(ResolveUserTest, MissingPasswdAllowsNumericOnly) {
  TempDir empty;
  EXPECT_TRUE(ResolveUser(empty.path(), "123:456").ok());
  EXPECT_FALSE(ResolveUser(empty.path(), "root").ok());
}

nlohmann::json Spec(const ProcessSpec& p, const ResolvedUser& u = {}) {
  SpecPaths paths{"/rootfs", "/bundle/hosts", "/bundle/resolv.conf", {}};
  for (const MountSpec& m : p.mounts) {
    if (m.type == MountSpec::Type::kFile) {
      paths.files.push_back("/bundle/files/" + std::to_string(paths.files.size()));
    }
  }
  Result<std::string> text = GenerateSpec(p, u, paths);
  EXPECT_TRUE(text.ok()) << text.error().ToString();
  return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
}

const nlohmann::json* FindMount(const nlohmann::json& spec, const std::string& dest) {
  for (const auto& m : spec["mounts"]) {
    if (m["destination"] == dest) {
      return &m;
    }
  }
  return nullptr;
}

bool HasNamespace(const nlohmann::json& spec, const std::string& type) {
  for (const auto& ns : spec["linux"]["namespaces"]) {
    if (ns["type"] == type) {
      return true;
    }
  }
  return false;
}

TEST(GenerateSpecTest, DefaultsFollowDocker) {
  ProcessSpec p;
  p.args = {"/bin/sh", "-c", "true"};
  p.env = {"FOO=bar"};
  p.cwd = "/work";
  nlohmann::json s = Spec(p);
  EXPECT_EQ(s["process"]["args"], nlohmann::json(p.args));
  EXPECT_EQ(s["process"]["cwd"], "/work");
  EXPECT_EQ(s["process"]["noNewPrivileges"], true);
  EXPECT_EQ(s["process"]["env"][0],
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  EXPECT_EQ(s["process"]["env"][1], "HOME=/");
  EXPECT_EQ(s["process"]["env"][2], "FOO=bar");
  EXPECT_EQ(s["process"]["capabilities"]["bounding"].size(), 14u);
  EXPECT_EQ(s["process"]["capabilities"]["effective"].size(), 14u);
  EXPECT_EQ(s["root"]["path"], "/rootfs");
  EXPECT_EQ(s["hostname"], "berth");
  for (const char* ns : {"pid", "ipc", "uts", "mount"}) {
    EXPECT_TRUE(HasNamespace(s, ns)) << ns;
  }
  EXPECT_FALSE(HasNamespace(s, "network"));  // host network by default
  const nlohmann::json* sys = FindMount(s, "/sys");
  ASSERT_NE(sys, nullptr);
  EXPECT_NE(std::find((*sys)["options"].begin(), (*sys)["options"].end(), "ro"),
            (*sys)["options"].end());
  for (const char* dest :
       {"/proc", "/dev", "/dev/pts", "/dev/shm", "/etc/hosts", "/etc/resolv.conf"}) {
    EXPECT_NE(FindMount(s, dest), nullptr) << dest;
  }
  EXPECT_EQ((*FindMount(s, "/etc/hosts"))["source"], "/bundle/hosts");
  struct rlimit nofile {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  uint64_t hard = s["process"]["rlimits"][0]["hard"];
  EXPECT_LE(hard, 1048576u);
  if (nofile.rlim_max != RLIM_INFINITY) {
    EXPECT_LE(hard, nofile.rlim_max);
  }
  EXPECT_FALSE(s["linux"]["maskedPaths"].empty());
  EXPECT_FALSE(s["linux"]["readonlyPaths"].empty());
}

TEST(GenerateSpecTest, EnvOverridesDefaultsAndUserDropsCapabilities) {
  ProcessSpec p;
  p.args = {"id"};
  p.env = {"PATH=/custom", "HOME=/h"};
  ResolvedUser u{1000, 1000, {2000}, "/home/builder"};
  nlohmann::json s = Spec(p, u);
  EXPECT_EQ(s["process"]["env"], nlohmann::json({"PATH=/custom", "HOME=/h"}));
  EXPECT_EQ(s["process"]["user"]["uid"], 1000);
  EXPECT_EQ(s["process"]["user"]["additionalGids"], nlohmann::json({2000}));
  EXPECT_TRUE(s["process"]["capabilities"]["effective"].empty());
  EXPECT_EQ(s["process"]["capabilities"]["bounding"].size(), 14u);
}

TEST(GenerateSpecTest, NetworkNoneAndMounts) {
  ProcessSpec p;
  p.args = {"true"};
  p.network = Network::kNone;
  p.readonly_rootfs = true;
  p.mounts.push_back(
      {.type = MountSpec::Type::kBind, .source = "/src", .dest = "/in", .readonly = true});
  p.mounts.push_back({.type = MountSpec::Type::kTmpfs, .dest = "/scratch", .size = 1 << 20});
  p.mounts.push_back({.type = MountSpec::Type::kFile, .dest = "/run/secrets/x", .data = "s"});
  nlohmann::json s = Spec(p);
  EXPECT_TRUE(HasNamespace(s, "network"));
  EXPECT_EQ(s["root"]["readonly"], true);
  EXPECT_EQ((*FindMount(s, "/in"))["options"], nlohmann::json({"rbind", "ro"}));
  EXPECT_EQ((*FindMount(s, "/in"))["source"], "/src");
  EXPECT_EQ((*FindMount(s, "/scratch"))["type"], "tmpfs");
  EXPECT_NE((*FindMount(s, "/scratch"))["options"].dump().find("size=1048576"), std::string::npos);
  EXPECT_EQ((*FindMount(s, "/run/secrets/x"))["source"], "/bundle/files/0");
}

TEST(GenerateSpecTest, RejectsBadInput) {
  ProcessSpec p;
  SpecPaths paths{"/r", "/h", "/rc", {}};
  EXPECT_EQ(GenerateSpec(p, {}, paths).error().code(), ErrorCode::kInvalidArgument);
  p.args = {"true"};
  p.cwd = "relative";
  EXPECT_EQ(GenerateSpec(p, {}, paths).error().code(), ErrorCode::kInvalidArgument);
  p.cwd = "/";
  p.extra_hosts = {"noip"};
  EXPECT_EQ(GenerateSpec(p, {}, paths).error().code(), ErrorCode::kInvalidArgument);
  p.extra_hosts = {};
  p.mounts.push_back({.dest = "rel"});
  EXPECT_EQ(GenerateSpec(p, {}, paths).error().code(), ErrorCode::kInvalidArgument);
}

TEST(HostsFileTest, LocalhostHostnameAndExtraHosts) {
  ProcessSpec p;
  p.hostname = "box";
  p.extra_hosts = {"db=10.0.0.5", "v6:fe80::1"};
  std::string hosts = HostsFile(p);
  EXPECT_EQ(hosts,
            "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "10.0.0.5\tdb\nfe80::1\tv6\n");
}

}  // namespace
}  // namespace berth::executor
