// OIDC trust against a real berthd: a local OIDC issuer (its own RSA and EC keys, discovery and
// JWKS on loopback, started and stopped by the test), a project with a GitHub trust policy
// pointed at it, and tokens good and bad exchanged through POST /api/v1/oidc/token. A minted
// token reaches its project only; every bad token is refused with the check that failed. Then
// the CLI: `berth projects trust-policy add|ls|rm`, and commands run as a CI job runs them, with
// no berthd token but an ID token: `berth build` with BERTH_OIDC_TOKEN, `berth image ls` with
// GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN served by a fake endpoint on loopback.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "berthd_fixture.h"
#include "build_fixture.h"
#include "httpserver/server.h"
#include "oidc/testing/issuer.h"
#include "os/file.h"
#include "registry/http.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

constexpr const char* kAdmin = kBerthdAdmin;

struct Answer {
  long status = 0;
  json body;
};

class OidcE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = oidc::testing::LocalIssuer::Start();
    ASSERT_TRUE(issuer.ok()) << issuer.error().message();
    issuer_ = std::move(issuer).value();

    char tmpl[] = "/tmp/berth-oidc-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(os::MakeDirs(dir_ + "/home").ok());
    PrepareRoot();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    berthd_ = std::make_unique<Berthd>(dir_ + "/root", dir_ + "/berthd.log",
                                       std::vector<std::string>{"--oidc-allow-http-loopback"});
    url_ = berthd_->url();
    ASSERT_FALSE(url_.empty()) << "berthd did not come up: " << berthd_->log();

    Answer a = Call("POST", "/api/v1/projects", kAdmin, {{"name", "app"}});
    ASSERT_EQ(a.status, 201) << a.body.dump();
    app_ = a.body["id"];
    a = Call("POST", "/api/v1/projects", kAdmin, {{"name", "other"}});
    ASSERT_EQ(a.status, 201) << a.body.dump();
    other_ = a.body["id"];
    a = Call("POST", "/api/v1/projects/" + app_ + "/trust-policies", kAdmin,
             {{"provider", "github"},
              {"issuer", issuer_->url()},
              {"conditions", {{"repository", "acme/app"}, {"repository_owner", "acme"}}}});
    ASSERT_EQ(a.status, 201) << a.body.dump();
    policy_ = a.body["id"];
    EXPECT_EQ(a.body["audience"], "berthd");
  }

  void TearDown() override {
    berthd_.reset();
    issuer_.reset();
    if (!dir_.empty()) {
      Sh("rm -rf " + Quote(dir_));
    }
  }

  Answer Call(const std::string& method, const std::string& path, const std::string& token,
              const json& body = nullptr) {
    registry::HttpRequest req;
    req.method = method;
    req.url = url_ + path;
    if (!token.empty()) {
      req.headers.emplace_back("Authorization", "Bearer " + token);
    }
    if (!body.is_null()) {
      req.body = body.dump();
      req.headers.emplace_back("Content-Type", "application/json");
    }
    Result<registry::HttpResponse> resp = http_.Do(Context::Background(), req);
    Answer a;
    if (!resp.ok()) {
      ADD_FAILURE() << resp.error().message();
      return a;
    }
    a.status = resp->status;
    a.body = json::parse(resp->body, nullptr, false);
    return a;
  }

  // Called before berthd starts on ROOT (dir_/root).
  virtual void PrepareRoot() {}

  // Runs berth as a CI job does: no berthd token anywhere (no BERTH_TOKEN, a fresh HOME and
  // XDG_CONFIG_HOME without a login), with `env` ("NAME=value ...") and `args`.
  int BerthCi(const std::string& env, const std::string& args, std::string* err,
              std::string* out = nullptr) {
    std::string home = dir_ + "/ci-home";
    std::string cmd =
        "env -u BERTH_HOST -u BERTH_TOKEN -u BERTH_PROJECT -u BERTH_OIDC_TOKEN "
        "-u BERTH_OIDC_AUDIENCE -u ACTIONS_ID_TOKEN_REQUEST_URL -u ACTIONS_ID_TOKEN_REQUEST_TOKEN "
        "HOME=" +
        Quote(home) + " XDG_CONFIG_HOME=" + Quote(home + "/.config") +
        " BERTH_ROOT=" + Quote(dir_ + "/client-root") + " BERTH_NO_SUMMARY_LINK=1 " + env + " " +
        BERTH_BIN + "/berth " + args + " </dev/null >" + dir_ + "/ci-out 2>" + dir_ + "/ci-err";
    int code = Sh(cmd);
    *err = os::ReadFile(dir_ + "/ci-err").value_or("");
    if (out != nullptr) {
      *out = os::ReadFile(dir_ + "/ci-out").value_or("");
    }
    return code;
  }

  static int64_t Now() { return std::time(nullptr); }
  static std::string Message(const Answer& a) {
    const json& m =
        a.body.is_object() && a.body.contains("error") ? a.body["error"]["message"] : json();
    return m.is_string() ? m.get<std::string>() : a.body.dump();
  }

  json Claims(const std::string& aud = "berthd", const std::string& repository = "acme/app",
              int64_t exp_in = 600) {
    return {{"iss", issuer_->url()},
            {"aud", aud},
            {"sub", "repo:" + repository + ":ref:refs/heads/main"},
            {"repository", repository},
            {"repository_owner", repository.substr(0, repository.find('/'))},
            {"iat", Now()},
            {"nbf", Now()},
            {"exp", Now() + exp_in}};
  }

  Answer Exchange(const std::string& token, const std::string& project = "") {
    return Call("POST", "/api/v1/oidc/token", "",
                {{"project_id", project.empty() ? app_ : project}, {"token", token}});
  }

  void ExpectRefused(const std::string& what, const std::string& token, const std::string& want) {
    SCOPED_TRACE(what);
    Answer a = Exchange(token);
    EXPECT_EQ(a.status, 401) << a.body.dump();
    EXPECT_NE(Message(a).find(want), std::string::npos) << a.body.dump();
  }

  std::unique_ptr<oidc::testing::LocalIssuer> issuer_;
  registry::HttpClient http_;
  std::string dir_;
  std::unique_ptr<Berthd> berthd_;
  std::string url_;
  std::string app_;
  std::string other_;
  std::string policy_;
};

