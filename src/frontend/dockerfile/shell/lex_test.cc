#include "frontend/dockerfile/shell/lex.h"

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace berth::frontend::dockerfile::shell {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Loading the upstream conformance data (tests/testdata/shell-lexer, see PROVENANCE there).
//
// The data is read while gtest registers the parameterised tests. A file that cannot be read or
// parsed contributes no cases and leaves a message in LoadErrors(), which DataTest.AllFilesLoad
// reports, so broken data fails loudly instead of silently running nothing.

std::vector<std::string>& LoadErrors() {
  static std::vector<std::string> errors;
  return errors;
}

std::string DataPath(const std::string& name) {
  return std::string(BERTH_TESTDATA) + "/shell-lexer/" + name;
}

std::optional<std::string> ReadDataFile(const std::string& name) {
  std::ifstream in(DataPath(name), std::ios::binary);
  if (!in) {
    LoadErrors().push_back("cannot read " + DataPath(name));
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<json> ReadJson(const std::string& name) {
  std::optional<std::string> text = ReadDataFile(name);
  if (!text) {
    return std::nullopt;
  }
  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("cases") ||
      !doc["cases"].is_array()) {
    LoadErrors().push_back(name + ": not a JSON object with a \"cases\" array");
    return std::nullopt;
  }
  return doc;
}

// Lines as Go's bufio.Scanner yields them: split on '\n', a trailing '\r' dropped.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) {
    lines.pop_back();
  }
  for (std::string& line : lines) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
  }
  return lines;
}

std::string TrimLeftSpaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') {
    text.remove_prefix(1);
  }
  return std::string(text);
}

