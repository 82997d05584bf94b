#include "registry/auth.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

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

// Lookup that must not fail.
std::optional<Credentials> Get(const DockerConfig& config, std::string_view domain) {
  Result<std::optional<Credentials>> r = config.Lookup(domain);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : std::nullopt;
}

TEST(DockerConfig, AuthAndUsernamePassword) {
  auto config = DockerConfig::Parse(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
      "localhost:5000": {"username": "alice", "password": "p:w"},
      "https://GHCR.io": {"auth": "Z2g6dG9rZW4="},
      "helper.example.com": {},
      "idtoken.example.com": {"identitytoken": "xyz"}
    }
  })");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  auto hub = Get(*config, "docker.io");
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "secret");
  EXPECT_EQ(Get(*config, "registry-1.docker.io"), hub);
  EXPECT_EQ(Get(*config, "index.docker.io"), hub);
  auto local = Get(*config, "localhost:5000");
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->username, "alice");
  EXPECT_EQ(local->password, "p:w");
  EXPECT_FALSE(Get(*config, "localhost:5001").has_value());
  auto gh = Get(*config, "ghcr.io");
  ASSERT_TRUE(gh.has_value());
  EXPECT_EQ(gh->password, "token");
  EXPECT_FALSE(Get(*config, "helper.example.com").has_value());
  auto id = Get(*config, "idtoken.example.com");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->identity_token, "xyz");
  EXPECT_EQ(id->username, "");
}

TEST(DockerConfig, HelpersComeFirstInDockersOrder) {
  auto config = DockerConfig::Parse(R"({
    "auths": {
      "gcr.io": {},
      "fallback.io": {"auth": "Zjpw"},
      "localhost:5000": {"auth": "bDpw"}
    },
    "credHelpers": {"https://GCR.io": "gcloud", "localhost:5000": "local"},
    "credsStore": "desktop"
  })");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  std::vector<std::string> calls;
  config->SetHelperRunner(
      [&](const std::string& helper, const std::string& url) -> Result<std::optional<Credentials>> {
        calls.push_back(helper + " " + url);
        if (helper == "gcloud") {
          return std::optional<Credentials>(Credentials{"oauth2accesstoken", "ya29", ""});
        }
        if (helper == "local") {
          return Error::FailedPrecondition("docker-credential-local get failed (exit status 3)");
        }
        return std::optional<Credentials>();  // desktop has nothing
      });
  std::string source;
  EXPECT_EQ(config->HelperFor("gcr.io", &source), "gcloud");
  EXPECT_EQ(source, "credHelpers[\"gcr.io\"]");
  EXPECT_EQ(config->HelperFor("ghcr.io", &source), "desktop");
  EXPECT_EQ(source, "credsStore");

  auto gcr = Get(*config, "gcr.io");
  ASSERT_TRUE(gcr.has_value());
  EXPECT_EQ(gcr->password, "ya29");
  // credsStore is asked for every other registry; when it has nothing, auths is used.
  auto fallback = Get(*config, "fallback.io");
  ASSERT_TRUE(fallback.has_value());
  EXPECT_EQ(fallback->username, "f");
  EXPECT_FALSE(Get(*config, "registry-1.docker.io").has_value());
  EXPECT_EQ(calls, (std::vector<std::string>{"gcloud gcr.io", "desktop fallback.io",
                                             "desktop https://index.docker.io/v1/"}));
  // A failing helper is an error naming the helper's config key and the registry, not a
  // silent fall back to auths.
  auto failed = config->Lookup("localhost:5000");
  ASSERT_FALSE(failed.ok());
  std::string text = failed.error().ToString();
  EXPECT_NE(text.find("docker-credential-local"), std::string::npos) << text;
  EXPECT_NE(text.find("registry localhost:5000"), std::string::npos) << text;
  EXPECT_NE(text.find("credHelpers"), std::string::npos) << text;
}

// Real helper processes: shell scripts in a temporary directory put first on PATH.
class CredentialHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-credhelper-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const char* path = getenv("PATH");
    saved_path_ = path != nullptr ? path : "";
    setenv("PATH", (dir_ + ":" + saved_path_).c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", saved_path_.c_str(), 1);
    ASSERT_EQ(::system(("rm -rf '" + dir_ + "'").c_str()), 0);
  }
  void Helper(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/docker-credential-" + name;
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(("#!/bin/sh\n" + body).c_str(), f);
    fclose(f);
    ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  }

  std::string dir_;
  std::string saved_path_;
};

TEST_F(CredentialHelperTest, ProtocolAnswers) {
  // The server URL arrives on stdin; the answer is JSON on stdout.
  Helper("ok", R"(read url
[ "$1" = get ] || exit 9
printf '{"ServerURL":"%s","Username":"u-%s","Secret":"s3cret"}\n' "$url" "$url"
)");
  Helper("token",
         R"(cat >/dev/null; echo '{"ServerURL":"x","Username":"<token>","Secret":"refresh"}')");
  Helper("none", "echo 'credentials not found in native keychain'; exit 1\n");
  Helper("broken", "echo 'gpg: decryption failed' >&2; exit 4\n");
  Helper("garbage", "echo 'not json'\n");
  Helper("silent", "exit 0\n");

  auto ok = RunCredentialHelper("ok", "reg.example.com:5000");
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->username, "u-reg.example.com:5000");
  EXPECT_EQ((*ok)->password, "s3cret");

  auto token = RunCredentialHelper("token", "x");
  ASSERT_TRUE(token.ok() && token->has_value());
  EXPECT_EQ((*token)->identity_token, "refresh");
  EXPECT_EQ((*token)->username, "");

  auto none = RunCredentialHelper("none", "x");
  ASSERT_TRUE(none.ok()) << none.error().ToString();
  EXPECT_FALSE(none->has_value());

  auto broken = RunCredentialHelper("broken", "reg.example.com");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(broken.error().message(),
            "docker-credential-broken get for reg.example.com failed (exit status 4): "
            "gpg: decryption failed");

  auto garbage = RunCredentialHelper("garbage", "x");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message().find("JSON"), std::string::npos);

  auto silent = RunCredentialHelper("silent", "x");
  EXPECT_FALSE(silent.ok());

  auto missing = RunCredentialHelper("not-installed-anywhere", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(),
            "docker-credential-not-installed-anywhere is not installed (not found on PATH)");
  EXPECT_FALSE(RunCredentialHelper("../evil", "x").ok());
}

TEST_F(CredentialHelperTest, ConfigUsesTheHelperOnPath) {
  Helper("test", R"(read url
[ "$url" = "reg.example.com" ] || { echo "credentials not found in native keychain"; exit 1; }
echo '{"ServerURL":"reg.example.com","Username":"alice","Secret":"pw"}'
)");
  std::string path = dir_ + "/config.json";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(R"({"credHelpers":{"reg.example.com":"test","other.io":"absent"}})", f);
  fclose(f);
  auto config = DockerConfig::LoadFile(path);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  auto creds = Get(*config, "reg.example.com");
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->username, "alice");
  auto absent = config->Lookup("other.io");
  ASSERT_FALSE(absent.ok());
  std::string text = absent.error().ToString();
  EXPECT_NE(text.find("docker-credential-absent is not installed"), std::string::npos) << text;
  EXPECT_NE(text.find("registry other.io"), std::string::npos) << text;
  EXPECT_NE(text.find(path), std::string::npos) << text;
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
  auto creds = Get(*config, "127.0.0.1:5000");
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->username, "u");
  EXPECT_EQ(creds->password, "p");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
}

}  // namespace
}  // namespace berth::registry
