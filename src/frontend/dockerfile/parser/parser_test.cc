// Unit tests for behaviour the conformance data does not pin down: error messages and their
// lines, warnings, directives, line endings, heredoc details, JSON edge cases, limits.

#include "frontend/dockerfile/parser/parser.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth::frontend::dockerfile::parser {
namespace {

using testing::ElementsAre;
using testing::IsEmpty;

std::string DumpOf(std::string_view dockerfile) {
  Result<Ast> ast = Parse(dockerfile);
  if (!ast.ok()) {
    return "error: " + ast.error().message();
  }
  return Dump(*ast);
}

std::string ErrorOf(std::string_view dockerfile, std::string_view file_name = "Dockerfile") {
  Result<Ast> ast = Parse(dockerfile, file_name);
  if (ast.ok()) {
    return "parsed: " + Dump(*ast);
  }
  EXPECT_EQ(ast.error().code(), ErrorCode::kInvalidArgument);
  return ast.error().message();
}

std::string Repeat(std::string_view text, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += text;
  }
  return out;
}

TEST(ParseErrorTest, NamesFileAndLine) {
  EXPECT_EQ(ErrorOf("FROM busybox\n\nENV PATH\n"), "Dockerfile:3: ENV must have two arguments");
  EXPECT_EQ(ErrorOf("FROM busybox\nLABEL a\n", "ctx/Dockerfile.dev"),
            "ctx/Dockerfile.dev:2: LABEL must have two arguments");
  EXPECT_EQ(ErrorOf("FROM a\nENV a=b c\n"),
            "Dockerfile:2: Syntax error - can't find = in \"c\". Must be of the form: name=value");
  // A multi-line instruction is reported at its first line.
  EXPECT_EQ(ErrorOf("FROM a\nCMD [ \\\n  \"a\", \\\n  1 ]\n"),
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings "
            "only");
}

TEST(ParseErrorTest, FileWithNoInstructions) {
  EXPECT_EQ(ErrorOf(""), "Dockerfile:1: file with no instructions");
  EXPECT_EQ(ErrorOf("# a\n\n# b\n"), "Dockerfile:3: file with no instructions");
  EXPECT_EQ(ErrorOf("\\\n"), "parsed: (\"\")\n");  // BuildKit keeps an empty instruction
}

TEST(ParseErrorTest, NestedJsonIsAnError) {
  EXPECT_EQ(ErrorOf("RUN [\"a\", [\"b\"]]"),
            "Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings "
            "only");
  EXPECT_EQ(ErrorOf("COPY [\"a\", null]"),
            "Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings "
            "only");
}

TEST(ParseErrorTest, LineTooLong) {
  const std::string longest(65535, 'a');
  EXPECT_EQ(DumpOf("FROM " + longest.substr(5) + "\n"), "(from \"" + longest.substr(5) + "\")\n");
  EXPECT_EQ(ErrorOf("FROM a\nRUN " + std::string(65533, 'b') + "\n"),
            "Dockerfile:2: dockerfile line greater than max allowed size of 65535");
  EXPECT_EQ(ErrorOf(std::string(70000, 'c')), "Dockerfile:1: file with no instructions");
}

