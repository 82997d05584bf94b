// Merging, inherits, groups, --set overrides and selection, after buildx's documented behaviour
// (docs.docker.com/build/bake/reference, /inheritance, /overrides; buildx bake/bake.go).
#include "frontend/bake/model.h"

#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "frontend/bake/loader.h"
#include "frontend/bake/testing.h"
#include "os/file.h"

namespace berth::frontend::bake {
namespace {

using testing::ErrorOf;
using testing::PrintOf;
using Json = nlohmann::json;

TEST(MergeTest, ReplacedAndMergedAttributes) {
  Target a;
  a.tags = std::vector<std::string>{"a:1"};
  a.args = {{"X", "1"}, {"Y", "1"}};
  a.cache_from = std::vector<std::string>{"type=registry,ref=a"};
  a.cache_to = std::vector<std::string>{"type=inline"};
  a.platforms = std::vector<std::string>{"linux/amd64"};
  a.annotations = std::vector<std::string>{"index:a=1"};
  a.secret = std::vector<std::string>{"id=s,src=a"};
  a.attest = std::vector<std::string>{"type=sbom"};
  Target b;
  b.tags = std::vector<std::string>{"b:1"};
  b.args = {{"Y", "2"}, {"Z", std::nullopt}};
  b.cache_from = std::vector<std::string>{"type=registry,ref=b"};
  b.cache_to = std::vector<std::string>{"type=registry,ref=b"};
  b.annotations = std::vector<std::string>{"index:b=2"};
  b.secret = std::vector<std::string>{"id=s,src=b"};
  b.attest = std::vector<std::string>{"type=sbom,disabled=true", "type=provenance,mode=max"};
  a.Merge(b);
  EXPECT_EQ(*a.tags, std::vector<std::string>{"b:1"});  // replaced
  EXPECT_EQ(a.args.at("X"), "1");
  EXPECT_EQ(a.args.at("Y"), "2");
  EXPECT_FALSE(a.args.contains("Z"));  // null values do not merge
  EXPECT_EQ(*a.cache_from,
            (std::vector<std::string>{"type=registry,ref=a", "type=registry,ref=b"}));
  EXPECT_EQ(*a.cache_to, std::vector<std::string>{"type=registry,ref=b"});
  EXPECT_EQ(*a.platforms, std::vector<std::string>{"linux/amd64"});  // unset in b: kept
  EXPECT_EQ(*a.annotations, (std::vector<std::string>{"index:a=1", "index:b=2"}));
  EXPECT_EQ(*a.secret, std::vector<std::string>{"id=s,src=b"});
  EXPECT_EQ(*a.attest,
            (std::vector<std::string>{"type=sbom,disabled=true", "type=provenance,mode=max"}));
}

TEST(MergeTest, EmptyListReplaces) {
  Target a;
  a.tags = std::vector<std::string>{"x"};
  Target b;
  b.tags = std::vector<std::string>{};
  a.Merge(b);
  ASSERT_TRUE(a.tags.has_value());
  EXPECT_TRUE(a.tags->empty());
}

TEST(MergeTest, NormalizeDedupsAndAddsNetworkHostEntitlement) {
  Target t;
  t.tags = std::vector<std::string>{"a", "", "a", "b"};
  t.network = "host";
  t.contexts = {{"x", ""}, {"y", "docker-image://alpine"}};
  t.Normalize();
  EXPECT_EQ(*t.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*t.entitlements, std::vector<std::string>{"network.host"});
  EXPECT_EQ(t.contexts.size(), 1u);
}

TEST(FilesTest, DefaultLookupOrder) {
  char tmpl[] = "/tmp/bake-files-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  for (const char* name : {"docker-bake.override.hcl", "docker-bake.hcl", "compose.yaml",
                           "docker-bake.json", "other.hcl"}) {
    ASSERT_TRUE(os::WriteFileAtomic(dir + "/" + name, name).ok());
  }
  Result<std::vector<BakeFile>> found = ReadBakeFiles({}, dir);
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  std::vector<std::string> names;
  for (const BakeFile& f : *found) {
    names.push_back(f.name);
    EXPECT_EQ(f.data, f.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"compose.yaml", "docker-bake.json", "docker-bake.hcl",
                                             "docker-bake.override.hcl"}));
  Result<std::vector<BakeFile>> explicit_files = ReadBakeFiles({"other.hcl", "compose.yaml"}, dir);
  ASSERT_TRUE(explicit_files.ok());
  EXPECT_EQ((*explicit_files)[0].name, "other.hcl");
  EXPECT_FALSE(ReadBakeFiles({"missing.hcl"}, dir).ok());
  for (const char* name : {"docker-bake.override.hcl", "docker-bake.hcl", "compose.yaml",
                           "docker-bake.json", "other.hcl"}) {
    unlink((dir + "/" + name).c_str());
  }
  EXPECT_EQ(ReadBakeFiles({}, dir).error().code(), ErrorCode::kNotFound);
  rmdir(dir.c_str());
}

