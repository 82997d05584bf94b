// Cases from buildx's bake/hcl_test.go that exercise what this component does (variables, their
// types and overrides, functions, global attributes, JSON files), rewritten against this API:
// the file is resolved and an expression standing for a target attribute is evaluated the way
// bake decodes it (args as a map of strings).
#include <gtest/gtest.h>

#include "frontend/bake/hcl/hcl.h"

namespace berth::frontend::bake::hcl {
namespace {

using Env = std::map<std::string, std::string>;

// Resolves `files` (".json" names use the JSON syntax) and returns target `target`'s args as
// "k=v" lines (null values as "k=<null>"), or the error.
std::string Args(const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& target, const Env& env = {}, const Env& builtins = {}) {
  std::vector<File> parsed;
  for (const auto& [name, text] : files) {
    Result<File> f = name.ends_with(".json") ? ParseJson(text, name) : Parse(text, name);
    if (!f.ok()) {
      return "error: " + f.error().message();
    }
    parsed.push_back(std::move(f).value());
  }
  std::vector<const File*> ptrs;
  for (const File& f : parsed) {
    ptrs.push_back(&f);
  }
  GlobalsOptions options;
  options.lookup_env = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  options.builtins = builtins;
  Result<std::unique_ptr<Globals>> g = Globals::Load(ptrs, options);
  if (!g.ok()) {
    return "error: " + g.error().message();
  }
  // The last definition of args wins, as bake merges the blocks of a target.
  const Attribute* args = nullptr;
  for (const File& f : parsed) {
    for (const Block& b : f.body.blocks) {
      if (b.type == "target" && b.labels[0] == target) {
        if (const Attribute* a = b.body.FindAttribute("args")) {
          args = a;
        }
      }
    }
  }
  if (args == nullptr) {
    return "";
  }
  Result<Value> v =
      (*g)->evaluator().EvaluateAs(*args->expr, (*g)->scope(), Type::Map(Type::String()));
  if (!v.ok()) {
    return "error: " + v.error().message();
  }
  std::string out;
  for (const auto& [k, val] : v->attributes()) {
    out += k + "=" + (val.is_null() ? "<null>" : val.AsString()) + "\n";
  }
  return out;
}

std::string One(const std::string& text, const Env& env = {}) {
  return Args({{"docker-bake.hcl", text}}, "default", env);
}

TEST(BuildxCases, HCLWithFunctions) {
  EXPECT_EQ(One("target \"default\" {\n args = { buildno = \"${add(123, 1)}\" }\n}"),
            "buildno=124\n");
}

TEST(BuildxCases, HCLVarsWithVars) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"c1.hcl",
       "variable \"FOO\" {\n default = upper(\"${BASE}def\")\n}\nvariable \"BAR\" {\n default = "
       "\"-${FOO}-\"\n}\ntarget \"app\" {\n args = { v1 = \"pre-${BAR}\" }\n}\n"},
      {"c2.hcl", "variable \"BASE\" {\n default = \"abc\"\n}\n"}};
  EXPECT_EQ(Args(files, "app"), "v1=pre--ABCDEF-\n");
  EXPECT_EQ(Args(files, "app", {{"BASE", "new"}}), "v1=pre--NEWDEF-\n");
}

TEST(BuildxCases, HCLTypedVariables) {
  const std::string file =
      "variable \"FOO\" {\n default = 3\n}\nvariable \"IS_FOO\" {\n default = true\n}\n"
      "target \"default\" {\n args = {\n  v1 = FOO > 5 ? \"higher\" : \"lower\"\n  v2 = IS_FOO ? "
      "\"yes\" : \"no\"\n }\n}\n";
  EXPECT_EQ(One(file), "v1=lower\nv2=yes\n");
  EXPECT_EQ(One(file, {{"FOO", "5.1"}, {"IS_FOO", "0"}}), "v1=higher\nv2=no\n");
  EXPECT_NE(One(file, {{"FOO", "NaN"}}).find("failed to parse FOO as number"), std::string::npos);
  EXPECT_NE(One(file, {{"IS_FOO", "maybe"}}).find("failed to parse IS_FOO as bool"),
            std::string::npos);
}

TEST(BuildxCases, HCLNullVariables) {
  const std::string file =
      "variable \"FOO\" {\n default = null\n}\ntarget \"default\" {\n args = "
      "{\n  foo = FOO\n }\n}";
  EXPECT_EQ(One(file), "foo=<null>\n");
  EXPECT_EQ(One(file, {{"FOO", "bar"}}), "foo=bar\n");
}

TEST(BuildxCases, HCLTypedNullAndValuelessVariables) {
  for (const char* type : {"any", "string", "number", "bool", "list(string)", "set(string)",
                           "map(string)", "tuple([string])", "object({val: string})"}) {
    const std::string target = "target \"default\" {\n args = {\n  foo = equal(FOO, null)\n }\n}";
    EXPECT_EQ(
        One("variable \"FOO\" {\n type = " + std::string(type) + "\n default = null\n}\n" + target),
        "foo=true\n")
        << type;
    EXPECT_EQ(One("variable \"FOO\" {\n type = " + std::string(type) + "\n}\n" + target),
              "foo=true\n")
        << type;
  }
}