TEST_F(OidcE2eTest, ValidTokensReachTheirProjectOnly) {
  for (const std::string& token :
       {issuer_->SignRs256(Claims().dump()), issuer_->SignEs256(Claims().dump())}) {
    Answer a = Exchange(token);
    ASSERT_EQ(a.status, 201) << a.body.dump();
    std::string secret = a.body["secret"];
    EXPECT_EQ(a.body["token"]["kind"], "project");
    EXPECT_EQ(a.body["token"]["project_id"], app_);
    EXPECT_EQ(a.body["token"]["name"], "oidc:" + policy_);
    EXPECT_TRUE(a.body["token"]["expires_at"].is_string());

    EXPECT_EQ(Call("GET", "/api/v1/projects/" + app_, secret).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/projects/" + app_ + "/builds", secret).status, 200);
    // Another project is as good as missing, and so is the policy API of its own project.
    EXPECT_EQ(Call("GET", "/api/v1/projects/" + other_, secret).status, 404);
    EXPECT_EQ(Call("GET", "/api/v1/projects/" + other_ + "/builds", secret).status, 404);
    EXPECT_EQ(Call("POST", "/api/v1/projects/" + app_ + "/trust-policies", secret,
                   {{"provider", "github"}, {"conditions", {{"repository", "evil/x"}}}})
                  .status,
              404);
    EXPECT_EQ(
        Call("DELETE", "/api/v1/projects/" + app_ + "/trust-policies/" + policy_, secret).status,
        404);
    Answer projects = Call("GET", "/api/v1/projects", secret);
    ASSERT_EQ(projects.status, 200);
    ASSERT_EQ(projects.body["items"].size(), 1u);
    EXPECT_EQ(projects.body["items"][0]["id"], app_);
  }
  // The minted token lives no longer than the ID token.
  Answer shortlived = Exchange(issuer_->SignRs256(Claims("berthd", "acme/app", 30).dump()));
  ASSERT_EQ(shortlived.status, 201) << shortlived.body.dump();
  // A token of the project's own is revocable like any other.
  std::string id = shortlived.body["token"]["id"];
  std::string secret = shortlived.body["secret"];
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + id, kAdmin).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/projects/" + app_, secret).status, 401);
}

