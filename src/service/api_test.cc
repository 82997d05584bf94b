// berthd's API (and its cache endpoints) over a real HTTP server and a SQLite metastore: who may
// reach what. Every endpoint is tried with every kind of caller: none, a revoked token, an
// expired token, another project's token, another organisation's user, and the callers that may
// use it.
#include "service/api.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "registry/auth.h"
#include "registry/http.h"
#include "service/cache_api.h"
#include "service/remote.h"

namespace berth::service {
namespace {

using json = nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-api-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    metastore::StoreOptions options;
    options.clock = [this] {
      return std::chrono::system_clock::now() + skew_.load();
    };
    Result<std::unique_ptr<metastore::Store>> store =
        metastore::Open("sqlite://" + dir_ + "/berthd.db", options);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
    Result<std::unique_ptr<httpserver::Server>> server = httpserver::Server::Create({});
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
    RegisterApi(*server_, *store_);
    // Remote builds (and the cache endpoints they register): what the matrix below reaches of
    // them answers before any build would run.
    builder_ = std::make_unique<Builder>(*store_, Builder::Options{.root = dir_ + "/builder"});
    RegisterRemoteBuilds(*server_, *store_, *builder_, {.root = dir_});
    ASSERT_TRUE(server_->Start().ok());

    Context ctx = Context::Background();
    Result<std::string> admin = Bootstrap(ctx, *store_, "");
    ASSERT_TRUE(admin.ok()) << admin.error().ToString();
    tokens_["admin"] = *admin;
    // A second start makes no second admin.
    ASSERT_EQ(Bootstrap(ctx, *store_, "").value_or("x"), "");

    // Organisation A (the bootstrap's "default") with alice, two projects and a build.
    org_a_ = Call("admin", "GET", "/api/v1/orgs")["items"][0]["id"];
    alice_ = Call("admin", "POST", "/api/v1/orgs/" + org_a_ + "/users", {{"name", "alice"}})["id"];
    tokens_["alice"] = Call("admin", "POST", "/api/v1/tokens", {{"subject", alice_}})["secret"];
    tokens_["org_a"] =
        Call("alice", "POST", "/api/v1/tokens", {{"kind", "organization"}})["secret"];
    project_ = Call("alice", "POST", "/api/v1/projects", {{"name", "web"}})["id"];
    other_project_ = Call("alice", "POST", "/api/v1/projects", {{"name", "api"}})["id"];
    tokens_["project"] = Call("alice", "POST", "/api/v1/projects/" + project_ + "/tokens",
                              {{"name", "ci"}})["secret"];
    tokens_["other_project"] =
        Call("alice", "POST", "/api/v1/projects/" + other_project_ + "/tokens")["secret"];
    Result<metastore::Build> build = store_->CreateBuild(
        ctx, {.project_id = project_, .options_json = "{}", .dockerfile = "FROM scratch\n"});
    ASSERT_TRUE(build.ok());
    build_ = build->id;

    // Organisation B with bob.
    std::string org_b = Call("admin", "POST", "/api/v1/orgs", {{"name", "other"}})["id"];
    std::string bob =
        Call("admin", "POST", "/api/v1/orgs/" + org_b + "/users", {{"name", "bob"}})["id"];
    tokens_["bob"] = Call("admin", "POST", "/api/v1/tokens", {{"subject", bob}})["secret"];

    // A revoked token and one that expires.
    json revoked = Call("alice", "POST", "/api/v1/tokens", {{"name", "old"}});
    tokens_["revoked"] = revoked["secret"];
    Call("alice", "DELETE", "/api/v1/tokens/" + revoked["token"]["id"].get<std::string>());
    tokens_["expired"] =
        Call("alice", "POST", "/api/v1/tokens", {{"expires_in_seconds", 60}})["secret"];
    skew_ = std::chrono::seconds(120);
    tokens_["none"] = "";
    ASSERT_FALSE(HasFailure());
  }

  void TearDown() override {
    client_.reset();
    if (server_) {
      server_->Stop();
    }
    std::system(("rm -rf " + dir_).c_str());
  }

  registry::HttpResponse Raw(const std::string& who, const std::string& method,
                             const std::string& path, const json& body = nullptr) {
    registry::HttpRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    if (!body.is_null()) {
      req.body = body.dump();
      req.headers.emplace_back("Content-Type", "application/json");
    } else if (method != "GET") {
      req.body = "";
    }
    const std::string& secret = tokens_[who];
    if (!secret.empty()) {
      req.headers.emplace_back("Authorization", "Bearer " + secret);
    }
    Result<registry::HttpResponse> r = client_->Do(Context::Background(), req);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : registry::HttpResponse{};
  }

