#include "frontend/bake/hcl/json_syntax.h"

#include <gtest/gtest.h>

#include "frontend/bake/hcl/globals.h"

namespace berth::frontend::bake::hcl {
namespace {

TEST(JsonSyntax, BakeFile) {
  Result<File> f = ParseJson(R"json({
  "variable": {
    "TAG": {"default": "latest"},
    "PORTS": {
      "type": "list(number)",
      "default": [80, "443"],
      "validation": {"condition": "${length(PORTS) > 0}", "error_message": "no ports"}
    }
  },
  "function": {
    "tag": {"params": ["name"], "variadic_params": "rest", "result": "${name}:${TAG}"}
  },
  "group": {"default": {"targets": ["app"]}},
  "target": {
    "app": {
      "tags": ["repo:${TAG}", "${tag(\"x\")}"],
      "args": {"N": 1, "B": true, "Z": null},
      "no-cache": false
    },
    "multi": [{"context": "a"}, {"context": "b"}]
  },
  "GLOBAL": "g"
})json",
                             "docker-bake.json");
  ASSERT_TRUE(f.ok()) << f.error().message();
  const Body& body = f->body;
  ASSERT_EQ(body.attributes.size(), 1u);
  EXPECT_EQ(body.attributes[0].name, "GLOBAL");
  ASSERT_EQ(body.blocks.size(), 7u);
  EXPECT_EQ(body.blocks[0].type, "variable");
  EXPECT_EQ(body.blocks[1].labels, std::vector<std::string>{"PORTS"});
  ASSERT_EQ(body.blocks[1].body.blocks.size(), 1u);
  EXPECT_EQ(body.blocks[1].body.blocks[0].type, "validation");
  EXPECT_EQ(body.blocks[5].labels, std::vector<std::string>{"multi"});
  EXPECT_EQ(body.blocks[6].labels, std::vector<std::string>{"multi"});

  Result<std::unique_ptr<Globals>> g = Globals::Load({&*f}, {});
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ(ValueDebugString(*(*g)->scope().Lookup("PORTS")), "[80, 443]");
  const Block& app = body.blocks[4];
  ASSERT_EQ(app.labels, std::vector<std::string>{"app"});
  Result<Value> tags =
      (*g)->evaluator().Evaluate(*app.body.FindAttribute("tags")->expr, (*g)->scope());
  ASSERT_TRUE(tags.ok()) << tags.error().message();
  EXPECT_EQ(ValueDebugString(*tags), "[\"repo:latest\", \"x:latest\"]");
  Result<Value> args = (*g)->evaluator().EvaluateAs(*app.body.FindAttribute("args")->expr,
                                                    (*g)->scope(), Type::Map(Type::String()));
  ASSERT_TRUE(args.ok()) << args.error().message();
  EXPECT_EQ(ValueDebugString(*args), "{B = \"true\", N = \"1\", Z = null}");
}

TEST(JsonSyntax, ErrorsAndRangesPointIntoStrings) {
  Result<File> f =
      ParseJson("{\n  \"target\": {\"a\": {\"tags\": [\"x${NOPE}\"]}}\n}", "docker-bake.json");
  ASSERT_TRUE(f.ok()) << f.error().message();
  Result<std::unique_ptr<Globals>> g = Globals::Load({&*f}, {});
  ASSERT_TRUE(g.ok());
  Result<Value> v = (*g)->evaluator().Evaluate(*f->body.blocks[0].body.FindAttribute("tags")->expr,
                                               (*g)->scope());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message(),
            "docker-bake.json:2:33: Unknown variable; There is no variable named \"NOPE\".");
}

TEST(JsonSyntax, MalformedJson) {
  auto err = [](std::string_view text) {
    Result<File> f = ParseJson(text, "b.json");
    return f.ok() ? std::string("ok") : f.error().message();
  };
  EXPECT_TRUE(err("[1]").starts_with("b.json:1:1: Invalid JSON body"));
  EXPECT_TRUE(err("{\"a\": 1,}").starts_with("b.json:1:9: Invalid JSON object"));
  EXPECT_TRUE(err("{\"a\": 1, \"a\": 2}").starts_with("b.json:1:10: Duplicate property"));
  EXPECT_TRUE(err("{\"a\": \"x").starts_with("b.json:1:7: Unterminated string"));
  EXPECT_TRUE(err("{\"target\": [1]}").find("Invalid block") != std::string::npos);
  EXPECT_TRUE(err("{\"target\": \"x\"}").find("Invalid block") != std::string::npos);
  EXPECT_TRUE(err("{\"a\": 1} x").find("Extraneous data") != std::string::npos);
  EXPECT_TRUE(err(std::string(1000, '[')).find("Nesting too deep") != std::string::npos);
  EXPECT_TRUE(err("{\"a\": \"${\"}").find("b.json:1:") == 0);
}

}  // namespace
}  // namespace berth::frontend::bake::hcl
