#include "frontend/bake/hcl/globals.h"

#include <gtest/gtest.h>

#include "frontend/bake/hcl/parser.h"

namespace berth::frontend::bake::hcl {
namespace {

struct Loaded {
  std::vector<File> files;
  std::unique_ptr<Globals> globals;
  std::string error;

  // A global's value as a debug string.
  std::string Get(const std::string& name) const {
    const Value* v = globals->scope().Lookup(name);
    return v == nullptr ? "<unset>" : ValueDebugString(*v);
  }
  // Evaluates `text` in the globals' scope.
  std::string Eval(const std::string& text) const {
    Result<ExprPtr> e = ParseExpression(text, "expr");
    if (!e.ok()) {
      return "parse error";
    }
    Result<Value> v = globals->evaluator().Evaluate(**e, globals->scope());
    return v.ok() ? ValueDebugString(*v) : "error: " + v.error().message();
  }
};

Loaded Load(const std::vector<std::string>& texts, std::map<std::string, std::string> env = {},
            GlobalsOptions options = {}) {
  Loaded out;
  int i = 0;
  for (const std::string& text : texts) {
    Result<File> f = Parse(text, i == 0 ? "docker-bake.hcl" : "override.hcl");
    if (!f.ok()) {
      out.error = f.error().message();
      return out;
    }
    out.files.push_back(std::move(f).value());
    ++i;
  }
  std::vector<const File*> ptrs;
  for (const File& f : out.files) {
    ptrs.push_back(&f);
  }
  options.lookup_env = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) {
      return std::nullopt;
    }
    return it->second;
  };
  Result<std::unique_ptr<Globals>> g = Globals::Load(ptrs, std::move(options));
  if (!g.ok()) {
    out.error = g.error().message();
  } else {
    out.globals = std::move(g).value();
  }
  return out;
}

TEST(Globals, VariablesInAnyOrder) {
  Loaded l = Load({R"(
variable "TAG" { default = "${REPO}:${VERSION}" }
variable "REPO" { default = "org/app" }
variable "VERSION" { default = "1.${MINOR}" }
variable "MINOR" { default = 2 }
target "app" { tags = [TAG] }
)"});
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("TAG"), "\"org/app:1.2\"");
  EXPECT_EQ(l.Get("MINOR"), "2");
}

TEST(Globals, CycleIsAnErrorWithLocation) {
  Loaded l = Load({"variable \"A\" { default = B }\nvariable \"B\" { default = \"x${A}\" }\n"});
  ASSERT_FALSE(l.globals);
  EXPECT_NE(l.error.find("variable cycle not allowed for A"), std::string::npos) << l.error;
  EXPECT_TRUE(l.error.starts_with("docker-bake.hcl:2:")) << l.error;
  Loaded self = Load({"variable \"A\" { default = A }\n"});
  EXPECT_NE(
      self.error.find("docker-bake.hcl:1:26: Invalid expression; variable cycle not allowed for A"),
      std::string::npos)
      << self.error;
}

// Found by the fuzzer: a variable (or function) named "" was accepted, though nothing could
// ever refer to it.
TEST(Globals, EmptyNamesAreErrors) {
  Loaded v = Load({"variable \"\" { default = \"x\" }\n"});
  ASSERT_FALSE(v.globals);
  EXPECT_EQ(v.error,
            "docker-bake.hcl:1:1: Invalid block; A variable block needs a name that is not empty.");
  Loaded f = Load({"function \"\" {\n  params = []\n  result = 1\n}\n"});
  ASSERT_FALSE(f.globals);
  EXPECT_NE(f.error.find("A function block needs a name"), std::string::npos) << f.error;
}

TEST(Globals, UnknownVariableInDefault) {
  Loaded l = Load({"variable \"A\" {\n  default = \"${NOPE}\"\n}\n"});
  EXPECT_EQ(l.error,
            "docker-bake.hcl:2:16: Unknown variable; There is no variable named \"NOPE\".");
}