TEST(FilesTest, TwoFilesMergeTargets) {
  // docs: "If merged files contain duplicate attribute definitions, those definitions are either
  // merged or overridden by the last occurrence, depending on the attribute."
  Json j = PrintOf({{"docker-bake.hcl", R"(
target "webapp" {
  dockerfile = "webapp.Dockerfile"
  tags = ["docker.io/username/webapp:latest"]
  args = { A = "1", B = "1" }
  cache-from = ["type=registry,ref=a"]
}
)"},
                    {"docker-bake.override.hcl", R"(
target "webapp" {
  tags = ["docker.io/username/webapp:override"]
  args = { B = "2" }
  cache-from = ["type=registry,ref=b"]
}
)"}},
                   {"webapp"});
  const Json& t = j["target"]["webapp"];
  EXPECT_EQ(t["dockerfile"], "webapp.Dockerfile");
  EXPECT_EQ(t["tags"], Json::array({"docker.io/username/webapp:override"}));
  EXPECT_EQ(t["args"], Json({{"A", "1"}, {"B", "2"}}));
  EXPECT_EQ(t["cache-from"], Json::array({"type=registry,ref=a", "type=registry,ref=b"}));
}

TEST(FilesTest, ComposeThenHcl) {
  // docs: compose.yaml is loaded first, then docker-bake.hcl, whose tags win.
  Json j = PrintOf({{"compose.yaml", R"(
services:
  webapp:
    image: docker.io/username/webapp:latest
    build:
      dockerfile: webapp.Dockerfile
)"},
                    {"docker-bake.hcl", R"(
target "webapp" {
  tags = ["docker.io/username/webapp:hcl"]
}
)"}},
                   {"webapp"});
  const Json& t = j["target"]["webapp"];
  EXPECT_EQ(t["dockerfile"], "webapp.Dockerfile");
  EXPECT_EQ(t["tags"], Json::array({"docker.io/username/webapp:hcl"}));
}

TEST(FilesTest, OverrideFileSetsGlobalAttribute) {
  // docs (configuring-build): an env.hcl of plain attributes overrides variable defaults.
  Json j = PrintOf({{"docker-bake.hcl", R"(
variable "FOO" {
  default = "abc"
}
target "app" {
  args = {
    v1 = "pre-${FOO}"
  }
}
)"},
                    {"env.hcl", "WHOAMI=\"myuser\"\nFOO=\"def-${WHOAMI}\"\n"}},
                   {"app"});
  EXPECT_EQ(j["target"]["app"]["args"]["v1"], "pre-def-myuser");
}

TEST(FilesTest, FileWithoutExtensionIsDetected) {
  Json hcl = PrintOf({{"bakefile", "target \"a\" {\n  tags = [\"x\"]\n}\n"}}, {"a"});
  EXPECT_EQ(hcl["target"]["a"]["tags"], Json::array({"x"}));
  Json json = PrintOf({{"bakefile", R"({"target": {"a": {"tags": ["y"]}}})"}}, {"a"});
  EXPECT_EQ(json["target"]["a"]["tags"], Json::array({"y"}));
  Json compose = PrintOf({{"stack", "services:\n  a:\n    build: ./a\n"}}, {"a"});
  EXPECT_EQ(compose["target"]["a"]["context"], "./a");
}

TEST(InheritsTest, OrderAndRecursion) {
  // docs (inheritance): with several parents, the later one wins; the target's own attributes
  // win over every parent.
  Json j = PrintOf({{"docker-bake.hcl", R"(
target "base" {
  args = { A = "base", B = "base" }
  tags = ["base"]
  platforms = ["linux/amd64"]
}
target "mid" {
  inherits = ["base"]
  args = { B = "mid" }
}
target "other" {
  tags = ["other"]
  labels = { l = "other" }
}
target "app" {
  inherits = ["mid", "other"]
  args = { C = "app" }
}
)"}},
                   {"app"});
  const Json& t = j["target"]["app"];
  EXPECT_EQ(t["args"], Json({{"A", "base"}, {"B", "mid"}, {"C", "app"}}));
  EXPECT_EQ(t["tags"], Json::array({"other"}));
  EXPECT_EQ(t["platforms"], Json::array({"linux/amd64"}));
  EXPECT_EQ(t["labels"]["l"], "other");
  EXPECT_FALSE(t.contains("inherits"));
}

TEST(InheritsTest, NullArgInChildKeepsParentValue) {
  Json j = PrintOf({{"docker-bake.hcl", R"(
target "base" {
  args = { A = "x" }
}
target "app" {
  inherits = ["base"]
  args = { A = null }
}
)"}},
                   {"app"});
  EXPECT_EQ(j["target"]["app"]["args"]["A"], "x");
}

TEST(InheritsTest, CycleIsAnErrorWithLocation) {
  std::string e = ErrorOf({{"docker-bake.hcl", R"(target "a" {
  inherits = ["b"]
}
target "b" {
  inherits = ["a"]
}
)"}},
                          {"a"});
  EXPECT_NE(e.find("inherits cycle: a -> b -> a"), std::string::npos) << e;
  EXPECT_NE(e.find("docker-bake.hcl:5:14"), std::string::npos) << e;
}

TEST(InheritsTest, UnknownParentIsAnErrorWithLocation) {
  std::string e =
      ErrorOf({{"docker-bake.hcl", "target \"a\" {\n  inherits = [\"nope\"]\n}\n"}}, {"a"});
  EXPECT_NE(e.find("docker-bake.hcl:2:14: failed to find target nope"), std::string::npos) << e;
}

TEST(GroupTest, DefaultGroupAndNesting) {
  const std::vector<BakeFile> files = {{"docker-bake.hcl", R"(
group "default" {
  targets = ["db", "webapp-dev"]
}
group "all" {
  targets = ["default", "release"]
}
target "db" {
  context = "./db"
}
target "webapp-dev" {
  dockerfile = "Dockerfile.webapp"
}
target "release" {
  inherits = ["webapp-dev"]
  platforms = ["linux/amd64", "linux/arm64"]
}
)"}};
  Json def = PrintOf(files);
  EXPECT_EQ(def["group"]["default"]["targets"], Json::array({"db", "webapp-dev"}));
  EXPECT_EQ(def["target"].size(), 2u);
  Json all = PrintOf(files, {"all"});
  EXPECT_EQ(all["target"].size(), 3u);
  EXPECT_EQ(all["group"]["all"]["targets"], Json::array({"default", "release"}));
  // As in buildx, the default group reached through "all" also lists what was asked for.
  EXPECT_EQ(all["group"]["default"]["targets"], Json::array({"all", "db", "webapp-dev"}));
  EXPECT_EQ(all["target"]["release"]["dockerfile"], "Dockerfile.webapp");
}

TEST(GroupTest, CycleIsAnError) {
  std::string e = ErrorOf({{"docker-bake.hcl", R"(group "a" {
  targets = ["b"]
}
group "b" {
  targets = ["a"]
}
)"}},
                          {"a"});
  EXPECT_NE(e.find("group cycle: a -> b -> a"), std::string::npos) << e;
  EXPECT_NE(e.find("docker-bake.hcl:1:1"), std::string::npos) << e;
}

TEST(GroupTest, NoDefaultListsTargets) {
  std::string e = ErrorOf({{"docker-bake.hcl", "target \"b\" {}\ntarget \"a\" {}\n"}});
  EXPECT_NE(e.find("no target or group named \"default\" (available targets and groups: a, b)"),
            std::string::npos)
      << e;
  std::string e2 = ErrorOf({{"docker-bake.hcl", "target \"a\" {}\n"}}, {"zzz"});
  EXPECT_NE(e2.find("\"zzz\""), std::string::npos) << e2;
}

TEST(GroupTest, PatternsSelectTargets) {
  Json j =
      PrintOf({{"docker-bake.hcl", "target \"app-a\" {}\ntarget \"app-b\" {}\ntarget \"c\" {}\n"}},
              {"app-*"});
  EXPECT_EQ(j["target"].size(), 2u);
  EXPECT_EQ(j["group"]["default"]["targets"], Json::array({"app-a", "app-b"}));
}

TEST(GroupTest, DefaultsFilledIn) {
  Json j = PrintOf({{"docker-bake.hcl", "target \"a\" {\n  dockerfile = \"\"\n}\n"}}, {"a"});
  EXPECT_EQ(j["target"]["a"]["context"], ".");
  EXPECT_EQ(j["target"]["a"]["dockerfile"], "Dockerfile");
}

const std::vector<BakeFile> kOverrideFiles = {{"docker-bake.hcl", R"(
target "foo" {
  tags = ["foo:1"]
  args = { A = "1" }
  platforms = ["linux/amd64"]
  output = ["type=docker"]
}
target "foobar" {
  tags = ["foobar:1"]
}
target "bar" {
  tags = ["bar:1"]
}
)"}};

TEST(OverrideTest, PatternsAndKeys) {
  // docs (overrides): --set targetpattern.key[.subkey]=value, `*` matches any target.
  LoadOptions o;
  o.overrides = {"foo*.args.mybuildarg=mybuildargvalue", "*.platform=linux/arm64", "foo.no-cache",
                 "bar.labels.x=y"};
  o.overrides[2] = "foo.no-cache=true";
  Json j = PrintOf(kOverrideFiles, {"foo", "foobar", "bar"}, o);
  EXPECT_EQ(j["target"]["foo"]["args"], Json({{"A", "1"}, {"mybuildarg", "mybuildargvalue"}}));
  EXPECT_EQ(j["target"]["foobar"]["args"]["mybuildarg"], "mybuildargvalue");
  EXPECT_FALSE(j["target"]["bar"].contains("args"));
  EXPECT_EQ(j["target"]["bar"]["platforms"], Json::array({"linux/arm64"}));
  EXPECT_EQ(j["target"]["foo"]["platforms"], Json::array({"linux/arm64"}));
  EXPECT_EQ(j["target"]["foo"]["no-cache"], true);
  EXPECT_EQ(j["target"]["bar"]["labels"]["x"], "y");
}

TEST(OverrideTest, AppendWithPlusEquals) {
  LoadOptions o;
  o.overrides = {"foo.tags+=foo:2", "bar.tags=bar:2", "bar.tags=bar:3",
                 "foo.platform+=linux/arm64"};
  Json j = PrintOf(kOverrideFiles, {"foo", "bar"}, o);
  EXPECT_EQ(j["target"]["foo"]["tags"], Json::array({"foo:1", "foo:2"}));
  EXPECT_EQ(j["target"]["bar"]["tags"], Json::array({"bar:2", "bar:3"}));
  EXPECT_EQ(j["target"]["foo"]["platforms"], Json::array({"linux/amd64", "linux/arm64"}));
}

TEST(OverrideTest, ArgsFromEnvironment) {
  LoadOptions o;
  o.overrides = {"foo.args.FROM_ENV", "foo.args.MISSING"};
  o.env = {{"FROM_ENV", "v"}};
  Json j = PrintOf(kOverrideFiles, {"foo"}, o);
  EXPECT_EQ(j["target"]["foo"]["args"], Json({{"A", "1"}, {"FROM_ENV", "v"}}));
}

TEST(OverrideTest, PushAndLoad) {
  LoadOptions o;
  o.overrides = {"foo.push=true", "bar.load=true"};
  Json j = PrintOf(kOverrideFiles, {"foo", "bar"}, o);
  EXPECT_EQ(j["target"]["foo"]["output"], Json::array({"type=docker", "type=image,push=true"}));
  EXPECT_EQ(j["target"]["bar"]["output"], Json::array({"type=docker"}));
}

TEST(OverrideTest, AppliesToInheritedParents) {
  LoadOptions o;
  o.overrides = {"base.args.X=from-set"};
  Json j = PrintOf({{"docker-bake.hcl", R"(
target "base" {
  args = { X = "base" }
}
target "app" {
  inherits = ["base"]
}
)"}},
                   {"app"}, o);
  EXPECT_EQ(j["target"]["app"]["args"]["X"], "from-set");
}

TEST(OverrideTest, Errors) {
  auto err = [](std::vector<std::string> sets, std::vector<std::string> names = {"foo"}) {
    LoadOptions o;
    o.overrides = std::move(sets);
    return ErrorOf(kOverrideFiles, names, o);
  };
  EXPECT_NE(err({"foo=bar"}).find("invalid override key foo, expected target.name"),
            std::string::npos);
  EXPECT_NE(err({"foo.tags"}).find("expected target.name=value"), std::string::npos);
  EXPECT_NE(err({"nope.tags=x"}).find("could not find any target matching 'nope'"),
            std::string::npos);
  EXPECT_NE(err({"foo.args=x"}).find("args requires name"), std::string::npos);
  EXPECT_NE(err({"foo.no-cache=maybe"}).find("invalid value maybe for boolean key no-cache"),
            std::string::npos);
  EXPECT_NE(err({"foo.colour=red"}).find("unknown key: colour"), std::string::npos);
}

TEST(LinkTest, TargetContextsJoinAsCacheOnly) {
  Json j = PrintOf({{"docker-bake.hcl", R"(
target "base" {
  dockerfile = "baseapp.Dockerfile"
  entitlements = ["network.host"]
}
target "app" {
  contexts = {
    baseapp = "target:base"
  }
}
)"}},
                   {"app"});
  EXPECT_EQ(j["target"]["base"]["output"], Json::array({"type=cacheonly"}));
  EXPECT_EQ(j["target"]["app"]["contexts"]["baseapp"], "target:base");
  EXPECT_EQ(j["target"]["app"]["entitlements"], Json::array({"network.host"}));
  EXPECT_EQ(j["group"]["default"]["targets"], Json::array({"app"}));
}

TEST(LinkTest, Loops) {
  std::string self = ErrorOf(
      {{"docker-bake.hcl", "target \"a\" {\n  contexts = { x = \"target:a\" }\n}\n"}}, {"a"});
  EXPECT_NE(self.find("target a cannot link to itself"), std::string::npos) << self;
  std::string loop = ErrorOf({{"docker-bake.hcl", R"(
target "a" {
  contexts = { x = "target:b" }
}
target "b" {
  contexts = { x = "target:a" }
}
)"}},
                             {"a"});
  EXPECT_NE(loop.find("infinite loop from b to a"), std::string::npos) << loop;
}

TEST(PathMatchTest, GoSemantics) {
  using internal::PathMatch;
  EXPECT_TRUE(PathMatch("*", "abc"));
  EXPECT_TRUE(PathMatch("a*c", "abbbc"));
  EXPECT_TRUE(PathMatch("a?c", "abc"));
  EXPECT_FALSE(PathMatch("a?c", "ac"));
  EXPECT_TRUE(PathMatch("[a-c]x", "bx"));
  EXPECT_FALSE(PathMatch("[^a-c]x", "bx"));
  EXPECT_FALSE(PathMatch("*", "a/b"));
  EXPECT_FALSE(PathMatch("[a", "a"));
  EXPECT_TRUE(PathMatch("foo*", "foo"));
  EXPECT_FALSE(PathMatch("foo", "foobar"));
}

}  // namespace
}  // namespace berth::frontend::bake
