#include "base/gotext.h"

#include <cstdint>
#include <ios>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace berth::gotext {
namespace {

std::string Utf8(char32_t rune) {
  std::string out;
  AppendRune(&out, rune);
  return out;
}

TEST(GoTextTest, DecodeRuneFollowsUtf8DecodeRuneInString) {
  struct Case {
    std::string_view text;
    char32_t rune;
    size_t width;
  };
  const std::vector<Case> cases = {
      {"a", 'a', 1},
      {"\xC3\xA9", 0xE9, 2},
      {"\xE2\x82\xAC", 0x20AC, 3},
      {"\xF0\x9F\x98\x80", 0x1F600, 4},
      {"\xF4\x8F\xBF\xBF", 0x10FFFF, 4},
      // U+FFFD itself decodes with its real width; only errors have width 1.
      {"\xEF\xBF\xBD", kRuneError, 3},
      {"\xFF", kRuneError, 1},
      {"\x80", kRuneError, 1},
      {"\xC0\x80", kRuneError, 1},          // overlong NUL
      {"\xE0\x80\xAF", kRuneError, 1},      // overlong '/'
      {"\xED\xA0\x80", kRuneError, 1},      // surrogate U+D800
      {"\xF4\x90\x80\x80", kRuneError, 1},  // above U+10FFFF
      {"\xE2\x82", kRuneError, 1},          // truncated
      {"\xE2\x28\xA1", kRuneError, 1},      // bad continuation
  };
  for (const Case& c : cases) {
    DecodedRune r = DecodeRune(c.text);
    EXPECT_EQ(r.rune, c.rune) << Quote(c.text);
    EXPECT_EQ(r.width, c.width) << Quote(c.text);
  }
  DecodedRune r = DecodeRune("x\xC3\xA9", 1);
  EXPECT_EQ(r.rune, 0xE9U);
  EXPECT_EQ(r.width, 2U);
}

TEST(GoTextTest, AppendRuneWritesInvalidCodePointsAsReplacement) {
  EXPECT_EQ(Utf8('A'), "A");
  EXPECT_EQ(Utf8(0xE9), "\xC3\xA9");
  EXPECT_EQ(Utf8(0x20AC), "\xE2\x82\xAC");
  EXPECT_EQ(Utf8(0x10FFFF), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(Utf8(0xD800), "\xEF\xBF\xBD");
  EXPECT_EQ(Utf8(0x110000), "\xEF\xBF\xBD");
  EXPECT_EQ(Utf8(0xFFFFFFFF), "\xEF\xBF\xBD");
}

TEST(GoTextTest, IsSpaceIsUnicodeIsSpace) {
  for (char32_t r : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', char32_t{0x85}, char32_t{0xA0},
                     char32_t{0x1680}, char32_t{0x2000}, char32_t{0x200A}, char32_t{0x2028},
                     char32_t{0x2029}, char32_t{0x202F}, char32_t{0x205F}, char32_t{0x3000}}) {
    EXPECT_TRUE(IsSpace(r)) << std::hex << static_cast<uint32_t>(r);
  }
  // Not White_Space: other C0 controls, the zero-width space, the Mongolian vowel separator
  // (dropped from White_Space in Unicode 6.3) and the byte order mark.
  for (char32_t r : {char32_t{0}, char32_t{0x1C}, U'a', char32_t{0x84}, char32_t{0x200B},
                     char32_t{0x180E}, char32_t{0xFEFF}, kRuneError}) {
    EXPECT_FALSE(IsSpace(r)) << std::hex << static_cast<uint32_t>(r);
  }
}

TEST(GoTextTest, LetterDigitPrintClasses) {
  EXPECT_TRUE(IsLetter('a'));
  EXPECT_TRUE(IsLetter('Z'));
  EXPECT_TRUE(IsLetter(0xE9));    // é, Ll
  EXPECT_TRUE(IsLetter(0x02B0));  // modifier letter small h, Lm
  EXPECT_TRUE(IsLetter(0x4E2D));  // 中, Lo
  EXPECT_FALSE(IsLetter('_'));
  EXPECT_FALSE(IsLetter('1'));
  EXPECT_FALSE(IsLetter(0x3007));  // 〇 is Nl, not a letter
  EXPECT_FALSE(IsLetter(0x0301));  // combining acute, Mn

  EXPECT_TRUE(IsDigit('0'));
  EXPECT_TRUE(IsDigit(0x0663));   // Arabic-Indic three, Nd
  EXPECT_TRUE(IsDigit(0x1D7CE));  // mathematical bold zero, Nd
  EXPECT_FALSE(IsDigit(0xB2));    // superscript two is No
  EXPECT_FALSE(IsDigit(0x3007));
  EXPECT_FALSE(IsDigit('a'));

  EXPECT_TRUE(IsPrint(' '));
  EXPECT_TRUE(IsPrint('~'));
  EXPECT_TRUE(IsPrint(0x0301));
  EXPECT_TRUE(IsPrint(0x1F600));
  EXPECT_FALSE(IsPrint(0x7F));
  EXPECT_FALSE(IsPrint(0xA0));
  EXPECT_FALSE(IsPrint(0xAD));  // soft hyphen, Cf
  EXPECT_FALSE(IsPrint(0x3000));
  EXPECT_FALSE(IsPrint(0xE000));  // private use
  EXPECT_FALSE(IsPrint(0x0378));  // unassigned
}

TEST(GoTextTest, QuoteMatchesStrconvQuote) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", R"("")"},
      {"abc", R"("abc")"},
      {"a\"b\\c", R"("a\"b\\c")"},
      {"\a\b\f\n\r\t\v", R"("\a\b\f\n\r\t\v")"},
      {std::string("\0\x1b\x7f", 3), R"("\x00\x1b\x7f")"},
      {"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C", "\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C\""},
      {"e\xCC\x81", "\"e\xCC\x81\""},                // combining marks are printable
      {"\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\""},  // U+1F600
      {"a\xC2\xA0z", R"("a\u00a0z")"},               // no-break space
      {"\xE3\x80\x80", R"("\u3000")"},               // ideographic space
      {"\xC2\x85", R"("\u0085")"},                   // C1 control
      {"\xC2\xAD", R"("\u00ad")"},                   // soft hyphen
      {"\xE2\x80\x8B", R"("\u200b")"},               // zero-width space
      {"\xEF\xBB\xBF", R"("\ufeff")"},               // byte order mark
      {"\xEE\x80\x80", R"("\ue000")"},               // private use
      {"\xF3\xB0\x80\x80", R"("\U000f0000")"},       // supplementary private use
      {"\xF4\x8F\xBF\xBF", R"("\U0010ffff")"},       // noncharacter
      {"\xCD\xB8", R"("\u0378")"},                   // unassigned
      {"\xEF\xBF\xBD", "\"\xEF\xBF\xBD\""},          // a real U+FFFD is printable
      {"\xFF", R"("\xff")"},
      {"a\xE2\x82z", R"("a\xe2\x82z")"},      // truncated: each byte escaped
      {"\xED\xA0\x80", R"("\xed\xa0\x80")"},  // encoded surrogate
      {"\xC0\xAF", R"("\xc0\xaf")"},          // overlong
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(Quote(in), want);
  }
}