TEST_F(OidcE2eTest, BadTokensAreRefusedNamingTheCheck) {
  ExpectRefused("wrong audience", issuer_->SignRs256(Claims("sts.amazonaws.com").dump()),
                "audience");
  ExpectRefused("expired", issuer_->SignRs256(Claims("berthd", "acme/app", -300).dump()),
                "expired");
  ExpectRefused("bad signature", issuer_->SignWithStrangerKey(Claims().dump(), "rsa-1"),
                "bad signature");
  ExpectRefused("wrong repository", issuer_->SignRs256(Claims("berthd", "evil/app").dump()),
                "claim \"repository");
  ExpectRefused("alg none", issuer_->SignNone(Claims().dump()), "\"none\" is not accepted");
  ExpectRefused("key confusion (PEM)", issuer_->SignHs256WithPublicKey(Claims().dump(), 0),
                "\"HS256\" is not accepted");
  ExpectRefused("key confusion (modulus)", issuer_->SignHs256WithPublicKey(Claims().dump(), 1),
                "\"HS256\" is not accepted");
  ExpectRefused("unknown kid", issuer_->SignWithStrangerKey(Claims().dump(), "rsa-9"),
                "no key \"rsa-9\"");
  json foreign = Claims();
  foreign["iss"] = "https://token.actions.githubusercontent.com";
  ExpectRefused("wrong issuer", issuer_->SignRs256(foreign.dump()), "no trust policy for issuer");
  ExpectRefused("not a JWT", "abc.def", "not a JWT");
  // A project that does not exist answers as one without a policy.
  Answer missing = Exchange(issuer_->SignRs256(Claims().dump()), "p_nosuchproject234567a");
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(Message(missing).find("has no trust policy for issuer"), std::string::npos);
  // The other project has no policy: the valid token does not reach it.
  Answer other = Exchange(issuer_->SignRs256(Claims().dump()), other_);
  EXPECT_EQ(other.status, 401);
  // Malformed requests.
  EXPECT_EQ(Call("POST", "/api/v1/oidc/token", "", {{"token", "x"}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/oidc/token", "", {{"project_id", app_}, {"token", 5}}).status,
            400);
}

TEST_F(OidcE2eTest, PoliciesAreListedValidatedAndDeleted) {
  Answer list = Call("GET", "/api/v1/projects/" + app_ + "/trust-policies", kAdmin);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["issuer"], issuer_->url());
  EXPECT_EQ(list.body["items"][0]["conditions"]["repository"], "acme/app");

  auto create = [&](const json& body) {
    return Call("POST", "/api/v1/projects/" + app_ + "/trust-policies", kAdmin, body);
  };
  struct Bad {
    json body;
    std::string field;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"provider", "gitlab"}}, "field \"provider\""},
           {json::object(), "field \"provider\" is required"},
           {{{"provider", "github"}}, "field \"conditions\""},
           {{{"provider", "github"}, {"conditions", {{"repository", 5}}}},
            "field \"conditions.repository\""},
           {{{"provider", "generic"}, {"conditions", {{"a", "b"}}}}, "field \"issuer\""},
           {{{"provider", "generic"},
             {"issuer", "http://example.com"},
             {"conditions", {{"a", "b"}}}},
            "field \"issuer\""},
           {{{"provider", "github"}, {"repo", "x"}}, "field \"repo\" is unknown"},
       }) {
    Answer a = create(bad.body);
    EXPECT_EQ(a.status, 400) << bad.body.dump();
    EXPECT_NE(Message(a).find(bad.field), std::string::npos) << a.body.dump();
  }
  Answer made = create({{"provider", "buildkite"},
                        {"conditions", {{"organization_slug", "acme"}, {"pipeline_slug", "app"}}}});
  ASSERT_EQ(made.status, 201) << made.body.dump();
  EXPECT_EQ(made.body["issuer"], "https://agent.buildkite.com");
  std::string id = made.body["id"];
  // Another project cannot delete it through its own path.
  EXPECT_EQ(Call("DELETE", "/api/v1/projects/" + other_ + "/trust-policies/" + id, kAdmin).status,
            404);
  EXPECT_EQ(Call("DELETE", "/api/v1/projects/" + app_ + "/trust-policies/" + id, kAdmin).status,
            200);
  EXPECT_EQ(Call("DELETE", "/api/v1/projects/" + app_ + "/trust-policies/" + id, kAdmin).status,
            404);
  // Deleting the first policy ends the exchange.
  ASSERT_EQ(
      Call("DELETE", "/api/v1/projects/" + app_ + "/trust-policies/" + policy_, kAdmin).status,
      200);
  EXPECT_EQ(Exchange(issuer_->SignRs256(Claims().dump())).status, 401);
  // Without a token the policy API is 401.
  EXPECT_EQ(Call("GET", "/api/v1/projects/" + app_ + "/trust-policies", "").status, 401);
}

