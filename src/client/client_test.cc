// The typed client against berthd's real API (httpserver + service over a SQLite metastore) on
// loopback: every method, and API errors turned into berth Errors with the server's code and
// message.
#include "client/client.h"

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "httpserver/server.h"
#include "metastore/store.h"
#include "service/api.h"
#include "service/usage_api.h"

namespace berth::client {
namespace {

using json = nlohmann::json;

constexpr const char* kAdmin = "admin-secret-for-the-client-test";

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-client-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Result<std::unique_ptr<metastore::Store>> store =
        metastore::Open("sqlite://" + dir_ + "/berthd.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
    ASSERT_TRUE(service::Bootstrap(ctx_, *store_, kAdmin).ok());
    Result<std::unique_ptr<httpserver::Server>> server = httpserver::Server::Create({});
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
    service::RegisterApi(*server_, *store_);
    service::RegisterUsageApi(*server_, *store_, dir_ + "/builder");
    ASSERT_TRUE(server_->Start().ok());
    host_ = "127.0.0.1:" + std::to_string(server_->port());
    admin_ = Connect(kAdmin);
    // Also waits for the listener: httpserver's Stop() right after Start() can miss it (the
    // listener thread's accept() loop has not begun, so stop() finds nothing to stop).
    ASSERT_TRUE(admin_->GetWhoami(ctx_).ok());
  }

  void TearDown() override {
    // Clients first: the server's Stop() waits for their kept-alive connections.
    admin_.reset();
    if (server_) {
      server_->Stop();
    }
    std::system(("rm -rf " + dir_).c_str());
  }

  std::unique_ptr<Client> Connect(const std::string& token) {
    Result<std::unique_ptr<Client>> c = Client::Create(host_, token);
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(*c) : nullptr;
  }

