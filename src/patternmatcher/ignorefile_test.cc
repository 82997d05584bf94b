#include "patternmatcher/ignorefile.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace berth::patternmatcher {
namespace {

using Lines = std::vector<std::string>;

Lines Read(std::string_view content) {
  Result<Lines> r = ReadIgnoreFile(content);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : Lines{};
}

TEST(ReadIgnoreFileTest, UpstreamExample) {
  // The content of moby/patternmatcher's TestReadAll.
  EXPECT_EQ(Read("test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n"
                 "! /inverted/abs/path\n!\n! "),
            (Lines{"test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"}));
}

TEST(ReadIgnoreFileTest, Empty) {
  EXPECT_EQ(Read(""), Lines{});
  EXPECT_EQ(Read("\n\n  \n\t\n"), Lines{});
}

TEST(ReadIgnoreFileTest, CommentsOnlyInFirstColumn) {
  EXPECT_EQ(Read("#a\n  #b\n\\#c\n"), (Lines{"#b", "\\#c"}));
}

TEST(ReadIgnoreFileTest, LineEndingsAndBom) {
  EXPECT_EQ(Read("\xEF\xBB\xBF"
                 "a\r\nb\r\nc\r"),
            (Lines{"a", "b", "c"}));
  // The byte order mark is only removed from the first line.
  EXPECT_EQ(Read("a\n\xEF\xBB\xBF"
                 "b"),
            (Lines{"a",
                   "\xEF\xBB\xBF"
                   "b"}));
  // A BOM before a comment still makes it a comment.
  EXPECT_EQ(Read("\xEF\xBB\xBF# comment\nx"), (Lines{"x"}));
  // Only one '\r' is dropped; the trim removes the rest.
  EXPECT_EQ(Read("a\r\r\n"), (Lines{"a"}));
}

TEST(ReadIgnoreFileTest, TrimsUnicodeWhiteSpace) {
  EXPECT_EQ(Read("\xC2\xA0"
                 "a\xE3\x80\x80\n"),
            (Lines{"a"}));
  EXPECT_EQ(Read("\v\f a \t"), (Lines{"a"}));
}

TEST(ReadIgnoreFileTest, CleansPaths) {
  EXPECT_EQ(Read("./a//b/../c/\n/\n//x\n!  ./y/\n.\n../up\n/../z"),
            (Lines{"a/c", "/", "x", "!y", ".", "../up", "z"}));
}

TEST(ReadIgnoreFileTest, LongLines) {
  const std::string longest(kMaxIgnoreFileLine, 'a');
  EXPECT_EQ(Read(longest + "\nb"), (Lines{longest, "b"}));
  EXPECT_EQ(Read("x\n" + longest), (Lines{"x", longest}));
  Result<Lines> too_long = ReadIgnoreFile("x\n" + longest + "a\n");
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message().find("line 2"), std::string::npos);
  // The limit counts a '\r' before the line break.
  EXPECT_FALSE(ReadIgnoreFile(longest + "\r\n").ok());
}

}  // namespace
}  // namespace berth::patternmatcher
