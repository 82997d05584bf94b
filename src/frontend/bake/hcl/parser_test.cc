#include "frontend/bake/hcl/parser.h"

#include <gtest/gtest.h>

#include "frontend/bake/hcl/eval.h"

namespace berth::frontend::bake::hcl {
namespace {

File MustParse(std::string_view text) {
  Result<File> f = Parse(text, "docker-bake.hcl");
  EXPECT_TRUE(f.ok()) << f.error().message();
  return f.ok() ? std::move(f).value() : File{};
}

std::string ParseError(std::string_view text) {
  Result<File> f = Parse(text, "docker-bake.hcl");
  EXPECT_FALSE(f.ok());
  return f.ok() ? "" : f.error().message();
}

// Evaluates an attribute's expression with the standard library only.
std::string EvalAttr(const File& file, std::string_view name) {
  const Attribute* a = file.body.FindAttribute(name);
  if (a == nullptr) {
    return "<missing>";
  }
  Evaluator ev;
  Result<Value> v = ev.Evaluate(*a->expr, StdlibScope());
  return v.ok() ? ValueDebugString(*v) : "error: " + v.error().message();
}

TEST(Parser, BlocksLabelsAndAttributes) {
  File f = MustParse(R"(
# a comment
group "default" {
  targets = ["app", "db"]
}

target "app" {
  // another comment
  context = "."
  args = {
    A = 1
    "B" = "two"
  }
  /* block
     comment */ platforms = ["linux/amd64"]
}
target db { dockerfile = "Dockerfile.db" }
empty "a" "b" {}
)");
  ASSERT_EQ(f.body.blocks.size(), 4u);
  EXPECT_EQ(f.body.blocks[0].type, "group");
  EXPECT_EQ(f.body.blocks[0].labels, std::vector<std::string>{"default"});
  const Block& app = f.body.blocks[1];
  EXPECT_EQ(app.labels, std::vector<std::string>{"app"});
  ASSERT_EQ(app.body.attributes.size(), 3u);
  EXPECT_EQ(app.body.attributes[0].name, "context");
  EXPECT_EQ(app.body.attributes[0].name_range.start.line, 9);
  EXPECT_EQ(app.body.attributes[0].name_range.start.column, 3);
  EXPECT_EQ(app.body.attributes[2].name, "platforms");
  EXPECT_EQ(f.body.blocks[2].labels, std::vector<std::string>{"db"});
  EXPECT_EQ(f.body.blocks[3].labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.body.blocks[0].range.ToString(), "docker-bake.hcl:3:1");
}

TEST(Parser, NestedBlocks) {
  File f = MustParse("variable \"X\" {\n  validation {\n    condition = true\n  }\n}\n");
  ASSERT_EQ(f.body.blocks.size(), 1u);
  ASSERT_EQ(f.body.blocks[0].body.blocks.size(), 1u);
  EXPECT_EQ(f.body.blocks[0].body.blocks[0].type, "validation");
}

TEST(Parser, Literals) {
  File f = MustParse("a = 1\nb = 1.5\nc = 1e3\nd = true\ne = null\nf = \"s\"\ng = -2\nh = 0.1\n");
  EXPECT_EQ(EvalAttr(f, "a"), "1");
  EXPECT_EQ(EvalAttr(f, "b"), "1.5");
  EXPECT_EQ(EvalAttr(f, "c"), "1000");
  EXPECT_EQ(EvalAttr(f, "d"), "true");
  EXPECT_EQ(EvalAttr(f, "e"), "null");
  EXPECT_EQ(EvalAttr(f, "f"), "\"s\"");
  EXPECT_EQ(EvalAttr(f, "g"), "-2");
  EXPECT_EQ(EvalAttr(f, "h"), "0.1");
}

TEST(Parser, StringEscapes) {
  File f = MustParse(R"(a = "tab\tnl\nq\"bs\\u\u00e9"
b = "$${not} %%{not}"
c = "$x %y $"
)");
  EXPECT_EQ(EvalAttr(f, "a"), "\"tab\\tnl\\nq\\\"bs\\\\u\xC3\xA9\"");
  EXPECT_EQ(EvalAttr(f, "b"), "\"${not} %{not}\"");
  EXPECT_EQ(EvalAttr(f, "c"), "\"$x %y $\"");
}

TEST(Parser, Heredocs) {
  File f = MustParse(
      "a = <<EOT\nhello\n  world\nEOT\nb = <<-EOT\n    one\n      two\n    EOT\n"
      "c = <<EOT\nx ${1 + 1} y\nEOT\n");
  EXPECT_EQ(EvalAttr(f, "a"), "\"hello\\n  world\\n\"");
  EXPECT_EQ(EvalAttr(f, "b"), "\"one\\n  two\\n\"");
  EXPECT_EQ(EvalAttr(f, "c"), "\"x 2 y\\n\"");
}

TEST(Parser, HeredocKeepsBackslashes) {
  File f = MustParse("a = <<EOT\nC:\\path \\n $${x}\nEOT\n");
  EXPECT_EQ(EvalAttr(f, "a"), "\"C:\\\\path \\\\n ${x}\\n\"");
}

TEST(Parser, MultiLineCollections) {
  File f = MustParse(R"(a = [
  1,
  2,
]
b = {
  x = 1, y = 2
  z = [3,
    4]
}
c = max(
  1,
  5
)
)");
  EXPECT_EQ(EvalAttr(f, "a"), "[1, 2]");
  EXPECT_EQ(EvalAttr(f, "b"), "{x = 1, y = 2, z = [3, 4]}");
  EXPECT_EQ(EvalAttr(f, "c"), "5");
}

TEST(Parser, ObjectKeysAndColons) {
  File f = MustParse("k = \"dyn\"\na = { k = 1, \"q\": 2, (k) = 3 }\n");
  // `(k)` is evaluated: with no variable k in the stdlib scope this fails, as in HCL.
  EXPECT_NE(EvalAttr(f, "a").find("Unknown variable"), std::string::npos);
  File g = MustParse("a = { \"${\"x\"}y\" = 1, z: 2 }\n");
  EXPECT_EQ(EvalAttr(g, "a"), "{xy = 1, z = 2}");
}

TEST(Parser, ExpressionFunctions) {
  Result<ExprPtr> e = ParseExpression("  upper(\"a\") \n", "expr");
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ((*e)->kind, ExprKind::kCall);
  Result<ExprPtr> t = ParseTemplate("x-${1}-%{if true}y%{endif}", "tmpl");
  ASSERT_TRUE(t.ok()) << t.error().message();
  Evaluator ev;
  Result<Value> v = ev.Evaluate(**t, StdlibScope());
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->AsString(), "x-1-y");
}

