// HCL and JSON bake files: attributes and their types, variables, matrices, references between
// targets and located errors (docs.docker.com/build/bake/reference, /matrices, /variables).
#include <gtest/gtest.h>

#include "frontend/bake/model.h"
#include "frontend/bake/testing.h"

namespace berth::frontend::bake {
namespace {

using testing::ErrorOf;
using testing::PrintOf;
using Json = nlohmann::json;

std::vector<BakeFile> Hcl(std::string text) {
  return {{"docker-bake.hcl", std::move(text)}};
}

TEST(HclTest, EveryAttribute) {
  Json j = PrintOf(Hcl(R"(
target "all" {
  description = "every attribute"
  annotations = ["index:a=1"]
  attest = ["type=sbom"]
  context = "./ctx"
  contexts = { alpine = "docker-image://alpine:3.19", src = "./src" }
  dockerfile = "app.Dockerfile"
  dockerfile-inline = "FROM alpine\n"
  args = { N = 1, B = true, S = "s", U = null }
  labels = { "org.opencontainers.image.title" = "x" }
  tags = ["a:1", "a:2"]
  cache-from = ["type=registry,ref=a:cache", { type = "local", src = "/tmp/c" }]
  cache-to = ["type=inline"]
  target = "final"
  secret = ["id=tok,env=TOKEN"]
  ssh = ["default"]
  platforms = ["linux/amd64", "linux/arm64"]
  output = ["type=docker"]
  pull = true
  no-cache = false
  network = "none"
  no-cache-filter = ["build"]
  shm-size = "128m"
  ulimits = ["nofile=1024:2048"]
  call = "check"
  entitlements = ["security.insecure"]
  extra-hosts = { "example.com" = "1.2.3.4" }
  project_id = "p1"
}
)"),
                   {"all"});
  const Json& t = j["target"]["all"];
  EXPECT_EQ(t["description"], "every attribute");
  EXPECT_EQ(t["annotations"], Json::array({"index:a=1"}));
  EXPECT_EQ(t["attest"], Json::array({"type=sbom"}));
  EXPECT_EQ(t["context"], "./ctx");
  EXPECT_EQ(t["contexts"]["alpine"], "docker-image://alpine:3.19");
  EXPECT_EQ(t["dockerfile"], "app.Dockerfile");
  EXPECT_EQ(t["dockerfile-inline"], "FROM alpine\n");
  // A null value is dropped when the target is resolved (buildx's Merge skips it).
  EXPECT_EQ(t["args"], Json({{"N", "1"}, {"B", "true"}, {"S", "s"}}));
  EXPECT_EQ(t["labels"]["org.opencontainers.image.title"], "x");
  EXPECT_EQ(t["tags"], Json::array({"a:1", "a:2"}));
  EXPECT_EQ(t["cache-from"], Json::array({"type=registry,ref=a:cache", "type=local,src=/tmp/c"}));
  EXPECT_EQ(t["cache-to"], Json::array({"type=inline"}));
  EXPECT_EQ(t["target"], "final");
  EXPECT_EQ(t["secret"], Json::array({"id=tok,env=TOKEN"}));
  EXPECT_EQ(t["ssh"], Json::array({"default"}));
  EXPECT_EQ(t["platforms"], Json::array({"linux/amd64", "linux/arm64"}));
  EXPECT_EQ(t["output"], Json::array({"type=docker"}));
  EXPECT_EQ(t["pull"], true);
  EXPECT_EQ(t["no-cache"], false);
  EXPECT_EQ(t["network"], "none");
  EXPECT_EQ(t["no-cache-filter"], Json::array({"build"}));
  EXPECT_EQ(t["shm-size"], "128m");
  EXPECT_EQ(t["ulimits"], Json::array({"nofile=1024:2048"}));
  EXPECT_EQ(t["call"], "check");
  EXPECT_EQ(t["entitlements"], Json::array({"security.insecure"}));
  EXPECT_EQ(t["extra-hosts"]["example.com"], "1.2.3.4");
  EXPECT_EQ(t["project_id"], "p1");
}

TEST(HclTest, UnknownAttributeHasLocation) {
  std::string e = ErrorOf(Hcl("target \"a\" {\n  tgas = [\"x\"]\n}\n"), {"a"});
  EXPECT_EQ(e,
            "docker-bake.hcl:2:3: Unsupported argument; An argument named \"tgas\" is not "
            "expected here.");
}

TEST(HclTest, WrongTypeHasLocation) {
  std::string e = ErrorOf(Hcl("target \"a\" {\n  tags = \"x\"\n}\n"), {"a"});
  EXPECT_EQ(e,
            "docker-bake.hcl:2:10: Incorrect attribute value type; Inappropriate value for "
            "attribute \"tags\": list of string required.");
  std::string e2 = ErrorOf(Hcl("target \"a\" {\n  pull = \"maybe\"\n}\n"), {"a"});
  EXPECT_NE(e2.find("docker-bake.hcl:2:10:"), std::string::npos) << e2;
  EXPECT_NE(e2.find("bool required"), std::string::npos) << e2;
  std::string e3 = ErrorOf(Hcl("target \"a\" {\n  args = [\"x\"]\n}\n"), {"a"});
  EXPECT_NE(e3.find("map of string required"), std::string::npos) << e3;
}

TEST(HclTest, UnknownBlockAndBadNames) {
  EXPECT_NE(ErrorOf(Hcl("service \"a\" {}\n")).find("docker-bake.hcl:1:1: Unsupported block type"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Hcl("target \"a.b\" {}\n")).find("docker-bake.hcl:1:8: Invalid name"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Hcl("target \"a\" {\n  name = \"b\"\n}\n")).find("name requires matrix"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Hcl("group \"g\" {\n  targets = [\"a\"]\n  matrix = {}\n}\n"))
                .find("matrix is not supported for groups"),
            std::string::npos);
}

TEST(HclTest, SyntaxErrorHasLocation) {
  std::string e = ErrorOf(Hcl("target \"a\" {\n  tags = [\"x\"\n}\n"));
  EXPECT_EQ(e.rfind("docker-bake.hcl:", 0), 0u) << e;
}

TEST(HclTest, UnknownFunctionAndVariable) {
  std::string e = ErrorOf(Hcl("target \"a\" {\n  tags = [nosuch(1)]\n}\n"), {"a"});
  EXPECT_EQ(e.rfind("docker-bake.hcl:2:11:", 0), 0u) << e;
  std::string e2 = ErrorOf(Hcl("target \"a\" {\n  tags = [NOPE]\n}\n"), {"a"});
  EXPECT_EQ(e2.rfind("docker-bake.hcl:2:11:", 0), 0u) << e2;
}

TEST(VariableTest, DefaultsEnvironmentAndVarOverrides) {
  const auto files = Hcl(R"(
variable "TAG" {
  default = "latest"
}
variable "PLATFORMS" {
  type = list(string)
  default = ["linux/amd64"]
}
target "app" {
  tags = ["app:${TAG}"]
  platforms = PLATFORMS
}
)");
  Json plain = PrintOf(files, {"app"});
  EXPECT_EQ(plain["target"]["app"]["tags"], Json::array({"app:latest"}));
  LoadOptions env;
  env.env = {{"TAG", "1.0"}, {"PLATFORMS", "linux/arm64,linux/riscv64"}};
  Json from_env = PrintOf(files, {"app"}, env);
  EXPECT_EQ(from_env["target"]["app"]["tags"], Json::array({"app:1.0"}));
  EXPECT_EQ(from_env["target"]["app"]["platforms"], Json::array({"linux/arm64", "linux/riscv64"}));
  LoadOptions var = env;
  var.vars = {{"TAG", "2.0"}};
  EXPECT_EQ(PrintOf(files, {"app"}, var)["target"]["app"]["tags"], Json::array({"app:2.0"}));
}

TEST(VariableTest, BuiltinsAndCycle) {
  LoadOptions o;
  o.cmd_context = "cwd://";
  o.local_platform = "linux/arm64";
  Json j = PrintOf(Hcl(R"(
target "app" {
  context = BAKE_CMD_CONTEXT
  platforms = [BAKE_LOCAL_PLATFORM]
}
)"),
                   {"app"}, o);
  EXPECT_EQ(j["target"]["app"]["context"], "cwd://");
  EXPECT_EQ(j["target"]["app"]["platforms"], Json::array({"linux/arm64"}));
  std::string e = ErrorOf(Hcl(R"(variable "A" {
  default = B
}
variable "B" {
  default = A
}
)"));
  EXPECT_NE(e.find("variable cycle not allowed"), std::string::npos) << e;
}

TEST(VariableTest, ListVariables) {
  Result<Resolved> r = Load(Hcl(R"(
variable "TAG" {
  default = "latest"
  description = "image tag"
}
variable "N" {
  type = number
  default = 3
}
variable "NONE" {
  type = string
}
)"),
                            {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ListVariables(r->variables),
            "VARIABLE\tTYPE\tVALUE\tDESCRIPTION\n"
            "N\t\tnumber\t3\t\n"
            "NONE\t\tstring\t<null>\t\n"
            "TAG\t\t\tlatest\timage tag\n");
}

TEST(MatrixTest, NamesAndGroup) {
  // docs (matrices): the original name becomes a group of the generated targets.
  Json j = PrintOf(Hcl(R"(
target "app" {
  name = "app-${tgt}"
  matrix = {
    tgt = ["foo", "bar"]
  }
  target = tgt
}
)"),
                   {"app"});
  EXPECT_EQ(j["group"]["app"]["targets"], Json::array({"app-foo", "app-bar"}));
  EXPECT_EQ(j["target"]["app-foo"]["target"], "foo");
  EXPECT_EQ(j["target"]["app-bar"]["target"], "bar");
  EXPECT_EQ(j["group"]["default"]["targets"], Json::array({"app"}));
}

TEST(MatrixTest, CartesianProductAndObjects) {
  Json j = PrintOf(Hcl(R"(
target "app" {
  name = "app-${item.tgt}-${replace(v, ".", "-")}"
  matrix = {
    item = [
      { tgt = "foo", output = "./foo" },
      { tgt = "bar", output = "./bar" },
    ]
    v = ["1.0", "2.0"]
  }
  output = ["type=local,dest=${item.output}"]
  args = { VERSION = v }
}
)"),
                   {"app"});
  // buildx's order: matrix keys in order, the last varying slowest.
  EXPECT_EQ(j["group"]["app"]["targets"],
            Json::array({"app-foo-1-0", "app-bar-1-0", "app-foo-2-0", "app-bar-2-0"}));
  EXPECT_EQ(j["target"].size(), 4u);
  EXPECT_EQ(j["target"]["app-bar-2-0"]["output"], Json::array({"type=local,dest=./bar"}));
  EXPECT_EQ(j["target"]["app-bar-2-0"]["args"]["VERSION"], "2.0");
}

TEST(MatrixTest, DuplicateNamesAreAnError) {
  std::string e = ErrorOf(Hcl(R"(target "app" {
  name = "same"
  matrix = {
    v = ["1", "2"]
  }
}
)"));
  EXPECT_NE(e.find("docker-bake.hcl:2:10: Duplicate target name"), std::string::npos) << e;
  std::string e2 = ErrorOf(Hcl("target \"app\" {\n  matrix = { v = \"x\" }\n}\n"));
  EXPECT_NE(e2.find("matrix values must be a list"), std::string::npos) << e2;
  std::string e3 = ErrorOf(Hcl("target \"app\" {\n  matrix = [1]\n}\n"));
  EXPECT_NE(e3.find("matrix must be a map"), std::string::npos) << e3;
}

TEST(MatrixTest, WithoutNameKeepsOneTarget) {
  Json j = PrintOf(Hcl(R"(
target "app" {
  matrix = { v = ["1"] }
  args = { V = v }
}
)"),
                   {"app"});
  EXPECT_EQ(j["target"]["app"]["args"]["V"], "1");
  EXPECT_FALSE(j["group"].contains("app"));
}

TEST(ReferenceTest, OtherTargetsAttributes) {
  // docs (reference: "Resource interpolation").
  Json j = PrintOf(Hcl(R"(
target "foo" {
  dockerfile = "${target.foo.name}.Dockerfile"
  tags = ["foo:1"]
  args = { A = "a" }
}
target "bar" {
  dockerfile = "${target.foo.name}.Dockerfile"
  tags = concat(target.foo.tags, ["bar:1"])
  args = { B = target.foo.args.A }
  platforms = target.foo.platforms == null ? ["none"] : ["some"]
}
)"),
                   {"foo", "bar"});
  EXPECT_EQ(j["target"]["foo"]["dockerfile"], "foo.Dockerfile");
  EXPECT_EQ(j["target"]["bar"]["dockerfile"], "foo.Dockerfile");
  EXPECT_EQ(j["target"]["bar"]["tags"], Json::array({"foo:1", "bar:1"}));
  EXPECT_EQ(j["target"]["bar"]["args"]["B"], "a");
  EXPECT_EQ(j["target"]["bar"]["platforms"], Json::array({"none"}));
}

TEST(ReferenceTest, MergedAcrossFiles) {
  Json j = PrintOf({{"docker-bake.hcl",
                     "target \"a\" {\n  args = { X = \"1\" }\n}\n"
                     "target \"b\" {\n  args = target.a.args\n}\n"},
                    {"docker-bake.override.hcl", "target \"a\" {\n  args = { Y = \"2\" }\n}\n"}},
                   {"b"});
  EXPECT_EQ(j["target"]["b"]["args"], Json({{"X", "1"}, {"Y", "2"}}));
}

TEST(ReferenceTest, CyclesAndUnknownTargets) {
  std::string e = ErrorOf(Hcl(R"(target "a" {
  tags = target.b.tags
}
target "b" {
  tags = target.a.tags
}
)"));
  EXPECT_NE(e.find("Reference cycle"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("docker-bake.hcl:", 0), 0u) << e;
  std::string e2 = ErrorOf(Hcl("target \"a\" {\n  tags = target.nope.tags\n}\n"));
  EXPECT_NE(e2.find("docker-bake.hcl:2:10: Unknown target; There is no target named \"nope\"."),
            std::string::npos)
      << e2;
  std::string e3 =
      ErrorOf(Hcl("target \"a\" {\n  tags = []\n}\ntarget \"b\" {\n"
                  "  tags = target.a.colour\n}\n"));
  EXPECT_NE(e3.find("Unsupported attribute"), std::string::npos) << e3;
}

TEST(JsonTest, SameModelAsHcl) {
  Json j = PrintOf({{"docker-bake.json", R"({
  "variable": {
    "TAG": {
      "default": "latest"
    }
  },
  "group": {
    "default": {
      "targets": ["webapp"]
    }
  },
  "target": {
    "webapp": {
      "dockerfile": "Dockerfile",
      "tags": ["docker.io/username/webapp:${TAG}"],
      "args": { "N": 1 },
      "no-cache": true
    }
  }
})"}});
  EXPECT_EQ(j["group"]["default"]["targets"], Json::array({"webapp"}));
  EXPECT_EQ(j["target"]["webapp"]["tags"], Json::array({"docker.io/username/webapp:latest"}));
  EXPECT_EQ(j["target"]["webapp"]["args"]["N"], "1");
  EXPECT_EQ(j["target"]["webapp"]["no-cache"], true);
}

TEST(JsonTest, ErrorsHaveLocations) {
  std::string e = ErrorOf({{"docker-bake.json",
                            "{\n  \"target\": {\n    \"a\": {\n"
                            "      \"tgas\": []\n    }\n  }\n}\n"}});
  EXPECT_NE(e.find("docker-bake.json:4:7: Unsupported argument"), std::string::npos) << e;
  std::string e2 = ErrorOf({{"docker-bake.json", "{\"target\": "}});
  EXPECT_EQ(e2.rfind("docker-bake.json:", 0), 0u) << e2;
}

TEST(JsonTest, JsonOverridesHcl) {
  Json j =
      PrintOf({{"docker-bake.hcl", "target \"a\" {\n  tags = [\"hcl\"]\n  target = \"t\"\n}\n"},
               {"docker-bake.override.json", R"({"target": {"a": {"tags": ["json"]}}})"}},
              {"a"});
  EXPECT_EQ(j["target"]["a"]["tags"], Json::array({"json"}));
  EXPECT_EQ(j["target"]["a"]["target"], "t");
}

}  // namespace
}  // namespace berth::frontend::bake
