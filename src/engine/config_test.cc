#include "engine/config.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(EngineConfigTest, ReadsTheExecutorTableOnly) {
  EngineConfig c = ParseEngineConfig(R"(
[registry."docker.io"]
mirrors = ["localhost:5000"]

[executor]
runtime = "crun"
)")
                       .value();
  EXPECT_EQ(c.runtime, "crun");
  EXPECT_EQ(ParseEngineConfig("").value().runtime, "");
}

TEST(EngineConfigTest, ErrorsNameTheKey) {
  Result<EngineConfig> unknown = ParseEngineConfig("[executor]\nruntim = \"crun\"\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().ToString().find("executor.runtim"), std::string::npos);
  Result<EngineConfig> typed = ParseEngineConfig("[executor]\nruntime = 3\n");
  ASSERT_FALSE(typed.ok());
  EXPECT_NE(typed.error().ToString().find("config.toml:2"), std::string::npos);
  EXPECT_FALSE(ParseEngineConfig("executor = 1\n").ok());
  EXPECT_FALSE(ParseEngineConfig("[executor\n").ok());
}

TEST(EngineConfigTest, FlagWinsOverConfigOverRunc) {
  EXPECT_EQ(ChooseRuntime("", {}).value(), "runc");
  EXPECT_EQ(ChooseRuntime("", {.runtime = "crun"}).value(), "crun");
  EXPECT_EQ(ChooseRuntime("runc", {.runtime = "crun"}).value(), "runc");
  EXPECT_EQ(ChooseRuntime("/opt/bin/crun", {}).value(), "/opt/bin/crun");
  Result<std::string> bad = ChooseRuntime("kata", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().ToString().find("kata"), std::string::npos);
}

TEST(EngineConfigTest, ReadsTheCacheCap) {
  EXPECT_EQ(ParseEngineConfig("").value().cache_cap_bytes, 0);
  EXPECT_EQ(ParseEngineConfig("[cache]\ncap = \"20g\"\n").value().cache_cap_bytes, 20LL << 30);
  EXPECT_EQ(ParseEngineConfig("[cache]\ncap = \"512MiB\"\n").value().cache_cap_bytes, 512LL << 20);
  EXPECT_EQ(ParseEngineConfig("[cache]\ncap = \"100k\"\n").value().cache_cap_bytes, 102400);
  EXPECT_EQ(ParseEngineConfig("[cache]\ncap = 4096\n").value().cache_cap_bytes, 4096);
  for (const char* bad : {"cap = \"20x\"", "cap = \"g\"", "cap = -1", "cap = 1.5", "cap = \"\"",
                          "cap = \"99999999999999g\"", "size = 1"}) {
    Result<EngineConfig> r = ParseEngineConfig(std::string("[cache]\n") + bad + "\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().ToString().find("config.toml:2: cache."), std::string::npos)
        << r.error().ToString();
  }
}

}  // namespace
}  // namespace berth::engine
