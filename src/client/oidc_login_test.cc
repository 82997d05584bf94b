// A CI job's ID token in place of a berthd token: where it is found (BERTH_OIDC_TOKEN before
// GitHub's request variables), GitHub's request URL and audience, an explicit token winning, and
// the whole path against a fake GitHub endpoint and a fake exchange on loopback.
#include "client/oidc_login.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "httpserver/server.h"
#include "os/file.h"

namespace berth::client {
namespace {

using json = nlohmann::json;

TEST(GithubIdTokenUrlTest, AppendsTheAudience) {
  EXPECT_EQ(GithubIdTokenUrl("https://gh.example/_apis/token?api-version=2.0", "berthd"),
            "https://gh.example/_apis/token?api-version=2.0&audience=berthd");
  EXPECT_EQ(GithubIdTokenUrl("https://gh.example/_apis/token", "berthd"),
            "https://gh.example/_apis/token?audience=berthd");
  EXPECT_EQ(GithubIdTokenUrl("https://gh.example/t?a=1", "api://Berth Prod"),
            "https://gh.example/t?a=1&audience=api%3A%2F%2FBerth%20Prod");
}

class OidcLoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-oidc-login-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_["HOME"] = dir_ + "/home";
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
    }
    std::system(("rm -rf " + dir_).c_str());  // NOLINT(concurrency-mt-unsafe)
  }

  Getenv Env() {
    return [this](const std::string& name) {
      auto it = env_.find(name);
      return it == env_.end() ? std::string() : it->second;
    };
  }

  // A loopback server playing GitHub's ID token endpoint (GET /token, bearer "req-secret",
  // answering the audience it was asked for inside the token) and berthd's exchange (POST
  // /api/v1/oidc/token: accepts "jwt-for-berthd" for project p_app only).
  void StartFakes() {
    auto created = httpserver::Server::Create({});
    ASSERT_TRUE(created.ok()) << created.error().message();
    server_ = std::move(created).value();
    server_->Route("GET", "/token", [](const httpserver::Request& r) {
      if (r.Header("Authorization") != "Bearer req-secret") {
        return httpserver::Response::Json(401, R"({"message":"bad credentials"})");
      }
      auto aud = r.query.find("audience");
      if (aud == r.query.end() || r.query.count("api-version") == 0) {
        return httpserver::Response::Json(400, R"({"message":"no audience"})");
      }
      if (aud->second == "empty") {
        return httpserver::Response::Json(200, R"({"count":1})");
      }
      return httpserver::Response::Json(200, json{{"value", "jwt-for-" + aud->second}}.dump());
    });
    server_->Route("POST", "/api/v1/oidc/token", [](const httpserver::Request& r) {
      json j = json::parse(r.body, nullptr, false);
      if (!r.Header("Authorization").empty() || j.value("project_id", "") != "p_app" ||
          j.value("token", "") != "jwt-for-berthd") {
        return httpserver::Response::FromError(
            Error::Unauthenticated("claim \"repository\" is \"evil/app\""));
      }
      return httpserver::Response::Json(
          201,
          R"({"token":{"id":"t_1","kind":"project","project_id":"p_app"},"secret":"berth_minted"})");
    });
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<httpserver::Server> server_;
  std::string base_;
};

TEST_F(OidcLoginTest, SourcesInOrder) {
  EXPECT_FALSE(FindOidcSource(Env()).has_value());
  // GitHub's needs both variables.
  env_["ACTIONS_ID_TOKEN_REQUEST_URL"] = "https://gh.example/token?api-version=2.0";
  EXPECT_FALSE(FindOidcSource(Env()).has_value());
  env_["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "req";
  std::optional<OidcSource> gh = FindOidcSource(Env());
  ASSERT_TRUE(gh.has_value());
  EXPECT_EQ(gh->request_url, "https://gh.example/token?api-version=2.0&audience=berthd");
  EXPECT_EQ(gh->request_token, "req");
  EXPECT_NE(gh->name.find("GitHub Actions"), std::string::npos);
  env_["BERTH_OIDC_AUDIENCE"] = "berth-prod";
  EXPECT_EQ(FindOidcSource(Env())->request_url,
            "https://gh.example/token?api-version=2.0&audience=berth-prod");
  // BERTH_OIDC_TOKEN beats GitHub's.
  env_["BERTH_OIDC_TOKEN"] = "ey.jwt.sig";
  std::optional<OidcSource> direct = FindOidcSource(Env());
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->name, "BERTH_OIDC_TOKEN");
  EXPECT_EQ(direct->id_token, "ey.jwt.sig");
  EXPECT_TRUE(direct->request_url.empty());
}

