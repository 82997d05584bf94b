// berthd's API (and its cache endpoints) over a real HTTP server and a SQLite metastore: who may
// reach what. Every endpoint is tried with every kind of caller: none, a revoked token, an
// expired token, another project's token, another organisation's user, and the callers that may
// use it.
#include "service/api.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "registry/auth.h"
#include "registry/http.h"
#include "service/cache_api.h"
#include "service/remote.h"
#include "service/usage_api.h"

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
    url_ = "sqlite://" + dir_ + "/berthd.db";
    Result<std::unique_ptr<metastore::Store>> store = metastore::Open(url_, options);
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
    RegisterUsageApi(*server_, *store_, dir_ + "/builder");
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

  struct Endpoint {
    std::string method;
    std::string path;
    json body;
    std::map<std::string, int> expect;  // callers not listed: 404
  };
  // Calls every endpoint as every caller: no, a revoked or an expired token get 401 with
  // WWW-Authenticate, the callers `expect` lists their status, everyone else 404; every error
  // is the API's JSON error document.
  void ExpectStatuses(const std::vector<Endpoint>& endpoints) {
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

  // A call that must succeed; its JSON answer.
  json Call(const std::string& who, const std::string& method, const std::string& path,
            const json& body = nullptr) {
    registry::HttpResponse r = Raw(who, method, path, body);
    EXPECT_GE(r.status, 200) << method << " " << path << ": " << r.body;
    EXPECT_LT(r.status, 300) << method << " " << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  std::string dir_;
  std::string url_;
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
  ExpectStatuses(endpoints);
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

// Usage, the build-minute cap and the settings endpoints, with every caller.
TEST_F(ApiTest, UsageAndSettingsEndpointsAuthoriseEveryCaller) {
  std::vector<Endpoint> endpoints = {
      {"GET",
       "/api/v1/usage?org=" + org_a_,
       nullptr,
       {{"admin", 200}, {"alice", 200}, {"org_a", 200}, {"project", 403}, {"other_project", 403}}},
      {"GET",
       "/api/v1/projects/" + project_ + "/usage",
       nullptr,
       {{"admin", 200}, {"alice", 200}, {"org_a", 200}, {"project", 200}}},
      {"PATCH",
       "/api/v1/orgs/" + org_a_,
       json{{"build_minutes_cap", 5}},
       {{"admin", 200}, {"alice", 403}, {"org_a", 403}}},
      {"PATCH",
       "/api/v1/projects/" + project_,
       json{{"region", "eu"}},
       {{"admin", 200}, {"alice", 200}, {"org_a", 200}, {"project", 403}}},
  };
  ExpectStatuses(endpoints);
  // Without ?org=, the caller's own organization: bob reads his, not A's.
  json bobs = Call("bob", "GET", "/api/v1/usage");
  EXPECT_NE(bobs["org_id"], org_a_) << bobs.dump();
  EXPECT_EQ(bobs["projects"], json::array()) << bobs.dump();
  EXPECT_EQ(Raw("bob", "PATCH", "/api/v1/orgs/" + bobs["org_id"].get<std::string>(),
                {{"build_minutes_cap", 1}})
                .status,
            403);
}

// A finished build of `project` from `start` for `seconds`, recorded through a second handle
// on berthd's database whose clock reads exactly those instants.
void RecordBuild(const std::string& url, const std::string& project, metastore::Time start,
                 std::chrono::seconds seconds) {
  Context ctx = Context::Background();
  std::atomic<metastore::Time> now{start};
  Result<std::unique_ptr<metastore::Store>> store = metastore::Open(url, {.clock = [&now] {
                                                                      return now.load();
                                                                    }});
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  Result<metastore::Build> b = (*store)->CreateBuild(ctx, {.project_id = project});
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  ASSERT_TRUE((*store)->UpdateBuildStatus(ctx, b->id, metastore::BuildStatus::kRunning).ok());
  now = start + seconds;
  ASSERT_TRUE((*store)->UpdateBuildStatus(ctx, b->id, metastore::BuildStatus::kSuccess).ok());
}

TEST_F(ApiTest, UsageCountsBuildMinutesPerMonth) {
  // 2030-05-31 23:59:00 UTC: a build of 150 s, 60 s of it in May and 90 s in June.
  const auto may31 = std::chrono::system_clock::time_point(std::chrono::seconds(1'906'502'340));
  ASSERT_NO_FATAL_FAILURE(
      RecordBuild(url_, project_, may31 - std::chrono::hours(1), std::chrono::seconds(150)));
  ASSERT_NO_FATAL_FAILURE(RecordBuild(url_, project_, may31, std::chrono::seconds(150)));

  json may = Call("alice", "GET", "/api/v1/usage?month=2030-05");
  EXPECT_EQ(may["org_id"], org_a_);
  EXPECT_EQ(may["org_name"], "default");
  EXPECT_EQ(may["month"], "2030-05");
  EXPECT_EQ(may["from"], "2030-05-01T00:00:00.000000000Z");
  EXPECT_EQ(may["to"], "2030-06-01T00:00:00.000000000Z");
  EXPECT_EQ(may["builds"], 2);
  EXPECT_EQ(may["build_minutes"], 3.5) << may.dump();  // 150 s + 60 s
  EXPECT_EQ(may["build_seconds"], 210);
  EXPECT_EQ(may["build_minutes_cap"], 0);
  EXPECT_EQ(may["cache_bytes"], 0);
  ASSERT_EQ(may["projects"].size(), 2U) << may.dump();
  EXPECT_EQ(may["projects"][0]["name"], "api");  // By name, without builds too.
  EXPECT_EQ(may["projects"][0]["builds"], 0);
  EXPECT_EQ(may["projects"][0]["build_minutes"], 0);
  EXPECT_EQ(may["projects"][1]["project_id"], project_);
  EXPECT_EQ(may["projects"][1]["builds"], 2);
  EXPECT_EQ(may["projects"][1]["build_minutes"], 3.5);
  EXPECT_EQ(may["projects"][1]["cache_bytes"], 0);

  json june = Call("project", "GET", "/api/v1/projects/" + project_ + "/usage?month=2030-06");
  EXPECT_EQ(june["project_id"], project_);
  EXPECT_EQ(june["month"], "2030-06");
  EXPECT_EQ(june["builds"], 0);  // It started in May.
  EXPECT_EQ(june["build_seconds"], 90) << june.dump();
  EXPECT_EQ(june["build_minutes"], 1.5);

  // The current month by default; bad months name the query parameter.
  json now = Call("alice", "GET", "/api/v1/usage");
  EXPECT_EQ(now["month"], Month::Of(std::chrono::system_clock::now()).ToString());
  for (const char* bad : {"2030-13", "2030-5", "30-05", "2030/05", "1969-12", "x"}) {
    registry::HttpResponse r = Raw("alice", "GET", std::string("/api/v1/usage?month=") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("query month"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Raw("alice", "GET", "/api/v1/usage?org=o_nosuchorg00000000000").status, 404);
}

TEST_F(ApiTest, BuildMinuteCapRefusesBuilds) {
  Context ctx = Context::Background();
  Result<metastore::Project> web = store_->GetProject(ctx, project_);
  ASSERT_TRUE(web.ok());
  // 150 s on 2030-05-10 10:00: 2 whole minutes.
  const auto may10 = std::chrono::system_clock::time_point(std::chrono::seconds(1'904'637'600));
  ASSERT_NO_FATAL_FAILURE(RecordBuild(url_, project_, may10, std::chrono::seconds(150)));
  const auto later = may10 + std::chrono::hours(24);

  EXPECT_TRUE(CheckBuildMinutes(ctx, *store_, *web, later).ok());  // No cap.
  json org = Call("admin", "PATCH", "/api/v1/orgs/" + org_a_, {{"build_minutes_cap", 3}});
  EXPECT_EQ(org["build_minutes_cap"], 3);
  EXPECT_EQ(Call("alice", "GET", "/api/v1/orgs/" + org_a_)["build_minutes_cap"], 3);
  EXPECT_TRUE(CheckBuildMinutes(ctx, *store_, *web, later).ok());
  Call("admin", "PATCH", "/api/v1/orgs/" + org_a_, {{"build_minutes_cap", INT64_MAX}});
  EXPECT_TRUE(CheckBuildMinutes(ctx, *store_, *web, later).ok());  // No overflow.
  Call("admin", "PATCH", "/api/v1/orgs/" + org_a_, {{"build_minutes_cap", 2}});
  Result<> refused = CheckBuildMinutes(ctx, *store_, *web, later);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused.error().message(),
            "organization \"default\" has used 2 of its 2 build minutes in 2030-05; the cap "
            "resets on 2030-06-01 (an admin can raise it: berth orgs update default "
            "--build-minutes-cap N)");
  // Another month starts at zero; another organization has its own cap.
  EXPECT_TRUE(CheckBuildMinutes(ctx, *store_, *web, may10 + std::chrono::hours(24 * 30)).ok());

  // The remote build endpoint refuses before it reads the request: 429, resource_exhausted.
  // 10 minutes from the start of this month (by the real clock): this month's usage.
  Month month = Month::Of(std::chrono::system_clock::now());
  ASSERT_NO_FATAL_FAILURE(
      RecordBuild(url_, other_project_, month.Start(), std::chrono::seconds(600)));
  registry::HttpResponse r =
      Raw("project", "POST", "/api/v1/projects/" + project_ + "/builds", json::object());
  EXPECT_EQ(r.status, 429) << r.body;
  json err = json::parse(r.body, nullptr, false);
  EXPECT_EQ(err["error"]["code"], "resource_exhausted") << r.body;
  EXPECT_NE(err["error"]["message"].get<std::string>().find("has used 10 of its 2 build minutes"),
            std::string::npos)
      << r.body;
  // An admin raises it: the request gets past the cap (to its own error, an empty body).
  Call("admin", "PATCH", "/api/v1/orgs/" + org_a_, {{"build_minutes_cap", 0}});
  EXPECT_EQ(
      Raw("project", "POST", "/api/v1/projects/" + project_ + "/builds", json::object()).status,
      400);

  // Bad caps name the field.
  for (const json& bad : {json{{"build_minutes_cap", -1}}, json{{"build_minutes_cap", "10"}},
                          json{{"build_minute_cap", 10}}}) {
    registry::HttpResponse b = Raw("admin", "PATCH", "/api/v1/orgs/" + org_a_, bad);
    EXPECT_EQ(b.status, 400) << bad.dump();
    EXPECT_NE(b.body.find("build_minute"), std::string::npos) << b.body;
  }
}

TEST_F(ApiTest, ProjectSettingsChange) {
  json p = Call("alice", "PATCH", "/api/v1/projects/" + project_,
                {{"name", "site"}, {"cache_cap_bytes", 1 << 20}, {"build_retention_days", 30}});
  EXPECT_EQ(p["name"], "site");
  EXPECT_EQ(p["cache_cap_bytes"], 1 << 20);
  EXPECT_EQ(p["build_retention_days"], 30);
  EXPECT_EQ(p["region"], "");
  p = Call("org_a", "PATCH", "/api/v1/projects/" + project_, {{"region", "eu-west"}});
  EXPECT_EQ(p["name"], "site");  // Unchanged.
  EXPECT_EQ(p["region"], "eu-west");
  EXPECT_EQ(Call("project", "GET", "/api/v1/projects/" + project_), p);

  struct Bad {
    json body;
    int status;
    std::string says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"build_retention_days", 0}},
            400,
            "\\\"build_retention_days\\\": want 1 to 3650 days"},
           {{{"build_retention_days", 3651}}, 400, "build_retention_days"},
           {{{"cache_cap_bytes", -1}}, 400, "cache_cap_bytes"},
           {{{"name", 5}}, 400, "\\\"name\\\": want a string"},
           {{{"name", ""}}, 400, "name is empty"},
           {{{"colour", "red"}}, 400, "\\\"colour\\\" is unknown"},
           {{{"name", "api"}}, 409, "already exists"},
       }) {
    registry::HttpResponse r = Raw("alice", "PATCH", "/api/v1/projects/" + project_, bad.body);
    EXPECT_EQ(r.status, bad.status) << bad.body.dump() << " -> " << r.body;
    EXPECT_NE(r.body.find(bad.says), std::string::npos) << r.body;
  }
  EXPECT_EQ(Call("alice", "GET", "/api/v1/projects/" + project_), p);  // Nothing changed.

  // Creation takes the retention too.
  json made =
      Call("alice", "POST", "/api/v1/projects", {{"name", "docs"}, {"build_retention_days", 90}});
  EXPECT_EQ(made["build_retention_days"], 90);
  EXPECT_EQ(
      Raw("alice", "POST", "/api/v1/projects", {{"name", "x"}, {"build_retention_days", 0}}).status,
      400);
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