TEST(Parser, CollectReferences) {
  Result<ExprPtr> e = ParseExpression("[for x in xs : x + y if z] + foo.bar[baz] + f(q)", "expr");
  ASSERT_TRUE(e.ok());
  std::vector<std::string> names;
  for (const Reference& r : CollectReferences(**e)) {
    names.push_back(r.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"xs", "y", "z", "foo", "baz", "q"}));
  std::vector<Reference> calls = CollectFunctionCalls(**e);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "f");
}

TEST(ParserErrors, MissingNewline) {
  EXPECT_EQ(ParseError("a = 1 b = 2\n"),
            "docker-bake.hcl:1:7: Missing newline after argument; An argument definition must "
            "end with a newline. Found \"b\".");
}

TEST(ParserErrors, Locations) {
  EXPECT_TRUE(ParseError("target \"a\" {\n  tags = [\n}\n").starts_with("docker-bake.hcl:3:1:"));
  EXPECT_TRUE(
      ParseError("x = \"abc\n").starts_with("docker-bake.hcl:1:5: Unterminated template string"));
  EXPECT_TRUE(ParseError("target \"a\" {\n  x = 1\n")
                  .starts_with("docker-bake.hcl:1:12: Unclosed configuration block"));
  EXPECT_TRUE(ParseError("a = <<EOT\nno end\n").find("Unterminated template string") !=
              std::string::npos);
  EXPECT_TRUE(ParseError("a = 1\na = 2\n").starts_with("docker-bake.hcl:2:1: Attribute redefined"));
  EXPECT_TRUE(ParseError("a = \"\\q\"\n").find("Invalid escape sequence") != std::string::npos);
  EXPECT_TRUE(ParseError("a = \"${\"\n").starts_with("docker-bake.hcl:1:"));
  EXPECT_TRUE(ParseError("a = \"%{if true}x\"\n").find("Unterminated template directive") !=
              std::string::npos);
  EXPECT_TRUE(ParseError("a = \"%{endif}\"\n").find("Unexpected template directive") !=
              std::string::npos);
  EXPECT_TRUE(ParseError("a = f(1 2)\n").find("Missing argument separator") != std::string::npos);
  EXPECT_TRUE(ParseError("a = /* x\n").starts_with("docker-bake.hcl:1:5: Invalid expression"));
  EXPECT_TRUE(ParseError("\"a\" = 1\n").find("Argument or block definition required") !=
              std::string::npos);
  EXPECT_TRUE(ParseError("block \"${x}\" {}\n").find("Invalid block label") != std::string::npos);
}

