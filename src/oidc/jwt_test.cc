#include "oidc/jwt.h"

#include <gtest/gtest.h>

#include "base/base64url.h"

namespace berth::oidc {
namespace {

std::string Token(const std::string& header, const std::string& payload,
                  const std::string& sig = "sig") {
  return Base64UrlEncode(header) + "." + Base64UrlEncode(payload) + "." + Base64UrlEncode(sig);
}

constexpr const char* kHeader = R"({"alg":"RS256","kid":"k1","typ":"JWT"})";

TEST(ParseJwtTest, ReadsHeaderAndClaims) {
  Result<Jwt> jwt = ParseJwt(Token(kHeader, R"({"iss":"https://i","sub":"s","aud":"a","exp":100,
    "nbf":10.9,"iat":5,"repository":"o/r","ref_protected":true,"n":42})"));
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();
  EXPECT_EQ(jwt->alg, "RS256");
  EXPECT_EQ(jwt->kid, "k1");
  EXPECT_EQ(jwt->typ, "JWT");
  EXPECT_EQ(jwt->claims.issuer, "https://i");
  EXPECT_EQ(jwt->claims.subject, "s");
  EXPECT_EQ(jwt->claims.audience, std::vector<std::string>{"a"});
  EXPECT_EQ(jwt->claims.expires_at, 100);
  EXPECT_EQ(jwt->claims.not_before, 10);
  EXPECT_EQ(jwt->claims.issued_at, 5);
  EXPECT_EQ(jwt->claims.values.at("repository"), "o/r");
  EXPECT_EQ(jwt->claims.values.at("ref_protected"), "true");
  EXPECT_EQ(jwt->claims.values.at("n"), "42");
  EXPECT_EQ(jwt->signature, "sig");
  EXPECT_EQ(jwt->signing_input,
            Base64UrlEncode(kHeader) + "." +
                Base64UrlEncode(R"({"iss":"https://i","sub":"s","aud":"a","exp":100,
    "nbf":10.9,"iat":5,"repository":"o/r","ref_protected":true,"n":42})"));
}

TEST(ParseJwtTest, AudienceArray) {
  Result<Jwt> jwt = ParseJwt(Token(kHeader, R"({"aud":["x","berthd"]})"));
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims.audience, (std::vector<std::string>{"x", "berthd"}));
}

TEST(ParseJwtTest, RefusesMalformedTokensNamingTheProblem) {
  struct Case {
    std::string token;
    std::string want;
  };
  std::vector<Case> cases = {
      {"", "not a JWT"},
      {"a.b", "not a JWT"},
      {"a.b.c.d", "not a JWT"},
      {"!!.e30.", "header is not base64url"},
      {Base64UrlEncode("[1]") + ".e30.", "header is not a JSON object"},
      {Token(R"({"typ":"JWT"})", "{}"), "no \"alg\""},
      {Token(R"({"alg":5})", "{}"), "\"alg\" is not a string"},
      {Token(kHeader, "nope"), "payload is not a JSON object"},
      {Token(kHeader, R"({"aud":5})"), "\"aud\""},
      {Token(kHeader, R"({"aud":["a",1]})"), "\"aud\""},
      {Token(kHeader, R"({"exp":"soon"})"), "\"exp\" is not a number"},
      {Token(kHeader, R"({"exp":1e300})"), "\"exp\" is out of range"},
      {Token(kHeader, R"({"iss":7})"), "\"iss\" is not a string"},
      {Token(R"({"alg":"RS256","crit":["x"]})", "{}"), "crit"},
      {Base64UrlEncode(kHeader) + ".e30.@@", "signature is not base64url"},
      {std::string(kMaxTokenBytes + 1, 'a'), "longer than"},
  };
  for (const Case& c : cases) {
    Result<Jwt> jwt = ParseJwt(c.token);
    ASSERT_FALSE(jwt.ok()) << c.token;
    EXPECT_EQ(jwt.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_NE(jwt.error().message().find(c.want), std::string::npos)
        << c.token << ": " << jwt.error().message();
    EXPECT_EQ(jwt.error().message().rfind("oidc token: ", 0), 0u);
  }
}

Claims Good() {
  Claims c;
  c.issuer = "https://issuer";
  c.audience = {"other", "berthd"};
  c.expires_at = 1000;
  c.not_before = 900;
  c.issued_at = 900;
  return c;
}

TEST(CheckClaimsTest, AcceptsAGoodToken) {
  EXPECT_TRUE(
      CheckClaims(Good(), {.issuer = "https://issuer", .audience = "berthd", .now = 950}).ok());
  // Within the leeway on every side.
  EXPECT_TRUE(
      CheckClaims(Good(), {.issuer = "https://issuer", .audience = "berthd", .now = 1059}).ok());
  EXPECT_TRUE(
      CheckClaims(Good(), {.issuer = "https://issuer", .audience = "berthd", .now = 841}).ok());
}

TEST(CheckClaimsTest, RefusesEachBadClaim) {
  Expectation e{.issuer = "https://issuer", .audience = "berthd", .now = 950};
  auto fails = [&](Claims c, Expectation x, const std::string& want) {
    Result<> r = CheckClaims(c, x);
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
  };
  Claims c = Good();
  c.issuer = "https://issuer/";
  fails(c, e, "issuer");
  c = Good();
  c.audience = {"other"};
  fails(c, e, "audience");
  c.audience = {};
  fails(c, e, "audience (none)");
  c = Good();
  c.expires_at.reset();
  fails(c, e, "no expiry");
  Expectation late = e;
  late.now = 1060;
  fails(Good(), late, "expired");
  Expectation early = e;
  early.now = 839;
  c = Good();
  c.issued_at.reset();
  fails(c, early, "not valid before");
  c = Good();
  c.not_before.reset();
  fails(c, early, "issued in the future");
}

}  // namespace
}  // namespace berth::oidc