TEST(DirectiveTest, EscapeAndSyntaxAreRecorded) {
  Result<Ast> ast = Parse(
      "# syntax=docker/dockerfile:1\n# ESCAPE = `\n# check=skip=all\n"
      "FROM a\nRUN echo `\n  hi\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_EQ(ast->escape_token, '`');
  ASSERT_EQ(ast->directives.size(), 3u);
  EXPECT_EQ(ast->directives[0].name, "syntax");
  EXPECT_EQ(ast->directives[0].value, "docker/dockerfile:1");
  EXPECT_EQ(ast->directives[0].line, 1);
  EXPECT_EQ(ast->directives[1].name, "escape");
  EXPECT_EQ(ast->directives[1].value, "`");
  EXPECT_EQ(ast->directives[2].name, "check");
  EXPECT_EQ(ast->directives[2].line, 3);
  EXPECT_EQ(Dump(*ast), "(from \"a\")\n(run \"echo   hi\")\n");
  // Directives are not comments on the first instruction.
  EXPECT_THAT(ast->children[0].prev_comment, IsEmpty());
}

TEST(DirectiveTest, OnlyAtTheTop) {
  Result<Ast> ast = Parse("FROM a\n# escape=`\nRUN a `\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_EQ(ast->escape_token, '\\');
  EXPECT_THAT(ast->directives, IsEmpty());
  EXPECT_EQ(Dump(*ast), "(from \"a\")\n(run \"a `\")\n");
  // An unknown directive, a plain comment or a blank line ends the directives.
  for (const char* prefix : {"# foo=bar\n", "# hello\n", "\n"}) {
    ast = Parse(std::string(prefix) + "# escape=`\nFROM a\n");
    ASSERT_TRUE(ast.ok()) << ast.error().message();
    EXPECT_EQ(ast->escape_token, '\\') << prefix;
  }
}

TEST(DirectiveTest, Errors) {
  EXPECT_EQ(ErrorOf("# escape=\\\n# escape=`\nFROM a\n"),
            "Dockerfile:2: only one escape parser directive can be used");
  EXPECT_EQ(ErrorOf("# syntax=a\n# Syntax=b\nFROM a\n"),
            "Dockerfile:2: only one syntax parser directive can be used");
  EXPECT_EQ(ErrorOf("# escape=x\nFROM a\n"),
            "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
  // `\s*=\s*(.+?)\s*$` gives a value of only blanks its last blank.
  EXPECT_EQ(ErrorOf("# escape=  \nFROM a\n"),
            "Dockerfile:1: invalid escape token ' ' does not match ` or \\");
}

TEST(DirectiveTest, ByteOrderMark) {
  Result<Ast> ast = Parse("\xEF\xBB\xBF# escape=`\nFROM a\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_EQ(ast->escape_token, '`');
  // Only the first line loses a byte order mark.
  EXPECT_EQ(DumpOf("FROM a\n\xEF\xBB\xBFRUN b\n"), "(from \"a\")\n(\xEF\xBB\xBFrun \"\")\n");
}

TEST(DirectiveTest, DetectSyntaxJsonLastMemberWins) {
  std::optional<DirectiveValue> found = DetectSyntax(R"({"syntax": 1, "syntax": "x y"})");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->ref, "x y");  // the JSON form is not split at the space
  EXPECT_EQ(found->line, 0);
  EXPECT_FALSE(DetectSyntax(R"({"syntax": "x", "syntax": 1})").has_value());
  EXPECT_FALSE(DetectSyntax(R"(["syntax"])").has_value());
  EXPECT_FALSE(DetectSyntax(R"({"syntax": "x", "n": 1e999})").has_value());
}

TEST(CommentTest, PrevComment) {
  Result<Ast> ast = Parse("# syntax=x\n# one\n\n#  two  \nFROM a\n# three\n#\n# four\nRUN b\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_THAT(ast->children[0].prev_comment, ElementsAre("one", "two"));
  EXPECT_THAT(ast->children[1].prev_comment, ElementsAre("four"));
}

TEST(ContinuationTest, WarnsAboutEmptyLines) {
  Result<Ast> ast = Parse("FROM a\nRUN a \\\n\n  \\\n b\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  ASSERT_EQ(ast->warnings.size(), 1u);
  EXPECT_EQ(ast->warnings[0].message, "Empty continuation line found in: RUN a    b");
  EXPECT_EQ(ast->warnings[0].line, 5);
  EXPECT_EQ(ast->children[1].original, "RUN a    b");
  EXPECT_EQ(ast->children[1].start_line, 2);
  EXPECT_EQ(ast->children[1].end_line, 5);
}

TEST(ContinuationTest, CommentsInsideAreDropped) {
  EXPECT_EQ(DumpOf("RUN a \\\n# not a comment of the shell\n  # nor this\n b\n"),
            "(run \"a  b\")\n");
  // An escaped escape token does not continue the line.
  EXPECT_EQ(DumpOf("RUN a \\\\\nRUN b\n"), "(run \"a \\\\\\\\\")\n(run \"b\")\n");
}

TEST(LineEndingTest, CrLf) {
  EXPECT_EQ(DumpOf("FROM a\r\nRUN b \\\r\n c\r\n"), "(from \"a\")\n(run \"b  c\")\n");
  Result<Ast> ast = Parse("FROM a\r\nRUN <<EOF\r\nhi\r\nEOF\r\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  ASSERT_EQ(ast->children[1].heredocs.size(), 1u);
  EXPECT_EQ(ast->children[1].heredocs[0].content, "hi\r\n");
}

TEST(InstructionTest, KeywordsAndShapes) {
  EXPECT_EQ(DumpOf("fRoM a AS b\nFOO bar baz\nHEALTHCHECK NONE\nSTOPSIGNAL  SIGKILL  \n"),
            "(from \"a\" \"AS\" \"b\")\n(foo \"\")\n(healthcheck \"NONE\")\n"
            "(stopsignal \"SIGKILL\")\n");
  EXPECT_EQ(DumpOf("ARG a='b c' d\nENV a=\"b c\" d=e\nLABEL \"k\"=v\n"),
            "(arg \"a='b c'\" \"d\")\n(env \"a\" \"\\\"b c\\\"\" \"=\" \"d\" \"e\" \"=\")\n"
            "(label \"\\\"k\\\"\" \"v\" \"=\")\n");
  EXPECT_EQ(DumpOf("WORKDIR\nCMD\nENTRYPOINT []\nVOLUME\n"),
            "(workdir)\n(cmd)\n(entrypoint)\n(volume)\n");
  Result<Ast> ast = Parse("ENTRYPOINT []\nCMD a\n");
  ASSERT_TRUE(ast.ok());
  EXPECT_TRUE(ast->children[0].json);
  EXPECT_FALSE(ast->children[1].json);
}

TEST(InstructionTest, KeywordLowerCaseFollowsGo) {
  // strings.ToLower maps the Kelvin sign to 'k' and dotted capital I to 'i'.
  Result<Ast> ast = Parse("HEALTHCHEC\xE2\x84\xAA NONE\nONBU\xC4\xB0LD RUN a\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_EQ(ast->children[0].keyword, "healthcheck");
  EXPECT_EQ(ast->children[1].keyword, "onbuild");
  EXPECT_EQ(DumpOf("\xC3\x80X y\n"), "(\xC3\xA0x \"\")\n");
}

TEST(FlagTest, SplitOff) {
  Result<Ast> ast = Parse("COPY --from=\"a b\" --chown=x\\ y --link a b\nRUN --mount=x -- --y\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_THAT(ast->children[0].flags, ElementsAre("--from=a b", "--chown=x y", "--link"));
  EXPECT_THAT(ast->children[0].args, ElementsAre("a", "b"));
  EXPECT_THAT(ast->children[1].flags, ElementsAre("--mount=x"));
  EXPECT_THAT(ast->children[1].args, ElementsAre("--y"));
  // BuildKit reads flags byte by byte, so UTF-8 in a flag comes out as Latin-1 read as UTF-8.
  ast = Parse("COPY --chown=\xC3\xA9 a b\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_THAT(ast->children[0].flags, ElementsAre("--chown=\xC3\x83\xC2\xA9"));
}

TEST(JsonTest, InvalidJsonFallsBackToShellForm) {
  EXPECT_EQ(DumpOf("CMD [\"a\", \"b\"\n"), "(cmd \"[\\\"a\\\", \\\"b\\\"\")\n");
  EXPECT_EQ(DumpOf("CMD ['a']\n"), "(cmd \"['a']\")\n");
  EXPECT_EQ(DumpOf("CMD [\"a\"] b\n"), "(cmd \"[\\\"a\\\"] b\")\n");
  EXPECT_EQ(DumpOf("COPY [\"a\" \"b\"] c\n"), "(copy \"[\\\"a\\\"\" \"\\\"b\\\"]\" \"c\")\n");
  // Go's encoding/json fails on a number too large for a float64, even a nested one.
  EXPECT_EQ(DumpOf("CMD [\"a\", [1e400]]\n"), "(cmd \"[\\\"a\\\", [1e400]]\")\n");
  EXPECT_THAT(ErrorOf("CMD [\"a\", [1e300]]\n"), testing::HasSubstr("strings only"));
  // Nesting deeper than encoding/json's limit of 10000 is invalid JSON.
  EXPECT_THAT(ErrorOf("CMD " + Repeat("[", 10000) + Repeat("]", 10000) + "\n"),
              testing::HasSubstr("strings only"));
  const std::string deep = Repeat("[", 10001) + Repeat("]", 10001);
  EXPECT_EQ(DumpOf("CMD " + deep + "\n"), "(cmd \"" + deep + "\")\n");
}

TEST(JsonTest, StringsDecodeLikeGo) {
  Result<Ast> ast =
      Parse("CMD [\"\\ud83d\\ude00\", \"\\ud800x\", \"\\udc00\", \"\\u00e9\\/\", \"\xff\"]\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_THAT(ast->children[0].args, ElementsAre("\xF0\x9F\x98\x80", "\xEF\xBF\xBDx",
                                                 "\xEF\xBF\xBD", "\xC3\xA9/", "\xEF\xBF\xBD"));
}

TEST(OnbuildTest, NestsAndCarriesHeredocs) {
  Result<Ast> ast = Parse("ONBUILD --x RUN --mount=a <<EOF cat\nhello\nEOF\nONBUILD\n");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  EXPECT_EQ(Dump(*ast), "(onbuild [\"--x\"] (run [\"--mount=a\"] \"<<EOF cat\"))\n(onbuild)\n");
  const Node& onbuild = ast->children[0];
  ASSERT_EQ(onbuild.children.size(), 1u);
  EXPECT_EQ(onbuild.children[0].original, "RUN --mount=a <<EOF cat");
  ASSERT_EQ(onbuild.heredocs.size(), 1u);
  EXPECT_EQ(onbuild.heredocs[0].content, "hello\n");
  EXPECT_EQ(onbuild.end_line, 3);
  EXPECT_EQ(ast->children[1].start_line, 4);
}

TEST(OnbuildTest, NestingIsBounded) {
  EXPECT_EQ(DumpOf(Repeat("ONBUILD ", 64) + "RUN a\n"),
            "(" + Repeat("onbuild (", 64) + "run \"a\"" + Repeat(")", 64) + ")\n");
  EXPECT_EQ(DumpOf("ONBUILD ONBUILD\n"), "(onbuild (onbuild))\n");
  EXPECT_EQ(ErrorOf(Repeat("ONBUILD ", 65) + "RUN a\n"),
            "Dockerfile:1: ONBUILD nested more than 64 levels deep");
}

TEST(HeredocTest, Bodies) {
  Result<Ast> ast = Parse(
      "FROM a\nCOPY <<A 3<<-\"B\" /dst\na\nA\n\tb\n\t\tB\nRUN [\"<<EOF\"]\nRUN <<EOF\nlast\nEOF");
  ASSERT_TRUE(ast.ok()) << ast.error().message();
  ASSERT_EQ(ast->children.size(), 4u);
  const std::vector<Heredoc>& copy = ast->children[1].heredocs;
  ASSERT_EQ(copy.size(), 2u);
  EXPECT_EQ(copy[0], (Heredoc{"A", "a\n", true, false, 0}));
  EXPECT_EQ(copy[1], (Heredoc{"B", "\tb\n", false, true, 3}));
  EXPECT_EQ(ast->children[1].end_line, 6);
  EXPECT_THAT(ast->children[2].heredocs, IsEmpty());  // exec form has no heredocs
  ASSERT_EQ(ast->children[3].heredocs.size(), 1u);
  EXPECT_EQ(ast->children[3].heredocs[0].content, "last\n");
  EXPECT_EQ(Dump(*ast),
            "(from \"a\")\n(copy \"<<A\" \"3<<-\\\"B\\\"\" \"/dst\")\n(run \"<<EOF\")\n"
            "(run \"<<EOF\")\n");
}

TEST(HeredocTest, Errors) {
  EXPECT_EQ(ErrorOf("FROM a\nRUN <<EOF\necho\n"), "Dockerfile:2: unterminated heredoc");
  EXPECT_EQ(ErrorOf("FROM a\nRUN <<A <<B\nA\n"), "Dockerfile:2: unterminated heredoc");
  // A line the word lexer cannot read has no heredocs.
  EXPECT_EQ(DumpOf("RUN <<EOF 'x\nEOF\n"), "(run \"<<EOF 'x\")\n(eof \"\")\n");
  // The escaped quote is part of the delimiter, which is then EOF" (and unterminated here).
  EXPECT_EQ(ErrorOf("RUN <<\"EOF\\\"\"\nEOF\n"), "Dockerfile:1: unterminated heredoc");
}

TEST(HeredocTest, ParseHeredocWords) {
  auto parse = [](std::string_view word) {
    Result<std::optional<Heredoc>> heredoc = ParseHeredoc(word);
    EXPECT_TRUE(heredoc.ok()) << word;
    return heredoc.ok() ? *heredoc : std::nullopt;
  };
  EXPECT_EQ(parse("<<\"EOF\""), (Heredoc{"EOF", "", false, false, 0}));
  EXPECT_EQ(parse("12<<-EOF"), (Heredoc{"EOF", "", true, true, 12}));
  EXPECT_EQ(parse("<<$EOF"), (Heredoc{"$EOF", "", true, false, 0}));
  EXPECT_EQ(parse("<<${A:-'b'}"), (Heredoc{"${A:-b}", "", false, false, 0}));
  EXPECT_EQ(parse("99999999999999999999<<EOF")->file_descriptor, 2147483647);
  EXPECT_EQ(parse("<<\xEF\xBB\xBF"
                  "EOF")
                ->name,
            "EOF");  // text/scanner skips a leading BOM
  EXPECT_EQ(parse("<<E\xFF")->name, "E\xEF\xBF\xBD");
  Result<std::optional<Heredoc>> bad = ParseHeredoc("<<${");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "failed to process \"${\": syntax error: missing '}'");
}

TEST(HeredocTest, LexerNestingIsBounded) {
  const std::string nested = "RUN <<EOF " + Repeat("${a:-", 64) + Repeat("}", 64);
  EXPECT_THAT(HeredocsFromLine(nested), testing::SizeIs(1));
  const std::string too_deep = "RUN <<EOF " + Repeat("${a:-", 65) + Repeat("}", 65);
  EXPECT_THAT(HeredocsFromLine(too_deep), IsEmpty());
  EXPECT_THAT(HeredocsFromLine("RUN <<EOF " + Repeat("${a:-\"", 20000)), IsEmpty());
}

TEST(ParseWordsTest, Escapes) {
  EXPECT_THAT(ParseWords("a\\ b 'c\\ d' \"e\\\" f\" g\\"),
              ElementsAre("a\\ b", "'c\\ d'", "\"e\\\" f\"", "g"));
  EXPECT_THAT(ParseWords("a` b \"\" ''", '`'), ElementsAre("a` b", "\"\"", "''"));
  EXPECT_THAT(ParseWords("a\xC2\xA0"
                         "b\xE3\x80\x80"
                         "c"),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(ParseWords("\xFF"), ElementsAre("\xEF\xBF\xBD"));
}

TEST(DumpTest, QuotesLikeGo) {
  EXPECT_EQ(DumpOf("RUN [\"\\u0001\\t\\\\\", \"\xE2\x99\xA5\"]\n"),
            "(run \"\\x01\\t\\\\\" \"\xE2\x99\xA5\")\n");
  // strconv.Quote escapes every rune that unicode.IsPrint rejects: white space other than
  // U+0020, format and private-use characters, unassigned code points; and invalid bytes.
  EXPECT_EQ(DumpOf("RUN a\xC2\xA0"
                   "b\xC2\xAD"
                   "c\xE2\x80\x8B"
                   "d\xEE\x80\x80"
                   "e\xF4\x8F\xBF\xBF"
                   "f\xFF"
                   "g\xEF\xBF\xBD\n"),
            "(run \"a\\u00a0b\\u00adc\\u200bd\\ue000e\\U0010ffff"
            "f\\xffg\xEF\xBF\xBD\")\n");
  EXPECT_EQ(DumpOf("COPY --chown=\x7F a b\n"), "(copy [\"--chown=\\x7f\"] \"a\" \"b\")\n");
}

}  // namespace
}  // namespace berth::frontend::dockerfile::parser
