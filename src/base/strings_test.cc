#include "base/strings.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(StringsTest, Split) {
  EXPECT_EQ(StrSplit("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(StrSplit("", ','), (std::vector<std::string>{""}));
  bool found = false;
  EXPECT_EQ(SplitOnce("k=v=w", '=', &found), (std::pair<std::string, std::string>{"k", "v=w"}));
  EXPECT_TRUE(found);
  SplitOnce("k", '=', &found);
  EXPECT_FALSE(found);
}

TEST(StringsTest, TrimLowerJoin) {
  EXPECT_EQ(Trim("  a b \n"), "a b");
  EXPECT_EQ(ToLower("FrOm"), "from");
  EXPECT_TRUE(EqualsIgnoreCase("Build", "bUILD"));
  EXPECT_EQ(StrJoin({"a", "b"}, ", "), "a, b");
}

TEST(StringsTest, QuoteLikeGo) {
  EXPECT_EQ(QuoteString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(QuoteString("x\ny\t"), R"("x\ny\t")");
  EXPECT_EQ(QuoteString(std::string("\0", 1)), R"("\x00")");
  EXPECT_EQ(QuoteString("한국어"), "\"한국어\"");
  EXPECT_EQ(QuoteString("\xff"), R"("\xff")");
  // Exactly strconv.Quote: non-ASCII white space is escaped too.
  EXPECT_EQ(QuoteString("\xC2\xA0"), R"("\u00a0")");
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

TEST(FormatRfc3339NanoTest, UtcWithNineDigits) {
  auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)) +
           std::chrono::nanoseconds(1);
  EXPECT_EQ(FormatRfc3339Nano(t), "2023-11-14T22:13:20.000000001Z");
}

}  // namespace
}  // namespace berth
