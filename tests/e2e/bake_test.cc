// Runs `berth bake --print` and `--list` on the example bake files in
// tests/testdata/bake/print (compose.yaml + docker-bake.hcl + docker-bake.override.hcl + .env,
// found by buildx's default lookup) and compares the JSON with the expected document.
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

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

const std::string kExample = std::string(BERTH_TESTDATA) + "/bake/print";

// Runs berth with `args` (a shell fragment) in `dir` with a small fixed environment.
CmdResult Bake(const std::string& dir, const std::string& args, const std::string& env = "") {
  char tmpl[] = "/tmp/berth-bake-e2e-XXXXXX";
  std::string out_dir = mkdtemp(tmpl);
  std::string cmd = "cd '" + dir + "' && env -i PATH=/usr/bin:/bin " + env + " " +
                    std::string(BERTH_BIN) + "/berth bake " + args + " >" + out_dir + "/out 2>" +
                    out_dir + "/err";
  int status = std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe)
  CmdResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = os::ReadFile(out_dir + "/out").value_or("");
  r.err = os::ReadFile(out_dir + "/err").value_or("");
  std::system(("rm -rf " + out_dir).c_str());  // NOLINT(concurrency-mt-unsafe)
  return r;
}

TEST(BakeE2eTest, PrintDefaultFilesMatchesExpected) {
  CmdResult r = Bake(kExample, "--print");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json want = nlohmann::json::parse(os::ReadFile(kExample + "/expected.json").value());
  EXPECT_EQ(nlohmann::json::parse(r.out), want) << r.out;
  // Keys sorted and two-space indentation: the expected file is the exact output.
  EXPECT_EQ(r.out, os::ReadFile(kExample + "/expected.json").value());
}

TEST(BakeE2eTest, FilesSetAndVar) {
  CmdResult r = Bake(kExample,
                     "-f docker-bake.hcl --set 'web.tags+=example/web:extra' "
                     "--set '*.platform=linux/arm64' --var TAG=1.0 --print web",
                     "TAG=ignored-because-var-wins");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["group"]["default"]["targets"], nlohmann::json::array({"web"}));
  EXPECT_EQ(j["target"]["web"]["tags"],
            nlohmann::json::array({"example/web:1.0", "example/web:extra"}));
  EXPECT_EQ(j["target"]["web"]["platforms"], nlohmann::json::array({"linux/arm64"}));
  EXPECT_FALSE(j["target"]["web"]["args"].contains("EXTRA"));  // override file not read
  EXPECT_EQ(j["target"]["base"]["output"], nlohmann::json::array({"type=cacheonly"}));
}

TEST(BakeE2eTest, EnvironmentReachesComposeAndVariables) {
  CmdResult r = Bake(kExample, "--print db web", "DB_TAG=17 TAG=2.0 PG_VERSION=from-env");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["target"]["db"]["tags"], nlohmann::json::array({"example/db:17"}));
  EXPECT_EQ(j["target"]["db"]["args"]["PG_VERSION"], "from-env");
  EXPECT_EQ(j["target"]["web"]["tags"], nlohmann::json::array({"example/web:2.0"}));
}

TEST(BakeE2eTest, ListTargetsAndVariables) {
  CmdResult targets = Bake(kExample, "--list targets");
  ASSERT_EQ(targets.exit_code, 0) << targets.err;
  EXPECT_EQ(targets.out,
            "TARGET\t\tDESCRIPTION\n"
            "base\t\t\n"
            "db\t\t\n"
            "default\t\tdb, tools, web\n"
            "tools\t\ttools-lint, tools-test\n"
            "tools-lint\t\n"
            "tools-test\t\n"
            "web\t\t\n");
  CmdResult vars = Bake(kExample, "--list=variables");
  ASSERT_EQ(vars.exit_code, 0) << vars.err;
  EXPECT_EQ(vars.out, "VARIABLE\tTYPE\tVALUE\tDESCRIPTION\nTAG\t\t\tlatest\t\n");
}

TEST(BakeE2eTest, Errors) {
  CmdResult unknown = Bake(kExample, "--print nope");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("error: no target or group named \"nope\""), std::string::npos)
      << unknown.err;
  char tmpl[] = "/tmp/berth-bake-bad-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  ASSERT_TRUE(
      os::WriteFileAtomic(dir + "/docker-bake.hcl", "target \"a\" {\n  tagz = []\n}\n").ok());
  CmdResult bad = Bake(dir, "--print a");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("docker-bake.hcl:2:3: Unsupported argument"), std::string::npos)
      << bad.err;
  CmdResult none = Bake("/", "--print");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no bake file found"), std::string::npos) << none.err;
  CmdResult build = Bake(kExample, "web");
  EXPECT_EQ(build.exit_code, 2);
  std::system(("rm -rf " + dir).c_str());  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace
}  // namespace berth