TEST(BuildxCases, JSONNullVariables) {
  const std::string json = R"json({"variable": {"FOO": {"default": null}},
    "target": {"default": {"args": {"foo": "${FOO}"}}}})json";
  EXPECT_EQ(Args({{"docker-bake.json", json}}, "default"), "foo=<null>\n");
  EXPECT_EQ(Args({{"docker-bake.json", json}}, "default", {{"FOO", "bar"}}), "foo=bar\n");
}

TEST(BuildxCases, HCLVariableCycle) {
  EXPECT_NE(One("variable \"FOO\" {\n default = BAR\n}\nvariable \"FOO2\" {\n default = FOO\n}\n"
                "variable \"BAR\" {\n default = FOO\n}\ntarget \"app\" {}\n")
                .find("variable cycle not allowed"),
            std::string::npos);
}

TEST(BuildxCases, HCLAttrs) {
  const std::string file =
      "FOO=\"abc\"\nBAR=\"attr-${FOO}def\"\ntarget \"default\" {\n args = {\n  \"v1\": BAR\n "
      "}\n}\n";
  EXPECT_EQ(One(file), "v1=attr-abcdef\n");
  // The environment does not apply without a variable block.
  EXPECT_EQ(One(file, {{"FOO", "bar"}}), "v1=attr-abcdef\n");
}

TEST(BuildxCases, HCLMultiFileAttrs) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"c1.hcl",
       "variable \"FOO\" {\n default = \"abc\"\n}\ntarget \"app\" {\n args = { v1 = \"pre-${FOO}\" "
       "}\n}\n"},
      {"c2.hcl", "FOO=\"def\"\n"}};
  EXPECT_EQ(Args(files, "app"), "v1=pre-def\n");
  EXPECT_EQ(Args(files, "app", {{"FOO", "ghi"}}), "v1=pre-ghi\n");
}

TEST(BuildxCases, HCLMultiFileGlobalAttrs) {
  EXPECT_EQ(
      Args({{"c1.hcl", "FOO = \"abc\"\ntarget \"app\" {\n args = { v1 = \"pre-${FOO}\" }\n}\n"},
            {"c2.hcl", "FOO = \"def\"\n"}},
           "app"),
      "v1=pre-def\n");
}

TEST(BuildxCases, HCLFunctionInAttr) {
  EXPECT_EQ(One(R"(
function "brace" {
  params = [inp]
  result = "[${inp}]"
}
function "myupper" {
  params = [val]
  result = "${upper(val)} <> ${brace(v2)}"
}
v1=myupper("foo")
v2=lower("BAZ")
target "default" {
  args = {
    "v1": v1
  }
}
)"),
            "v1=FOO <> [baz]\n");
}

TEST(BuildxCases, HCLBuiltinVars) {
  EXPECT_EQ(Args({{"c1.hcl", "target \"app\" {\n args = { c = BAKE_CMD_CONTEXT }\n}\n"}}, "app", {},
                 {{"BAKE_CMD_CONTEXT", "foo"}}),
            "c=foo\n");
}

TEST(BuildxCases, CombineHCLAndJSONVars) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"docker-bake.hcl", R"(
variable "ABC" {
  default = "foo"
}
variable "DEF" {
  default = ""
}
target "one" {
  args = {
    a = "pre-${ABC}"
  }
}
target "two" {
  args = {
    b = "pre-${DEF}"
  }
}
)"},
      {"foo.json",
       R"json({"variable": {"DEF": {"default": "bar"}}, "target": { "one": { "args": {"a": "pre-${ABC}-${DEF}"}} } })json"},
      {"bar.json", R"json({"ABC": "ghi", "DEF": "jkl"})json"}};
  EXPECT_EQ(Args(files, "one"), "a=pre-ghi-jkl\n");
  EXPECT_EQ(Args(files, "two"), "b=pre-jkl\n");
}

TEST(BuildxCases, CombineHCLAndJSONTargets) {
  Result<File> f = ParseJson(
      R"json({"target": [{"metadata-a": [{"tags": ["app/a:1.0.0", "app/a:latest"]}]}]})json",
      "metadata-a.json");
  ASSERT_TRUE(f.ok()) << f.error().message();
  ASSERT_EQ(f->body.blocks.size(), 1u);
  EXPECT_EQ(f->body.blocks[0].labels, std::vector<std::string>{"metadata-a"});
}

TEST(BuildxCases, JSONFunctions) {
  EXPECT_EQ(Args({{"docker-bake.json", R"json({
    "FOO": "abc",
    "function": {"myfunc": {"params": ["inp"], "result": "<${upper(inp)}-${FOO}>"}},
    "target": {"app": {"args": {"v1": "pre-${myfunc(\"foo\")}"}}}})json"}},
                 "app"),
            "v1=pre-<FOO-abc>\n");
  // A string without ${} is not an expression.
  EXPECT_EQ(
      Args({{"docker-bake.json", R"json({"target": {"app": {"args": {"v1": "myfunc(\"foo\")" }}
}
})json"}},
           "app"),
      "v1=myfunc(\"foo\")\n");
}