TEST(GoTextTest, TrimSpaceUsesUnicodeSpaces) {
  EXPECT_EQ(TrimSpace(" \t\n a b \r\v\f"), "a b");
  EXPECT_EQ(TrimSpace("\xC2\x85\xC2\xA0x\xE3\x80\x80\xE2\x80\xA8"), "x");
  EXPECT_EQ(TrimSpace("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");  // U+200B is not a space
  EXPECT_EQ(TrimSpace(" \xFF "), "\xFF");                  // invalid UTF-8 is kept
  EXPECT_EQ(TrimSpace("\xC2 "), "\xC2");                   // a truncated sequence too
  EXPECT_EQ(TrimSpace("\x85 x"), "\x85 x");                // a lone 0x85 byte is no U+0085
  EXPECT_EQ(TrimSpace(" \xE2\x80\x80 "), "");
  EXPECT_EQ(TrimLeftSpace(" \xC2\xA0x "), "x ");
  EXPECT_EQ(TrimRightSpace(" x\xC2\xA0 "), " x");
}

TEST(GoTextTest, ToLowerMatchesStringsToLower) {
  EXPECT_EQ(ToLower("FROM Image:TAG"), "from image:tag");
  EXPECT_EQ(ToLower("\xC3\x80\xC3\x89\xC3\x8E"), "\xC3\xA0\xC3\xA9\xC3\xAE");  // ÀÉÎ -> àéî
  EXPECT_EQ(ToLower("\xCE\xA3\xCE\x91\xCE\xA3"), "\xCF\x83\xCE\xB1\xCF\x83");  // ΣΑΣ -> σασ
  EXPECT_EQ(ToLower("\xC4\xB0"), "i");                                         // İ -> i
  EXPECT_EQ(ToLower("\xE2\x84\xAA"), "k");                                     // Kelvin sign
  EXPECT_EQ(ToLower("\xC7\x84"), "\xC7\x86");                                  // Ǆ -> ǆ
  EXPECT_EQ(ToLower("\xE1\xBA\x9E"), "\xC3\x9F");                              // ẞ -> ß
  EXPECT_EQ(ToLower("\xD0\x9F\xD0\xA0\xD0\x98"), "\xD0\xBF\xD1\x80\xD0\xB8");  // ПРИ -> при
  // Once the text is not all ASCII, invalid bytes become U+FFFD.
  EXPECT_EQ(ToLower("A\xFF\xC3\x89"), "a\xEF\xBF\xBD\xC3\xA9");
  EXPECT_EQ(ToLower("A\x7F"), "a\x7F");
}

TEST(GoTextTest, CleanPathMatchesPathClean) {
  // Go's path_test.go cleantests.
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"", "."},
      {"abc", "abc"},
      {"abc/def", "abc/def"},
      {"a/b/c", "a/b/c"},
      {".", "."},
      {"..", ".."},
      {"../..", "../.."},
      {"../../abc", "../../abc"},
      {"/abc", "/abc"},
      {"/", "/"},
      {"abc/", "abc"},
      {"abc/def/", "abc/def"},
      {"a/b/c/", "a/b/c"},
      {"./", "."},
      {"../", ".."},
      {"../../", "../.."},
      {"/abc/", "/abc"},
      {"abc//def//ghi", "abc/def/ghi"},
      {"//abc", "/abc"},
      {"///abc", "/abc"},
      {"//abc//", "/abc"},
      {"abc//", "abc"},
      {"abc/./def", "abc/def"},
      {"/./abc/def", "/abc/def"},
      {"abc/.", "abc"},
      {"abc/def/ghi/../jkl", "abc/def/jkl"},
      {"abc/def/../ghi/../jkl", "abc/jkl"},
      {"abc/def/..", "abc"},
      {"abc/def/../..", "."},
      {"/abc/def/../..", "/"},
      {"abc/def/../../..", ".."},
      {"/abc/def/../../..", "/"},
      {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
      {"abc/./../def", "def"},
      {"abc//./../def", "def"},
      {"abc/../../././../def", "../../def"},
      {"/..", "/"},
      {"/../a", "/a"},
      {"...", "..."},
      {"a/...b/..", "a"},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(CleanPath(in), want) << in;
  }
}

TEST(GoTextTest, DirPathMatchesPathDir) {
  // Go's path_test.go dirtests.
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"", "."},          {".", "."},
      {"/.", "/"},        {"/", "/"},
      {"////", "/"},      {"/foo", "/"},
      {"x/", "x"},        {"abc", "."},
      {"abc/def", "abc"}, {"abc////def", "abc"},
      {"a/b/.x", "a/b"},  {"a/b/c.", "a/b"},
      {"a/b/c.x", "a/b"},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(DirPath(in), want) << in;
  }
}

}  // namespace
}  // namespace berth::gotext
