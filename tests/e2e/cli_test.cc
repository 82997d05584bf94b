// Runs `berth` as a subprocess and checks its output, errors and exit codes.
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

// Runs berth with `args` (a shell fragment) and captures stdout and stderr.
CmdResult Berth(const std::string& args, const std::string& stdin_text = "") {
  char tmpl[] = "/tmp/berth-e2e-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string in = dir + "/in";
  EXPECT_TRUE(os::WriteFileAtomic(in, stdin_text).ok());
  std::string cmd =
      std::string(BERTH_BIN) + "/berth " + args + " <" + in + " >" + dir + "/out 2>" + dir + "/err";
  int status = std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe)
  CmdResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = os::ReadFile(dir + "/out").value_or("");
  r.err = os::ReadFile(dir + "/err").value_or("");
  std::system(("rm -rf " + dir).c_str());  // NOLINT(concurrency-mt-unsafe)
  return r;
}

std::string TempContext(const std::string& dockerfile) {
  char tmpl[] = "/tmp/berth-ctx-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  EXPECT_TRUE(os::WriteFileAtomic(dir + "/Dockerfile", dockerfile).ok());
  return dir;
}

TEST(CliTest, HelpAndVersion) {
  CmdResult help = Berth("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("debug"), std::string::npos);
  CmdResult version = Berth("version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("berth ", 0), 0u);
  CmdResult sub = Berth("debug graph --help");
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_NE(sub.out.find("--build-arg"), std::string::npos);
}

TEST(CliTest, UsageErrorsExitTwo) {
  CmdResult r = Berth("debug graph --no-such-flag .");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

TEST(CliTest, DebugParseMatchesUpstreamDump) {
  std::string dir = std::string(BERTH_TESTDATA) + "/parser-testfiles/testfiles/env";
  CmdResult r = Berth("debug parse " + dir + "/Dockerfile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, os::ReadFile(dir + "/result").value());
  CmdResult stdin_run = Berth("debug parse -", "FROM busybox\nRUN echo hi\n");
  EXPECT_EQ(stdin_run.out, "(from \"busybox\")\n(run \"echo hi\")\n");
}

TEST(CliTest, DebugGraphOfExample) {
  CmdResult r = Berth("debug graph " + std::string(BERTH_SOURCE_DIR) + "/examples/hello");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["vertices"].is_array());
  EXPECT_GE(j["vertices"].size(), 5u);
  EXPECT_EQ(j["config"]["Cmd"][0], "sh");
  // Digests are stable run to run.
  CmdResult again = Berth("debug graph " + std::string(BERTH_SOURCE_DIR) + "/examples/hello");
  EXPECT_EQ(r.out, again.out);
  // A build arg changes the graph.
  CmdResult arg = Berth("debug graph --build-arg BASE=busybox:1.36 " +
                        std::string(BERTH_SOURCE_DIR) + "/examples/hello");
  EXPECT_NE(nlohmann::json::parse(arg.out)["target"], j["target"]);
}

TEST(CliTest, BadDockerfileNamesFileAndLine) {
  std::string ctx = TempContext("FROM busybox\n\nCOPY --frm=build /a /b\n");
  CmdResult r = Berth("debug graph " + ctx);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: Dockerfile:3: COPY: unknown flag: --frm (did you mean --from?)\n");
  std::system(("rm -rf " + ctx).c_str());  // NOLINT(concurrency-mt-unsafe)
}

TEST(CliTest, MissingDockerfileIsClear) {
  CmdResult r = Berth("debug graph /nonexistent-context");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent-context/Dockerfile"), std::string::npos) << r.err;
}

TEST(CliTest, DockerignoreNextToDockerfileWins) {
  std::string ctx = TempContext("FROM busybox\nCOPY . /src\n");
  ASSERT_TRUE(os::WriteFileAtomic(ctx + "/.dockerignore", "root-rule\n").ok());
  CmdResult root = Berth("debug graph " + ctx);
  ASSERT_EQ(root.exit_code, 0) << root.err;
  EXPECT_NE(root.out.find("root-rule"), std::string::npos);
  ASSERT_TRUE(os::WriteFileAtomic(ctx + "/Dockerfile.dockerignore", "specific-rule\n").ok());
  CmdResult specific = Berth("debug graph " + ctx);
  EXPECT_NE(specific.out.find("specific-rule"), std::string::npos);
  EXPECT_EQ(specific.out.find("root-rule"), std::string::npos);
  std::system(("rm -rf " + ctx).c_str());  // NOLINT(concurrency-mt-unsafe)
}

TEST(CliTest, TargetAndUnusedArgWarning) {
  std::string ctx = TempContext("FROM busybox AS a\nRUN echo a\nFROM alpine AS b\nRUN echo b\n");
  CmdResult r = Berth("debug graph --target a --build-arg UNUSED=1 " + ctx);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("alpine"), std::string::npos);
  EXPECT_NE(r.err.find("UNUSED"), std::string::npos);
  CmdResult bad = Berth("debug graph --target c " + ctx);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("target stage \"c\" could not be found"), std::string::npos);
  std::system(("rm -rf " + ctx).c_str());  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace
}  // namespace berth
