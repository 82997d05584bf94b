// The berth CLI against a real berthd on loopback, the way a user runs them: login and logout,
// where the server, token and project come from (flag > environment > login file / berth.json),
// projects and project tokens in every output format, and the errors a wrong token gives.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "berthd_fixture.h"
#include "metastore/store.h"
#include "os/file.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

constexpr const char* kAdmin = kBerthdAdmin;

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

int Sh(const std::string& command) {
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) {
    lines.pop_back();
  }
  return lines;
}

class RemoteCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-remote-cli-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    home_ = dir_ + "/home";
    ASSERT_TRUE(os::MakeDirs(home_).ok());
    ASSERT_TRUE(os::MakeDirs(dir_ + "/work").ok());

    berthd_ = std::make_unique<Berthd>(dir_ + "/root", dir_ + "/berthd.log");
    url_ = berthd_->url();
    ASSERT_FALSE(url_.empty()) << "berthd did not come up: " << berthd_->log();
    ASSERT_TRUE(url_.starts_with("http://127.0.0.1:")) << url_;
  }

  void TearDown() override {
    berthd_.reset();
    Sh("rm -rf " + Quote(dir_));
  }

  // Runs berth in `cwd` with a clean berth environment (HOME in the test's directory, none of
  // BERTH_HOST, BERTH_TOKEN, BERTH_PROJECT, XDG_CONFIG_HOME unless `env` sets them).
  CmdResult Berth(const std::string& args, const std::map<std::string, std::string>& env = {},
                  const std::string& cwd = "") {
    std::string vars = "HOME=" + Quote(home_);
    for (const auto& [k, v] : env) {
      vars += " " + k + "=" + Quote(v);
    }
    std::string cmd = "cd " + Quote(cwd.empty() ? dir_ + "/work" : cwd) +
                      " && env -u BERTH_HOST -u BERTH_TOKEN -u BERTH_PROJECT -u XDG_CONFIG_HOME " +
                      vars + " " + BERTH_BIN + "/berth " + args + " </dev/null >" + dir_ +
                      "/out 2>" + dir_ + "/err";
    CmdResult r;
    r.exit_code = Sh(cmd);
    r.out = os::ReadFile(dir_ + "/out").value_or("");
    r.err = os::ReadFile(dir_ + "/err").value_or("");
    return r;
  }

  // berth with --host and the admin token.
  CmdResult Admin(const std::string& args, const std::map<std::string, std::string>& env = {},
                  const std::string& cwd = "") {
    return Berth(args + " --host " + url_ + " --token " + kAdmin, env, cwd);
  }

  // The JSON a command printed; fails the test when it did not succeed.
  json Json(const CmdResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  std::string CreateProject(const std::string& name) {
    json p = Json(Admin("projects create " + name + " --output json"));
    return p.value("id", "");
  }

  // A failure as the DESIGN wants it: exit `code`, one "error:" line on stderr (flag parsing
  // errors add berth's usual "Run 'berth --help' for usage." after it).
  static void ExpectError(const CmdResult& r, int code, const std::string& mentions) {
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    std::vector<std::string> lines = Lines(r.err);
    if (lines.size() == 2 && lines[1] == "Run 'berth --help' for usage.") {
      lines.pop_back();
    }
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_TRUE(lines[0].starts_with("error: ")) << r.err;
    EXPECT_NE(lines[0].find(mentions), std::string::npos) << r.err;
  }

  // Adds builds straight to berthd's database (the API has no endpoint to create them): one
  // finished with a first cache miss, one still queued.
  std::vector<std::string> AddBuilds(const std::string& project) {
    Result<std::unique_ptr<metastore::Store>> store =
        metastore::Open("sqlite://" + dir_ + "/root/berthd.db");
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    if (!store.ok()) {
      return {};
    }
    Context ctx = Context::Background();
    metastore::BuildSpec spec{
        .project_id = project, .options_json = "{}", .dockerfile = "FROM busybox\n"};
    metastore::Build done = (*store)->CreateBuild(ctx, spec).value();
    EXPECT_TRUE((*store)->UpdateBuildStatus(ctx, done.id, metastore::BuildStatus::kRunning).ok());
    EXPECT_TRUE((*store)->SetFirstMissStep(ctx, done.id, "sha256:" + std::string(64, 'a')).ok());
    EXPECT_TRUE((*store)->UpdateBuildStatus(ctx, done.id, metastore::BuildStatus::kSuccess).ok());
    metastore::Build queued = (*store)->CreateBuild(ctx, spec).value();
    return {done.id, queued.id};
  }

  std::string dir_;
  std::string home_;
  std::string url_;
  std::unique_ptr<Berthd> berthd_;
};

