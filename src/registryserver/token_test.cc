#include "registryserver/token.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "os/file.h"

namespace berth::registryserver {
namespace {

TokenClaims Claims() {
  return {.token_id = "t_abc",
          .access = {{.project_id = "p_one", .pull = true, .push = true},
                     {.project_id = "p_two", .pull = true}},
          .issued_at = 1000,
          .expires_at = 1300};
}

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    std::string enc = Base64UrlEncode(data);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    Result<std::string> dec = Base64UrlDecode(enc);
    ASSERT_TRUE(dec.ok()) << i;
    EXPECT_EQ(*dec, data);
    data.push_back(static_cast<char>(i * 7));
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("a").ok());
  EXPECT_FALSE(Base64UrlDecode("ab=c").ok());
}

TEST(TokenTest, SignedTokensVerify) {
  Result<TokenSigner> signer = TokenSigner::FromSecret(std::string(32, 'k'));
  ASSERT_TRUE(signer.ok());
  std::string token = signer->Sign(Claims());
  Result<TokenClaims> got = signer->Verify(token, 1299);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, Claims());
}

TEST(TokenTest, RefusesExpiredForgedAndForeignTokens) {
  TokenSigner signer = TokenSigner::FromSecret(std::string(32, 'k')).value();
  TokenSigner other = TokenSigner::FromSecret(std::string(32, 'x')).value();
  std::string token = signer.Sign(Claims());
  auto refused = [&](const std::string& t, int64_t now = 1000) {
    Result<TokenClaims> r = signer.Verify(t, now);
    return !r.ok() && r.error().code() == ErrorCode::kUnauthenticated;
  };
  EXPECT_TRUE(refused(token, 1300));  // Expired.
  EXPECT_TRUE(refused(other.Sign(Claims())));
  // Another payload under the original signature: a push grant slipped in.
  size_t dot1 = token.find('.');
  size_t dot2 = token.rfind('.');
  TokenClaims more = Claims();
  more.access[1].push = true;
  std::string forged_payload = signer.Sign(more).substr(dot1, dot2 - dot1);
  EXPECT_TRUE(refused(token.substr(0, dot1) + forged_payload + token.substr(dot2)));
  // alg "none" with no signature, and the same header with our signature stripped.
  std::string none =
      Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + token.substr(dot1, dot2 - dot1) + ".";
  EXPECT_TRUE(refused(none));
  EXPECT_TRUE(refused(token.substr(0, dot2 + 1)));
  for (const std::string& junk : {std::string(""), std::string("a.b"), std::string("a.b.c.d"),
                                  std::string(".."), std::string(100000, 'a')}) {
    EXPECT_TRUE(refused(junk)) << junk.substr(0, 20);
  }
}

TEST(TokenTest, SecretIsCreatedOnceAndKept) {
  std::string dir = ::testing::TempDir() + "/token-secret-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::string path = dir + "/registry/token.key";
  Result<TokenSigner> first = TokenSigner::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Result<TokenSigner> second = TokenSigner::LoadOrCreate(path);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->Verify(first->Sign(Claims()), 1000).ok());
  ASSERT_TRUE(os::WriteFileAtomic(path, "short").ok());
  EXPECT_FALSE(TokenSigner::LoadOrCreate(path).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::registryserver
