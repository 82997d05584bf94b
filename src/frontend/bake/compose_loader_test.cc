// Compose files as bake definitions (docs.docker.com/build/bake/compose-file; buildx
// bake/compose.go's field mapping).
#include <stdlib.h>

#include <gtest/gtest.h>

#include "frontend/bake/loader.h"
#include "frontend/bake/model.h"
#include "frontend/bake/testing.h"
#include "os/file.h"

namespace berth::frontend::bake {
namespace {

using testing::ErrorOf;
using testing::PrintOf;
using Json = nlohmann::json;

std::vector<BakeFile> Compose(std::string text) {
  return {{"compose.yaml", std::move(text)}};
}

TEST(ComposeTest, ServicesWithBuildBecomeTargets) {
  Json j = PrintOf(Compose(R"(
services:
  db:
    build: ./db
    command: ./entrypoint.sh
    image: docker.io/tonistiigi/db
  webapp:
    build:
      context: .
      dockerfile: Dockerfile.webapp
      args:
        buildno: 123
  redis:
    image: redis
)"));
  EXPECT_EQ(j["group"]["default"]["targets"], Json::array({"db", "webapp"}));
  EXPECT_EQ(j["target"].size(), 2u);
  EXPECT_EQ(j["target"]["db"]["context"], "./db");
  EXPECT_EQ(j["target"]["db"]["dockerfile"], "Dockerfile");
  EXPECT_EQ(j["target"]["db"]["tags"], Json::array({"docker.io/tonistiigi/db"}));
  EXPECT_EQ(j["target"]["webapp"]["context"], ".");
  EXPECT_EQ(j["target"]["webapp"]["dockerfile"], "Dockerfile.webapp");
  EXPECT_EQ(j["target"]["webapp"]["args"]["buildno"], "123");
}

TEST(ComposeTest, FieldMapping) {
  Json j = PrintOf(Compose(R"(
services:
  base.svc:
    build: ./base
  app:
    image: ignored/when-tags-are-set
    build:
      context: ./app
      dockerfile_inline: |
        FROM alpine
      additional_contexts:
        base: service:base.svc
        img: docker-image://alpine
      labels:
        - com.example.a=1
      tags:
        - app:1
      cache_from:
        - type=registry,ref=app:cache
      cache_to:
        - type=inline
      network: host
      platforms:
        - linux/amd64
        - linux/arm64
      target: final
      shm_size: 128m
      ulimits:
        nproc: 65535
        nofile:
          soft: 20000
          hard: 40000
      extra_hosts:
        - somehost:162.242.195.82
        - otherhost=50.31.209.229
      ssh:
        - default
        - key=/home/me/.ssh/id
      secrets:
        - token
        - source: aws
      no_cache: true
      pull: true
secrets:
  token:
    environment: ENV_TOKEN
  aws:
    file: /root/.aws/credentials
)"),
                   {"app"});
  const Json& t = j["target"]["app"];
  EXPECT_EQ(t["context"], "./app");
  EXPECT_EQ(t["dockerfile-inline"], "FROM alpine\n");
  EXPECT_EQ(t["contexts"], Json({{"base", "target:base_svc"}, {"img", "docker-image://alpine"}}));
  EXPECT_EQ(t["labels"]["com.example.a"], "1");
  EXPECT_EQ(t["tags"], Json::array({"app:1"}));
  EXPECT_EQ(t["cache-from"], Json::array({"type=registry,ref=app:cache"}));
  EXPECT_EQ(t["cache-to"], Json::array({"type=inline"}));
  EXPECT_EQ(t["network"], "host");
  EXPECT_EQ(t["entitlements"], Json::array({"network.host"}));
  EXPECT_EQ(t["platforms"], Json::array({"linux/amd64", "linux/arm64"}));
  EXPECT_EQ(t["target"], "final");
  EXPECT_EQ(t["shm-size"], "128MiB");
  EXPECT_EQ(t["ulimits"], Json::array({"nofile=20000:40000", "nproc=65535:65535"}));
  EXPECT_EQ(t["extra-hosts"],
            Json({{"somehost", "162.242.195.82"}, {"otherhost", "50.31.209.229"}}));
  EXPECT_EQ(t["ssh"], Json::array({"default", "key=/home/me/.ssh/id"}));
  EXPECT_EQ(t["secret"],
            Json::array({"id=token,env=ENV_TOKEN", "id=aws,src=/root/.aws/credentials"}));
  EXPECT_EQ(t["no-cache"], true);
  EXPECT_EQ(t["pull"], true);
}

TEST(ComposeTest, ArgsResolvedAgainstEnvironment) {
  LoadOptions o;
  o.env = {{"FROM_ENV", "env"}, {"TAG", "v1"}};
  Json j = PrintOf(Compose(R"(
services:
  app:
    image: app:${TAG}
    environment:
      FROM_SERVICE: svc
    build:
      context: .
      args:
        - FROM_ENV
        - FROM_SERVICE
        - MISSING
        - LITERAL=x
        - DEFAULTED=${NOPE:-fallback}
        - DOLLAR=$$HOME
)"),
                   {"app"}, o);
  EXPECT_EQ(j["target"]["app"]["args"], Json({{"FROM_ENV", "env"},
                                              {"FROM_SERVICE", "svc"},
                                              {"LITERAL", "x"},
                                              {"DEFAULTED", "fallback"},
                                              {"DOLLAR", "$HOME"}}));
  EXPECT_EQ(j["target"]["app"]["tags"], Json::array({"app:v1"}));
}

TEST(ComposeTest, DotEnvFromWorkingDirectory) {
  char tmpl[] = "/tmp/bake-dotenv-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/.env",
                                  "# comment\nexport FOO=from-dotenv\nBAR=\"quoted ${FOO}\"\n"
                                  "SHADOWED=dotenv\n")
                  .ok());
  LoadOptions o;
  o.working_dir = dir;
  o.env = {{"SHADOWED", "process"}};
  Json j = PrintOf(Compose(R"(
services:
  app:
    build:
      context: .
      args:
        FOO:
        BAR: ${BAR}
        SHADOWED:
)"),
                   {"app"}, o);
  EXPECT_EQ(j["target"]["app"]["args"],
            Json({{"FOO", "from-dotenv"}, {"BAR", "quoted from-dotenv"}, {"SHADOWED", "process"}}));
  std::remove((dir + "/.env").c_str());
  rmdir(dir.c_str());
}

TEST(ComposeTest, XBakeExtension) {
  Json j = PrintOf(Compose(R"(
services:
  base:
    build: ./base
  addon:
    image: ct-addon:bar
    build:
      context: .
      dockerfile: ./Dockerfile
      cache_from:
        - user/app:cache
      tags:
        - ct-addon:baz
      x-bake:
        tags:
          - ct-addon:foo
          - ct-addon:alp
        platforms:
          - linux/amd64
          - linux/arm64
        cache-from:
          - type=local,src=path/to/cache
        cache-to: type=local,dest=path/to/cache
        output: type=image,push=true
        pull: true
        no-cache-filter: build test
        contexts:
          other: target:base
)"),
                   {"addon"});
  const Json& t = j["target"]["addon"];
  EXPECT_EQ(t["tags"], Json::array({"ct-addon:baz", "ct-addon:foo", "ct-addon:alp"}));
  EXPECT_EQ(t["platforms"], Json::array({"linux/amd64", "linux/arm64"}));
  EXPECT_EQ(t["cache-from"], Json::array({"user/app:cache", "type=local,src=path/to/cache"}));
  EXPECT_EQ(t["cache-to"], Json::array({"type=local,dest=path/to/cache"}));
  EXPECT_EQ(t["output"], Json::array({"type=image,push=true"}));
  EXPECT_EQ(t["pull"], true);
  EXPECT_EQ(t["no-cache-filter"], Json::array({"build", "test"}));
}

TEST(ComposeTest, Errors) {
  EXPECT_NE(
      ErrorOf(Compose("services:\n  app:\n    build:\n      context: [\n")).find("compose.yaml:"),
      std::string::npos);
  EXPECT_NE(ErrorOf(Compose("foo: bar\n")).find("empty compose file"), std::string::npos);
  EXPECT_NE(ErrorOf(Compose("services:\n  app:\n    build:\n      context: ${X:?need X}\n"))
                .find("required variable X is missing a value: need X"),
            std::string::npos);
  std::string e = ErrorOf(Compose("services:\n  app:\n    build:\n      tags: latest\n"));
  EXPECT_NE(e.find("compose.yaml:4:13: build.tags must be a list"), std::string::npos) << e;
  EXPECT_NE(ErrorOf(Compose("services:\n  a:\n    build:\n      secrets: [s]\n"
                            "secrets:\n  s:\n    external: true\n"))
                .find("unsupported external secret s"),
            std::string::npos);
}

TEST(ComposeTest, TwoComposeFilesMerge) {
  Json j = PrintOf({{"compose.yaml",
                     "services:\n  app:\n    build:\n      context: .\n"
                     "      args:\n        A: \"1\"\n"},
                    {"compose.override.yaml",
                     "services:\n  app:\n    build:\n"
                     "      args:\n        B: \"2\"\n"
                     "      target: dev\n"}},
                   {"app"});
  EXPECT_EQ(j["target"]["app"]["args"], Json({{"A", "1"}, {"B", "2"}}));
  EXPECT_EQ(j["target"]["app"]["target"], "dev");
}

TEST(DotEnvTest, Forms) {
  Result<std::map<std::string, std::string>> r = internal::ParseDotEnv(
      "A=1\n  B = two words # comment\nC='single ${A}'\nD=\"double\\n${A}\"\nE=${Z:-zz}\n", {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->at("A"), "1");
  EXPECT_EQ(r->at("B"), "two words");
  EXPECT_EQ(r->at("C"), "single ${A}");
  EXPECT_EQ(r->at("D"), "double\n1");
  EXPECT_EQ(r->at("E"), "zz");
}

}  // namespace
}  // namespace berth::frontend::bake
