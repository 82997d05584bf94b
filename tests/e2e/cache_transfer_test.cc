// `--cache-to` / `--cache-from` end to end: a cache exported from one berth root makes a build in
// a fresh root (another machine, as far as the cache is concerned) hit every step it holds, with
// the exported results' files byte for byte: through a local OCI layout and through a real
// docker-registry; mode=min against mode=max; a missing, damaged or malformed cache; bake
// attributes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "berthd_fixture.h"
#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

// Random bytes in every RUN: a step that ran again cannot produce the same file.
constexpr const char* kTwoStages = R"DF(FROM busybox AS builder
RUN head -c 16 /dev/urandom | od -An -tx1 > /built
FROM busybox
COPY greet.txt /greet.txt
COPY --from=builder /built /built
RUN head -c 16 /dev/urandom | od -An -tx1 > /final && cat /built /greet.txt >> /final
)DF";

class CacheTransferE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped()) {
      return;
    }
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", kTwoStages).ok());
    ImportBase();
  }

  // Switches to a new, empty berth root with the same busybox base imported.
  void FreshRoot(const std::string& name) {
    root_ = dir_ + "/" + name;
    ImportBase();
  }

  // The busybox base, the same image (digest) in every root, as a registry gives every machine:
  // the import's creation time is pinned.
  void ImportBase() {
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);  // NOLINT(concurrency-mt-unsafe)
    CmdResult imported = Berth("image import " + dir_ + "/rootfs busybox:latest");
    unsetenv("SOURCE_DATE_EPOCH");  // NOLINT(concurrency-mt-unsafe)
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  // Builds the context with `flags`, its file system exported to `out`.
  CmdResult BuildTo(const std::string& flags, const std::string& out) {
    return Berth("build --progress plain " + flags + " -o type=local,dest=" + dir_ + "/" + out +
                 " " + dir_ + "/ctx");
  }

  std::string File(const std::string& path) { return os::ReadFile(dir_ + "/" + path).value_or(""); }

  // The final status of the step whose description contains `what`.
  static std::string Status(const std::string& err, const std::string& what) {
    for (const auto& [step, status] : Steps(err)) {
      if (step.find(what) != std::string::npos) {
        return status.starts_with("DONE") ? "DONE" : status;
      }
    }
    return "no step " + what;
  }
};

TEST_F(CacheTransferE2eTest, LocalCacheInModeMaxMakesAFreshRootHitEveryStep) {
  CmdResult first = BuildTo("--cache-to type=local,dest=" + dir_ + "/cache,mode=max", "out1");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("exported cache to " + dir_ + "/cache (5 steps)"), std::string::npos)
      << first.err;
  EXPECT_TRUE(os::Exists(dir_ + "/cache/index.json"));

  FreshRoot("root2");
  CmdResult second = BuildTo("--cache-from type=local,src=" + dir_ + "/cache", "out2");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  for (const char* step :
       {"[builder 2/2] RUN", "COPY greet.txt", "COPY --from=builder", "[stage-1 4/4] RUN"}) {
    EXPECT_EQ(Status(second.err, step), "CACHED") << step << "\n" << second.err;
  }
  ASSERT_FALSE(File("out1/final").empty());
  EXPECT_EQ(File("out2/final"), File("out1/final"));

  // The imported results are this root's cache now: no import is needed to hit them again.
  CmdResult third = BuildTo("", "out3");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(Status(third.err, "[stage-1 4/4] RUN"), "CACHED") << third.err;
  EXPECT_EQ(File("out3/final"), File("out1/final"));
  CmdResult ls = Berth("cache ls");
  EXPECT_NE(ls.out.find(dir_ + "/cache"), std::string::npos) << ls.out;

  // A changed file rebuilds the steps after it and takes the rest from the cache.
  FreshRoot("root3");
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/greet.txt", "changed\n").ok());
  CmdResult changed = BuildTo("--cache-from type=local,src=" + dir_ + "/cache", "out4");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(Status(changed.err, "[builder 2/2] RUN"), "CACHED") << changed.err;
  EXPECT_EQ(Status(changed.err, "COPY greet.txt"), "DONE") << changed.err;
  EXPECT_EQ(Status(changed.err, "[stage-1 4/4] RUN"), "DONE") << changed.err;
  EXPECT_NE(File("out4/final"), File("out1/final"));
  EXPECT_NE(File("out4/final").find("changed"), std::string::npos);
}