TEST(Globals, UntypedOverridesFollowTheDefault) {
  const std::string file = R"(
variable "S" { default = "x" }
variable "B" { default = false }
variable "N" { default = 1 }
variable "NODEFAULT" {}
variable "NULLDEFAULT" { default = null }
variable "UNSET" {}
)";
  Loaded l = Load(
      {file}, {{"S", "y"}, {"B", "true"}, {"N", "2.5"}, {"NODEFAULT", "v"}, {"NULLDEFAULT", "w"}});
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("S"), "\"y\"");
  EXPECT_EQ(l.Get("B"), "true");
  EXPECT_EQ(l.Get("N"), "2.5");
  EXPECT_EQ(l.Get("NODEFAULT"), "\"v\"");
  EXPECT_EQ(l.Get("NULLDEFAULT"), "\"w\"");
  EXPECT_EQ(l.Get("UNSET"), "\"\"");
  EXPECT_EQ(
      Load({file}, {{"B", "yes"}}).error.find("failed to parse B as bool") != std::string::npos,
      true);
  EXPECT_NE(Load({file}, {{"N", "x"}}).error.find("failed to parse N as number"),
            std::string::npos);
  EXPECT_NE(Load({"variable \"L\" { default = [1] }\n"}, {{"L", "x"}})
                .error.find("unsupported type tuple for variable L"),
            std::string::npos);
}

TEST(Globals, TypedVariables) {
  Loaded l = Load({R"(
variable "LIST" {
  type = list(string)
  default = [1, "a"]
}
variable "SET" {
  type = set(number)
  default = [3, 1, 3]
}
variable "OBJ" {
  type = object({name = string, port = number})
  default = { name = "web", port = "80", extra = true }
}
variable "TYPED_NULL" { type = string }
)"});
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("LIST"), "[\"1\", \"a\"]");
  EXPECT_EQ(l.Get("SET"), "[1, 3]");
  EXPECT_EQ(l.Get("OBJ"), "{name = \"web\", port = 80}");
  EXPECT_EQ(l.Get("TYPED_NULL"), "null");
  Loaded bad = Load({"variable \"N\" {\n  type = number\n  default = \"abc\"\n}\n"});
  EXPECT_NE(bad.error.find("docker-bake.hcl:3:13: Invalid value; invalid type number for variable "
                           "N default value: a number is required"),
            std::string::npos)
      << bad.error;
  EXPECT_NE(Load({"variable \"N\" { type = nosuch }\n"}).error.find("Invalid type specification"),
            std::string::npos);
}

TEST(Globals, JsonVariableNameTakesPrecedenceRules) {
  // FOO_JSON is itself a variable: it is not read as FOO's JSON form.
  const std::string file = R"(
variable "FOO" {
  type = string
  default = "foo"
}
variable "FOO_JSON" {
  type = string
  default = "json"
}
)";
  Loaded a = Load({file}, {{"FOO_JSON", "bar"}});
  ASSERT_TRUE(a.globals) << a.error;
  EXPECT_EQ(a.Get("FOO"), "\"foo\"");
  EXPECT_EQ(a.Get("FOO_JSON"), "\"bar\"");
  Loaded b = Load({file}, {{"FOO_JSON", "bar"}, {"FOO_JSON_JSON", "\"baz\""}});
  ASSERT_TRUE(b.globals) << b.error;
  EXPECT_EQ(b.Get("FOO_JSON"), "\"baz\"");
  EXPECT_NE(Load({file}, {{"FOO_JSON_JSON", "bar"}}).error.find("from JSON"), std::string::npos);
  // Untyped variables ignore NAME_JSON.
  Loaded c = Load({"variable \"X\" { default = \"a\" }\n"}, {{"X_JSON", "\"b\""}});
  ASSERT_TRUE(c.globals) << c.error;
  EXPECT_EQ(c.Get("X"), "\"a\"");
}

TEST(Globals, VarOverridesWinOverEnvironment) {
  GlobalsOptions options;
  options.overrides = {{"TAG", "cli"}, {"PORTS", "1,2"}};
  Loaded l =
      Load({"variable \"TAG\" { default = \"def\" }\nvariable \"PORTS\" { type = list(number) }\n"},
           {{"TAG", "env"}}, options);
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("TAG"), "\"cli\"");
  EXPECT_EQ(l.Get("PORTS"), "[1, 2]");
  GlobalsOptions unknown;
  unknown.overrides = {{"NOPE", "x"}};
  EXPECT_NE(Load({"variable \"A\" {}\n"}, {}, unknown).error.find("no variable of that name"),
            std::string::npos);
}

