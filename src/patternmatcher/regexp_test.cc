// Unit tests of the Go-syntax regexp engine behind PatternMatcher's wildcard patterns.
#include "patternmatcher/regexp.h"

#include <string>

#include <gtest/gtest.h>

namespace berth::patternmatcher::internal {
namespace {

bool Matches(const std::string& expr, const std::string& text) {
  Result<Regexp> re = Regexp::Compile(expr);
  EXPECT_TRUE(re.ok()) << expr << ": " << re.error().ToString();
  return re.ok() && re->Match(text);
}

TEST(RegexpTest, LiteralsAndAnchors) {
  EXPECT_TRUE(Matches("^abc$", "abc"));
  EXPECT_FALSE(Matches("^abc$", "abcd"));
  EXPECT_TRUE(Matches("^abc", "abcd"));
  EXPECT_TRUE(Matches("bc", "abcd"));
  EXPECT_TRUE(Matches("", "anything"));
  EXPECT_FALSE(Matches("a^b", "a^b"));
  EXPECT_TRUE(Matches("\\Aab\\z", "ab"));
}

TEST(RegexpTest, DotExcludesNewlineButNegatedClassDoesNot) {
  EXPECT_FALSE(Matches("^.$", "\n"));
  EXPECT_TRUE(Matches("^[^/]$", "\n"));
  EXPECT_TRUE(Matches("^.$", "\xe2\x98\xba"));
}

TEST(RegexpTest, Repetition) {
  EXPECT_TRUE(Matches("^a*$", ""));
  EXPECT_TRUE(Matches("^a+$", "aaa"));
  EXPECT_FALSE(Matches("^a+$", ""));
  EXPECT_TRUE(Matches("^ab?c$", "ac"));
  EXPECT_TRUE(Matches("^a{2,3}$", "aaa"));
  EXPECT_FALSE(Matches("^a{2,3}$", "aaaa"));
  EXPECT_TRUE(Matches("^a{2,}$", "aaaaa"));
  EXPECT_FALSE(Matches("^a{2,}$", "a"));
  EXPECT_TRUE(Matches("^a{0}b$", "b"));
  EXPECT_TRUE(Matches("^a*?b$", "aab"));
  // '{' that does not start a valid count is a literal.
  EXPECT_TRUE(Matches("^a{,2}$", "a{,2}"));
  EXPECT_TRUE(Matches("^x{$", "x{"));
  EXPECT_TRUE(Matches("^(ab)*$", "abab"));
}

TEST(RegexpTest, Alternation) {
  EXPECT_TRUE(Matches("^a|b$", "ax"));
  EXPECT_TRUE(Matches("^a|b$", "xb"));
  EXPECT_FALSE(Matches("^a|b$", "xa"));
  EXPECT_TRUE(Matches("x|", "zzz"));
}

TEST(RegexpTest, Classes) {
  EXPECT_TRUE(Matches("^[a-c]$", "b"));
  EXPECT_FALSE(Matches("^[^a-c]$", "b"));
  EXPECT_TRUE(Matches("^[]a]$", "]"));
  EXPECT_TRUE(Matches("^[a-]$", "-"));
  EXPECT_TRUE(Matches("^[[:alpha:]]+$", "abcXYZ"));
  EXPECT_FALSE(Matches("^[[:^alpha:]]$", "a"));
  EXPECT_TRUE(Matches("^[\\d_]+$", "1_2"));
  EXPECT_TRUE(Matches("^\\w\\s\\D$", "a x"));
  EXPECT_TRUE(Matches("^[\\x41-\\x{5A}]$", "Q"));
  EXPECT_TRUE(Matches("^[\\]]$", "]"));
}

TEST(RegexpTest, Escapes) {
  EXPECT_TRUE(Matches("^\\.\\*$", ".*"));
  EXPECT_TRUE(Matches("^\\101\\x42\\n$", "AB\n"));
  EXPECT_TRUE(Matches("^\\0$", std::string(1, '\0')));
  EXPECT_TRUE(Matches("^\\Qa.b\\E.$", "a.bx"));
  EXPECT_TRUE(Matches("\\bfoo\\b", "a foo b"));
  EXPECT_FALSE(Matches("\\bfoo\\b", "afoo"));
  EXPECT_TRUE(Matches("\\Boo", "foo"));
}

TEST(RegexpTest, SyntaxErrors) {
  for (const char* bad : {"[z-a]",  "[a",    "a**",         "a*+",           "*a",
                          "a|*",    "(a",    "a)",          "\\y",           "\\1",
                          "\\x4",   "\\x{}", "\\x{110000}", "[[:foo:]]",     "\\pL",
                          "[\\pL]", "\\C",   "a{1001}",     "(a{100}){100}", "a{3,2}",
                          "(?i)a",  "\\",    "[\\b]",       "\xff"}) {
    EXPECT_FALSE(Regexp::Compile(bad).ok()) << bad;
  }
}

TEST(RegexpTest, LimitsAreErrorsNotCrashes) {
  EXPECT_FALSE(Regexp::Compile(std::string(2000, '(') + std::string(2000, ')')).ok());
  std::string nested = "a";
  for (int i = 0; i < 1500; ++i) {
    nested += "*\\Q\\E";
  }
  EXPECT_FALSE(Regexp::Compile(nested).ok());
  std::string big;
  for (int i = 0; i < 300; ++i) {
    big += "a{1000}";
  }
  EXPECT_FALSE(Regexp::Compile(big).ok());
}

TEST(RegexpTest, InvalidUtf8InTextReadsAsReplacementCharacter) {
  EXPECT_TRUE(Matches("^a.b$",
                      "a\xff"
                      "b"));
  EXPECT_TRUE(
      Matches("^a\xef\xbf\xbd"
              "b$",
              "a\xff"
              "b"));
  EXPECT_FALSE(Matches("^a.b$",
                       "a\xe2\x98"
                       "b"));
}

}  // namespace
}  // namespace berth::patternmatcher::internal