TEST_F(OidcE2eTest, CliAddsListsAndRemovesPolicies) {
  auto berth = [&](const std::string& args, std::string* out) {
    std::string cmd = "env -u BERTH_HOST -u BERTH_TOKEN HOME=" + Quote(dir_ + "/home") + " " +
                      BERTH_BIN + "/berth " + args + " --host " + url_ + " --token " + kAdmin +
                      " </dev/null >" + dir_ + "/out 2>" + dir_ + "/err";
    int code = Sh(cmd);
    *out = os::ReadFile(dir_ + "/out").value_or("") + os::ReadFile(dir_ + "/err").value_or("");
    return code;
  };
  std::string out;
  ASSERT_EQ(berth("projects trust-policy add " + app_ + " --github acme/web --output json", &out),
            0)
      << out;
  json made = json::parse(out.substr(0, out.rfind('}') + 1), nullptr, false);
  ASSERT_TRUE(made.is_object()) << out;
  EXPECT_EQ(made["provider"], "github");
  EXPECT_EQ(made["issuer"], "https://token.actions.githubusercontent.com");
  EXPECT_EQ(made["conditions"]["repository"], "acme/web");
  EXPECT_EQ(made["conditions"]["repository_owner"], "acme");
  ASSERT_EQ(
      berth("projects trust-policy add " + app_ + " --circleci org-1/proj-1 --output json", &out),
      0)
      << out;
  ASSERT_EQ(berth("projects trust-policy add " + app_ + " --buildkite acme/app --output csv", &out),
            0)
      << out;
  EXPECT_NE(out.find("organization_slug=acme pipeline_slug=app"), std::string::npos) << out;
  ASSERT_EQ(berth("projects trust-policy ls " + app_ + " --output json", &out), 0) << out;
  json list = json::parse(out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << out;
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[2]["audience"], "org-1");
  EXPECT_EQ(list[2]["issuer"], "https://oidc.circleci.com/org/org-1");
  ASSERT_EQ(berth("projects trust-policy rm " + app_ + " " + made["id"].get<std::string>(), &out),
            0)
      << out;
  ASSERT_EQ(berth("projects trust-policy ls " + app_ + " --output json", &out), 0) << out;
  EXPECT_EQ(json::parse(out, nullptr, false).size(), 3u);
  // Usage errors name the flag and exit 2.
  EXPECT_EQ(berth("projects trust-policy add " + app_ + " --github acme", &out), 2);
  EXPECT_NE(out.find("--github \"acme\": want OWNER/REPO"), std::string::npos) << out;
  EXPECT_EQ(berth("projects trust-policy add " + app_, &out), 2);
  EXPECT_NE(out.find("exactly one of"), std::string::npos) << out;
  EXPECT_EQ(berth("projects trust-policy add " + app_ + " --issuer https://i --claim x", &out), 2);
  EXPECT_NE(out.find("--claim \"x\""), std::string::npos) << out;
  // Server-side validation reaches the user as one error line.
  EXPECT_EQ(
      berth("projects trust-policy add " + app_ + " --issuer http://example.com --claim a=b", &out),
      1);
  EXPECT_NE(out.find("error: "), std::string::npos) << out;
}