TEST_F(CacheTransferE2eTest, ModeMinKeepsOnlyTheResultsLayers) {
  CmdResult first = BuildTo("--cache-to type=local,dest=" + dir_ + "/cache", "out1");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // FROM busybox, the two COPYs and the last RUN are layers of the result; the builder's RUN
  // is not.
  EXPECT_NE(first.err.find("(4 steps)"), std::string::npos) << first.err;

  FreshRoot("root2");
  CmdResult second = BuildTo("--cache-from type=local,src=" + dir_ + "/cache", "out2");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Status(second.err, "[builder 2/2] RUN"), "DONE") << second.err;
  EXPECT_EQ(Status(second.err, "COPY greet.txt"), "CACHED") << second.err;
  // A step's key is its definition and its inputs' keys, not their bytes: what follows the
  // builder hits although the builder ran again.
  EXPECT_EQ(Status(second.err, "COPY --from=builder"), "CACHED") << second.err;
  EXPECT_EQ(Status(second.err, "[stage-1 4/4] RUN"), "CACHED") << second.err;
  ASSERT_FALSE(File("out1/final").empty());
  EXPECT_EQ(File("out2/final"), File("out1/final"));
}

TEST_F(CacheTransferE2eTest, RegistryCacheRoundTripsThroughDockerRegistry) {
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string ref = (*reg)->host() + "/e2e/app:buildcache";
  CmdResult first = BuildTo("--cache-to type=registry,ref=" + ref + ",mode=max", "out1");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(Sh("skopeo inspect --raw --tls-verify=false docker://" + ref + " >" + dir_ +
               "/raw.json 2>&1"),
            0)
      << File("raw.json");
  nlohmann::json manifest = nlohmann::json::parse(File("raw.json"));
  EXPECT_EQ(manifest["config"]["mediaType"], "application/vnd.berth.cache.config.v1+json");

  FreshRoot("root2");
  CmdResult second = BuildTo("--cache-from " + ref, "out2");  // a bare ref: type=registry
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Status(second.err, "[stage-1 4/4] RUN"), "CACHED") << second.err;
  EXPECT_EQ(Status(second.err, "[builder 2/2] RUN"), "CACHED") << second.err;
  EXPECT_EQ(File("out2/final"), File("out1/final"));
}

TEST_F(CacheTransferE2eTest, AMissingOrDamagedCacheOnlyWarns) {
  // No cache there yet (a first build): a warning, and the build runs.
  CmdResult none = BuildTo("--cache-from type=local,src=" + dir_ + "/nothing", "out0");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.err.find("warning: --cache-from type=local,src=" + dir_ + "/nothing"),
            std::string::npos)
      << none.err;

  CmdResult first = BuildTo("--cache-to type=local,dest=" + dir_ + "/cache,mode=max", "out1");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // Damage every layer blob of the cache (same size, other bytes).
  ASSERT_EQ(Sh("cd " + dir_ +
               "/cache/blobs/sha256 && for f in *; do "
               "if gzip -t $f 2>/dev/null; then printf XXXX | dd of=$f bs=1 seek=20 "
               "conv=notrunc 2>/dev/null; fi; done"),
            0);
  FreshRoot("root2");
  CmdResult damaged = BuildTo("--cache-from type=local,src=" + dir_ + "/cache", "out2");
  ASSERT_EQ(damaged.exit_code, 0) << damaged.err;
  EXPECT_NE(damaged.err.find("the step runs instead"), std::string::npos) << damaged.err;
  EXPECT_EQ(Status(damaged.err, "[stage-1 4/4] RUN"), "DONE") << damaged.err;
  EXPECT_NE(File("out2/final"), File("out1/final"));
}

