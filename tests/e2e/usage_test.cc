// Usage and the build-minute cap end to end: the real berthd on loopback (a busybox base in its
// builder) and the berth CLI. A remote build shows in `berth usage`; with the organization's cap
// used up (a finished two-minute build recorded in berthd's own database through the metastore,
// with a clock that says when), `berth build` is refused with the message and exit code 1, and
// builds again once the admin raises the cap; project settings change through the CLI.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "berthd_fixture.h"
#include "build_fixture.h"
#include "metastore/store.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

constexpr const char* kAdmin = kBerthdAdmin;

class UsageE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    server_root_ = dir_ + "/server";
    ASSERT_EQ(Sh("BERTH_ROOT=" + server_root_ + "/builder " + std::string(BERTH_BIN) +
                 "/berth image import " + dir_ + "/rootfs busybox:latest >/dev/null"),
              0);
    berthd_ = std::make_unique<Berthd>(server_root_, dir_ + "/berthd.log");
    ASSERT_FALSE(berthd_->url().empty()) << "berthd did not come up: " << berthd_->log();
    host_ = berthd_->host();
    CmdResult made = Remote("projects create web --output json");
    ASSERT_EQ(made.exit_code, 0) << made.err;
    project_ = json::parse(made.out, nullptr, false).value("id", "");
    ASSERT_FALSE(project_.empty()) << made.out;
  }
  void TearDown() override {
    berthd_.reset();
    BuildE2eTest::TearDown();
  }

  // berth `args` against this berthd with `token`.
  CmdResult Remote(const std::string& args, const std::string& token = kAdmin) {
    return Berth(args + " --host " + host_ + " --token " + token);
  }
  CmdResult RemoteBuild() {
    return Remote("build --progress plain --project " + project_ + " " + dir_ + "/ctx");
  }
  json UsageJson(const std::string& args = "") {
    CmdResult r = Remote("usage --output json " + args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::string server_root_;
  std::string host_;
  std::string project_;
  std::unique_ptr<Berthd> berthd_;
};

std::string MonthText(std::chrono::sys_days day) {
  std::chrono::year_month_day ymd{day};
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()));
  return buf;
}