// GitHub Actions: the job's ID token comes from ACTIONS_ID_TOKEN_REQUEST_URL (here a fake on
// loopback that checks the request token and signs a token for the audience asked), the CLI
// exchanges it for a token of the command's project, and `berth image ls --project` lists it.
TEST_F(OidcE2eTest, CliUsesGithubActionsIdToken) {
  std::atomic<int> requests{0};
  auto created = httpserver::Server::Create({});
  ASSERT_TRUE(created.ok()) << created.error().message();
  std::unique_ptr<httpserver::Server> github = std::move(created).value();
  github->Route("GET", "/_apis/token", [&](const httpserver::Request& r) {
    ++requests;
    if (r.Header("Authorization") != "Bearer gh-request-secret") {
      return httpserver::Response::Json(401, R"({"message":"Bad credentials"})");
    }
    auto aud = r.query.find("audience");
    if (aud == r.query.end() || r.query.count("api-version") == 0) {
      return httpserver::Response::Json(400, R"({"message":"missing audience"})");
    }
    return httpserver::Response::Json(
        200,
        json{{"count", 2028}, {"value", issuer_->SignRs256(Claims(aud->second).dump())}}.dump());
  });
  ASSERT_TRUE(github->Start().ok());
  std::string gh =
      "ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:" + std::to_string(github->port()) +
      "/_apis/token?api-version=2.0";
  std::string ok_env = gh + " ACTIONS_ID_TOKEN_REQUEST_TOKEN=gh-request-secret";
  std::string err;
  std::string out;

  ASSERT_EQ(BerthCi(ok_env, "image ls --project " + app_ + " --host " + url_ + " --output json",
                    &err, &out),
            0)
      << err;
  EXPECT_TRUE(json::parse(out, nullptr, false).is_array()) << out;
  EXPECT_EQ(requests.load(), 1);
  // The exchange minted a token of the project, named after the policy.
  Answer tokens = Call("GET", "/api/v1/tokens", kAdmin);
  ASSERT_EQ(tokens.status, 200) << tokens.body.dump();
  EXPECT_NE(tokens.body.dump().find("oidc:" + policy_), std::string::npos) << tokens.body.dump();

  const std::string from_github =
      "error: exchanging the OIDC token from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL) for "
      "project ";
  // Another project has no policy for the issuer.
  EXPECT_EQ(BerthCi(ok_env, "image ls --project " + other_ + " --host " + url_, &err), 1);
  EXPECT_EQ(err.rfind(from_github + other_ + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("no trust policy for issuer"), std::string::npos) << err;
  EXPECT_EQ(err.find("berth login"), std::string::npos) << err;
  // BERTH_OIDC_AUDIENCE changes the audience asked of GitHub: the policy wants "berthd".
  EXPECT_EQ(BerthCi(ok_env + " BERTH_OIDC_AUDIENCE=sts.amazonaws.com",
                    "image ls --project " + app_ + " --host " + url_, &err),
            1);
  EXPECT_EQ(err.rfind(from_github + app_ + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("audience"), std::string::npos) << err;
  // GitHub refusing the request token.
  EXPECT_EQ(BerthCi(gh + " ACTIONS_ID_TOKEN_REQUEST_TOKEN=stale",
                    "image ls --project " + app_ + " --host " + url_, &err),
            1);
  EXPECT_NE(err.find("requesting the ID token: HTTP 401"), std::string::npos) << err;
  // An explicit berthd token wins: GitHub is not asked, and the wrong token is refused.
  int before = requests.load();
  EXPECT_EQ(
      BerthCi(ok_env, "image ls --project " + app_ + " --host " + url_ + " --token wrong", &err),
      1);
  EXPECT_NE(err.find("berth login"), std::string::npos) << err;
  EXPECT_EQ(requests.load(), before);
  // Without an ID token or a berthd token: the usual advice.
  EXPECT_EQ(BerthCi("", "image ls --project " + app_ + " --host " + url_, &err), 1);
  EXPECT_NE(err.find("no token for " + url_), std::string::npos) << err;
  github->Stop();
}

// With a busybox base in berthd's builder: tests that build there.
class OidcBuildE2eTest : public OidcE2eTest {
 protected:
  void PrepareRoot() override {
    std::string missing = MissingCapability();
    if (!missing.empty()) {
      GTEST_SKIP() << missing;
    }
    ASSERT_EQ(Sh(std::string(BERTH_SOURCE_DIR) + "/scripts/make-busybox-rootfs " + dir_ +
                 "/rootfs >/dev/null"),
              0);
    ASSERT_EQ(Sh("BERTH_ROOT=" + dir_ + "/root/builder " + std::string(BERTH_BIN) +
                 "/berth image import " + dir_ + "/rootfs busybox:latest >/dev/null"),
              0);
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/ctx"), 0);
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                    "FROM busybox\nRUN echo built-with-oidc > /out.txt\n")
                    .ok());
  }
};

