#include "oidc/jwks.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/base64url.h"
#include "oidc/testing/issuer.h"

namespace berth::oidc {
namespace {

using json = nlohmann::json;

TEST(KeySetTest, RefusesDocumentsThatAreNotKeySets) {
  EXPECT_EQ(KeySet::Parse("[]").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(KeySet::Parse("{}").error().message().find("\"keys\""), std::string::npos);
  EXPECT_FALSE(KeySet::Parse(R"({"keys":{}})").ok());
  EXPECT_FALSE(KeySet::Parse(std::string(kMaxDocumentBytes + 1, ' ')).ok());
}

TEST(KeySetTest, SkipsKeysItCannotUseAndSaysWhy) {
  // A 1024-bit modulus (too small), a curve other than P-256, an encryption key, junk.
  std::string small_n = Base64UrlEncode(std::string(128, '\xff'));
  json doc = {{"keys",
               {{{"kty", "oct"}, {"kid", "h"}, {"k", "c2VjcmV0"}},
                {{"kty", "RSA"}, {"kid", "small"}, {"n", small_n}, {"e", "AQAB"}},
                {{"kty", "EC"}, {"kid", "p384"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}},
                {{"kty", "RSA"}, {"kid", "enc"}, {"use", "enc"}, {"n", small_n}, {"e", "AQAB"}},
                {{"kty", "RSA"}, {"kid", "hs"}, {"alg", "HS256"}, {"n", small_n}, {"e", "AQAB"}},
                {{"kty", "EC"},
                 {"kid", "offcurve"},
                 {"crv", "P-256"},
                 {"x", Base64UrlEncode(std::string(32, '\x01'))},
                 {"y", Base64UrlEncode(std::string(32, '\x02'))}},
                5}}};
  Result<KeySet> set = KeySet::Parse(doc.dump());
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->size(), 0u);
  ASSERT_EQ(set->skipped().size(), 7u);
  EXPECT_NE(set->skipped()[0].find("kty \"oct\""), std::string::npos);
  EXPECT_NE(set->skipped()[1].find("1024 bits"), std::string::npos) << set->skipped()[1];
  EXPECT_NE(set->skipped()[2].find("P-256"), std::string::npos);
  EXPECT_NE(set->skipped()[3].find("use"), std::string::npos);
  EXPECT_NE(set->skipped()[4].find("alg \"HS256\""), std::string::npos);
  EXPECT_EQ(set->skipped()[5].rfind("keys[5]", 0), 0u) << set->skipped()[5];
}

class KeySetVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = testing::LocalIssuer::Start();
    ASSERT_TRUE(issuer.ok()) << issuer.error().message();
    issuer_ = std::move(issuer).value();
    Result<KeySet> set = KeySet::Parse(issuer_->JwksJson());
    ASSERT_TRUE(set.ok()) << set.error().message();
    set_ = std::move(set).value();
  }

  Result<> Verify(const std::string& token) {
    Result<Jwt> jwt = ParseJwt(token);
    if (!jwt.ok()) {
      return jwt.error();
    }
    return set_.Verify(*jwt);
  }

  void ExpectRefused(const std::string& token, ErrorCode code, const std::string& want) {
    Result<> r = Verify(token);
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
  }

  std::unique_ptr<testing::LocalIssuer> issuer_;
  KeySet set_;
  std::string payload_ = R"({"iss":"x","aud":"berthd","exp":99})";
};

TEST_F(KeySetVerifyTest, HoldsTheRsaAndEcKeysAndSkipsTheSymmetricOne) {
  EXPECT_EQ(set_.size(), 2u);
  EXPECT_TRUE(set_.HasKey("rsa-1"));
  EXPECT_TRUE(set_.HasKey("ec-1"));
  EXPECT_FALSE(set_.HasKey("hmac"));
  ASSERT_EQ(set_.skipped().size(), 1u);
}

TEST_F(KeySetVerifyTest, AcceptsRs256AndEs256) {
  Result<> rs = Verify(issuer_->SignRs256(payload_));
  EXPECT_TRUE(rs.ok()) << rs.error().message();
  Result<> es = Verify(issuer_->SignEs256(payload_));
  EXPECT_TRUE(es.ok()) << es.error().message();
  // Without a kid: the one key of the algorithm's type.
  Result<> no_kid = Verify(issuer_->SignEs256(payload_, ""));
  EXPECT_TRUE(no_kid.ok()) << no_kid.error().message();
}

TEST_F(KeySetVerifyTest, RefusesATamperedToken) {
  std::string token = issuer_->SignRs256(payload_);
  std::string other = issuer_->SignRs256(R"({"iss":"x","aud":"berthd","exp":100})");
  // The payload of one with the signature of the other.
  std::string forged = other.substr(0, other.rfind('.')) + token.substr(token.rfind('.'));
  ExpectRefused(forged, ErrorCode::kUnauthenticated, "bad signature");
  std::string es = issuer_->SignEs256(payload_);
  std::string es_other = issuer_->SignEs256(R"({"iss":"y"})");
  ExpectRefused(es_other.substr(0, es_other.rfind('.')) + es.substr(es.rfind('.')),
                ErrorCode::kUnauthenticated, "bad signature");
}

TEST_F(KeySetVerifyTest, RefusesAlgNoneHmacAndMismatchedAlgorithms) {
  ExpectRefused(issuer_->SignNone(payload_), ErrorCode::kUnauthenticated,
                "algorithm \"none\" is not accepted");
  ExpectRefused(issuer_->SignHs256WithPublicKey(payload_, 0), ErrorCode::kUnauthenticated,
                "algorithm \"HS256\" is not accepted");
  ExpectRefused(issuer_->SignHs256WithPublicKey(payload_, 1), ErrorCode::kUnauthenticated,
                "algorithm \"HS256\" is not accepted");
  // An RS256 signature presented as ES256 with the RSA key's kid, and the other way round.
  ExpectRefused(issuer_->SignEs256(payload_, "rsa-1"), ErrorCode::kUnauthenticated,
                "does not fit key \"rsa-1\"");
  ExpectRefused(issuer_->SignRs256(payload_, "ec-1"), ErrorCode::kUnauthenticated,
                "does not fit key \"ec-1\"");
}

TEST_F(KeySetVerifyTest, AnUnknownKidIsNotFound) {
  ExpectRefused(issuer_->SignWithStrangerKey(payload_, "rsa-2"), ErrorCode::kNotFound,
                "no key \"rsa-2\"");
  // A stranger's key under a known kid is just a bad signature.
  ExpectRefused(issuer_->SignWithStrangerKey(payload_, "rsa-1"), ErrorCode::kUnauthenticated,
                "bad signature");
}

TEST_F(KeySetVerifyTest, AnEs256SignatureOfTheWrongLengthIsRefused) {
  std::string es = issuer_->SignEs256(payload_);
  std::string cut = es.substr(0, es.rfind('.') + 1) + Base64UrlEncode(std::string(63, 'x'));
  ExpectRefused(cut, ErrorCode::kUnauthenticated, "63 bytes (want 64)");
}

}  // namespace
}  // namespace berth::oidc
