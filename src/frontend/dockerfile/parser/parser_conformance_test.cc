// BuildKit's own parser test cases (tests/testdata/parser-testfiles and parser-extra), one gtest
// case per data case.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/dockerfile/parser/parser.h"

namespace berth::frontend::dockerfile::parser {
namespace {

namespace fs = std::filesystem;

fs::path TestData() {
  return {BERTH_TESTDATA};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json ReadJson(const fs::path& path) {
  return nlohmann::json::parse(ReadFile(path));
}

// A parser-extra file, read once.
const nlohmann::json& ExtraJson(const std::string& file) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    it = cache.emplace(file, ReadJson(TestData() / "parser-extra" / file)).first;
  }
  return it->second;
}

// The case directories under parser-testfiles/<dir>, sorted.
std::vector<std::string> CaseNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(TestData() / "parser-testfiles" / dir, ec)) {
    if (entry.is_directory()) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// gtest names allow only letters, digits and underscores.
std::string TestName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      c = '_';
    }
  }
  return out;
}

std::vector<int> Indices(size_t count) {
  std::vector<int> indices(count);
  for (size_t i = 0; i < count; ++i) {
    indices[i] = static_cast<int>(i);
  }
  return indices;
}

// --- testfiles: the AST dump, byte for byte ---

class DumpTest : public testing::TestWithParam<std::string> {};

TEST_P(DumpTest, MatchesResult) {
  const fs::path dir = TestData() / "parser-testfiles" / "testfiles" / GetParam();
  Result<Ast> ast = Parse(ReadFile(dir / "Dockerfile"));
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_EQ(Dump(*ast), ReadFile(dir / "result"));
}

INSTANTIATE_TEST_SUITE_P(Testfiles, DumpTest, testing::ValuesIn(CaseNames("testfiles")),
                         [](const auto& info) { return TestName(info.param); });

TEST(DumpTest, FindsAllCases) {
  EXPECT_EQ(CaseNames("testfiles").size(), 33u);
}

// --- testfiles-negative: parsing must fail ---

class NegativeTest : public testing::TestWithParam<std::string> {};

TEST_P(NegativeTest, Fails) {
  const fs::path file =
      TestData() / "parser-testfiles" / "testfiles-negative" / GetParam() / "Dockerfile";
  Result<Ast> ast = Parse(ReadFile(file));
  ASSERT_FALSE(ast.ok()) << Dump(*ast);
  EXPECT_EQ(ast.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(ast.error().message().starts_with("Dockerfile:")) << ast.error().message();
}

INSTANTIATE_TEST_SUITE_P(TestfilesNegative, NegativeTest,
                         testing::ValuesIn(CaseNames("testfiles-negative")),
                         [](const auto& info) { return TestName(info.param); });

TEST(NegativeTest, FindsAllCases) {
  EXPECT_EQ(CaseNames("testfiles-negative").size(), 4u);
}

// --- testfile-line: line numbers ---

TEST(LineNumbersTest, MatchesBuildKit) {
  const nlohmann::json cases = ReadJson(TestData() / "parser-testfiles" / "cases.json");
  const nlohmann::json& lineinfo = cases.at("lineinfo");
  const std::string dockerfile =
      ReadFile(TestData() / "parser-testfiles" / "testfile-line" / "Dockerfile");
  ASSERT_EQ(dockerfile, lineinfo.at("dockerfile").get<std::string>());
  Result<Ast> ast = Parse(dockerfile);
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  const nlohmann::json& expect = lineinfo.at("expect");
  const auto& children = expect.at("children");
  ASSERT_EQ(ast->children.size(), children.size());
  EXPECT_EQ(ast->children.front().start_line, expect.at("ast.StartLine").get<int>());
  EXPECT_EQ(ast->children.back().end_line, expect.at("ast.EndLine").get<int>());
  for (size_t i = 0; i < children.size(); ++i) {
    EXPECT_EQ(ast->children[i].start_line, children[i][0].get<int>()) << "child " << i;
    EXPECT_EQ(ast->children[i].end_line, children[i][1].get<int>()) << "child " << i;
  }
}

// The bundled cases.json must hold the same data as the directories.
TEST(CasesJsonTest, AgreesWithDirectories) {
  const nlohmann::json cases = ReadJson(TestData() / "parser-testfiles" / "cases.json");
  for (const auto& c : cases.at("positive")) {
    const fs::path dir = TestData() / "parser-testfiles" / "testfiles" / c.at("name");
    EXPECT_EQ(ReadFile(dir / "Dockerfile"), c.at("dockerfile").get<std::string>());
    EXPECT_EQ(ReadFile(dir / "result"), c.at("result").get<std::string>());
  }
  EXPECT_EQ(cases.at("positive").size(), 33u);
  EXPECT_EQ(cases.at("negative").size(), 4u);
}

// --- heredoc_extract.json: Parse attaches heredocs to the right instructions ---

const nlohmann::json& HeredocExtract() {
  return ExtraJson("heredoc_extract.json");
}

class HeredocExtractTest : public testing::TestWithParam<int> {};

TEST_P(HeredocExtractTest, MatchesBuildKit) {
  const nlohmann::json& c = HeredocExtract().at("cases").at(GetParam());
  Result<Ast> ast = Parse(HeredocExtract().at("dockerfile").get<std::string>());
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  const size_t index = c.at("childIndex").get<size_t>();
  ASSERT_LT(index, ast->children.size());
  std::vector<Heredoc> expected;
  if (!c.at("heredocs").is_null()) {
    for (const auto& h : c.at("heredocs")) {
      expected.push_back(Heredoc{h.at("Name"), h.at("Content"), h.at("Expand"), h.at("Chomp"),
                                 h.at("FileDescriptor")});
    }
  }
  const std::vector<Heredoc>& actual = ast->children[index].heredocs;
  ASSERT_EQ(actual.size(), expected.size()) << ast->children[index].original;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i].name, expected[i].name);
    EXPECT_EQ(actual[i].content, expected[i].content);
    EXPECT_EQ(actual[i].expand, expected[i].expand);
    EXPECT_EQ(actual[i].chomp, expected[i].chomp);
    EXPECT_EQ(actual[i].file_descriptor, expected[i].file_descriptor);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HeredocExtractTest,
    testing::ValuesIn(
        Indices(ReadJson(TestData() / "parser-extra" / "heredoc_extract.json").at("cases").size())),
    [](const auto& info) { return "child" + std::to_string(info.param + 1); });