  // A call that must succeed; its JSON answer.
  json Call(const std::string& who, const std::string& method, const std::string& path,
            const json& body = nullptr) {
    registry::HttpResponse r = Raw(who, method, path, body);
    EXPECT_GE(r.status, 200) << method << " " << path << ": " << r.body;
    EXPECT_LT(r.status, 300) << method << " " << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  std::string dir_;
  std::atomic<std::chrono::seconds> skew_{std::chrono::seconds(0)};
  std::unique_ptr<metastore::Store> store_;
  std::unique_ptr<httpserver::Server> server_;
  std::unique_ptr<Builder> builder_;
  std::unique_ptr<registry::HttpClient> client_ = std::make_unique<registry::HttpClient>();
  std::map<std::string, std::string> tokens_;
  std::string org_a_, alice_, project_, other_project_, build_;
};

TEST_F(ApiTest, HealthNeedsNoToken) {
  registry::HttpResponse r = Raw("none", "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["status"], "ok");
}

// Every endpoint that touches project A's things, with every caller.
TEST_F(ApiTest, EveryEndpointAuthorisesEveryCaller) {
  struct Endpoint {
    std::string method;
    std::string path;
    json body;
    std::map<std::string, int> expect;  // callers not listed: 404
  };
  const std::map<std::string, int> readers = {
      {"admin", 200}, {"alice", 200}, {"org_a", 200}, {"project", 200}};
  auto with = [](std::map<std::string, int> callers, int status) {
    for (auto& [who, want] : callers) {
      want = status;
    }
    return callers;
  };
  std::vector<Endpoint> endpoints = {
      {"GET", "/api/v1/projects/" + project_, nullptr, readers},
      {"GET", "/api/v1/projects/" + project_ + "/builds", nullptr, readers},
      {"GET", "/api/v1/builds/" + build_, nullptr, readers},
      {"GET", "/api/v1/builds/" + build_ + "/steps", nullptr, readers},
      {"GET", "/api/v1/builds/" + build_ + "/context", nullptr, readers},
      {"GET", "/api/v1/projects/" + project_ + "/cache", nullptr, readers},
      {"DELETE", "/api/v1/projects/" + project_ + "/cache", nullptr, readers},
      // Remote builds: a caller who may reach the project gets past authorisation to the
      // request's own error (400, 412); anyone else gets 404.
      {"POST", "/api/v1/projects/" + project_ + "/context/missing",
       json{{"manifest", {{"version", 1}, {"entries", json::array()}}}}, readers},
      {"PUT", "/api/v1/projects/" + project_ + "/context/not-hex", nullptr, with(readers, 400)},
      {"POST", "/api/v1/projects/" + project_ + "/builds", json::object(), with(readers, 400)},
      {"GET", "/api/v1/builds/" + build_ + "/outputs/x", nullptr, with(readers, 400)},
      {"GET", "/api/v1/builds/" + build_ + "/ssh-accept", nullptr, with(readers, 412)},
      {"GET", "/api/v1/builds/" + build_ + "/ssh/1", nullptr, with(readers, 412)},
      {"PUT", "/api/v1/builds/" + build_ + "/ssh/1", nullptr, with(readers, 412)},
      {"POST",
       "/api/v1/projects/" + project_ + "/tokens",
       json::object(),
       {{"admin", 201}, {"alice", 201}, {"org_a", 201}, {"project", 403}}},
      {"GET", "/api/v1/orgs/" + org_a_, nullptr, {{"admin", 200}, {"alice", 200}, {"org_a", 200}}},
      {"POST",
       "/api/v1/orgs/" + org_a_ + "/users",
       json{{"name", "carol"}},
       {{"admin", 201}, {"alice", 403}, {"org_a", 403}}},
  };
  for (const Endpoint& e : endpoints) {
    for (const auto& [who, secret] : tokens_) {
      int want = 404;
      if (who == "none" || who == "revoked" || who == "expired") {
        want = 401;
      } else if (auto it = e.expect.find(who); it != e.expect.end()) {
        want = it->second;
      }
      json body = e.body;
      if (e.path.ends_with("/users") && want == 201) {
        body["name"] = "carol-" + who;  // names are unique in an organisation
      }
      registry::HttpResponse r = Raw(who, e.method, e.path, body);
      EXPECT_EQ(r.status, want) << who << ": " << e.method << " " << e.path << " -> " << r.body;
      if (r.status >= 400) {
        json err = json::parse(r.body, nullptr, false);
        EXPECT_TRUE(err.contains("error")) << r.body;
      }
      if (want == 401) {
        EXPECT_EQ(r.headers.Get("www-authenticate"), "Bearer realm=\"berthd\"");
      }
    }
  }
}

TEST_F(ApiTest, OtherTenantsCannotProbeOrDelete) {
  // The same answer for another tenant's project and for one that does not exist.
  registry::HttpResponse theirs = Raw("bob", "GET", "/api/v1/projects/" + project_);
  registry::HttpResponse missing = Raw("bob", "GET", "/api/v1/projects/p_doesnotexist0000000000");
  EXPECT_EQ(theirs.status, 404);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Raw("bob", "DELETE", "/api/v1/projects/" + project_).status, 404);
  EXPECT_EQ(Raw("other_project", "DELETE", "/api/v1/projects/" + project_).status, 404);
  EXPECT_EQ(Raw("project", "DELETE", "/api/v1/projects/" + project_).status, 403);
  EXPECT_EQ(Raw("alice", "GET", "/api/v1/projects/" + project_).status, 200);

  // Lists show only the caller's own.
  json bobs = Call("bob", "GET", "/api/v1/projects");
  EXPECT_TRUE(bobs["items"].empty()) << bobs.dump();
  json alices = Call("alice", "GET", "/api/v1/projects");
  EXPECT_EQ(alices["items"].size(), 2u) << alices.dump();
  json projects = Call("project", "GET", "/api/v1/projects");
  ASSERT_EQ(projects["items"].size(), 1u);
  EXPECT_EQ(projects["items"][0]["id"], project_);
  json all = Call("admin", "GET", "/api/v1/projects");
  EXPECT_EQ(all["items"].size(), 2u);

  // Bob cannot create a project in organisation A, nor revoke alice's tokens.
  EXPECT_EQ(Raw("bob", "POST", "/api/v1/projects", {{"name", "x"}, {"org_id", org_a_}}).status,
            404);
  json alice_tokens = Call("alice", "GET", "/api/v1/tokens");
  std::string some_token = alice_tokens["items"][0]["id"];
  EXPECT_EQ(Raw("bob", "DELETE", "/api/v1/tokens/" + some_token).status, 404);

  // Alice deletes her project; its token stops working.
  EXPECT_EQ(Raw("alice", "DELETE", "/api/v1/projects/" + project_).status, 200);
  EXPECT_EQ(Raw("alice", "GET", "/api/v1/projects/" + project_).status, 404);
  EXPECT_EQ(Raw("project", "GET", "/api/v1/whoami").status, 401);
}

TEST_F(ApiTest, BadRequestsNameTheField) {
  registry::HttpResponse no_name = Raw("alice", "POST", "/api/v1/projects", json::object());
  EXPECT_EQ(no_name.status, 400);
  EXPECT_NE(no_name.body.find("\\\"name\\\" is required"), std::string::npos) << no_name.body;
  registry::HttpResponse bad_json = Raw("alice", "POST", "/api/v1/projects", "not json");
  EXPECT_EQ(bad_json.status, 400);
  registry::HttpResponse dup = Raw("alice", "POST", "/api/v1/projects", {{"name", "web"}});
  EXPECT_EQ(dup.status, 409);
  registry::HttpResponse bad_page =
      Raw("alice", "GET", "/api/v1/projects/" + project_ + "/builds?limit=0");
  EXPECT_EQ(bad_page.status, 400);
  registry::HttpResponse bad_expiry =
      Raw("alice", "POST", "/api/v1/tokens", {{"expires_in_seconds", -5}});
  EXPECT_EQ(bad_expiry.status, 400);
}

TEST_F(ApiTest, BasicAuthWithXTokenUser) {
  registry::HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/whoami";
  std::string encoded = registry::Base64Encode("x-token:" + tokens_["project"]);
  req.headers.emplace_back("Authorization", "Basic " + encoded);
  Result<registry::HttpResponse> r = client_->Do(Context::Background(), req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["project_id"], project_);
}

}  // namespace
}  // namespace berth::service