TEST(Globals, TopLevelAttributesOverrideDefaults) {
  const std::vector<std::string> files = {
      "variable \"FOO\" { default = \"abc\" }\nvariable \"BAR\" { default = \"x\" }\n",
      "WHOAMI = \"myuser\"\nFOO = \"def-${WHOAMI}\"\n"};
  Loaded l = Load(files);
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("FOO"), "\"def-myuser\"");
  EXPECT_EQ(l.Get("WHOAMI"), "\"myuser\"");
  EXPECT_EQ(l.Get("BAR"), "\"x\"");
  // The environment overrides a declared variable even when an attribute sets it, but not a
  // bare attribute (buildx's TestHCLMultiFileAttrs and TestHCLAttrs).
  Loaded env = Load(files, {{"FOO", "ghi"}, {"WHOAMI", "ignored"}});
  ASSERT_TRUE(env.globals) << env.error;
  EXPECT_EQ(env.Get("FOO"), "\"ghi\"");
  EXPECT_EQ(env.Get("WHOAMI"), "\"myuser\"");
}

TEST(Globals, FallbackResolverForTargets) {
  // buildx's TestHCLTargetGlobal: a global may read a target's attribute.
  Result<File> f = Parse(
      "target \"foo\" {\n  dockerfile = \"x\"\n}\nx = target.foo.dockerfile\ny = x\n"
      "target \"bar\" {\n  dockerfile = y\n}\n",
      "docker-bake.hcl");
  ASSERT_TRUE(f.ok()) << f.error().message();
  Result<std::unique_ptr<Globals>> g = Globals::Prepare({&*f}, {});
  ASSERT_TRUE(g.ok()) << g.error().message();
  Globals* globals = g->get();
  const File* file = &*f;
  globals->SetFallbackResolver([globals, file](Evaluator& ev, const std::string& root,
                                               const std::vector<TraversalStep>& steps,
                                               const Range&) -> Result<std::optional<Resolution>> {
    if (root != "target" || steps.size() < 2) {
      return std::optional<Resolution>();
    }
    for (const Block& b : file->body.blocks) {
      if (b.type == "target" && b.labels[0] == steps[0].name) {
        const Attribute* a = b.body.FindAttribute(steps[1].name);
        Value v = a == nullptr ? Value() : BERTH_TRY(ev.Evaluate(*a->expr, globals->scope()));
        return std::optional<Resolution>(Resolution{v, 2});
      }
    }
    return std::optional<Resolution>();
  });
  Result<> resolved = globals->ResolveAll();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message();
  EXPECT_EQ(ValueDebugString(*globals->scope().Lookup("y")), "\"x\"");
  Result<Value> bar = globals->evaluator().Evaluate(
      *f->body.blocks[1].body.FindAttribute("dockerfile")->expr, globals->scope());
  ASSERT_TRUE(bar.ok()) << bar.error().message();
  EXPECT_EQ(bar->AsString(), "x");
  // Without a fallback, `target` is an unknown variable.
  Loaded plain = Load({"x = target.foo.dockerfile\n"});
  EXPECT_EQ(plain.error,
            "docker-bake.hcl:1:5: Unknown variable; There is no variable named \"target\".");
}

TEST(Globals, LaterFilesWin) {
  Loaded l = Load({"variable \"A\" { default = 1 }\n", "variable \"A\" { default = 2 }\n"});
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("A"), "2");
}

TEST(Globals, Builtins) {
  GlobalsOptions options;
  options.builtins = {{"BAKE_LOCAL_PLATFORM", "linux/amd64"}, {"BAKE_CMD_CONTEXT", "cwd://"}};
  Loaded l = Load({"variable \"P\" { default = \"${BAKE_LOCAL_PLATFORM}-x\" }\n"
                   "variable \"BAKE_LOCAL_PLATFORM\" { default = \"ignored\" }\n"},
                  {}, options);
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("P"), "\"linux/amd64-x\"");
  EXPECT_EQ(l.Get("BAKE_CMD_CONTEXT"), "\"cwd://\"");
}

TEST(Globals, Validation) {
  const std::string file = R"(
variable "PORT" {
  type = number
  default = 80
  validation {
    condition = PORT > 0 && PORT < 65536
    error_message = "PORT must be a valid port, not ${PORT}."
  }
}
)";
  Loaded ok = Load({file});
  ASSERT_TRUE(ok.globals) << ok.error;
  Loaded bad = Load({file}, {{"PORT", "70000"}});
  EXPECT_EQ(bad.error,
            "docker-bake.hcl:6:17: Validation failed; PORT must be a valid port, not 70000.");
  EXPECT_NE(
      Load({"variable \"A\" {\n  validation {}\n}\n"}).error.find("\"condition\" is required"),
      std::string::npos);
}

