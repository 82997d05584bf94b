#include "frontend/dockerfile/instructions/instructions.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace berth::frontend::dockerfile::instructions {
namespace {

using nlohmann::json;

json LoadCases(const std::string& name) {
  std::ifstream in(std::string(BERTH_TESTDATA) + "/instructions/" + name);
  return json::parse(in)["cases"];
}

Result<Instruction> ParseFirst(const std::string& dockerfile) {
  parser::Ast ast = BERTH_TRY(parser::Parse(dockerfile));
  if (ast.children.empty()) {
    return Error::InvalidArgument("no instructions");
  }
  return ParseInstruction(ast.children[0]);
}

class ErrorCaseTest : public testing::TestWithParam<json> {};

TEST_P(ErrorCaseTest, FailsWithMessage) {
  const json& c = GetParam();
  Result<Instruction> inst = ParseFirst(c["dockerfile"].get<std::string>());
  ASSERT_FALSE(inst.ok()) << c["dockerfile"];
  EXPECT_NE(inst.error().message().find(c["expectedError"].get<std::string>()), std::string::npos)
      << inst.error().message();
  EXPECT_EQ(inst.error().message().rfind("Dockerfile:1: ", 0), 0u) << inst.error().message();
}

INSTANTIATE_TEST_SUITE_P(Upstream, ErrorCaseTest, testing::ValuesIn(LoadCases("error_cases.json")));

class CopyHeredocTest : public testing::TestWithParam<json> {};

TEST_P(CopyHeredocTest, SourcesAndDest) {
  const json& c = GetParam();
  Result<Instruction> inst = ParseFirst(c["dockerfile"].get<std::string>());
  ASSERT_TRUE(inst.ok()) << inst.error().ToString();
  const auto* copy = std::get_if<CopyCmd>(&inst->command);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->dest, c["DestPath"].get<std::string>());
  std::vector<std::string> want_paths;
  if (!c["SourcePaths"].is_null()) {
    want_paths = c["SourcePaths"].get<std::vector<std::string>>();
  }
  EXPECT_EQ(copy->source_paths, want_paths);
  size_t want_contents = c["SourceContents"].is_null() ? 0 : c["SourceContents"].size();
  ASSERT_EQ(copy->source_contents.size(), want_contents);
  for (size_t i = 0; i < want_contents; ++i) {
    const json& want = c["SourceContents"][i];
    EXPECT_EQ(copy->source_contents[i].path, want["Path"].get<std::string>());
    EXPECT_EQ(copy->source_contents[i].data, want["Data"].get<std::string>());
    EXPECT_EQ(copy->source_contents[i].expand, want["Expand"].get<bool>());
  }
}

INSTANTIATE_TEST_SUITE_P(Upstream, CopyHeredocTest,
                         testing::ValuesIn(LoadCases("copy_heredoc.json")));

class RunHeredocTest : public testing::TestWithParam<json> {};

TEST_P(RunHeredocTest, CommandAndFiles) {
  const json& c = GetParam();
  Result<Instruction> inst = ParseFirst(c["dockerfile"].get<std::string>());
  ASSERT_TRUE(inst.ok()) << inst.error().ToString();
  const auto* run = std::get_if<RunCmd>(&inst->command);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->prepend_shell, c["PrependShell"].get<bool>());
  EXPECT_EQ(run->cmd_line, c["CmdLine"].get<std::vector<std::string>>());
  size_t want_files = c["Files"].is_null() ? 0 : c["Files"].size();
  ASSERT_EQ(run->files.size(), want_files);
  for (size_t i = 0; i < want_files; ++i) {
    const json& want = c["Files"][i];
    EXPECT_EQ(run->files[i].name, want["Name"].get<std::string>());
    EXPECT_EQ(run->files[i].data, want["Data"].get<std::string>());
    EXPECT_EQ(run->files[i].chomp, want.value("Chomp", false));
  }
}

INSTANTIATE_TEST_SUITE_P(Upstream, RunHeredocTest,
                         testing::ValuesIn(LoadCases("run_heredoc.json")));

TEST(InstructionsTest, UnknownFlagNamesLineAndSuggests) {
  Result<parser::Ast> ast = parser::Parse("FROM busybox\n\nCOPY --frm=build /a /b\n");
  ASSERT_TRUE(ast.ok());
  Result<Dockerfile> df = Parse(*ast);
  ASSERT_FALSE(df.ok());
  EXPECT_EQ(df.error().message(), "Dockerfile:3: COPY: unknown flag: --frm (did you mean --from?)");
}

