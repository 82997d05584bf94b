#include "oidc/policy.h"

#include <gtest/gtest.h>

namespace berth::oidc {
namespace {

void ExpectInvalid(PolicySpec spec, const std::string& want) {
  Result<PolicySpec> r = Normalize(std::move(spec), false);
  ASSERT_FALSE(r.ok()) << want;
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
}

TEST(PolicyTest, FillsInTheProvidersDefaults) {
  Result<PolicySpec> gh =
      Normalize({.provider = "github",
                 .conditions = {{"repository_owner", "acme"}, {"repository", "acme/app"}}},
                false);
  ASSERT_TRUE(gh.ok()) << gh.error().message();
  EXPECT_EQ(gh->issuer, "https://token.actions.githubusercontent.com");
  EXPECT_EQ(gh->audience, "berthd");

  Result<PolicySpec> cci = Normalize({.provider = "circleci",
                                      .issuer = "https://oidc.circleci.com/org/0b6d-org",
                                      .conditions = {{"oidc.circleci.com/project-id", "p-1"}}},
                                     false);
  ASSERT_TRUE(cci.ok()) << cci.error().message();
  EXPECT_EQ(cci->audience, "0b6d-org");

  Result<PolicySpec> bk =
      Normalize({.provider = "buildkite",
                 .conditions = {{"organization_slug", "acme"}, {"pipeline_slug", "app"}}},
                false);
  ASSERT_TRUE(bk.ok());
  EXPECT_EQ(bk->issuer, "https://agent.buildkite.com");

  Result<PolicySpec> gen = Normalize({.provider = "generic",
                                      .issuer = "https://gitlab.example.com",
                                      .audience = "https://berth.example.com",
                                      .conditions = {{"project_path", "g/p"}}},
                                     false);
  ASSERT_TRUE(gen.ok());
  EXPECT_EQ(gen->audience, "https://berth.example.com");
  // A local issuer for tests, when allowed.
  EXPECT_TRUE(Normalize({.provider = "github",
                         .issuer = "http://127.0.0.1:5000",
                         .conditions = {{"repository", "a/b"}}},
                        true)
                  .ok());
}

TEST(PolicyTest, RefusesPoliciesThatTrustTooMuchOrAreMalformed) {
  ExpectInvalid({.provider = "gitlab"}, "field \"provider\"");
  ExpectInvalid({.provider = "github"}, "needs a condition on \"repository\"");
  ExpectInvalid({.provider = "github", .conditions = {{"repository", "app"}}},
                "conditions.repository");
  ExpectInvalid({.provider = "circleci", .conditions = {{"oidc.circleci.com/project-id", "p"}}},
                "field \"issuer\"");
  ExpectInvalid({.provider = "circleci", .issuer = "https://oidc.circleci.com/org/o"},
                "oidc.circleci.com/project-id");
  ExpectInvalid({.provider = "buildkite", .conditions = {{"pipeline_slug", "app"}}},
                "organization_slug");
  ExpectInvalid({.provider = "generic", .issuer = "https://i"}, "at least one claim condition");
  ExpectInvalid({.provider = "generic", .conditions = {{"a", "b"}}}, "field \"issuer\"");
  ExpectInvalid({.provider = "generic", .issuer = "http://example.com", .conditions = {{"a", "b"}}},
                "field \"issuer\"");
  ExpectInvalid({.provider = "generic", .issuer = "http://127.0.0.1:1", .conditions = {{"a", "b"}}},
                "plain http is not allowed");
  ExpectInvalid({.provider = "github", .conditions = {{"repository", "a/b"}, {"aud", "x"}}},
                "conditions.aud");
  ExpectInvalid({.provider = "github", .conditions = {{"repository", ""}}},
                "conditions.repository");
  ExpectInvalid({.provider = "github", .conditions = {{"repository", "a/b\n"}}},
                "conditions.repository");
}

TEST(PolicyTest, MatchConditionsNamesTheClaimNotTheExpectedValue) {
  Claims c;
  c.values = {{"repository", "evil/app"}, {"repository_owner", "evil"}};
  EXPECT_TRUE(MatchConditions(c, {{"repository_owner", "evil"}}).ok());
  Result<> r = MatchConditions(c, {{"repository", "acme/secret-app"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message().find("claim \"repository\" is \"evil/app\""), std::string::npos);
  EXPECT_EQ(r.error().message().find("secret"), std::string::npos);
  Result<> missing = MatchConditions(c, {{"pipeline_slug", "x"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("\"pipeline_slug\" is missing"), std::string::npos);
}

}  // namespace
}  // namespace berth::oidc