std::set<std::string> StringSet(const json& array) {
  std::set<std::string> out;
  for (const json& item : array) {
    out.insert(item.get<std::string>());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// envVarTest: `P|input|expected`, read with the rules of BuildKit's TestShellParser4EnvVars.

struct EnvVarCase {
  int line = 0;
  std::string platform;  // A (all), U (unix), W (windows)
  std::string input;
  std::string expected;  // "error": must fail

  bool operator==(const EnvVarCase&) const = default;
};

void PrintTo(const EnvVarCase& c, std::ostream* os) {
  *os << "line " << c.line << " " << c.platform << "|" << c.input << "|" << c.expected;
}

std::vector<EnvVarCase> ParseEnvVarTest(const std::string& text) {
  std::vector<EnvVarCase> cases;
  int line_number = 0;
  for (const std::string& raw : Lines(text)) {
    ++line_number;
    if (raw.starts_with("#")) {
      continue;
    }
    std::string line(Trim(raw));
    if (line.empty()) {
      continue;
    }
    std::vector<std::string> fields = StrSplit(line, '|');
    if (fields.size() != 3) {
      LoadErrors().push_back("envVarTest:" + std::to_string(line_number) +
                             ": not P|input|expected");
      continue;
    }
    cases.push_back({line_number, std::string(Trim(fields[0])), std::string(Trim(fields[1])),
                     std::string(Trim(fields[2]))});
  }
  return cases;
}

std::vector<EnvVarCase> LoadEnvVarCases() {
  std::optional<std::string> text = ReadDataFile("envVarTest");
  return text ? ParseEnvVarTest(*text) : std::vector<EnvVarCase>{};
}

class EnvVarTest : public testing::TestWithParam<EnvVarCase> {};

TEST_P(EnvVarTest, ProcessWord) {
  const EnvVarCase& c = GetParam();
  if (c.platform == "W") {
    GTEST_SKIP() << "Windows-only case: variable names are case-insensitive only there";
  }
  ASSERT_TRUE(c.platform == "A" || c.platform == "U") << "unknown platform tag " << c.platform;
  const EnvList env = EnvList::FromSlice({"PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="});
  const Lexer lexer('\\');
  Result<std::string> word = lexer.ProcessWord(c.input, env.Lookup());
  Result<ProcessResult> with_matches = lexer.ProcessWordWithMatches(c.input, env.Lookup());
  if (c.expected == "error") {
    EXPECT_FALSE(word.ok()) << "expanded to " << QuoteString(word.value_or(""));
    EXPECT_FALSE(with_matches.ok());
    return;
  }
  ASSERT_TRUE(word.ok()) << word.error().ToString();
  EXPECT_EQ(*word, c.expected);
  ASSERT_TRUE(with_matches.ok()) << with_matches.error().ToString();
  EXPECT_EQ(with_matches->result, c.expected);
}

INSTANTIATE_TEST_SUITE_P(Upstream, EnvVarTest, testing::ValuesIn(LoadEnvVarCases()),
                         [](const testing::TestParamInfo<EnvVarCase>& info) {
                           return "line" + std::to_string(info.param.line);
                         });

// ---------------------------------------------------------------------------------------------
// wordsTest: `input | w1,w2,...`, with `ENV k=v` lines adding to the environment, read with
// the rules of BuildKit's TestShellParser4Words.

struct WordsCase {
  int line = 0;
  std::string input;
  std::vector<std::string> env;
  std::vector<std::string> expected;  // {"error"}: must fail

  bool operator==(const WordsCase&) const = default;
};

void PrintTo(const WordsCase& c, std::ostream* os) {
  *os << "line " << c.line << " " << QuoteString(c.input) << " -> " << StrJoin(c.expected, ",");
}

std::vector<WordsCase> ParseWordsTest(const std::string& text) {
  std::vector<WordsCase> cases;
  std::vector<std::string> env;
  int line_number = 0;
  for (const std::string& line : Lines(text)) {
    ++line_number;
    if (line.starts_with("#")) {
      continue;
    }
    if (line.starts_with("ENV ")) {
      env.push_back(TrimLeftSpaces(std::string_view(line).substr(3)));
      continue;
    }
    std::vector<std::string> parts = StrSplit(line, '|');
    if (parts.size() != 2) {
      LoadErrors().push_back("wordsTest:" + std::to_string(line_number) + ": not input | words");
      continue;
    }
    cases.push_back(
        {line_number, std::string(Trim(parts[0])), env, StrSplit(TrimLeftSpaces(parts[1]), ',')});
  }
  return cases;
}

std::vector<WordsCase> LoadWordsCases() {
  std::optional<std::string> text = ReadDataFile("wordsTest");
  return text ? ParseWordsTest(*text) : std::vector<WordsCase>{};
}

class WordsTest : public testing::TestWithParam<WordsCase> {};

TEST_P(WordsTest, ProcessWords) {
  const WordsCase& c = GetParam();
  const EnvList env = EnvList::FromSlice(c.env);
  Result<std::vector<std::string>> words = Lexer('\\').ProcessWords(c.input, env.Lookup());
  if (c.expected == std::vector<std::string>{"error"}) {
    EXPECT_FALSE(words.ok()) << "split into " << StrJoin(words.value_or({}), ",");
    return;
  }
  ASSERT_TRUE(words.ok()) << words.error().ToString();
  EXPECT_EQ(*words, c.expected);
}

INSTANTIATE_TEST_SUITE_P(Upstream, WordsTest, testing::ValuesIn(LoadWordsCases()),
                         [](const testing::TestParamInfo<WordsCase>& info) {
                           return "line" + std::to_string(info.param.line);
                         });

// ---------------------------------------------------------------------------------------------
// process_word_with_matches.json: results plus the names found and not found.

struct MatchesCase {
  size_t index = 0;
  std::string input;
  std::map<std::string, std::string> env;
  bool expect_error = false;
  std::string expected;
  std::set<std::string> matched;
  std::set<std::string> unmatched;
};

void PrintTo(const MatchesCase& c, std::ostream* os) {
  *os << "case " << c.index << " " << QuoteString(c.input);
}

std::vector<MatchesCase> LoadMatchesCases() {
  std::vector<MatchesCase> cases;
  std::optional<json> doc = ReadJson("process_word_with_matches.json");
  if (!doc) {
    return cases;
  }
  try {
    for (const json& item : (*doc)["cases"]) {
      MatchesCase c;
      c.index = cases.size();
      c.input = item.at("input").get<std::string>();
      c.env = item.at("env").get<std::map<std::string, std::string>>();
      c.expect_error = item.at("expectError").get<bool>();
      c.expected = item.at("expected").get<std::string>();
      c.matched = StringSet(item.at("matched"));
      c.unmatched = StringSet(item.at("unmatched"));
      cases.push_back(std::move(c));
    }
  } catch (const json::exception& e) {
    LoadErrors().push_back(std::string("process_word_with_matches.json: ") + e.what());
  }
  return cases;
}

class MatchesTest : public testing::TestWithParam<MatchesCase> {};

TEST_P(MatchesTest, ProcessWordWithMatches) {
  const MatchesCase& c = GetParam();
  EnvList env;
  for (const auto& [key, value] : c.env) {
    env.Set(key, value);
  }
  Result<ProcessResult> result = Lexer('\\').ProcessWordWithMatches(c.input, env.Lookup());
  if (c.expect_error) {
    EXPECT_FALSE(result.ok()) << "expanded to " << QuoteString(result.ok() ? result->result : "");
    return;
  }
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->result, c.expected);
  EXPECT_EQ(result->matched, c.matched);
  EXPECT_EQ(result->unmatched, c.unmatched);
}

INSTANTIATE_TEST_SUITE_P(Upstream, MatchesTest, testing::ValuesIn(LoadMatchesCases()),
                         [](const testing::TestParamInfo<MatchesCase>& info) {
                           return "case" + std::to_string(info.param.index);
                         });

// ---------------------------------------------------------------------------------------------
// getenv_handwritten.json: EnvList::FromSlice semantics.

struct GetEnvCase {
  size_t index = 0;
  std::vector<std::string> env;
  std::string name;
  std::string value;
};

void PrintTo(const GetEnvCase& c, std::ostream* os) {
  *os << "case " << c.index << " [" << StrJoin(c.env, " ") << "] " << c.name;
}

std::vector<GetEnvCase> LoadGetEnvCases() {
  std::vector<GetEnvCase> cases;
  std::optional<json> doc = ReadJson("getenv_handwritten.json");
  if (!doc) {
    return cases;
  }
  try {
    for (const json& item : (*doc)["cases"]) {
      cases.push_back({cases.size(), item.at("env").get<std::vector<std::string>>(),
                       item.at("name").get<std::string>(), item.at("value").get<std::string>()});
    }
  } catch (const json::exception& e) {
    LoadErrors().push_back(std::string("getenv_handwritten.json: ") + e.what());
  }
  return cases;
}

class GetEnvTest : public testing::TestWithParam<GetEnvCase> {};

TEST_P(GetEnvTest, FromSlice) {
  const GetEnvCase& c = GetParam();
  EXPECT_EQ(EnvList::FromSlice(c.env).Get(c.name).value_or(""), c.value);
}

INSTANTIATE_TEST_SUITE_P(Handwritten, GetEnvTest, testing::ValuesIn(LoadGetEnvCases()),
                         [](const testing::TestParamInfo<GetEnvCase>& info) {
                           return "case" + std::to_string(info.param.index);
                         });

// ---------------------------------------------------------------------------------------------
// process_word_misc_handwritten.json: mandatory variables and the release file name pattern.

struct MiscCase {
  size_t index = 0;
  std::string input;
  std::map<std::string, std::string> env;
  std::optional<std::string> expected;
  std::optional<std::string> error_contains;
};

void PrintTo(const MiscCase& c, std::ostream* os) {
  *os << "case " << c.index << " " << QuoteString(c.input);
}

std::vector<MiscCase> LoadMiscCases() {
  std::vector<MiscCase> cases;
  std::optional<json> doc = ReadJson("process_word_misc_handwritten.json");
  if (!doc) {
    return cases;
  }
  try {
    for (const json& item : (*doc)["cases"]) {
      MiscCase c;
      c.index = cases.size();
      c.input = item.at("input").get<std::string>();
      c.env = item.at("env").get<std::map<std::string, std::string>>();
      if (item.contains("expected")) {
        c.expected = item["expected"].get<std::string>();
      }
      if (item.contains("expectErrorContains")) {
        c.error_contains = item["expectErrorContains"].get<std::string>();
      }
      if (c.expected.has_value() == c.error_contains.has_value()) {
        LoadErrors().push_back("process_word_misc_handwritten.json: case " +
                               std::to_string(c.index) + " needs exactly one expectation");
        continue;
      }
      cases.push_back(std::move(c));
    }
  } catch (const json::exception& e) {
    LoadErrors().push_back(std::string("process_word_misc_handwritten.json: ") + e.what());
  }
  return cases;
}

class MiscTest : public testing::TestWithParam<MiscCase> {};

TEST_P(MiscTest, ProcessWord) {
  const MiscCase& c = GetParam();
  EnvList env;
  for (const auto& [key, value] : c.env) {
    env.Set(key, value);
  }
  Result<std::string> word = Lexer('\\').ProcessWord(c.input, env.Lookup());
  if (c.error_contains) {
    ASSERT_FALSE(word.ok()) << "expanded to " << QuoteString(*word);
    EXPECT_NE(word.error().ToString().find(*c.error_contains), std::string::npos)
        << word.error().ToString();
    return;
  }
  ASSERT_TRUE(word.ok()) << word.error().ToString();
  EXPECT_EQ(*word, *c.expected);
}

INSTANTIATE_TEST_SUITE_P(Handwritten, MiscTest, testing::ValuesIn(LoadMiscCases()),
                         [](const testing::TestParamInfo<MiscCase>& info) {
                           return "case" + std::to_string(info.param.index);
                         });

// ---------------------------------------------------------------------------------------------
// The data itself.

TEST(DataTest, AllFilesLoad) {
  // Force every loader to have run (they already have, during registration).
  EXPECT_TRUE(LoadErrors().empty()) << StrJoin(LoadErrors(), "\n");
}

TEST(DataTest, CaseCountsMatchTheFiles) {
  std::optional<json> env_vars = ReadJson("envVarTest.json");
  std::optional<json> words = ReadJson("wordsTest.json");
  std::optional<json> matches = ReadJson("process_word_with_matches.json");
  ASSERT_TRUE(env_vars && words && matches);
  EXPECT_EQ(LoadEnvVarCases().size(), (*env_vars)["count"].get<size_t>());
  EXPECT_EQ(LoadWordsCases().size(), (*words)["count"].get<size_t>());
  EXPECT_EQ(LoadMatchesCases().size(), (*matches)["count"].get<size_t>());
}

// The JSON twins of the raw files must say the same thing.
TEST(DataTest, RawFilesAgreeWithJson) {
  std::optional<json> env_vars = ReadJson("envVarTest.json");
  ASSERT_TRUE(env_vars);
  std::vector<EnvVarCase> from_json;
  for (const json& item : (*env_vars)["cases"]) {
    from_json.push_back(
        {item.at("line").get<int>(), item.at("platform").get<std::string>(),
         item.at("input").get<std::string>(),
         item.value("expectError", false) ? "error" : item.at("expected").get<std::string>()});
  }
  EXPECT_EQ(LoadEnvVarCases(), from_json);

  std::optional<json> words = ReadJson("wordsTest.json");
  ASSERT_TRUE(words);
  std::vector<WordsCase> words_from_json;
  for (const json& item : (*words)["cases"]) {
    words_from_json.push_back({item.at("line").get<int>(), item.at("input").get<std::string>(),
                               item.at("env").get<std::vector<std::string>>(),
                               item.value("expectError", false)
                                   ? std::vector<std::string>{"error"}
                                   : item.at("expected").get<std::vector<std::string>>()});
  }
  EXPECT_EQ(LoadWordsCases(), words_from_json);
}

// ---------------------------------------------------------------------------------------------
// Behaviour beyond the upstream data, checked against BuildKit's code paths.

Result<std::string> Expand(std::string_view word, const std::vector<std::string>& env = {},
                           char escape = '\\') {
  const EnvList list = EnvList::FromSlice(env);
  return Lexer(escape).ProcessWord(word, list.Lookup());
}

std::string ExpandOk(std::string_view word, const std::vector<std::string>& env = {},
                     char escape = '\\') {
  Result<std::string> r = Expand(word, env, escape);
  EXPECT_TRUE(r.ok()) << QuoteString(word) << ": " << r.error().ToString();
  return r.value_or("<error>");
}

std::string ExpandError(std::string_view word, const std::vector<std::string>& env = {}) {
  Result<std::string> r = Expand(word, env);
  EXPECT_FALSE(r.ok()) << QuoteString(word) << " expanded to " << QuoteString(r.value_or(""));
  return r.ok() ? std::string() : r.error().ToString();
}

TEST(EnvListTest, KeysKeepFirstInsertionOrderAndLastValueWins) {
  EnvList env = EnvList::FromSlice({"b=1", "a", "b=2", "c=x=y"});
  EXPECT_EQ(env.Keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(env.Get("b"), "2");
  EXPECT_EQ(env.Get("a"), "");
  EXPECT_EQ(env.Get("c"), "x=y");
  EXPECT_EQ(env.Get("d"), std::nullopt);
  env.Set("a", "3");
  EXPECT_EQ(env.Lookup()("a"), "3");
}

TEST(LexerTest, ErrorMessagesMatchBuildKit) {
  EXPECT_EQ(ExpandError("${x:?oops}"), "failed to process \"${x:?oops}\": x: oops");
  EXPECT_EQ(ExpandError("${x?}"), "failed to process \"${x?}\": x: is not allowed to be unset");
  EXPECT_EQ(ExpandError("${x:?}", {"x="}),
            "failed to process \"${x:?}\": x: is not allowed to be empty");
  EXPECT_EQ(ExpandError("${}"), "failed to process \"${}\": syntax error: bad substitution");
  EXPECT_EQ(ExpandError("${"), "failed to process \"${\": syntax error: missing '}'");
  EXPECT_EQ(ExpandError("${x:-abc"), "failed to process \"${x:-abc\": syntax error: missing '}'");
  EXPECT_EQ(ExpandError("${x/abc"),
            "failed to process \"${x/abc\": syntax error: missing '/' in ${}");
  EXPECT_EQ(ExpandError("${x:=y}"),
            "failed to process \"${x:=y}\": unsupported modifier (:=) in substitution");
  EXPECT_EQ(ExpandError("${x:#y}"),
            "failed to process \"${x:#y}\": unsupported modifier (:#) in substitution");
  EXPECT_EQ(ExpandError("${x.}"),
            "failed to process \"${x.}\": unsupported modifier (.) in substitution");
  // Go prints the end of input as U+FFFD.
  EXPECT_EQ(ExpandError("${x"),
            "failed to process \"${x\": unsupported modifier (\xEF\xBF\xBD) in substitution");
  EXPECT_EQ(ExpandError("'abc"),
            "failed to process \"'abc\": unexpected end of statement while looking for matching "
            "single-quote");
  EXPECT_EQ(ExpandError("\"abc"),
            "failed to process \"\\\"abc\": unexpected end of statement while looking for "
            "matching double-quote");
  EXPECT_EQ(ExpandError("${x#\\a}", {"x=a"}),
            "failed to process \"${x#\\\\a}\": invalid pattern (\\a) in substitution: invalid "
            "escape '\\a'");
  // A nested failure that reaches the end of the word is reported as the missing brace.
  EXPECT_EQ(ExpandError("${x:-${y?no}"),
            "failed to process \"${x:-${y?no}\": syntax error: "
            "missing '}'");
  EXPECT_EQ(ExpandError("${x:-${y?no}}"), "failed to process \"${x:-${y?no}}\": y: no");
  Result<std::string> r = Expand("${x?}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(LexerTest, RawQuotesKeepQuotes) {
  Lexer lexer;
  lexer.set_raw_quotes(true);
  const EnvList env = EnvList::FromSlice({"x=1"});
  EXPECT_EQ(lexer.ProcessWord("a'b $x'\"c $x\"", env.Lookup()).value_or("<error>"),
            "a'b $x'\"c 1\"");
  EXPECT_EQ(lexer.ProcessWords("'a b' c", env.Lookup()).value_or({}),
            (std::vector<std::string>{"'a b'", "c"}));
}

TEST(LexerTest, RawEscapesKeepEscapeTokens) {
  Lexer lexer;
  lexer.set_raw_escapes(true);
  const EnvList env;
  EXPECT_EQ(lexer.ProcessWord("a\\$b\\", env.Lookup()).value_or("<error>"), "a\\$b\\");
  // Inside double quotes an escape that escapes nothing is written twice, as in BuildKit.
  EXPECT_EQ(lexer.ProcessWord("\"\\t\\\"\"", env.Lookup()).value_or("<error>"), "\\\\t\\\"");
}

TEST(LexerTest, SkipUnsetEnvLeavesUnsetReferences) {
  Lexer lexer;
  lexer.set_skip_unset_env(true);
  const EnvList env = EnvList::FromSlice({"set=v"});
  EXPECT_EQ(lexer
                .ProcessWord("$set $unset ${unset} ${unset:-a$set} ${unset#x} ${unset//a/b}",
                             env.Lookup())
                .value_or("<error>"),
            "v $unset ${unset} ${unset:-av} ${unset#x} ${unset/a/b}");
  EXPECT_EQ(lexer.ProcessWord("${set:-a}${set/v/w}", env.Lookup()).value_or("<error>"), "vw");
}

TEST(LexerTest, SkipProcessQuotesTreatsQuotesAsText) {
  Lexer lexer;
  lexer.set_skip_process_quotes(true);
  const EnvList env = EnvList::FromSlice({"x=1"});
  EXPECT_EQ(lexer.ProcessWord("'$x' \"$x", env.Lookup()).value_or("<error>"), "'1' \"1");
  EXPECT_EQ(lexer.ProcessWords("'a b'", env.Lookup()).value_or({}),
            (std::vector<std::string>{"'a", "b'"}));
}

TEST(LexerTest, BacktickEscapeToken) {
  EXPECT_EQ(ExpandOk("a`$x`", {"x=1"}, '`'), "a$x");
  EXPECT_EQ(ExpandOk("C:\\dir\\$x", {"x=1"}, '`'), "C:\\dir\\1");
  EXPECT_EQ(ExpandOk("\"`\"`$x``\"", {"x=1"}, '`'), "\"$x`");
  EXPECT_EQ(ExpandOk("a``", {}, '`'), "a`");
}

TEST(LexerTest, NamesFollowGoUnicodeRules) {
  EXPECT_EQ(ExpandOk("$안녕.", {"안녕=hi"}), "hi.");
  EXPECT_EQ(ExpandOk("$x٣y", {"x٣y=arabic digit"}), "arabic digit");
  EXPECT_EQ(ExpandOk("$٣٣x", {"٣٣=digits"}), "digitsx");  // a leading digit starts a number
  EXPECT_EQ(ExpandOk("$_a1", {"_a1=v"}), "v");
  EXPECT_EQ(ExpandOk("$$$", {"$=pid"}), "pid$");  // `$$` names `$`; a `$` at the end is text
}

TEST(LexerTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(ExpandOk("a\xFF"
                     "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ExpandOk("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated sequence
  EXPECT_EQ(ExpandOk("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  // Values are copied as they are, except where BuildKit reverses them (`%`).
  EXPECT_EQ(ExpandOk("$x", {"x=\xFF"}), "\xFF");
  EXPECT_EQ(ExpandOk("${x#a}", {"x=a\xFF"}), "\xFF");
  EXPECT_EQ(ExpandOk("${x%a}", {"x=\xFF"
                                "a"}),
            "\xEF\xBF\xBD");
}

TEST(LexerTest, LeadingByteOrderMarkIsDropped) {
  EXPECT_EQ(ExpandOk("\xEF\xBB\xBF"
                     "a\xEF\xBB\xBF"),
            "a\xEF\xBB\xBF");
}

TEST(LexerTest, PatternsDoNotMatchNewlines) {
  EXPECT_EQ(ExpandOk("${x##*}", {"x=ab\ncd"}), "\ncd");
  EXPECT_EQ(ExpandOk("${x%%?}", {"x=ab\n"}), "ab\n");
  EXPECT_EQ(ExpandOk("${x//*/-}", {"x=ab\ncd"}), "-\n-");
}

TEST(LexerTest, ReplaceAllFollowsGoRegexpRules) {
  // Empty matches: one replacement per position, none right after a match.
  EXPECT_EQ(ExpandOk("${x//*/-}", {"x=abc"}), "-");
  EXPECT_EQ(ExpandOk("${x///-}", {"x=ab"}), "-a-b-");
  EXPECT_EQ(ExpandOk("${x//?/-}", {"x=한국"}), "--");
  // The replacement is a Go regexp template: $0 is the match, $$ a dollar, other names empty.
  EXPECT_EQ(ExpandOk("${x//?/$r}", {"x=ab", "r=[$0]"}), "[a][b]");
  EXPECT_EQ(ExpandOk("${x//?/$r}", {"x=ab", "r=${0}$$"}), "a$b$");
  EXPECT_EQ(ExpandOk("${x//?/$r}", {"x=ab", "r=$1$name."}), "..");
  EXPECT_EQ(ExpandOk("${x//?/$r}", {"x=ab", "r=${0$"}), "${0$${0$");
  // Replacing the first match only copies the replacement as it is.
  EXPECT_EQ(ExpandOk("${x/?/$r}", {"x=ab", "r=[$0]"}), "[$0]b");
}

TEST(LexerTest, ShortestAndLongestMatches) {
  const std::vector<std::string> env = {"x=a.b.c"};
  EXPECT_EQ(ExpandOk("${x#*.}", env), "b.c");
  EXPECT_EQ(ExpandOk("${x##*.}", env), "c");
  EXPECT_EQ(ExpandOk("${x%.*}", env), "a.b");
  EXPECT_EQ(ExpandOk("${x%%.*}", env), "a");
  EXPECT_EQ(ExpandOk("${x/./-}", env), "a-b.c");
  EXPECT_EQ(ExpandOk("${x//./-}", env), "a-b-c");
  EXPECT_EQ(ExpandOk("${x%\\*}", {"x=a*"}), "a");
  EXPECT_EQ(ExpandOk("${x%b\\\\}", {"x=ab\\"}), "a");
}

// The newest BuildKit reuses one buffer across nesting levels while splitting words and so loses
// the text before a nested `${x:-...}`; berth keeps it, as older BuildKit and a shell do.
TEST(LexerTest, WordSplittingKeepsTextAroundNestedExpansions) {
  const EnvList env = EnvList::FromSlice({"sp=1 2"});
  EXPECT_EQ(Lexer().ProcessWords("a${x:-b}c d${sp:+$sp}e", env.Lookup()).value_or({}),
            (std::vector<std::string>{"abc", "d1", "2e"}));
  EXPECT_EQ(Lexer().ProcessWords("a '' b \"\"", env.Lookup()).value_or({}),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Lexer()
                .ProcessWords("a\\ b\tc\xC2\xA0"
                              "d",
                              env.Lookup())
                .value_or({}),
            (std::vector<std::string>{"a b", "c", "d"}));
}

TEST(LexerTest, MissingLookupMeansEverythingUnset) {
  Result<ProcessResult> r = Lexer().ProcessWordWithMatches("${x:-y}$z", EnvLookup());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result, "y");
  EXPECT_EQ(r->unmatched, (std::set<std::string>{"x", "z"}));
}

// ---------------------------------------------------------------------------------------------
// Limits on hostile input.

TEST(LexerLimitsTest, NestingIsBounded) {
  auto nested = [](int depth) {
    std::string word;
    for (int i = 0; i < depth; ++i) {
      word += "${x:-";
    }
    word += "v";
    word.append(static_cast<size_t>(depth), '}');
    return word;
  };
  EXPECT_EQ(ExpandOk(nested(64)), "v");
  Result<std::string> deep = Expand(nested(65));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code(), ErrorCode::kResourceExhausted);
  Result<std::string> very_deep = Expand(nested(200000));
  ASSERT_FALSE(very_deep.ok());
  EXPECT_EQ(very_deep.error().code(), ErrorCode::kResourceExhausted);
}

TEST(LexerLimitsTest, TextIsBounded) {
  const std::string big(1 << 20, 'a');
  auto repeat = [](std::string_view part, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) {
      out += part;
    }
    return out;
  };
  auto expect_exhausted = [](const Result<std::string>& r) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted) << r.error().ToString();
  };
  // Quadratic output.
  expect_exhausted(Expand("${x//?/$x}", {"x=" + big}));
  // Output that grows with each level.
  expect_exhausted(Expand(repeat("${x//?/", 20) + "ab" + repeat("}", 20), {"x=abcd"}));
  // Long output.
  expect_exhausted(Expand(repeat("$x", 100), {"x=" + big}));
  // Work whose result is thrown away still counts.
  expect_exhausted(Expand(repeat("${x:+}", 100), {"x=" + big}));
  expect_exhausted(Expand(repeat("${u:+$x}", 100), {"x=" + big}));
  EXPECT_EQ(ExpandOk("$x$x", {"x=" + big}).size(), 2 * big.size());
}

TEST(LexerLimitsTest, LongInputsStayFast) {
  const auto start = std::chrono::steady_clock::now();
  // Linear paths: a long word full of expansions, quotes and escapes.
  std::string word;
  for (int i = 0; i < 20000; ++i) {
    word += "$x'q'\"$x\\\"\"\\ ";
  }
  Result<std::vector<std::string>> words =
      Lexer().ProcessWords(word, EnvList::FromSlice({"x=a b"}).Lookup());
  ASSERT_TRUE(words.ok());
  // Each unquoted "a b" ends one word; the rest glue on to the next.
  EXPECT_EQ(words->size(), 20001u);
  // Patterns that make a backtracking matcher take exponential time.
  const std::string value(5000, 'a');
  std::string stars;
  for (int i = 0; i < 40; ++i) {
    stars += "*a";
  }
  EXPECT_EQ(ExpandOk("${x##" + stars + "b}", {"x=" + value}), value);
  EXPECT_EQ(ExpandOk("${x%%" + stars + "b}", {"x=" + value}), value);
  EXPECT_EQ(ExpandOk("${x//" + stars + "b/}", {"x=" + value}), value);
  EXPECT_EQ(ExpandOk("${x##" + std::string(20000, '*') + "b}", {"x=" + value}), value);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);  // generous for sanitizer builds; a regression is orders slower
}

TEST(LexerLimitsTest, PatternWorkIsBounded) {
  // 10000 live alternatives at each of 20000 characters: past the step budget this fails rather
  // than running for minutes.
  std::string pattern;
  for (int i = 0; i < 10000; ++i) {
    pattern += "*a";
  }
  Result<std::string> costly = Expand("${x##" + pattern + "b}", {"x=" + std::string(20000, 'a')});
  ASSERT_FALSE(costly.ok());
  EXPECT_EQ(costly.error().code(), ErrorCode::kResourceExhausted);
}

// ---------------------------------------------------------------------------------------------
// Pattern matching against a reference: a plain backtracking matcher, which has exactly the
// semantics of Go's regexp for these patterns (leftmost start, then the first alternative in
// priority order) but exponential cost, so only for short strings.

struct RefToken {
  char kind;  // 'l' literal, '?' any, '*' star
  char ch;
};

std::vector<RefToken> RefCompile(const std::string& pattern) {
  std::vector<RefToken> out;
  for (char c : pattern) {
    out.push_back({c == '*' || c == '?' ? c : 'l', c});
  }
  return out;
}

std::optional<size_t> RefMatchAt(const std::vector<RefToken>& p, size_t pi, const std::string& t,
                                 size_t ti, bool greedy) {
  if (pi == p.size()) {
    return ti;
  }
  const bool can_take = ti < t.size() && t[ti] != '\n';
  switch (p[pi].kind) {
    case 'l':
      if (ti < t.size() && t[ti] == p[pi].ch) {
        return RefMatchAt(p, pi + 1, t, ti + 1, greedy);
      }
      return std::nullopt;
    case '?':
      return can_take ? RefMatchAt(p, pi + 1, t, ti + 1, greedy) : std::nullopt;
    default:
      if (greedy) {
        if (can_take) {
          if (auto r = RefMatchAt(p, pi, t, ti + 1, greedy)) {
            return r;
          }
        }
        return RefMatchAt(p, pi + 1, t, ti, greedy);
      }
      if (auto r = RefMatchAt(p, pi + 1, t, ti, greedy)) {
        return r;
      }
      return can_take ? RefMatchAt(p, pi, t, ti + 1, greedy) : std::nullopt;
  }
}

std::string RefTrimPrefix(const std::string& pattern, const std::string& value, bool greedy) {
  std::optional<size_t> end = RefMatchAt(RefCompile(pattern), 0, value, 0, greedy);
  return end ? value.substr(*end) : value;
}

std::string RefTrimSuffix(const std::string& pattern, const std::string& value, bool greedy) {
  std::string rp(pattern.rbegin(), pattern.rend());
  std::string rv(value.rbegin(), value.rend());
  std::string trimmed = RefTrimPrefix(rp, rv, greedy);
  return std::string(trimmed.rbegin(), trimmed.rend());
}

std::optional<std::pair<size_t, size_t>> RefFind(const std::vector<RefToken>& p,
                                                 const std::string& t, size_t from) {
  for (size_t start = from; start <= t.size(); ++start) {
    if (std::optional<size_t> end = RefMatchAt(p, 0, t, start, /*greedy=*/true)) {
      return std::make_pair(start, *end);
    }
  }
  return std::nullopt;
}

std::string RefReplace(const std::string& pattern, const std::string& value,
                       const std::string& replacement, bool all) {
  const std::vector<RefToken> p = RefCompile(pattern);
  if (!all) {
    auto m = RefFind(p, value, 0);
    return m ? value.substr(0, m->first) + replacement + value.substr(m->second) : value;
  }
  std::string out;
  size_t last_end = 0;
  for (size_t pos = 0; pos <= value.size();) {
    auto m = RefFind(p, value, pos);
    if (!m) {
      break;
    }
    out += value.substr(last_end, m->first - last_end);
    if (m->second > last_end || m->first == 0) {
      out += replacement;
    }
    last_end = m->second;
    pos = m->second > pos ? m->second : pos + 1;
  }
  return out + value.substr(last_end);
}

TEST(PatternTest, AgreesWithBacktrackingReference) {
  std::mt19937 rng(20240611);
  auto random_string = [&](const char* alphabet, size_t max_len) {
    std::string s;
    const size_t len = rng() % (max_len + 1);
    const size_t n = std::char_traits<char>::length(alphabet);
    for (size_t i = 0; i < len; ++i) {
      s += alphabet[rng() % n];
    }
    return s;
  };
  for (int i = 0; i < 3000; ++i) {
    const std::string value = random_string("ab\n", 8);
    const std::string pattern = random_string("ab\n*?", 6);
    const std::vector<std::string> env = {"x=" + value, "p=" + pattern};
    SCOPED_TRACE("value " + QuoteString(value) + " pattern " + QuoteString(pattern));
    // The pattern comes from a variable so `#`/`%` after the operator stay part of it.
    EXPECT_EQ(ExpandOk("${x#$p}", env), RefTrimPrefix(pattern, value, false));
    EXPECT_EQ(ExpandOk("${x##$p}", env), RefTrimPrefix(pattern, value, true));
    EXPECT_EQ(ExpandOk("${x%$p}", env), RefTrimSuffix(pattern, value, false));
    EXPECT_EQ(ExpandOk("${x%%$p}", env), RefTrimSuffix(pattern, value, true));
    EXPECT_EQ(ExpandOk("${x/$p/R}", env), RefReplace(pattern, value, "R", false));
    EXPECT_EQ(ExpandOk("${x//$p/R}", env), RefReplace(pattern, value, "R", true));
  }
}

}  // namespace
}  // namespace berth::frontend::dockerfile::shell