TEST_F(CacheTransferE2eTest, BadSpecsAreUsageErrors) {
  struct Case {
    std::string flags;
    std::string want;
  } cases[] = {
      {"--cache-to type=local", "dest= is required"},
      {"--cache-to type=gha", "type=gha is not supported"},
      {"--cache-from type=local,src=x,colour=red", "unknown attribute \"colour\""},
      {"--cache-to type=registry,ref=x,mode=most", "mode=most"},
  };
  for (const Case& c : cases) {
    CmdResult r = BuildTo(c.flags, "out");
    EXPECT_EQ(r.exit_code, 2) << c.flags << "\n" << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.flags << "\n" << r.err;
  }
}

TEST_F(CacheTransferE2eTest, BakeTargetsExportAndImportTheirCaches) {
  // Relative paths in a bake file are the caller's; these tests set them absolute with --set.
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/docker-bake.hcl", R"HCL(target "app" {
  cache-to = ["type=local,dest=cache,mode=max"]
  cache-from = ["type=local,src=cache"]
}
)HCL")
                  .ok());
  auto run_bake = [&](const std::string& out) {
    return Berth("bake --progress plain -f " + dir_ + "/docker-bake.hcl --set app.context=" + dir_ +
                 "/ctx --set app.cache-to=type=local,dest=" + dir_ +
                 "/cache,mode=max --set app.cache-from=type=local,src=" + dir_ +
                 "/cache --set app.output=type=local,dest=" + dir_ + "/" + out + " app");
  };
  CmdResult first = run_bake("out1");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("warning: --cache-from"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("exported cache to"), std::string::npos) << first.err;

  FreshRoot("root2");
  CmdResult second = run_bake("out2");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Status(second.err, "4/4] RUN"), "CACHED") << second.err;
  ASSERT_FALSE(File("out1/final").empty());
  EXPECT_EQ(File("out2/final"), File("out1/final"));
}

TEST_F(CacheTransferE2eTest, RemoteBuildsUseRegistryCachesAndLeaveLocalOnesHere) {
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string ref = (*reg)->host() + "/e2e/remote:buildcache";
  std::string local_root = root_;
  FreshRoot("server/builder");  // berthd's builder, with the same base
  root_ = local_root;
  Berthd berthd(dir_ + "/server", dir_ + "/berthd.log");
  ASSERT_FALSE(berthd.url().empty()) << berthd.log();
  std::string one = berthd.CreateProject("one");
  std::string two = berthd.CreateProject("two");
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(two.empty());
  auto remote = [&](const std::string& project, const std::string& flags, const std::string& out) {
    return BuildTo("--host " + berthd.url() + " --token " + kBerthdAdmin + " --project " + project +
                       " " + flags,
                   out);
  };
  CmdResult first = remote(one,
                           "--cache-to type=registry,ref=" + ref +
                               ",mode=max --cache-to type=local,dest=" + dir_ + "/here",
                           "out1");
  ASSERT_EQ(first.exit_code, 0) << first.err << berthd.log();
  EXPECT_NE(first.err.find("warning: --cache-to type=local,dest=" + dir_ + "/here"),
            std::string::npos)
      << first.err;
  EXPECT_FALSE(os::Exists(dir_ + "/here"));
  EXPECT_EQ(Sh("skopeo inspect --raw --tls-verify=false docker://" + ref + " >/dev/null 2>&1"), 0);

  // Project two has a cache of its own, empty: the registry cache fills it.
  CmdResult second = remote(two, "--cache-from " + ref, "out2");
  ASSERT_EQ(second.exit_code, 0) << second.err << berthd.log();
  EXPECT_EQ(Status(second.err, "[stage-1 4/4] RUN"), "CACHED") << second.err;
  ASSERT_FALSE(File("out1/final").empty());
  EXPECT_EQ(File("out2/final"), File("out1/final"));
}

}  // namespace
}  // namespace berth::e2e