TEST_F(RemoteCliTest, LoginAndLogout) {
  // No server anywhere: a usage error that says how to name one.
  ExpectError(Berth("projects list"), 2, "berth login");

  // A wrong token is refused and nothing is stored.
  ExpectError(Berth("login " + url_ + " --token wrong"), 1,
              "logging in to " + url_ + ": the token is not valid");
  std::string config = home_ + "/.config/berth/config.json";
  EXPECT_FALSE(os::Exists(config));

  CmdResult login = Berth("login " + url_ + " --token " + kAdmin);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_NE(login.out.find("Logged in to " + url_), std::string::npos) << login.out;
  struct stat st {};
  ASSERT_EQ(stat(config.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  json file = json::parse(os::ReadFile(config).value_or("{}"));
  EXPECT_EQ(file["current"], url_);
  EXPECT_EQ(file["hosts"][url_]["token"], kAdmin);

  // The login is enough now.
  std::string id = CreateProject("web");
  CmdResult listed = Berth("projects list --output json");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(Json(listed)[0]["id"], id);

  // A bare host:port names the same (loopback: http) server; logging in again replaces it.
  std::string bare = url_.substr(std::string("http://").size());
  CmdResult again = Berth("login " + bare + " --token " + kAdmin);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  file = json::parse(os::ReadFile(config).value_or("{}"));
  EXPECT_EQ(file["hosts"].size(), 1u) << file.dump();

  // Logout forgets it; a second logout says so and still succeeds.
  CmdResult out = Berth("logout");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find("Logged out of " + url_), std::string::npos);
  ExpectError(Berth("projects list"), 2, "berth login");
  CmdResult twice = Berth("logout " + url_);
  EXPECT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_NE(twice.out.find("Not logged in"), std::string::npos) << twice.out;

  // The login file follows XDG_CONFIG_HOME.
  std::string xdg = dir_ + "/xdg";
  ASSERT_EQ(Berth("login " + url_ + " --token " + kAdmin, {{"XDG_CONFIG_HOME", xdg}}).exit_code, 0);
  EXPECT_TRUE(os::Exists(xdg + "/berth/config.json"));
  EXPECT_EQ(Berth("projects list", {{"XDG_CONFIG_HOME", xdg}}).exit_code, 0);
}

TEST_F(RemoteCliTest, FlagBeatsEnvironmentBeatsLogin) {
  ASSERT_EQ(Berth("login " + url_ + " --token " + kAdmin).exit_code, 0);
  // BERTH_TOKEN beats the login's token...
  ExpectError(Berth("projects list", {{"BERTH_TOKEN", "wrong"}}), 1, "berth login");
  // ...and --token beats BERTH_TOKEN.
  EXPECT_EQ(
      Berth(std::string("projects list --token ") + kAdmin, {{"BERTH_TOKEN", "wrong"}}).exit_code,
      0);
  // BERTH_HOST beats the login's host: a host with no login has no token.
  ExpectError(Berth("projects list", {{"BERTH_HOST", "127.0.0.1:1"}}), 1,
              "no token for http://127.0.0.1:1");
  // ...and --host beats BERTH_HOST, taking the login's token for that host.
  EXPECT_EQ(Berth("projects list --host " + url_, {{"BERTH_HOST", "127.0.0.1:1"}}).exit_code, 0);
  // BERTH_HOST and BERTH_TOKEN alone, without a login.
  ASSERT_EQ(Berth("logout").exit_code, 0);
  EXPECT_EQ(Berth("projects list", {{"BERTH_HOST", url_}, {"BERTH_TOKEN", kAdmin}}).exit_code, 0);
  // A malformed host is a usage error naming where it came from.
  ExpectError(Berth("projects list", {{"BERTH_HOST", "ftp://x"}, {"BERTH_TOKEN", kAdmin}}), 2,
              "BERTH_HOST");
  // A server that is not there fails the request.
  CmdResult down = Berth("projects list --host 127.0.0.1:1 --token t");
  EXPECT_EQ(down.exit_code, 1) << down.err;
  EXPECT_TRUE(down.err.starts_with("error: ")) << down.err;
}

TEST_F(RemoteCliTest, ProjectsInEveryFormat) {
  // create: json is the API's project.
  json web = Json(Admin("projects create web --region eu --cache-cap 1g --output json"));
  std::string web_id = web.value("id", "");
  EXPECT_TRUE(web_id.starts_with("p_")) << web.dump();
  EXPECT_EQ(web["name"], "web");
  EXPECT_EQ(web["region"], "eu");
  EXPECT_EQ(web["cache_cap_bytes"], int64_t{1} << 30);
  // csv: a header and the row.
  CmdResult api = Admin("projects create api --output csv");
  ASSERT_EQ(api.exit_code, 0) << api.err;
  std::vector<std::string> api_lines = Lines(api.out);
  ASSERT_EQ(api_lines.size(), 2u) << api.out;
  EXPECT_EQ(api_lines[0], "id,name,org_id,region,cache_cap_bytes,created");
  std::vector<std::string> api_row = StrSplit(api_lines[1], ',');
  ASSERT_EQ(api_row.size(), 6u) << api.out;
  std::string api_id = api_row[0];
  EXPECT_TRUE(api_id.starts_with("p_"));
  EXPECT_EQ(api_row[1], "api");
  EXPECT_EQ(api_row[4], "0");
  // table: aligned columns for people.
  CmdResult ops = Admin("projects create \"ops, eu\" --output table");
  ASSERT_EQ(ops.exit_code, 0) << ops.err;
  std::vector<std::string> ops_lines = Lines(ops.out);
  ASSERT_EQ(ops_lines.size(), 2u) << ops.out;
  EXPECT_TRUE(ops_lines[0].starts_with("ID ")) << ops.out;
  EXPECT_NE(ops_lines[0].find("CACHE CAP"), std::string::npos);
  EXPECT_NE(ops_lines[1].find("ops, eu"), std::string::npos);

  // list, in the three formats; csv when stdout is not a terminal.
  json all = Json(Admin("projects list --output json"));
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), 3u) << all.dump();
  std::vector<std::string> ids;
  for (const json& p : all) {
    ids.push_back(p["id"]);
  }
  EXPECT_NE(std::find(ids.begin(), ids.end(), web_id), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), api_id), ids.end());
  EXPECT_EQ(Json(Admin("list projects --output json")), all);

  CmdResult csv = Admin("projects list --output csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::string> csv_lines = Lines(csv.out);
  ASSERT_EQ(csv_lines.size(), 4u) << csv.out;
  EXPECT_EQ(csv_lines[0], "id,name,org_id,region,cache_cap_bytes,created");
  EXPECT_NE(csv.out.find(web_id + ",web,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find(",eu,1073741824,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find(",\"ops, eu\","), std::string::npos) << csv.out;  // quoted
  EXPECT_EQ(Admin("projects list").out, csv.out);
  EXPECT_EQ(Admin("list projects").out, csv.out);

  CmdResult table = Admin("list projects --output table");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> table_lines = Lines(table.out);
  ASSERT_EQ(table_lines.size(), 4u) << table.out;
  EXPECT_TRUE(table_lines[0].starts_with("ID ")) << table.out;
  EXPECT_NE(table.out.find("1GiB"), std::string::npos) << table.out;
  // The columns line up: every row has NAME where the header has it.
  size_t name_col = table_lines[0].find("NAME");
  for (size_t i = 1; i < table_lines.size(); ++i) {
    EXPECT_NE(table_lines[i][name_col], ' ') << table.out;
    EXPECT_EQ(table_lines[i][name_col - 1], ' ') << table.out;
  }

  // get.
  json got = Json(Admin("projects get " + web_id + " --output json"));
  EXPECT_EQ(got, web);
  CmdResult got_csv = Admin("projects get " + web_id + " --output csv");
  ASSERT_EQ(Lines(got_csv.out).size(), 2u) << got_csv.out;
  EXPECT_TRUE(Lines(got_csv.out)[1].starts_with(web_id + ",web,")) << got_csv.out;
  CmdResult got_table = Admin("projects get " + web_id + " --output table");
  ASSERT_EQ(Lines(got_table.out).size(), 2u) << got_table.out;
  EXPECT_NE(got_table.out.find("eu"), std::string::npos);

  // delete.
  CmdResult deleted = Admin("projects delete " + api_id);
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, api_id + "\n");
  ExpectError(Admin("projects get " + api_id), 1, "project " + api_id + " not found");
  ExpectError(Admin("projects delete " + api_id), 1, "not found");
  EXPECT_EQ(Json(Admin("projects list --output json")).size(), 2u);

  // Usage errors.
  ExpectError(Admin("projects list --output xml"), 2, "--output");
  ExpectError(Admin("projects create x --cache-cap lots"), 2, "--cache-cap");
  ExpectError(Admin("projects get"), 2, "ID");
}

