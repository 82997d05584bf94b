#include "registry/config.h"

#include <gtest/gtest.h>

#include "registry/retry.h"

namespace berth::registry {
namespace {

TEST(Loopback, Hosts) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("localhost:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("docker.io"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("[::2]:5000"));
}

TEST(RegistryConfig, ParsesMirrorsAndInsecure) {
  auto config = RegistryConfig::ParseToml(R"(
[build]
other = "ignored"

[registry."docker.io"]
mirrors = ["localhost:5000", "https://mirror.example.com/"]

[registry."registry.lan:5000"]
insecure = true
)");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->Host("docker.io").mirrors,
            (std::vector<std::string>{"localhost:5000", "https://mirror.example.com/"}));
  EXPECT_FALSE(config->Host("docker.io").insecure);
  EXPECT_TRUE(config->Host("registry.lan:5000").insecure);
  EXPECT_TRUE(config->Host("unknown.io").mirrors.empty());

  auto pulls = config->PullEndpoints("docker.io");
  ASSERT_EQ(pulls.size(), 3u);
  EXPECT_EQ(pulls[0].BaseUrl(), "http://localhost:5000");
  EXPECT_TRUE(pulls[0].mirror);
  EXPECT_EQ(pulls[1].BaseUrl(), "https://mirror.example.com");
  EXPECT_EQ(pulls[2].BaseUrl(), "https://registry-1.docker.io");
  EXPECT_FALSE(pulls[2].mirror);
  EXPECT_EQ(config->PushEndpoint("docker.io").BaseUrl(), "https://registry-1.docker.io");
  // Insecure: HTTPS without verification first, plain HTTP as the fallback (as Docker does).
  Endpoint lan = config->PushEndpoint("registry.lan:5000");
  EXPECT_EQ(lan.BaseUrl(), "https://registry.lan:5000");
  EXPECT_TRUE(lan.skip_tls_verify);
  EXPECT_TRUE(lan.http_fallback);
  EXPECT_FALSE(config->PushEndpoint("ghcr.io").http_fallback);
  EXPECT_FALSE(config->PushEndpoint("ghcr.io").skip_tls_verify);
  EXPECT_EQ(config->PushEndpoint("ghcr.io").BaseUrl(), "https://ghcr.io");
  EXPECT_EQ(config->PushEndpoint("127.0.0.1:5000").BaseUrl(), "http://127.0.0.1:5000");
  EXPECT_FALSE(config->PushEndpoint("127.0.0.1:5000").http_fallback);
}

TEST(RegistryConfig, InsecureLoopbackStaysPlainAndSchemesAreKept) {
  RegistryConfig config;
  config.SetInsecure("localhost:5000", true);
  config.SetInsecure("lan:5000", true);
  config.AddMirror("docker.io", "http://lan:5000");
  config.AddMirror("docker.io", "https://lan:5000");
  config.AddMirror("docker.io", "lan:5000");
  Endpoint local = config.PushEndpoint("localhost:5000");
  EXPECT_EQ(local.BaseUrl(), "http://localhost:5000");
  EXPECT_FALSE(local.http_fallback);
  EXPECT_FALSE(local.skip_tls_verify);
  auto pulls = config.PullEndpoints("docker.io");
  ASSERT_EQ(pulls.size(), 4u);
  EXPECT_EQ(pulls[0].BaseUrl(), "http://lan:5000");
  EXPECT_FALSE(pulls[0].http_fallback);
  EXPECT_EQ(pulls[1].BaseUrl(), "https://lan:5000");
  EXPECT_TRUE(pulls[1].skip_tls_verify);
  EXPECT_FALSE(pulls[1].http_fallback);
  EXPECT_EQ(pulls[2].BaseUrl(), "https://lan:5000");
  EXPECT_TRUE(pulls[2].http_fallback);
}

TEST(RegistryConfig, SetByCode) {
  RegistryConfig config;
  config.AddMirror("docker.io", "127.0.0.1:6000");
  config.SetInsecure("myhost:443", true);
  auto pulls = config.PullEndpoints("docker.io");
  ASSERT_EQ(pulls.size(), 2u);
  EXPECT_EQ(pulls[0].BaseUrl(), "http://127.0.0.1:6000");
  EXPECT_EQ(config.PushEndpoint("myhost:443").BaseUrl(), "https://myhost:443");
  EXPECT_TRUE(config.PushEndpoint("myhost:443").http_fallback);
  auto https_insecure = RegistryConfig::ParseToml(R"(
[registry."docker.io"]
mirrors = ["https://self-signed.lan"]
[registry."self-signed.lan"]
insecure = true
)");
  ASSERT_TRUE(https_insecure.ok());
  auto ep = https_insecure->PullEndpoints("docker.io")[0];
  EXPECT_FALSE(ep.plain_http);
  EXPECT_TRUE(ep.skip_tls_verify);
  EXPECT_FALSE(ep.http_fallback);
}

TEST(RegistryConfig, Errors) {
  auto syntax = RegistryConfig::ParseToml("[registry\n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.error().message().find("config.toml:"), std::string::npos);
  auto bad_mirrors = RegistryConfig::ParseToml("[registry.\"docker.io\"]\nmirrors = \"x\"\n");
  ASSERT_FALSE(bad_mirrors.ok());
  EXPECT_NE(bad_mirrors.error().message().find("mirrors"), std::string::npos);
  auto bad_insecure = RegistryConfig::ParseToml("[registry.\"a\"]\ninsecure = \"yes\"\n");
  ASSERT_FALSE(bad_insecure.ok());
  auto unknown = RegistryConfig::ParseToml("[registry.\"a\"]\nmirors = []\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("mirors"), std::string::npos);
  EXPECT_FALSE(RegistryConfig::ParseToml("registry = 3\n").ok());
  auto missing = RegistryConfig::Load("/nonexistent/berth-root");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->hosts().empty());
}

TEST(RetryPolicy, ExponentialCappedWithJitter) {
  RetryPolicy p;
  p.initial_backoff = std::chrono::milliseconds(100);
  p.max_backoff = std::chrono::milliseconds(1000);
  p.multiplier = 2;
  p.jitter = 0.5;
  EXPECT_EQ(p.Backoff(1, 0.5).count(), 100);
  EXPECT_EQ(p.Backoff(2, 0.5).count(), 200);
  EXPECT_EQ(p.Backoff(3, 0.5).count(), 400);
  EXPECT_EQ(p.Backoff(5, 0.5).count(), 1000);
  EXPECT_EQ(p.Backoff(50, 0.5).count(), 1000);
  EXPECT_EQ(p.Backoff(1, 0.0).count(), 50);
  EXPECT_EQ(p.Backoff(2, 1.0).count(), 300);
  for (int i = 0; i < 100; ++i) {
    auto d = p.Backoff(2).count();
    EXPECT_GE(d, 100);
    EXPECT_LE(d, 300);
  }
}

TEST(RetryPolicy, RetryableStatuses) {
  for (long s : {500L, 502L, 503L, 504L, 429L, 408L}) {
    EXPECT_TRUE(RetryPolicy::RetryableStatus(s)) << s;
  }
  for (long s : {200L, 201L, 400L, 401L, 403L, 404L, 405L, 501L, 505L}) {
    EXPECT_FALSE(RetryPolicy::RetryableStatus(s)) << s;
  }
}

}  // namespace
}  // namespace berth::registry
