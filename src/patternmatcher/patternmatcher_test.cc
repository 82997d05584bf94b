// Conformance tests against moby/patternmatcher's own test tables (tests/testdata/patternmatcher),
// one test per case, plus berth's checks of the regexp-leak behaviour described in the header.
#include "patternmatcher/patternmatcher.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/gotext.h"

namespace berth::patternmatcher {
namespace {

using nlohmann::json;

// Loads the "cases" array of a data file; an unreadable file yields no cases, which the
// *CaseCount tests catch.
std::vector<json> LoadCases(const std::string& name) {
  std::ifstream in(std::string(BERTH_TESTDATA) + "/patternmatcher/" + name);
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("cases") || !doc["cases"].is_array()) {
    return {};
  }
  return doc["cases"].get<std::vector<json>>();
}

std::string CaseName(const testing::TestParamInfo<json>& info) {
  return "case" + std::to_string(info.index);
}

std::vector<std::string> Strings(const json& array) {
  std::vector<std::string> out;
  for (const json& item : array) {
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string Describe(const json& c) {
  return c.dump();
}

// --- matches_or_parent_matches.json ---------------------------------------------------------

const std::vector<json>& ParentCases() {
  static const std::vector<json> cases = LoadCases("matches_or_parent_matches.json");
  return cases;
}

TEST(PatternMatcherDataTest, ParentCaseCount) {
  EXPECT_EQ(ParentCases().size(), 72u);
}

class MatchesOrParentMatchesTest : public testing::TestWithParam<json> {
 protected:
  PatternMatcher Matcher() {
    Result<PatternMatcher> pm = PatternMatcher::Create(Strings(GetParam()["patterns"]));
    EXPECT_TRUE(pm.ok()) << pm.error().ToString();
    return pm.ok() ? std::move(pm).value() : PatternMatcher();
  }
  std::string path() const { return GetParam()["path"].get<std::string>(); }
  bool want() const { return GetParam()["match"].get<bool>(); }
};

TEST_P(MatchesOrParentMatchesTest, MatchesOrParentMatches) {
  PatternMatcher pm = Matcher();
  Result<bool> got = pm.MatchesOrParentMatches(path());
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, want()) << Describe(GetParam());
}

TEST_P(MatchesOrParentMatchesTest, MatchesUsingParentResults) {
  PatternMatcher pm = Matcher();
  // Accumulate the parent information top-down, as a tree walk would.
  PatternMatcher::MatchInfo info;
  const std::string parent = gotext::DirPath(path());
  if (parent != ".") {
    for (size_t pos = 0;;) {
      size_t slash = parent.find('/', pos);
      std::string prefix = parent.substr(0, slash);
      Result<bool> r = pm.MatchesUsingParentResults(prefix, info, &info);
      ASSERT_TRUE(r.ok()) << r.error().ToString();
      if (slash == std::string::npos) {
        break;
      }
      pos = slash + 1;
    }
  }
  PatternMatcher::MatchInfo out;
  Result<bool> got = pm.MatchesUsingParentResults(path(), info, &out);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, want()) << Describe(GetParam());
}

TEST_P(MatchesOrParentMatchesTest, MatchesUsingParentResultsNoContext) {
  PatternMatcher pm = Matcher();
  PatternMatcher::MatchInfo out;
  Result<bool> got = pm.MatchesUsingParentResults(path(), PatternMatcher::MatchInfo(), &out);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, want()) << Describe(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Data, MatchesOrParentMatchesTest, testing::ValuesIn(ParentCases()),
                         CaseName);

// --- match_filepath_compat.json -------------------------------------------------------------

const std::vector<json>& FilepathCases() {
  static const std::vector<json> cases = LoadCases("match_filepath_compat.json");
  return cases;
}

TEST(PatternMatcherDataTest, FilepathCaseCount) {
  EXPECT_EQ(FilepathCases().size(), 54u);
}

class FilepathCompatTest : public testing::TestWithParam<json> {};

// All cases run: the table's Windows-only skips concern '\' as a separator, and berth matches
// with Unix rules.
TEST_P(FilepathCompatTest, Matches) {
  const json& c = GetParam();
  Result<bool> got = Matches(c["path"].get<std::string>(), {c["pattern"].get<std::string>()});
  if (!c["error"].is_null()) {
    EXPECT_FALSE(got.ok()) << Describe(c);
    return;
  }
  ASSERT_TRUE(got.ok()) << Describe(c) << ": " << got.error().ToString();
  EXPECT_EQ(*got, c["match"].get<bool>()) << Describe(c);
}

INSTANTIATE_TEST_SUITE_P(Data, FilepathCompatTest, testing::ValuesIn(FilepathCases()), CaseName);

// --- misc_handwritten.json ------------------------------------------------------------------

const std::vector<json>& MiscCases() {
  static const std::vector<json> cases = LoadCases("misc_handwritten.json");
  return cases;
}

TEST(PatternMatcherDataTest, MiscCaseCount) {
  EXPECT_EQ(MiscCases().size(), 18u);
}

class MiscTest : public testing::TestWithParam<json> {};

TEST_P(MiscTest, Api) {
  const json& c = GetParam();
  const std::string api = c["api"].get<std::string>();
  const std::vector<std::string> patterns = Strings(c["patterns"]);
  const bool want_error = c.contains("error") && !c["error"].is_null() && c["error"] != false;
  if (api == "Matches") {
    Result<bool> got = Matches(c["path"].get<std::string>(), patterns);
    if (want_error) {
      EXPECT_FALSE(got.ok()) << Describe(c);
    } else {
      ASSERT_TRUE(got.ok()) << Describe(c) << ": " << got.error().ToString();
      EXPECT_EQ(*got, c["match"].get<bool>()) << Describe(c);
    }
  } else if (api == "New") {
    EXPECT_EQ(!PatternMatcher::Create(patterns).ok(), want_error) << Describe(c);
  } else if (api == "New+Patterns") {
    Result<PatternMatcher> pm = PatternMatcher::Create(patterns);
    ASSERT_TRUE(pm.ok());
    EXPECT_EQ(pm->patterns().size(), c["cleanedCount"].get<size_t>());
  } else if (api == "New+Exclusions") {
    Result<PatternMatcher> pm = PatternMatcher::Create(patterns);
    ASSERT_TRUE(pm.ok());
    EXPECT_EQ(pm->exclusions(), c["exclusions"].get<bool>());
  } else if (api == "MatchesOrParentMatches") {
    Result<PatternMatcher> pm = PatternMatcher::Create(patterns);
    ASSERT_TRUE(pm.ok()) << pm.error().ToString();
    // Evaluating a malformed pattern fails every time, and never crashes.
    for (int i = 0; i < 2; ++i) {
      EXPECT_FALSE(pm->MatchesOrParentMatches(c["path"].get<std::string>()).ok());
    }
  } else {
    ADD_FAILURE() << "unknown api " << api;
  }
}

INSTANTIATE_TEST_SUITE_P(Data, MiscTest, testing::ValuesIn(MiscCases()), CaseName);

// --- compile.json (white-box) ---------------------------------------------------------------

const std::vector<json>& CompileCases() {
  static const std::vector<json> cases = LoadCases("compile.json");
  return cases;
}

TEST(PatternMatcherDataTest, CompileCaseCount) {
  EXPECT_EQ(CompileCases().size(), 21u);
}

class CompileTest : public testing::TestWithParam<json> {};

TEST_P(CompileTest, MatchTypeAndRegexp) {
  const json& c = GetParam();
  Result<PatternMatcher> pm = PatternMatcher::Create({c["pattern"].get<std::string>()});
  ASSERT_TRUE(pm.ok());
  ASSERT_EQ(pm->patterns().size(), 1u);
  const Pattern& p = pm->patterns()[0];
  const std::string type = c["matchType"].get<std::string>();
  const MatchType want = type == "exactMatch"    ? MatchType::kExact
                         : type == "prefixMatch" ? MatchType::kPrefix
                         : type == "suffixMatch" ? MatchType::kSuffix
                                                 : MatchType::kRegexp;
  EXPECT_EQ(p.match_type(), want) << Describe(c);
  EXPECT_EQ(p.regexp_text(), c["regexp"].get<std::string>()) << Describe(c);
}

INSTANTIATE_TEST_SUITE_P(Data, CompileTest, testing::ValuesIn(CompileCases()), CaseName);

// --- berth's own cases ----------------------------------------------------------------------

bool MatchOne(const std::string& pattern, const std::string& path) {
  Result<PatternMatcher> pm = PatternMatcher::Create({pattern});
  EXPECT_TRUE(pm.ok()) << pattern;
  if (!pm.ok()) {
    return false;
  }
  Result<bool> r = pm->MatchesOrParentMatches(path);
  EXPECT_TRUE(r.ok()) << pattern << ": " << r.error().ToString();
  return r.ok() && *r;
}

TEST(PatternMatcherTest, ParentDirectoriesMatch) {
  EXPECT_TRUE(MatchOne("docs", "docs/a/b.md"));
  EXPECT_TRUE(MatchOne("d*", "docs/a/b.md"));
  EXPECT_FALSE(MatchOne("docs", "mydocs/a"));
  EXPECT_FALSE(MatchOne("*.md", "docs/a.md"));
}

TEST(PatternMatcherTest, ReincludeAndReexclude) {
  Result<PatternMatcher> pm = PatternMatcher::Create({"*", "!keep", "keep/tmp"});
  ASSERT_TRUE(pm.ok());
  EXPECT_TRUE(*pm->MatchesOrParentMatches("other"));
  EXPECT_FALSE(*pm->MatchesOrParentMatches("keep"));
  EXPECT_FALSE(*pm->MatchesOrParentMatches("keep/src/x.c"));
  EXPECT_TRUE(*pm->MatchesOrParentMatches("keep/tmp/x"));
  EXPECT_TRUE(pm->exclusions());
}

TEST(PatternMatcherTest, PatternsAreCleanedButLeadingSlashKept) {
  Result<PatternMatcher> pm = PatternMatcher::Create({"  ./a//b/../c/  ", "/abs", "!./x"});
  ASSERT_TRUE(pm.ok());
  ASSERT_EQ(pm->patterns().size(), 3u);
  EXPECT_EQ(pm->patterns()[0].text(), "a/c");
  EXPECT_EQ(pm->patterns()[1].text(), "/abs");
  // Cleaning happens before the '!' is removed, so "./" survives after it, as upstream.
  EXPECT_EQ(pm->patterns()[2].text(), "./x");
  EXPECT_TRUE(pm->patterns()[2].exclusion());
}

TEST(PatternMatcherTest, BadPatternsRejectedAtCreate) {
  for (const char* bad :
       {"[", "a[", "[^", "[]a]", "[x-]", "[-x]", "[a-b-c]", "\\", "a\\", "[\xff]", "!"}) {
    EXPECT_FALSE(PatternMatcher::Create({bad}).ok()) << bad;
  }
  for (const char* good : {"[z-a]", "[\\]]", "a]", "\xff*", "[[]", "[*]"}) {
    EXPECT_TRUE(PatternMatcher::Create({good}).ok()) << good;
  }
}

TEST(PatternMatcherTest, RegexpErrorsAreLazy) {
  // Go's regexp rejects a reversed range; upstream only notices when the pattern is evaluated.
  Result<PatternMatcher> pm = PatternMatcher::Create({"*.go", "![z-a]*"});
  ASSERT_TRUE(pm.ok());
  // The exclusion is skipped for paths that are not matched yet...
  Result<bool> r = pm->MatchesOrParentMatches("README");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  // ...and evaluated, failing, for paths that are.
  EXPECT_FALSE(pm->MatchesOrParentMatches("main.go").ok());
  EXPECT_FALSE(pm->patterns()[1].Match("x").ok());
}

TEST(PatternMatcherTest, RegexpLeaksAsUpstream) {
  // '|' reaches the regexp unescaped: "^[^/]*\.js|[^/]*\.ts$" is an alternation of a prefix
  // match and an unanchored suffix match.
  EXPECT_TRUE(MatchOne("*.js|*.ts", "a.js"));
  EXPECT_TRUE(MatchOne("*.js|*.ts", "deep/dir/b.ts"));
  EXPECT_TRUE(MatchOne("*.js|*.ts", "a.jsx"));
  EXPECT_FALSE(MatchOne("*.js|*.ts", "dir/a.js"));
  // "{n}" repeats.
  EXPECT_TRUE(MatchOne("?{3}.txt", "abc.txt"));
  EXPECT_FALSE(MatchOne("?{3}.txt", "ab.txt"));
  // "\d" is a digit, "\b" a word boundary (so a Windows-style "a\bc*" matches nothing).
  EXPECT_TRUE(MatchOne("log\\d*", "log7.txt"));
  EXPECT_FALSE(MatchOne("log\\d*", "logd"));
  EXPECT_FALSE(MatchOne("build\\bin*", "buildbin"));
  EXPECT_FALSE(MatchOne("build\\bin*", "build\\bin"));
  // A '*' inside brackets closes the bracket early: "[*]" is "[[^/]*]".
  EXPECT_TRUE(MatchOne("[*]", "[[]"));
  EXPECT_FALSE(MatchOne("[*]", "*"));
  // POSIX classes.
  EXPECT_TRUE(MatchOne("[[:digit:]]*", "7up"));
  // '^' anchors, so in the middle of a regexp pattern it matches nothing.
  EXPECT_FALSE(MatchOne("a^b*", "a^bc"));
  // "**" does not cross a newline in the regexp path, but '*' does.
  EXPECT_FALSE(MatchOne("**/*.txt", "a\nb/c.txt"));
  EXPECT_TRUE(MatchOne("*/*.txt", "a\nb/c.txt"));
  // Suffix fast path: "**file" is a plain suffix, so it matches "profile".
  EXPECT_TRUE(MatchOne("**file", "profile"));
  // \Q...\E quotes the rest, including the closing '$': a prefix match.
  EXPECT_TRUE(MatchOne("\\Qab*", "ab[^/]*$extra"));
}

TEST(PatternMatcherTest, Utf8) {
  EXPECT_TRUE(MatchOne("a?b",
                       "a\xe2\x98\xba"
                       "b"));
  EXPECT_TRUE(MatchOne("[\xce\xb1-\xce\xb6]*", "\xce\xb3x"));
  // An invalid byte reads as U+FFFD, which '?' matches once.
  EXPECT_TRUE(MatchOne("a?b",
                       "a\xff"
                       "b"));
  EXPECT_FALSE(MatchOne("a?b",
                        "a\xff\xff"
                        "b"));
}

TEST(PatternMatcherTest, MatchInfoOfAnotherMatcherIsRejected) {
  Result<PatternMatcher> one = PatternMatcher::Create({"a"});
  Result<PatternMatcher> two = PatternMatcher::Create({"a", "b"});
  ASSERT_TRUE(one.ok() && two.ok());
  PatternMatcher::MatchInfo info;
  ASSERT_TRUE(one->MatchesUsingParentResults("a", info, &info).ok());
  EXPECT_FALSE(two->MatchesUsingParentResults("a/x", info, &info).ok());
}

TEST(PatternMatcherTest, SingleParentMatchesOnlyChecksOneParent) {
  Result<PatternMatcher> pm = PatternMatcher::Create({"a/b"});
  ASSERT_TRUE(pm.ok());
  EXPECT_TRUE(*pm->MatchesSingleParent("a/b/c/d"));
  Result<PatternMatcher> star = PatternMatcher::Create({"*"});
  ASSERT_TRUE(star.ok());
  EXPECT_TRUE(*star->MatchesSingleParent("x/y/z"));
  EXPECT_FALSE(*star->MatchesExact("x/y/z"));
}

TEST(PatternMatcherTest, PathologicalPatternsStayFast) {
  const std::string path(4000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(MatchOne("*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
  EXPECT_FALSE(MatchOne("**/**/**/**/**/**/**/**/**/**/b", path + "/" + path));
  EXPECT_FALSE(MatchOne("?{1000}?{1000}?{1000}?{1000}b", path));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(PatternMatcherTest, CompiledSizeIsBounded) {
  std::string heavy;
  for (int i = 0; i < 190; ++i) {
    heavy += "?{1000}";
  }
  // One heavy pattern is fine (Go accepts it too)...
  EXPECT_TRUE(PatternMatcher::Create({heavy}).ok());
  // ...but a file full of them is refused rather than exhausting memory.
  const std::vector<std::string> many(60, heavy);
  Result<PatternMatcher> pm = PatternMatcher::Create(many);
  ASSERT_FALSE(pm.ok());
  EXPECT_NE(pm.error().message().find("too complex"), std::string::npos);
}

}  // namespace
}  // namespace berth::patternmatcher