TEST_F(RemoteCliTest, ProjectTokenSeesOnlyItsProject) {
  std::string web = CreateProject("web");
  std::string api = CreateProject("api");
  CmdResult made =
      Admin("projects tokens create " + web + " --name ci --expires 24h --output json");
  json token = Json(made);
  std::string secret = token.value("secret", "");
  ASSERT_FALSE(secret.empty()) << made.out;
  EXPECT_EQ(token["token"]["kind"], "project");
  EXPECT_EQ(token["token"]["project_id"], web);
  EXPECT_EQ(token["token"]["name"], "ci");
  EXPECT_FALSE(token["token"]["expires_at"].is_null());
  EXPECT_NE(made.err.find("only this once"), std::string::npos) << made.err;

  // With the project token: only its project.
  std::string as_ci = " --host " + url_ + " --token " + secret;
  json seen = Json(Berth("projects list --output json" + as_ci));
  ASSERT_EQ(seen.size(), 1u) << seen.dump();
  EXPECT_EQ(seen[0]["id"], web);
  EXPECT_EQ(Json(Berth("projects get " + web + " --output json" + as_ci))["id"], web);
  ExpectError(Berth("projects get " + api + as_ci), 1, "not found");
  ExpectError(Berth("projects create other" + as_ci), 1, "project token");
  EXPECT_EQ(Json(Berth("list builds --project " + web + " --output json" + as_ci)), json::array());
  ExpectError(Berth("list builds --project " + api + as_ci), 1, "not found");

  // The admin lists the project's tokens (never secrets) in csv, then revokes this one.
  CmdResult tokens = Admin("projects tokens list " + web + " --output csv");
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  std::string token_id = token["token"]["id"];
  EXPECT_NE(tokens.out.find(token_id + ",ci,project," + web), std::string::npos) << tokens.out;
  EXPECT_EQ(tokens.out.find(secret), std::string::npos);
  CmdResult revoked = Admin("projects tokens revoke " + token_id);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  ExpectError(Berth("projects list" + as_ci), 1, "berth login");

  // A token in csv and table carries its secret in the row.
  CmdResult csv = Admin("projects tokens create " + web + " --output csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  ASSERT_EQ(Lines(csv.out).size(), 2u) << csv.out;
  EXPECT_EQ(Lines(csv.out)[0], "id,name,project_id,expires,secret");
  std::string csv_secret = StrSplit(Lines(csv.out)[1], ',').back();
  EXPECT_EQ(
      Json(Berth("projects list --output json --host " + url_ + " --token " + csv_secret)).size(),
      1u);
  CmdResult table = Admin("projects tokens create " + web + " --output table");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("SECRET"), std::string::npos);
  EXPECT_NE(table.out.find("never"), std::string::npos) << table.out;

  ExpectError(Admin("projects tokens create " + web + " --expires soon"), 2, "--expires");
}