TEST(HeredocExtractTest, FindsAllCases) {
  EXPECT_EQ(HeredocExtract().at("cases").size(), 27u);
}

// --- heredocs_from_line.json ---

const nlohmann::json& HeredocsFromLineJson() {
  return ExtraJson("heredocs_from_line.json");
}

class HeredocsFromLineTest : public testing::TestWithParam<int> {};

TEST_P(HeredocsFromLineTest, Names) {
  const nlohmann::json& c = HeredocsFromLineJson().at("cases").at(GetParam());
  const std::string line = c.at("line");
  std::vector<std::string> expected;
  if (!c.at("heredocNames").is_null()) {
    expected = c.at("heredocNames").get<std::vector<std::string>>();
  }
  // BuildKit keeps the blanks after `<<` in the word but not those after `<<-`, so "<<- EOF"
  // is the two words "<<-" and "EOF" and no heredoc (moby/buildkit#6822 proposes to change
  // that). Its test for this line only compares the heredocs it gets, and it gets none.
  if (line.find("<<- ") != std::string::npos) {
    expected.clear();
  }
  std::vector<std::string> names;
  for (const Heredoc& heredoc : HeredocsFromLine(line)) {
    names.push_back(heredoc.name);
  }
  EXPECT_EQ(names, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HeredocsFromLineTest,
    testing::ValuesIn(Indices(
        ReadJson(TestData() / "parser-extra" / "heredocs_from_line.json").at("cases").size())),
    [](const auto& info) { return "line" + std::to_string(info.param + 1); });

TEST(HeredocsFromLineTest, FindsAllCases) {
  EXPECT_EQ(HeredocsFromLineJson().at("cases").size(), 10u);
}

TEST(ParseHeredocTest, ValidHeredocsAreNamedEof) {
  const auto& words = HeredocsFromLineJson().at("parseHeredoc").at("validHeredocs_nameIsEOF");
  ASSERT_EQ(words.size(), 9u);
  for (const std::string word : words) {
    Result<std::optional<Heredoc>> heredoc = ParseHeredoc(word);
    ASSERT_TRUE(heredoc.ok()) << word << ": " << heredoc.error().message();
    ASSERT_TRUE(heredoc->has_value()) << word;
    EXPECT_EQ((*heredoc)->name, "EOF") << word;
  }
}

TEST(ParseHeredocTest, InvalidHeredocsFail) {
  const auto& words = HeredocsFromLineJson().at("parseHeredoc").at("invalidHeredocs_error");
  ASSERT_EQ(words.size(), 4u);
  for (const std::string word : words) {
    Result<std::optional<Heredoc>> heredoc = ParseHeredoc(word);
    EXPECT_FALSE(heredoc.ok()) << word;
  }
}

TEST(ParseHeredocTest, NotHeredocs) {
  const auto& words = HeredocsFromLineJson().at("parseHeredoc").at("notHeredocs_nil");
  ASSERT_EQ(words.size(), 7u);
  for (const std::string word : words) {
    Result<std::optional<Heredoc>> heredoc = ParseHeredoc(word);
    ASSERT_TRUE(heredoc.ok()) << word << ": " << heredoc.error().message();
    EXPECT_FALSE(heredoc->has_value()) << word;
  }
}

TEST(ChompHeredocContentTest, StripsLeadingTabs) {
  const auto& chomp = HeredocsFromLineJson().at("chomp");
  EXPECT_EQ(ChompHeredocContent(chomp.at("in").get<std::string>()),
            chomp.at("out").get<std::string>());
}

// --- parse_words.json ---

const nlohmann::json& ParseWordsJson() {
  return ExtraJson("parse_words.json");
}

class ParseWordsTest : public testing::TestWithParam<int> {};

TEST_P(ParseWordsTest, MatchesBuildKit) {
  const nlohmann::json& c = ParseWordsJson().at("cases").at(GetParam());
  EXPECT_EQ(ParseWords(c.at("input").get<std::string>()),
            c.at("expect").get<std::vector<std::string>>());
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseWordsTest,
                         testing::ValuesIn(Indices(ParseWordsJson().at("cases").size())),
                         [](const auto& info) { return "case" + std::to_string(info.param + 1); });

TEST(ParseWordsTest, FindsAllCases) {
  EXPECT_EQ(ParseWordsJson().at("cases").size(), 8u);
}

// --- directives_handwritten.json ---

const nlohmann::json& DirectivesJson() {
  return ExtraJson("directives_handwritten.json");
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

class DirectivesTest : public testing::TestWithParam<int> {};

TEST_P(DirectivesTest, MatchesBuildKit) {
  const nlohmann::json& c = DirectivesJson().at("cases").at(GetParam());
  const std::string fn = c.at("fn");
  std::string input = c.at("input");
  if (c.contains("input_hex_prefix")) {
    input = FromHex(c.at("input_hex_prefix")) + input;
  }
  if (fn == "DirectiveParser.ParseAll") {
    Result<std::vector<Directive>> directives = ParseDirectives(input);
    ASSERT_TRUE(directives.ok()) << directives.error().message();
    ASSERT_EQ(directives->size(), c.at("expect").size());
    for (size_t i = 0; i < directives->size(); ++i) {
      EXPECT_EQ((*directives)[i].name, c.at("expect")[i].at("name").get<std::string>());
      EXPECT_EQ((*directives)[i].value, c.at("expect")[i].at("value").get<std::string>());
    }
    return;
  }
  std::optional<DirectiveValue> found;
  if (fn == "DetectSyntax") {
    found = DetectSyntax(input);
  } else {
    ASSERT_EQ(fn, "ParseDirective(check)");
    found = FindDirective("check", input);
  }
  ASSERT_EQ(found.has_value(), c.at("ok").get<bool>());
  if (!found) {
    return;
  }
  EXPECT_EQ(found->ref, c.at("ref").get<std::string>());
  if (c.contains("cmdline")) {
    EXPECT_EQ(found->cmdline, c.at("cmdline").get<std::string>());
  }
  if (c.contains("line")) {
    EXPECT_EQ(found->line, c.at("line").get<int>());
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, DirectivesTest,
                         testing::ValuesIn(Indices(DirectivesJson().at("cases").size())),
                         [](const auto& info) { return "case" + std::to_string(info.param + 1); });

TEST(DirectivesTest, FindsAllCases) {
  EXPECT_EQ(DirectivesJson().at("cases").size(), 17u);
}

}  // namespace
}  // namespace berth::frontend::dockerfile::parser