TEST_F(UsageE2eTest, BuildsAreCountedAndTheCapRefusesUntilRaised) {
  CmdResult first = RemoteBuild();
  ASSERT_EQ(first.exit_code, 0) << first.err;

  json usage = UsageJson();
  EXPECT_EQ(usage["org_name"], "default") << usage.dump();
  EXPECT_EQ(usage["builds"], 1) << usage.dump();
  EXPECT_EQ(usage["build_minutes_cap"], 0);
  ASSERT_EQ(usage["projects"].size(), 1U) << usage.dump();
  EXPECT_EQ(usage["projects"][0]["project_id"], project_);
  EXPECT_EQ(usage["projects"][0]["builds"], 1);
  // The build's steps are in the project's cache on the builder.
  EXPECT_GT(usage["projects"][0]["cache_bytes"].get<int64_t>(), 0) << usage.dump();
  CmdResult csv = Remote("usage --output csv --project " + project_);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')),
            "project_id,name,month,builds,build_minutes,build_seconds,cache_bytes");
  EXPECT_NE(csv.out.find(project_ + ",web," + usage["month"].get<std::string>() + ",1,"),
            std::string::npos)
      << csv.out;
  CmdResult table = Remote("usage --output table --org default");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(table.out.starts_with("organization default (")) << table.out;

  // A finished two-minute build at the start of this month (UTC), recorded in berthd's database
  // through a second handle whose clock says when it started and ended.
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day ymd{today};
  const std::chrono::year_month this_month = ymd.year() / ymd.month();
  const std::chrono::sys_days month_start = this_month / std::chrono::day{1};
  const std::chrono::sys_days next_month =
      (this_month + std::chrono::months{1}) / std::chrono::day{1};
  {
    std::atomic<metastore::Time> now{month_start};
    Result<std::unique_ptr<metastore::Store>> store =
        metastore::Open("sqlite://" + server_root_ + "/berthd.db", {.clock = [&now] {
                          return now.load();
                        }});
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    Context ctx = Context::Background();
    Result<metastore::Build> b = (*store)->CreateBuild(ctx, {.project_id = project_});
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    ASSERT_TRUE((*store)->UpdateBuildStatus(ctx, b->id, metastore::BuildStatus::kRunning).ok());
    now = metastore::Time(month_start) + std::chrono::minutes(2);
    ASSERT_TRUE((*store)->UpdateBuildStatus(ctx, b->id, metastore::BuildStatus::kSuccess).ok());
  }
  usage = UsageJson();
  EXPECT_EQ(usage["builds"], 2) << usage.dump();
  const int64_t used_minutes = usage["build_seconds"].get<int64_t>() / 60;
  EXPECT_GE(used_minutes, 2) << usage.dump();

  // The admin sets a cap of one minute: the next build is refused, before it starts.
  CmdResult capped = Remote("orgs update default --build-minutes-cap 1 --output json");
  ASSERT_EQ(capped.exit_code, 0) << capped.err;
  EXPECT_EQ(json::parse(capped.out, nullptr, false)["build_minutes_cap"], 1) << capped.out;
  CmdResult refused = RemoteBuild();
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  std::string want = "organization \"default\" has used " + std::to_string(used_minutes) +
                     " of its 1 build minutes in " + MonthText(month_start) +
                     "; the cap resets on " + MonthText(next_month) +
                     "-01 (an admin can raise it: berth orgs update default "
                     "--build-minutes-cap N)";
  EXPECT_NE(refused.err.find(want), std::string::npos) << refused.err;
  size_t error_line = refused.err.find("error: ");
  ASSERT_NE(error_line, std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find('\n', error_line), refused.err.size() - 1) << refused.err;
  EXPECT_EQ(UsageJson()["builds"], 2);  // Nothing was recorded for it.

  // A project token cannot raise it; the admin can, and the build runs.
  CmdResult token = Remote("projects tokens create " + project_ + " --output json");
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string secret = json::parse(token.out, nullptr, false).value("secret", "");
  CmdResult not_allowed = Remote("orgs update default --build-minutes-cap 100", secret);
  EXPECT_EQ(not_allowed.exit_code, 1);
  EXPECT_TRUE(not_allowed.err.starts_with("error: ")) << not_allowed.err;
  // With a project token, `berth usage` shows that project's.
  CmdResult own = Berth("usage --output json --host " + host_ + " --token " + secret);
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_EQ(json::parse(own.out, nullptr, false)["project_id"], project_) << own.out;

  ASSERT_EQ(Remote("orgs update default --build-minutes-cap 100").exit_code, 0);
  CmdResult again = RemoteBuild();
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(UsageJson()["builds"], 3);
}

TEST_F(UsageE2eTest, ProjectSettingsChangeFromTheCli) {
  CmdResult changed = Remote("projects update " + project_ +
                             " --name site --region eu --cache-cap 1g --retention-days 30 "
                             "--output json");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  json p = json::parse(changed.out, nullptr, false);
  EXPECT_EQ(p["name"], "site") << changed.out;
  EXPECT_EQ(p["region"], "eu");
  EXPECT_EQ(p["cache_cap_bytes"], int64_t{1} << 30);
  EXPECT_EQ(p["build_retention_days"], 30);
  CmdResult got = Remote("projects get " + project_ + " --output json");
  EXPECT_EQ(json::parse(got.out, nullptr, false), p);

  // Usage errors (exit 2) and refused requests (exit 1), one "error:" line each.
  for (const std::string& args : std::vector<std::string>{
           "projects update " + project_, "projects update " + project_ + " --retention-days 0",
           "projects update " + project_ + " --cache-cap lots", "usage --month 2026-13",
           "projects create x --retention-days 3651", "orgs update default"}) {
    CmdResult r = Remote(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_TRUE(r.err.starts_with("error: ")) << args << ": " << r.err;
  }
  CmdResult taken = Remote("projects create other --output json");
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  CmdResult dup = Remote("projects update " + project_ + " --name other");
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;
  CmdResult made = Remote("projects create kept --retention-days 90 --output json");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(json::parse(made.out, nullptr, false)["build_retention_days"], 90);
}

}  // namespace
}  // namespace berth::e2e