TEST(Parser, InterpolatedLiteralsAreNotText) {
  // Found by fuzzing: an interpolated literal once counted as template text.
  File f = MustParse("a = <<-EOT\n  ${5}\n    x\n  EOT\nb = \"${5}\"\nc = \"${5}${~ \"x\"}\"\n");
  EXPECT_EQ(EvalAttr(f, "a"), "\"5\\n  x\\n\"");
  EXPECT_EQ(EvalAttr(f, "b"), "5");
  EXPECT_EQ(EvalAttr(f, "c"), "\"5x\"");
  EXPECT_NE(ParseError("block \"${5}\" {}\n").find("Invalid block label"), std::string::npos);
}

TEST(ParserErrors, NestingIsLimited) {
  std::string deep(10000, '[');
  EXPECT_NE(ParseError("a = " + deep + "\n").find("Nesting too deep"), std::string::npos);
  std::string parens = "a = " + std::string(500, '(') + "1" + std::string(500, ')') + "\n";
  EXPECT_NE(ParseError(parens).find("Nesting too deep"), std::string::npos);
  std::string neg = "a = " + std::string(5000, '!') + "true\n";
  EXPECT_NE(ParseError(neg).find("Nesting too deep"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 300; ++i) {
    blocks += "b {\n";
  }
  EXPECT_NE(ParseError(blocks).find("Nesting too deep"), std::string::npos);
  std::string templates = "a = ";
  for (int i = 0; i < 300; ++i) {
    templates += "\"${";
  }
  EXPECT_NE(ParseError(templates).find("Nesting too deep"), std::string::npos);
}

TEST(ParserErrors, LongChainsAreLimited) {
  std::string sum = "a = 1";
  for (int i = 0; i < 2000; ++i) {
    sum += " + 1";
  }
  EXPECT_NE(ParseError(sum + "\n").find("Expression too complex"), std::string::npos);
  std::string index = "a = x";
  for (int i = 0; i < 2000; ++i) {
    index += "[0]";
  }
  EXPECT_NE(ParseError(index + "\n").find("Expression too complex"), std::string::npos);
  // Long flat lists are fine.
  std::string list = "a = [";
  for (int i = 0; i < 5000; ++i) {
    list += "1,";
  }
  MustParse(list + "]\n");
}

}  // namespace
}  // namespace berth::frontend::bake::hcl