TEST_F(RemoteCliTest, WrongTokenFailsWithLoginHint) {
  CmdResult r = Berth("projects list --host " + url_ + " --token not-a-token");
  ExpectError(r, 1, "berth login " + url_);
  EXPECT_NE(r.err.find("not valid"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ExpectError(Berth("list builds --project p_x --host " + url_ + " --token nope"), 1,
              "berth login");
}

TEST_F(RemoteCliTest, InitWritesBerthJsonFoundFromSubdirectories) {
  std::string repo = dir_ + "/repo";
  ASSERT_TRUE(os::MakeDirs(repo + "/services/app").ok());
  CmdResult init = Admin("init --name web", {}, repo);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  json file = json::parse(os::ReadFile(repo + "/berth.json").value_or("{}"), nullptr, false);
  std::string web = file.value("id", "");
  ASSERT_TRUE(web.starts_with("p_")) << file.dump();
  EXPECT_NE(init.out.find(web), std::string::npos) << init.out;
  EXPECT_EQ(Json(Admin("projects get " + web + " --output json"))["name"], "web");

  // An existing berth.json is kept unless --force; --project must name a visible project.
  ExpectError(Admin("init --name again", {}, repo), 1, "--force");
  std::string other = CreateProject("other");
  ExpectError(Admin("init --project p_missing --force", {}, repo), 1, "not found");
  EXPECT_EQ(os::ReadFile(repo + "/berth.json").value_or(""), file.dump(2) + "\n");
  ASSERT_EQ(Admin("init --project " + other + " --force", {}, repo).exit_code, 0);
  ASSERT_EQ(Admin("init --project " + web + " --force", {}, repo).exit_code, 0);
  ExpectError(Admin("init", {}, repo), 2, "--project");
  EXPECT_EQ(Admin("init --project a --name b", {}, repo).exit_code, 2);

  // `list builds` in a subdirectory finds the project through berth.json above it.
  std::vector<std::string> builds = AddBuilds(web);
  ASSERT_EQ(builds.size(), 2u);
  std::string app = repo + "/services/app";
  json listed = Json(Admin("list builds --output json", {}, app));
  ASSERT_EQ(listed.size(), 2u) << listed.dump();
  EXPECT_EQ(listed[0]["id"], builds[1]);  // newest first
  EXPECT_EQ(listed[1]["id"], builds[0]);
  EXPECT_EQ(listed[1]["status"], "success");
  EXPECT_EQ(listed[1]["first_miss_step"], "sha256:" + std::string(64, 'a'));

  // csv: id, status, created (queued_at), duration, first miss.
  CmdResult csv = Admin("list builds", {}, app);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::string> lines = Lines(csv.out);
  ASSERT_EQ(lines.size(), 3u) << csv.out;
  EXPECT_EQ(lines[0], "id,status,created,duration,first_miss");
  std::vector<std::string> queued = StrSplit(lines[1], ',');
  ASSERT_EQ(queued.size(), 5u);
  EXPECT_EQ(queued[0], builds[1]);
  EXPECT_EQ(queued[1], "queued");
  EXPECT_EQ(queued[2], listed[0]["queued_at"]);
  EXPECT_EQ(queued[3], "");
  EXPECT_EQ(queued[4], "");
  std::vector<std::string> done = StrSplit(lines[2], ',');
  ASSERT_EQ(done.size(), 5u);
  EXPECT_EQ(done[1], "success");
  EXPECT_FALSE(done[3].empty());
  EXPECT_GE(std::stod(done[3]), 0.0);
  EXPECT_EQ(done[4], "sha256:" + std::string(64, 'a'));

  CmdResult table = Admin("list builds --output table --limit 1", {}, app);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> rows = Lines(table.out);
  ASSERT_EQ(rows.size(), 2u) << table.out;
  for (const char* column : {"ID", "STATUS", "CREATED", "DURATION", "FIRST MISS"}) {
    EXPECT_NE(rows[0].find(column), std::string::npos) << table.out;
  }
  EXPECT_NE(rows[1].find(builds[1]), std::string::npos) << table.out;

  // --project and BERTH_PROJECT beat berth.json.
  EXPECT_EQ(Json(Admin("list builds --output json", {{"BERTH_PROJECT", other}}, app)),
            json::array());
  EXPECT_EQ(Json(Admin("list builds --output json --project " + other, {}, app)), json::array());
  EXPECT_EQ(
      Json(Admin("list builds --output json --project " + web, {{"BERTH_PROJECT", other}}, app))
          .size(),
      2u);

  // No project anywhere: a usage error that says how to name one.
  ExpectError(Admin("list builds"), 2, "berth init");
  // A berth.json naming a project that is gone, or a broken one, is named.
  ASSERT_TRUE(os::WriteFileAtomic(repo + "/berth.json", "{\"id\":\"p_gone\"}").ok());
  ExpectError(Admin("list builds", {}, app), 1, "the project of " + repo + "/berth.json");
  // A broken berth.json is named.
  ASSERT_TRUE(os::WriteFileAtomic(repo + "/berth.json", "{\"project\":1}").ok());
  ExpectError(Admin("list builds", {}, app), 2, repo + "/berth.json");
}

TEST_F(RemoteCliTest, DepotJsonIsRead) {
  std::string web = CreateProject("web");
  std::vector<std::string> builds = AddBuilds(web);
  std::string repo = dir_ + "/depot-repo";
  ASSERT_TRUE(os::MakeDirs(repo + "/sub").ok());
  ASSERT_TRUE(os::WriteFileAtomic(repo + "/depot.json", "{\"id\":\"" + web + "\"}\n").ok());
  json listed = Json(Admin("list builds --output json", {}, repo + "/sub"));
  ASSERT_EQ(listed.size(), 2u) << listed.dump();
  EXPECT_EQ(listed[0]["project_id"], web);
  // A berth.json beside it wins.
  std::string other = CreateProject("other");
  ASSERT_TRUE(os::WriteFileAtomic(repo + "/berth.json", "{\"id\":\"" + other + "\"}\n").ok());
  EXPECT_EQ(Json(Admin("list builds --output json", {}, repo + "/sub")), json::array());
}

// berth pull-token: a short-lived token that reads the project's repository in berthd's
// registry (as the x-token password registry clients use) and cannot push or read another's.
TEST_F(RemoteCliTest, PullTokenReadsItsProjectsRepositoryOnly) {
  std::string web = CreateProject("web");
  std::string api = CreateProject("api");
  json minted = Json(Admin("pull-token --project " + web + " --output json"));
  std::string token = minted.value("token", "");
  ASSERT_FALSE(token.empty()) << minted.dump();
  EXPECT_EQ(minted["username"], "x-token");
  EXPECT_GT(minted.value("expires_in", 0), 0);
  EXPECT_EQ(minted["repository"], url_.substr(7) + "/" + web);
  CmdResult plain = Admin("pull-token --project " + web);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find('{'), std::string::npos) << plain.out;  // just the token

  auto status = [&](const std::string& method, const std::string& path) {
    std::string cmd = "curl -s -o /dev/null -w '%{http_code}' -X " + method +
                      " -u x-token:" + token + " " + url_ + path + " > " + dir_ + "/status";
    EXPECT_EQ(std::system(cmd.c_str()), 0);  // NOLINT(concurrency-mt-unsafe)
    return os::ReadFile(dir_ + "/status").value_or("");
  };
  // Authenticated for pulls from web: an empty repository is unknown, not unauthorised.
  EXPECT_EQ(status("GET", "/v2/" + web + "/tags/list"), "404");
  EXPECT_EQ(status("GET", "/v2/"), "200");
  // No push, not even to its own project; another project's repository is out of reach.
  std::string push = status("POST", "/v2/" + web + "/blobs/uploads/");
  EXPECT_TRUE(push == "401" || push == "403") << push;
  // (a registry token scoped to web answers as the spec does for a scope it lacks: 401 with a
  // challenge)
  std::string other = status("GET", "/v2/" + api + "/tags/list");
  EXPECT_TRUE(other == "401" || other == "404") << other;
  // Without a project it is a usage error that says how to name one.
  CmdResult none = Admin("pull-token", {}, dir_);
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_NE(none.err.find("--project"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace berth::e2e
