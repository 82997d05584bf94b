#include "registry/auth.h"

#include <stdlib.h>

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(WwwAuthenticate, BearerWithAllParams) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/busybox:pull")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c[0].Param("service"), "registry.docker.io");
  EXPECT_EQ(c[0].Param("scope"), "repository:library/busybox:pull");
  EXPECT_EQ(c[0].Param("error"), "");
}

TEST(WwwAuthenticate, BasicAndSpacesAndCase) {
  auto c = ParseWwwAuthenticate(R"(BASIC  Realm = "Registry Realm")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].Param("realm"), "Registry Realm");
}

TEST(WwwAuthenticate, SeveralChallengesAndEscapes) {
  auto c = ParseWwwAuthenticate(
      R"(Basic realm="a \"quoted\" realm", Bearer realm="https://x/token",scope="a b",error=insufficient_scope)");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].Param("realm"), R"(a "quoted" realm)");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].Param("realm"), "https://x/token");
  EXPECT_EQ(c[1].Param("scope"), "a b");
  EXPECT_EQ(c[1].Param("error"), "insufficient_scope");
}

TEST(WwwAuthenticate, SchemeOnlyAndGarbage) {
  auto c = ParseWwwAuthenticate("Negotiate");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "negotiate");
  EXPECT_TRUE(c[0].params.empty());
  EXPECT_TRUE(ParseWwwAuthenticate("").empty());
  EXPECT_TRUE(ParseWwwAuthenticate("   ").empty());
  // Unterminated quote: the challenge is kept with what parsed.
  auto u = ParseWwwAuthenticate(R"(Bearer realm="https://x/token",service="unterminated)");
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].Param("realm"), "https://x/token");
}

TEST(Base64, RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:pa:ss",
                                                       std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("user:password"), "dXNlcjpwYXNzd29yZA==");
  EXPECT_EQ(*Base64Decode("dXNlcjpwYXNzd29yZA"), "user:password");
  EXPECT_FALSE(Base64Decode("a$bc").ok());
  EXPECT_FALSE(Base64Decode("abcde").ok());
}

TEST(DockerConfig, AuthAndUsernamePassword) {
  auto config = DockerConfig::Parse(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
      "localhost:5000": {"username": "alice", "password": "p:w"},
      "https://GHCR.io": {"auth": "Z2g6dG9rZW4="},
      "helper.example.com": {},
      "idtoken.example.com": {"identitytoken": "xyz"}
    },
    "credHelpers": {"gcr.io": "gcloud"}
  })");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  auto hub = config->Lookup("docker.io");
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "secret");
  EXPECT_EQ(config->Lookup("registry-1.docker.io"), hub);
  EXPECT_EQ(config->Lookup("index.docker.io"), hub);
  auto local = config->Lookup("localhost:5000");
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->username, "alice");
  EXPECT_EQ(local->password, "p:w");
  EXPECT_FALSE(config->Lookup("localhost:5001").has_value());
  auto gh = config->Lookup("ghcr.io");
  ASSERT_TRUE(gh.has_value());
  EXPECT_EQ(gh->password, "token");
  EXPECT_FALSE(config->Lookup("helper.example.com").has_value());
  EXPECT_FALSE(config->Lookup("idtoken.example.com").has_value());
}

TEST(DockerConfig, Errors) {
  EXPECT_FALSE(DockerConfig::Parse("{").ok());
  EXPECT_FALSE(DockerConfig::Parse("[]").ok());
  EXPECT_FALSE(DockerConfig::Parse(R"({"auths": []})").ok());
  auto bad = DockerConfig::Parse(R"({"auths": {"x.io": {"auth": "bm9jb2xvbg=="}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("x.io"), std::string::npos);
  auto empty = DockerConfig::Parse("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(DockerConfig, LoadHonoursDockerConfigEnv) {
  std::string dir = ::testing::TempDir() + "berth-dockercfg";
  ::system(("mkdir -p '" + dir + "'").c_str());
  FILE* f = fopen((dir + "/config.json").c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(R"({"auths":{"127.0.0.1:5000":{"auth":"dTpw"}}})", f);
  fclose(f);
  const char* old = getenv("DOCKER_CONFIG");
  std::string saved = old != nullptr ? old : "";
  setenv("DOCKER_CONFIG", dir.c_str(), 1);
  auto config = DockerConfig::Load();
  setenv("DOCKER_CONFIG", (dir + "/missing").c_str(), 1);
  auto missing = DockerConfig::Load();
  if (old != nullptr) {
    setenv("DOCKER_CONFIG", saved.c_str(), 1);
  } else {
    unsetenv("DOCKER_CONFIG");
  }
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  auto creds = config->Lookup("127.0.0.1:5000");
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->username, "u");
  EXPECT_EQ(creds->password, "p");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
}

}  // namespace
}  // namespace berth::registry
