#include "oidc/verifier.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oidc/testing/issuer.h"

namespace berth::oidc {
namespace {

using json = nlohmann::json;

TEST(CheckIssuerUrlTest, HttpsOrLoopbackHttpOnly) {
  EXPECT_TRUE(CheckIssuerUrl("https://token.actions.githubusercontent.com", false).ok());
  EXPECT_TRUE(CheckIssuerUrl("https://oidc.circleci.com/org/abc", false).ok());
  EXPECT_TRUE(CheckIssuerUrl("http://127.0.0.1:8080", true).ok());
  EXPECT_TRUE(CheckIssuerUrl("http://localhost:1/x", true).ok());
  EXPECT_TRUE(CheckIssuerUrl("http://[::1]:9", true).ok());
  EXPECT_FALSE(CheckIssuerUrl("http://127.0.0.1:8080", false).ok());
  EXPECT_FALSE(CheckIssuerUrl("http://example.com", true).ok());
  EXPECT_FALSE(CheckIssuerUrl("http://127.0.0.1.evil.com", true).ok());
  EXPECT_FALSE(CheckIssuerUrl("ftp://x", true).ok());
  EXPECT_FALSE(CheckIssuerUrl("https://", true).ok());
  EXPECT_FALSE(CheckIssuerUrl("https://a?b", true).ok());
  EXPECT_FALSE(CheckIssuerUrl("https://user@a", true).ok());
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = testing::LocalIssuer::Start();
    ASSERT_TRUE(issuer.ok()) << issuer.error().message();
    issuer_ = std::move(issuer).value();
    keys_ = std::make_unique<HttpKeySource>(HttpKeySource::Options{
        .min_refetch = std::chrono::seconds(30), .allow_http_loopback = true, .clock = [this] {
          return now_;
        }});
  }

  std::string Payload(const std::string& aud = "berthd", int64_t exp_in = 300) {
    return json{
        {"iss", issuer_->url()},    {"aud", aud},   {"sub", "repo:acme/app:ref:refs/heads/main"},
        {"repository", "acme/app"}, {"iat", Now()}, {"exp", Now() + exp_in}}
        .dump();
  }
  static int64_t Now() { return std::time(nullptr); }
  Expectation Expect() { return {.issuer = issuer_->url(), .audience = "berthd", .now = Now()}; }
  void ExpectRefused(const std::string& token, const std::string& want) {
    Result<Jwt> r = Verify(Context::Background(), *keys_, token, Expect());
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated) << r.error().message();
    EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
  }

  std::unique_ptr<testing::LocalIssuer> issuer_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
  std::unique_ptr<HttpKeySource> keys_;
};

TEST_F(VerifierTest, AcceptsValidTokensAndCachesTheKeys) {
  for (const std::string& token : {issuer_->SignRs256(Payload()), issuer_->SignEs256(Payload())}) {
    Result<Jwt> jwt = Verify(Context::Background(), *keys_, token, Expect());
    ASSERT_TRUE(jwt.ok()) << jwt.error().message();
    EXPECT_EQ(jwt->claims.values.at("repository"), "acme/app");
  }
  EXPECT_EQ(issuer_->jwks_fetches(), 1);
  // After the TTL the set is fetched again.
  now_ += std::chrono::seconds(601);
  ASSERT_TRUE(Verify(Context::Background(), *keys_, issuer_->SignRs256(Payload()), Expect()).ok());
  EXPECT_EQ(issuer_->jwks_fetches(), 2);
}

TEST_F(VerifierTest, RefusesEachBadToken) {
  ExpectRefused(issuer_->SignRs256(Payload("someone-else")), "audience");
  ExpectRefused(issuer_->SignRs256(Payload("berthd", -120)), "expired");
  ExpectRefused(issuer_->SignNone(Payload()), "\"none\" is not accepted");
  ExpectRefused(issuer_->SignHs256WithPublicKey(Payload(), 0), "\"HS256\" is not accepted");
  ExpectRefused(issuer_->SignWithStrangerKey(Payload(), "rsa-1"), "bad signature");
  ExpectRefused(issuer_->SignWithStrangerKey(Payload(), "nope"), "no key \"nope\"");
  Expectation other = Expect();
  other.issuer = "https://token.actions.githubusercontent.com";
  Result<Jwt> r = Verify(Context::Background(), *keys_, issuer_->SignRs256(Payload()), other);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is not the trusted issuer"), std::string::npos);
}

TEST_F(VerifierTest, AnUnknownKidRefetchesAtMostOncePerInterval) {
  ASSERT_TRUE(Verify(Context::Background(), *keys_, issuer_->SignRs256(Payload()), Expect()).ok());
  EXPECT_EQ(issuer_->jwks_fetches(), 1);
  issuer_->Rotate("rsa-2");
  // Too soon after the last fetch: no new fetch, so the new key is not known yet.
  ExpectRefused(issuer_->SignRotated(Payload()), "no key \"rsa-2\"");
  ExpectRefused(issuer_->SignWithStrangerKey(Payload(), "junk"), "no key");
  EXPECT_EQ(issuer_->jwks_fetches(), 1);
  now_ += std::chrono::seconds(31);
  Result<Jwt> rotated =
      Verify(Context::Background(), *keys_, issuer_->SignRotated(Payload()), Expect());
  EXPECT_TRUE(rotated.ok()) << rotated.error().message();
  EXPECT_EQ(issuer_->jwks_fetches(), 2);
  // Unknown kids within the interval do not fetch again.
  for (int i = 0; i < 5; ++i) {
    ExpectRefused(issuer_->SignWithStrangerKey(Payload(), "junk" + std::to_string(i)), "no key");
  }
  EXPECT_EQ(issuer_->jwks_fetches(), 2);
}

TEST_F(VerifierTest, ConcurrentVerificationsFetchOnce) {
  std::string token = issuer_->SignEs256(Payload());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (Verify(Context::Background(), *keys_, token, Expect()).ok()) {
        ok++;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 8);
  EXPECT_LE(issuer_->jwks_fetches(), 2);
}

TEST_F(VerifierTest, AnUnreachableIssuerIsUnavailable) {
  HttpKeySource keys({.allow_http_loopback = true});
  Result<std::shared_ptr<const KeySet>> set =
      keys.Keys(Context::Background(), "http://127.0.0.1:1", false);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(set.error().message().find("openid-configuration"), std::string::npos);
  // Plain http refused unless allowed.
  HttpKeySource strict({});
  Result<std::shared_ptr<const KeySet>> refused =
      strict.Keys(Context::Background(), issuer_->url(), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::oidc