// An explicit token wins without a look at the ID token: the host (port 1 on loopback) would
// refuse any exchange.
TEST_F(OidcLoginTest, ExplicitTokenWins) {
  env_["BERTH_OIDC_TOKEN"] = "ey.jwt.sig";
  Context ctx = Context::Background();
  Result<Server> s = ResolveServerForProject(ctx, {"127.0.0.1:1", "flag-token"}, Env(), "p_app");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->token, "flag-token");
  EXPECT_EQ(s->token_source, "--token");
  env_["BERTH_TOKEN"] = "env-token";
  s = ResolveServerForProject(ctx, {"127.0.0.1:1", ""}, Env(), "p_app");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->token, "env-token");
  env_.erase("BERTH_TOKEN");
  LoginFile login = LoginFile::Load(LoginFile::DefaultPath(Env()).value()).value();
  login.Set("http://127.0.0.1:1", "login-token");
  ASSERT_TRUE(login.Save().ok());
  s = ResolveServerForProject(ctx, {"127.0.0.1:1", ""}, Env(), "p_app");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->token, "login-token");
  EXPECT_EQ(s->token_source, "login");
}

TEST_F(OidcLoginTest, WithoutAnIdTokenResolveServersErrorsStay) {
  Context ctx = Context::Background();
  Result<Server> s = ResolveServerForProject(ctx, {"127.0.0.1:1", ""}, Env(), "p_app");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(s.error().message().find("no token for http://127.0.0.1:1"), std::string::npos);
  // No host at all is still that error, ID token or not.
  env_["BERTH_OIDC_TOKEN"] = "ey.jwt.sig";
  s = ResolveServerForProject(ctx, {"", ""}, Env(), "p_app");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message().find("no berthd host"), std::string::npos);
  // An ID token without a project says what is missing.
  s = ResolveServerForProject(ctx, {"127.0.0.1:1", ""}, Env(), "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message().find("BERTH_OIDC_TOKEN"), std::string::npos);
  EXPECT_NE(s.error().message().find("--project"), std::string::npos);
}

TEST_F(OidcLoginTest, UnreachableServerNamesTheSource) {
  env_["BERTH_OIDC_TOKEN"] = "ey.jwt.sig";
  env_.erase("HOME");  // no login file to look in either
  Result<Server> s =
      ResolveServerForProject(Context::Background(), {"127.0.0.1:1", ""}, Env(), "p_app");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.error().ToString().rfind(
                "exchanging the OIDC token from BERTH_OIDC_TOKEN for project p_app: ", 0),
            0u)
      << s.error().ToString();
}

TEST_F(OidcLoginTest, GithubTokenIsFetchedAndExchanged) {
  ASSERT_NO_FATAL_FAILURE(StartFakes());
  env_["ACTIONS_ID_TOKEN_REQUEST_URL"] = base_ + "/token?api-version=2.0";
  env_["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "req-secret";
  Context ctx = Context::Background();
  Result<Server> s = ResolveServerForProject(ctx, {base_, ""}, Env(), "p_app");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->url, base_);
  EXPECT_EQ(s->token, "berth_minted");
  EXPECT_EQ(s->token_source, "OIDC (GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL))");

  // Another project: the server's reason, with no `berth login` hint; not a usage error.
  s = ResolveServerForProject(ctx, {base_, ""}, Env(), "p_other");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(s.error().ToString(),
            "exchanging the OIDC token from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL) for "
            "project p_other: claim \"repository\" is \"evil/app\"");

  // The audience asked for is the one the token carries: another one is refused by the fake.
  env_["BERTH_OIDC_AUDIENCE"] = "elsewhere";
  s = ResolveServerForProject(ctx, {base_, ""}, Env(), "p_app");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnauthenticated);

  // GitHub's own refusals.
  env_.erase("BERTH_OIDC_AUDIENCE");
  env_["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "wrong";
  s = ResolveServerForProject(ctx, {base_, ""}, Env(), "p_app");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(s.error().ToString().find("requesting the ID token: HTTP 401"), std::string::npos)
      << s.error().ToString();
  env_["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "req-secret";
  env_["BERTH_OIDC_AUDIENCE"] = "empty";
  s = ResolveServerForProject(ctx, {base_, ""}, Env(), "p_app");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().ToString().find("has no \"value\""), std::string::npos)
      << s.error().ToString();

  // BERTH_OIDC_TOKEN, when set, is used instead of asking GitHub.
  env_.erase("BERTH_OIDC_AUDIENCE");
  env_["BERTH_OIDC_TOKEN"] = "jwt-for-berthd";
  env_["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "wrong";
  s = ResolveServerForProject(ctx, {base_, ""}, Env(), "p_app");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->token_source, "OIDC (BERTH_OIDC_TOKEN)");
}

}  // namespace
}  // namespace berth::client