TEST(InstructionsTest, FlagRules) {
  EXPECT_NE(ParseFirst("COPY --from /a /b").error().message().find("missing a value on flag: from"),
            std::string::npos);
  EXPECT_NE(ParseFirst("COPY --link=maybe /a /b").error().message().find("expecting boolean"),
            std::string::npos);
  EXPECT_NE(ParseFirst("COPY --from=a --from=b /a /b").error().message().find("duplicate flag"),
            std::string::npos);
  Result<Instruction> ok = ParseFirst("COPY --exclude=*.md --exclude=*.txt --link /a /b");
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  const auto& copy = std::get<CopyCmd>(ok->command);
  EXPECT_EQ(copy.excludes, (std::vector<std::string>{"*.md", "*.txt"}));
  EXPECT_TRUE(copy.link);
  EXPECT_FALSE(ParseFirst("ADD --from=x /a /b").ok());
  EXPECT_TRUE(ParseFirst("ADD --checksum=sha256:abc --keep-git-dir https://x/y /b").ok());
}

TEST(InstructionsTest, StagesAndMetaArgs) {
  Result<parser::Ast> ast = parser::Parse(
      "ARG BASE=busybox\nFROM $BASE AS Build\nRUN true\nFROM scratch\nCOPY --from=build /a /a\n");
  ASSERT_TRUE(ast.ok());
  Result<Dockerfile> df = Parse(*ast);
  ASSERT_TRUE(df.ok()) << df.error().ToString();
  ASSERT_EQ(df->meta_args.size(), 1u);
  EXPECT_EQ(df->meta_args[0].args[0].key, "BASE");
  ASSERT_EQ(df->stages.size(), 2u);
  EXPECT_EQ(df->stages[0].name, "build");
  EXPECT_EQ(df->stages[0].original_name, "Build");
  EXPECT_EQ(df->stages[0].commands.size(), 1u);
  EXPECT_EQ(df->stages[1].location.start_line, 4);
}

TEST(InstructionsTest, StageErrors) {
  auto parse = [](const std::string& text) {
    return Parse(parser::Parse(text).value());
  };
  EXPECT_NE(parse("FROM a AS x\nFROM b AS X\n").error().message().find("duplicate stage name"),
            std::string::npos);
  EXPECT_NE(parse("FROM a AS 1x\n").error().message().find("invalid name for build stage"),
            std::string::npos);
  EXPECT_NE(parse("RUN true\nFROM a\n").error().message().find("Dockerfile:1: no build stage"),
            std::string::npos);
  EXPECT_NE(parse("FROM a b\n").error().message().find("one or three arguments"),
            std::string::npos);
}

TEST(InstructionsTest, Healthcheck) {
  Result<Instruction> hc =
      ParseFirst("HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/");
  ASSERT_TRUE(hc.ok()) << hc.error().ToString();
  const auto& cmd = std::get<HealthcheckCmd>(hc->command);
  EXPECT_EQ(cmd.test, (std::vector<std::string>{"CMD-SHELL", "curl -f http://x/"}));
  EXPECT_EQ(cmd.interval, 5000000000);
  EXPECT_EQ(cmd.retries, 3);
  EXPECT_EQ(std::get<HealthcheckCmd>(ParseFirst("HEALTHCHECK NONE")->command).test,
            (std::vector<std::string>{"NONE"}));
  EXPECT_FALSE(ParseFirst("HEALTHCHECK --interval=1ns CMD true").ok());
  EXPECT_FALSE(ParseFirst("HEALTHCHECK --retries=-1 CMD true").ok());
  EXPECT_FALSE(ParseFirst("HEALTHCHECK FOO true").ok());
}

TEST(InstructionsTest, Durations) {
  EXPECT_EQ(ParseDuration("1m30s").value(), 90000000000);
  EXPECT_EQ(ParseDuration("1.5h").value(), 5400000000000);
  EXPECT_EQ(ParseDuration("500ms").value(), 500000000);
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5x").ok());
  EXPECT_FALSE(ParseDuration("").ok());
}

}  // namespace
}  // namespace berth::frontend::dockerfile::instructions
