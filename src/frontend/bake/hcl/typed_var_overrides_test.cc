// buildx's typed variable override cases (tests/testdata/bake/typed_var_overrides.json), one
// gtest case per data case: render the bake file, set FOO (CSV mode) or FOO_JSON (JSON mode),
// resolve the globals and read target "default"'s args.foo as buildx decodes it (map of
// string).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/bake/hcl/hcl.h"

namespace berth::frontend::bake::hcl {
namespace {

struct Case {
  std::string mode;
  std::string name;
  std::string var_type;
  std::string override_value;
  std::string arg_value;
  std::string want_value;
  std::string want_error;
};

const nlohmann::json& Data() {
  static const nlohmann::json data = [] {
    std::ifstream in(std::filesystem::path(BERTH_TESTDATA) / "bake" / "typed_var_overrides.json");
    std::ostringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
  }();
  return data;
}

std::vector<Case> Cases() {
  std::vector<Case> out;
  for (const auto& c : Data()["cases"]) {
    Case k;
    k.mode = c["mode"];
    k.name = c["name"];
    k.var_type = c["varType"];
    k.override_value = c["override"];
    k.arg_value = c.value("argValue", "FOO");
    k.want_value = c.value("wantValue", "");
    k.want_error = c.value("wantErrorMsg", "");
    out.push_back(std::move(k));
  }
  return out;
}

// The template has two %s: the type and the args value.
std::string Render(const std::string& tmpl, const std::string& type, const std::string& arg) {
  std::string out = tmpl;
  out.replace(out.find("%s"), 2, type);
  out.replace(out.find("%s"), 2, arg);
  return out;
}

// Resolves the file and returns args.foo, or the first error.
Result<std::string> RunCase(const Case& c) {
  const std::string text = Render(Data()["hcl_template"], c.var_type, c.arg_value);
  File file = BERTH_TRY(Parse(text, "docker-bake.hcl"));
  GlobalsOptions options;
  const std::string env_name = c.mode == "json" ? "FOO_JSON" : "FOO";
  const std::string env_value = c.override_value;
  options.lookup_env = [env_name,
                        env_value](const std::string& name) -> std::optional<std::string> {
    if (name == env_name) {
      return env_value;
    }
    return std::nullopt;
  };
  std::unique_ptr<Globals> globals = BERTH_TRY(Globals::Load({&file}, options));
  for (const Block& block : file.body.blocks) {
    if (block.type == "target" && block.labels == std::vector<std::string>{"default"}) {
      const Attribute* args = block.body.FindAttribute("args");
      Value v = BERTH_TRY(globals->evaluator().EvaluateAs(*args->expr, globals->scope(),
                                                          Type::Map(Type::String())));
      const Value* foo = v.Find("foo");
      if (foo == nullptr || foo->is_null()) {
        return Error::NotFound("args.foo is not set");
      }
      return foo->AsString();
    }
  }
  return Error::NotFound("no target \"default\"");
}

class TypedVarOverrides : public testing::TestWithParam<Case> {};

TEST_P(TypedVarOverrides, Case) {
  const Case& c = GetParam();
  Result<std::string> got = RunCase(c);
  if (!c.want_error.empty()) {
    ASSERT_FALSE(got.ok()) << "want an error containing \"" << c.want_error << "\", got "
                           << got.value();
    EXPECT_NE(got.error().message().find(c.want_error), std::string::npos) << got.error().message();
    EXPECT_TRUE(got.error().message().starts_with("docker-bake.hcl:")) << got.error().message();
  } else {
    ASSERT_TRUE(got.ok()) << got.error().message();
    EXPECT_EQ(*got, c.want_value);
  }
}

std::string CaseName(const testing::TestParamInfo<Case>& info) {
  std::string name = info.param.mode + "_";
  for (char ch : info.param.name) {
    name.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Buildx, TypedVarOverrides, testing::ValuesIn(Cases()), CaseName);

TEST(TypedVarOverridesData, HasAllCases) {
  EXPECT_EQ(Cases().size(), 35u);
  EXPECT_EQ(Data()["count"], 35);
}

}  // namespace
}  // namespace berth::frontend::bake::hcl