// `BERTH_OIDC_TOKEN=<jwt> berth build --host ... --project P`: a remote build of P with a token
// exchanged for the ID token; an ID token the policy refuses is a one-line error, exit code 1.
TEST_F(OidcBuildE2eTest, BuildWithBerthOidcToken) {
  std::string err;
  std::string jwt = issuer_->SignEs256(Claims().dump());
  ASSERT_EQ(
      BerthCi("BERTH_OIDC_TOKEN=" + jwt,
              "build --host " + url_ + " --project " + app_ + " --progress plain " + dir_ + "/ctx",
              &err),
      0)
      << err;
  size_t at = err.find("remote build b_");
  ASSERT_NE(at, std::string::npos) << err;
  std::string build_id = err.substr(at + 13, err.find(':', at + 13) - at - 13);
  Answer build = Call("GET", "/api/v1/builds/" + build_id, kAdmin);
  ASSERT_EQ(build.status, 200) << build.body.dump();
  EXPECT_EQ(build.body["project_id"], app_);
  EXPECT_EQ(build.body["status"], "success");

  std::string evil = issuer_->SignRs256(Claims("berthd", "evil/app").dump());
  EXPECT_EQ(BerthCi("BERTH_OIDC_TOKEN=" + evil,
                    "build --host " + url_ + " --project " + app_ + " " + dir_ + "/ctx", &err),
            1);
  EXPECT_EQ(
      err.rfind("error: exchanging the OIDC token from BERTH_OIDC_TOKEN for project " + app_ + ": ",
                0),
      0u)
      << err;
  EXPECT_NE(err.find("claim \"repository"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
  // No project to exchange for is a usage error.
  EXPECT_EQ(BerthCi("BERTH_OIDC_TOKEN=" + jwt, "build --host " + url_ + " " + dir_ + "/ctx", &err),
            2);
  EXPECT_NE(err.find("needs a project"), std::string::npos) << err;
}

// A bake whose targets are in two projects exchanges the ID token once per project: each
// target builds in its own project with that project's token.
TEST_F(OidcBuildE2eTest, BakeExchangesPerProject) {
  Answer a = Call("POST", "/api/v1/projects/" + other_ + "/trust-policies", kAdmin,
                  {{"provider", "github"},
                   {"issuer", issuer_->url()},
                   {"conditions", {{"repository", "acme/app"}, {"repository_owner", "acme"}}}});
  ASSERT_EQ(a.status, 201) << a.body.dump();
  std::string ctx = dir_ + "/ctx";
  ASSERT_TRUE(os::WriteFileAtomic(ctx + "/docker-bake.hcl",
                                  "target \"app\" {\n  context = \"" + ctx +
                                      "\"\n}\n"
                                      "target \"solo\" {\n  context = \"" +
                                      ctx + "\"\n  project_id = \"" + other_ +
                                      "\"\n}\n"
                                      "group \"default\" { targets = [\"app\", \"solo\"] }\n")
                  .ok());
  std::string err;
  ASSERT_EQ(BerthCi("BERTH_OIDC_TOKEN=" + issuer_->SignRs256(Claims().dump()),
                    "bake --progress plain -f " + ctx + "/docker-bake.hcl --host " + url_ +
                        " --project " + app_,
                    &err),
            0)
      << err;
  for (const std::string& project : {app_, other_}) {
    Answer builds = Call("GET", "/api/v1/projects/" + project + "/builds", kAdmin);
    ASSERT_EQ(builds.status, 200) << builds.body.dump();
    EXPECT_EQ(builds.body["items"].size(), 1u) << project << ": " << builds.body.dump();
  }
  Answer tokens = Call("GET", "/api/v1/tokens", kAdmin);
  size_t minted = 0;
  for (const json& t : tokens.body["items"]) {
    minted += t.value("name", "").starts_with("oidc:") ? 1 : 0;
  }
  EXPECT_EQ(minted, 2u) << tokens.body.dump();
}

}  // namespace
}  // namespace berth::e2e