TEST(BuildxCases, EmptyVariable) {
  EXPECT_EQ(One("variable \"FOO\" {}\ntarget \"default\" {\n args = {\n  foo = equal(FOO, \"\")\n "
                "}\n}"),
            "foo=true\n");
  EXPECT_EQ(Args({{"docker-bake.json", R"json({"variable": {"VAR": {}}})json"}}, "default"), "");
}

TEST(BuildxCases, FunctionWithoutParamsOrResult) {
  EXPECT_EQ(One("function \"foo\" {\n result = \"bar\"\n}\n").substr(0, 6), "error:");
  EXPECT_EQ(One("function \"foo\" {\n params = [\"a\"]\n}\n").substr(0, 6), "error:");
}

TEST(BuildxCases, VarUnsupportedType) {
  EXPECT_EQ(One("variable \"FOO\" {\n default = []\n}\ntarget \"default\" {}", {{"FOO", "bar"}})
                .substr(0, 6),
            "error:");
}

TEST(BuildxCases, IndexOfFunc) {
  EXPECT_EQ(One(R"(
variable "APP_VERSIONS" {
  default = ["1.42.4", "1.42.3"]
}
target "default" {
  args = {
    a = indexof(APP_VERSIONS, "1.42.4") == 0 ? "app:latest" : ""
    b = indexof(APP_VERSIONS, "1.42.3") == 0 ? "app:latest" : ""
  }
}
)"),
            "a=app:latest\nb=\n");
}

TEST(BuildxCases, VarTypingSpec) {
  for (const char* type : {"bool", "number", "string", "any", "list(string)", "set(string)",
                           "tuple([string, number])"}) {
    EXPECT_EQ(
        One("variable \"FOO\" {\n type = " + std::string(type) + "\n}\ntarget \"default\" {}"), "")
        << type;
  }
  for (const char* type : {"boolean", "BOOL", "lower(\"bool\")"}) {
    EXPECT_NE(One("variable \"FOO\" {\n type = " + std::string(type) + "\n}\ntarget \"default\" {}")
                  .find("not a valid type"),
              std::string::npos)
        << type;
  }
}

TEST(BuildxCases, DefaultVarTypeEnforcement) {
  struct Case {
    const char* type;
    const char* def;
    const char* arg;
    const char* want;  // nullptr: an "invalid type" error
  };
  for (const Case& c : std::vector<Case>{
           {"number", "99", "FOO + 1", "100"},
           {"number", "\"99\"", "FOO + 1", "100"},
           {"bool", "true", "and(FOO, true)", "true"},
           {"bool", "\"true\"", "and(FOO, true)", "true"},
           {"number", "\"oops\"", "FOO", nullptr},
           {"list(number)", "[2,3]", "join(\"\", [for v in FOO: v + 1])", "34"},
           {"list(number)", "[\"2\",\"3\"]", "join(\"\", [for v in FOO: v + 1])", "34"},
           {"list(number)", "[\"oops\"]", "FOO", nullptr},
       }) {
    const std::string out =
        One("variable \"FOO\" {\n type = " + std::string(c.type) + "\n default = " + c.def +
            "\n}\ntarget \"default\" {\n args = {\n "
            "foo = " +
            c.arg + "\n }\n}");
    if (c.want == nullptr) {
      EXPECT_NE(out.find("invalid type"), std::string::npos)
          << c.type << " " << c.def << ": " << out;
    } else {
      EXPECT_EQ(out, "foo=" + std::string(c.want) + "\n") << c.type << " " << c.def;
    }
  }
}

TEST(BuildxCases, DefaultVarTypeWithAttrValuesEnforcement) {
  struct Case {
    const char* attr;
    const char* type;
    bool error;
  };
  for (const Case& c : std::vector<Case>{
           {"\"hello\"", "string", false},
           {"\"99\"", "number", false},
           {"substr(\"99 bottles\", 0, 2)", "number", false},
           {"split(\",\", \"1,2,3foo\")", "list(number)", true},
           {"99", "bool", true},
           {"split(\",\", \"1,2,3\")", "list(number)", false},
       }) {
    const std::string out =
        One("BAR = " + std::string(c.attr) + "\nvariable \"FOO\" {\n type = " + c.type +
            "\n default = BAR\n}\ntarget \"default\" {}");
    if (c.error) {
      EXPECT_NE(out.find("invalid type"), std::string::npos) << c.attr << ": " << out;
      EXPECT_NE(out.find("FOO default value"), std::string::npos) << c.attr << ": " << out;
    } else {
      EXPECT_EQ(out, "") << c.attr;
    }
  }
}

}  // namespace
}  // namespace berth::frontend::bake::hcl