TEST(Globals, UnsupportedArgumentsInVariable) {
  EXPECT_EQ(Load({"variable \"A\" {\n  defualt = 1\n}\n"}).error,
            "docker-bake.hcl:2:3: Unsupported argument; An argument named \"defualt\" is not "
            "expected here.");
  EXPECT_NE(Load({"variable {}\n"}).error.find("exactly one label"), std::string::npos);
}

TEST(Globals, UserFunctions) {
  Loaded l = Load({R"(
function "increment" {
  params = [number]
  result = number + 1
}
function "tag" {
  params = [name]
  variadic_params = parts
  result = "${REPO}/${name}:${join("-", parts)}"
}
function "twice" {
  params = [x]
  result = increment(increment(x))
}
variable "REPO" { default = "org" }
variable "N" { default = twice(40) }
)"});
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("N"), "42");
  EXPECT_EQ(l.Eval("tag(\"app\", \"1\", \"2\")"), "\"org/app:1-2\"");
  EXPECT_EQ(l.Eval("tag(\"app\")"), "\"org/app:\"");
  EXPECT_NE(l.Eval("increment()").find("Not enough function arguments"), std::string::npos);
  EXPECT_NE(l.Eval("increment(1, 2)").find("Too many function arguments"), std::string::npos);
  EXPECT_NE(l.Eval("increment(\"x\")").find("Call to function \"increment\" failed"),
            std::string::npos);
}

TEST(Globals, FunctionCyclesAreRejected) {
  Loaded l = Load({R"(
function "a" {
  params = [x]
  result = b(x)
}
function "b" {
  params = [x]
  result = a(x)
}
)"});
  EXPECT_NE(l.error.find("function cycle not allowed for a"), std::string::npos) << l.error;
  EXPECT_NE(Load({"function \"f\" {\n  params = [x]\n  result = f(x)\n}\n"})
                .error.find("function cycle not allowed for f"),
            std::string::npos);
  EXPECT_NE(Load({"function \"f\" {\n  params = [\"x\"]\n  result = 1\n}\n"})
                .error.find("Invalid param element"),
            std::string::npos);
  EXPECT_NE(Load({"function \"f\" {\n  params = []\n}\n"}).error.find("\"params\" and \"result\""),
            std::string::npos);
}

TEST(Globals, UserFunctionCallDepthIsLimited) {
  // Functions cannot recurse (cycles are rejected), but a long chain is limited too.
  std::string text = "function \"f0\" {\n  params = [x]\n  result = x\n}\n";
  for (int i = 1; i < 40; ++i) {
    text += "function \"f" + std::to_string(i) + "\" {\n  params = [x]\n  result = f" +
            std::to_string(i - 1) + "(x) + 1\n}\n";
  }
  Loaded l = Load({text + "variable \"A\" { default = f20(0) }\n"});
  ASSERT_TRUE(l.globals) << l.error;
  EXPECT_EQ(l.Get("A"), "20");
  EXPECT_NE(Load({text + "variable \"B\" { default = f39(0) }\n"})
                .error.find("Function calls nested too deeply"),
            std::string::npos);
}

TEST(Globals, Variables) {
  Loaded l = Load({R"(
variable "B" {
  type = list(string)
  description = "the B list"
  default = ["x"]
}
variable "A" { default = "a" }
X = 1
)"});
  ASSERT_TRUE(l.globals) << l.error;
  std::vector<VariableInfo> vars = l.globals->Variables();
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_EQ(vars[0].name, "A");
  EXPECT_EQ(vars[0].type, "");
  EXPECT_EQ(ValueDebugString(vars[0].value), "\"a\"");
  EXPECT_EQ(vars[1].name, "B");
  EXPECT_EQ(vars[1].type, "list of string");
  EXPECT_EQ(vars[1].description, "the B list");
}

TEST(Globals, ReservedBlocksAreSkipped) {
  Loaded l =
      Load({"target \"app\" { tags = [NOPE] }\ngroup \"default\" { targets = [\"app\"] }\n"});
  ASSERT_TRUE(l.globals) << l.error;
  // Target attributes are evaluated by the caller later, with their own errors.
  const Block& target = l.files[0].body.blocks[0];
  Result<Value> tags =
      l.globals->evaluator().Evaluate(*target.body.FindAttribute("tags")->expr, l.globals->scope());
  ASSERT_FALSE(tags.ok());
  EXPECT_EQ(tags.error().message(),
            "docker-bake.hcl:1:24: Unknown variable; There is no variable named \"NOPE\".");
}

}  // namespace
}  // namespace berth::frontend::bake::hcl