  Context ctx_ = Context::Background();
  std::string dir_;
  std::string host_;
  std::unique_ptr<metastore::Store> store_;
  std::unique_ptr<httpserver::Server> server_;
  std::unique_ptr<Client> admin_;
};

TEST_F(ClientTest, BareLoopbackHostIsHttp) {
  EXPECT_EQ(admin_->base_url(), "http://" + host_);
  EXPECT_EQ(Client::Create("ftp://x", "t").error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ClientTest, Whoami) {
  Whoami me = admin_->GetWhoami(ctx_).value();
  EXPECT_TRUE(me.admin);
  EXPECT_EQ(me.token.kind, "user");
  EXPECT_FALSE(me.token.id.empty());
  EXPECT_FALSE(me.token.org_id.empty());
  EXPECT_EQ(json::parse(me.json)["admin"], true);
}

TEST_F(ClientTest, ProjectsLifecycle) {
  Project made =
      admin_->CreateProject(ctx_, {.name = "web", .region = "eu", .cache_cap_bytes = 1 << 30})
          .value();
  EXPECT_TRUE(made.id.starts_with("p_")) << made.id;
  EXPECT_EQ(made.name, "web");
  EXPECT_EQ(made.region, "eu");
  EXPECT_EQ(made.cache_cap_bytes, 1 << 30);
  EXPECT_FALSE(made.created_at.empty());
  EXPECT_EQ(json::parse(made.json)["id"], made.id);

  std::vector<Project> all = admin_->ListProjects(ctx_).value();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, made.id);
  EXPECT_EQ(admin_->GetProject(ctx_, made.id).value().name, "web");

  ASSERT_TRUE(admin_->DeleteProject(ctx_, made.id).ok());
  Result<Project> gone = admin_->GetProject(ctx_, made.id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(gone.error().message(), "project " + made.id + " not found");
  EXPECT_EQ(admin_->DeleteProject(ctx_, made.id).error().code(), ErrorCode::kNotFound);
  // The server's validation message comes through as InvalidArgument.
  Result<Project> unnamed = admin_->CreateProject(ctx_, {});
  ASSERT_FALSE(unnamed.ok());
  EXPECT_EQ(unnamed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(unnamed.error().message(), "project name is empty");
}

TEST_F(ClientTest, ProjectTokenSeesOnlyItsProject) {
  Project web = admin_->CreateProject(ctx_, {.name = "web"}).value();
  Project api = admin_->CreateProject(ctx_, {.name = "api"}).value();
  NewToken made = admin_->CreateProjectToken(ctx_, web.id, "ci", std::chrono::hours(24)).value();
  EXPECT_FALSE(made.secret.empty());
  EXPECT_EQ(made.token.kind, "project");
  EXPECT_EQ(made.token.project_id, web.id);
  EXPECT_EQ(made.token.name, "ci");
  EXPECT_FALSE(made.token.expires_at.empty());
  EXPECT_EQ(json::parse(made.json)["secret"], made.secret);

  std::unique_ptr<Client> ci = Connect(made.secret);
  std::vector<Project> seen = ci->ListProjects(ctx_).value();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, web.id);
  EXPECT_EQ(ci->GetProject(ctx_, api.id).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(ci->CreateProject(ctx_, {.name = "x"}).error().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(ci->ListBuilds(ctx_, web.id).value().empty());

  // The admin sees the token among the organization's and revokes it; it stops working.
  std::vector<Token> tokens = admin_->ListTokens(ctx_).value();
  bool listed = false;
  for (const Token& t : tokens) {
    listed = listed || t.id == made.token.id;
  }
  EXPECT_TRUE(listed);
  ASSERT_TRUE(admin_->RevokeToken(ctx_, made.token.id).ok());
  Result<Whoami> revoked = ci->GetWhoami(ctx_);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(ClientTest, BadTokenIsUnauthenticatedWithLoginHint) {
  std::unique_ptr<Client> nobody = Connect("wrong");
  Result<std::vector<Project>> r = nobody->ListProjects(ctx_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message().find("not valid"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("berth login http://" + host_), std::string::npos)
      << r.error().message();
  std::unique_ptr<Client> anonymous = Connect("");
  EXPECT_EQ(anonymous->GetWhoami(ctx_).error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(ClientTest, Builds) {
  Project web = admin_->CreateProject(ctx_, {.name = "web"}).value();
  Result<metastore::Build> b1 = store_->CreateBuild(
      ctx_, {.project_id = web.id, .options_json = "{}", .dockerfile = "FROM scratch\n"});
  ASSERT_TRUE(b1.ok());
  Result<metastore::Build> b2 = store_->CreateBuild(
      ctx_, {.project_id = web.id, .options_json = "{}", .dockerfile = "FROM scratch\n"});
  ASSERT_TRUE(b2.ok());

  std::vector<Build> builds = admin_->ListBuilds(ctx_, web.id).value();
  ASSERT_EQ(builds.size(), 2u);
  for (const Build& b : builds) {
    EXPECT_EQ(b.project_id, web.id);
    EXPECT_EQ(b.status, "queued");
    EXPECT_FALSE(b.queued_at.empty());
    EXPECT_FALSE(b.duration_seconds.has_value());
  }
  EXPECT_EQ(admin_->ListBuilds(ctx_, web.id, {.limit = 1}).value().size(), 1u);
  EXPECT_EQ(admin_->ListBuilds(ctx_, web.id, {.limit = 10, .offset = 1}).value().size(), 1u);
  Build one = admin_->GetBuild(ctx_, b1->id).value();
  EXPECT_EQ(one.id, b1->id);
  EXPECT_TRUE(admin_->ListBuildSteps(ctx_, b1->id).value().empty());
  EXPECT_EQ(admin_->GetBuild(ctx_, "b_missing").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(admin_->ListBuilds(ctx_, "p_missing").error().code(), ErrorCode::kNotFound);
}

TEST_F(ClientTest, UsageAndSettings) {
  Project web = admin_->CreateProject(ctx_, {.name = "web", .build_retention_days = 30}).value();
  EXPECT_EQ(web.build_retention_days, 30);
  Project changed =
      admin_->UpdateProject(ctx_, web.id, {.region = "eu", .cache_cap_bytes = 1 << 20}).value();
  EXPECT_EQ(changed.name, "web");
  EXPECT_EQ(changed.region, "eu");
  EXPECT_EQ(changed.cache_cap_bytes, 1 << 20);
  EXPECT_EQ(changed.build_retention_days, 30);
  EXPECT_EQ(admin_->UpdateProject(ctx_, web.id, {.build_retention_days = 0}).error().code(),
            ErrorCode::kInvalidArgument);

  std::vector<Organization> orgs = admin_->ListOrganizations(ctx_).value();
  ASSERT_EQ(orgs.size(), 1U);
  EXPECT_EQ(orgs[0].name, "default");
  EXPECT_EQ(orgs[0].build_minutes_cap, 0);
  Organization capped = admin_->SetBuildMinutesCap(ctx_, orgs[0].id, 600).value();
  EXPECT_EQ(capped.build_minutes_cap, 600);
  EXPECT_EQ(admin_->GetOrganization(ctx_, orgs[0].id).value().build_minutes_cap, 600);

  Usage usage = admin_->GetUsage(ctx_, "", "2026-11").value();
  EXPECT_EQ(usage.org_id, orgs[0].id);
  EXPECT_EQ(usage.org_name, "default");
  EXPECT_EQ(usage.month, "2026-11");
  EXPECT_EQ(usage.build_minutes_cap, 600);
  EXPECT_EQ(usage.builds, 0);
  ASSERT_EQ(usage.projects.size(), 1U);
  EXPECT_EQ(usage.projects[0].project_id, web.id);
  EXPECT_EQ(usage.projects[0].month, "2026-11");
  EXPECT_EQ(json::parse(usage.json)["org_id"], orgs[0].id);
  ProjectUsage one = admin_->GetProjectUsage(ctx_, web.id, "2026-10").value();
  EXPECT_EQ(one.project_id, web.id);
  EXPECT_EQ(one.month, "2026-10");
  EXPECT_EQ(admin_->GetUsage(ctx_, "", "November").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(admin_->GetUsage(ctx_, "o_nosuchorg0000000000", "").error().code(),
            ErrorCode::kNotFound);
}

TEST_F(ClientTest, UnreachableServerIsUnavailable) {
  int port = server_->port();
  admin_.reset();
  server_->Stop();
  server_.reset();
  std::unique_ptr<Client> c = Client::Create("127.0.0.1:" + std::to_string(port), kAdmin).value();
  Result<Whoami> r = c->GetWhoami(ctx_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

TEST(ErrorFromResponseTest, CodesAndMessages) {
  Error e = ErrorFromResponse(
      404, R"({"error":{"code":"not_found","message":"project p_1 not found"}})", "http://h");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "project p_1 not found");
  e = ErrorFromResponse(403, R"({"error":{"code":"permission_denied","message":"no"}})", "u");
  EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied);
  e = ErrorFromResponse(409, R"({"error":{"code":"already_exists","message":"dup"}})", "u");
  EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
  // The code in the document wins over the status; without one the status decides.
  e = ErrorFromResponse(400, R"({"error":{"code":"unavailable","message":"busy"}})", "u");
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  e = ErrorFromResponse(502, "<html>bad gateway</html>", "u");
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_NE(e.message().find("HTTP 502"), std::string::npos);
  EXPECT_NE(e.message().find("bad gateway"), std::string::npos);
  e = ErrorFromResponse(401, "", "https://b:1");
  EXPECT_EQ(e.code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(e.message().find("berth login https://b:1"), std::string::npos) << e.message();
  e = ErrorFromResponse(500, R"({"error":{"code":"internal","message":"internal error"}})", "u");
  EXPECT_EQ(e.code(), ErrorCode::kInternal);
  EXPECT_EQ(e.message(), "internal error");
}

}  // namespace
}  // namespace berth::client
