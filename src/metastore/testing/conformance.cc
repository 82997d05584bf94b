#include "metastore/testing/conformance.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <vector>

namespace berth::metastore {

// For readable failures of EXPECT_EQ on usage rows (found by argument-dependent lookup).
void PrintTo(const ProjectUsage& u, std::ostream* os) {
  *os << "{" << u.project_id << " " << u.name << " builds=" << u.builds
      << " ns=" << u.build_time.count() << "}";
}

}  // namespace berth::metastore

namespace berth::metastore::testing {

void StoreConformanceTest::SetUp() {
  char tmpl[] = "/tmp/berth-metastore-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  url_ = NewUrl();
  ASSERT_FALSE(url_.empty());
  store_ = Reopen();
  ASSERT_NE(store_, nullptr);
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string StoreConformanceTest::NewUrl() {
  std::string dir = dir_ + "/" + std::to_string(++dirs_);
  std::error_code ec;
  std::filesystem::create_directory(dir, ec);
  EXPECT_FALSE(ec) << dir << ": " << ec.message();
  Result<std::string> url = GetParam().new_url(dir);
  EXPECT_TRUE(url.ok()) << GetParam().name << ": " << url.error().ToString();
  return url.ok() ? *url : std::string();
}

std::unique_ptr<Store> StoreConformanceTest::Reopen(const std::string& url) {
  Result<std::unique_ptr<Store>> store = Open(url.empty() ? url_ : url, {.clock = [this] {
                                                return Now();
                                              }});
  EXPECT_TRUE(store.ok()) << store.error().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

Time StoreConformanceTest::Now() const {
  return Time(std::chrono::seconds(now_seconds_.load()));
}

void StoreConformanceTest::Advance(std::chrono::seconds s) {
  now_seconds_ += s.count();
}

namespace {

#define ASSERT_OK(expr)                                                                           \
  do {                                                                                            \
    const auto& assert_ok_result_ = (expr);                                                       \
    ASSERT_TRUE(assert_ok_result_.ok()) << #expr << ": " << assert_ok_result_.error().ToString(); \
  } while (0)

#define EXPECT_OK(expr)                                                                           \
  do {                                                                                            \
    const auto& expect_ok_result_ = (expr);                                                       \
    EXPECT_TRUE(expect_ok_result_.ok()) << #expr << ": " << expect_ok_result_.error().ToString(); \
  } while (0)

#define EXPECT_CODE(expr, want)                                       \
  do {                                                                \
    const auto& expect_code_result_ = (expr);                         \
    EXPECT_FALSE(expect_code_result_.ok()) << #expr << " succeeded";  \
    if (!expect_code_result_.ok()) {                                  \
      EXPECT_EQ(expect_code_result_.error().code(), want)             \
          << #expr << ": " << expect_code_result_.error().ToString(); \
    }                                                                 \
  } while (0)

#define METASTORE_CONCAT_INNER(a, b) a##b
#define METASTORE_CONCAT(a, b) METASTORE_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(METASTORE_CONCAT(assign_result_, __LINE__), lhs, expr)
// `lhs` may be a declaration, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)                   \
  auto tmp = (expr);                                                \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.error().ToString(); \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

constexpr ErrorCode kNotFound = ErrorCode::kNotFound;
constexpr ErrorCode kAlreadyExists = ErrorCode::kAlreadyExists;
constexpr ErrorCode kInvalidArgument = ErrorCode::kInvalidArgument;
constexpr ErrorCode kUnauthenticated = ErrorCode::kUnauthenticated;
constexpr ErrorCode kFailedPrecondition = ErrorCode::kFailedPrecondition;

bool UrlSafe(const std::string& id) {
  return !id.empty() &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
}

std::vector<std::string> BuildIds(const std::vector<Build>& builds) {
  std::vector<std::string> ids;
  for (const Build& b : builds) {
    ids.push_back(b.id);
  }
  return ids;
}

BuildStep MakeStep(const std::string& build_id, const std::string& vertex, int line) {
  BuildStep s;
  s.build_id = build_id;
  s.vertex = vertex;
  s.name = "[build " + std::to_string(line) + "/3] RUN make " + vertex;
  s.line = line;
  s.cached = line % 2 == 0;
  s.started_at = Time(std::chrono::seconds(1'800'000'000 + line));
  s.finished_at = Time(std::chrono::seconds(1'800'000'010 + line));
  s.duration = std::chrono::nanoseconds(10'000'000'123LL);
  s.log = "step " + vertex + " says hello\n";
  s.layer_size = int64_t{4096} * line;
  return s;
}

// --- Organizations and users

TEST_P(StoreConformanceTest, OrganizationCrud) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  EXPECT_TRUE(acme.id.starts_with("o_")) << acme.id;
  EXPECT_TRUE(UrlSafe(acme.id)) << acme.id;
  EXPECT_EQ(acme.name, "acme");
  EXPECT_EQ(acme.created_at, Now());

  ASSERT_OK_AND_ASSIGN(Organization got, store_->GetOrganization(ctx_, acme.id));
  EXPECT_EQ(got, acme);

  Advance(std::chrono::seconds(5));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));
  EXPECT_NE(globex.id, acme.id);
  ASSERT_OK_AND_ASSIGN(std::vector<Organization> all, store_->ListOrganizations(ctx_));
  EXPECT_EQ(all, (std::vector<Organization>{acme, globex}));

  EXPECT_CODE(store_->CreateOrganization(ctx_, "acme"), kAlreadyExists);
  EXPECT_CODE(store_->CreateOrganization(ctx_, ""), kInvalidArgument);
  EXPECT_CODE(store_->CreateOrganization(ctx_, "bad\nname"), kInvalidArgument);
  EXPECT_CODE(store_->CreateOrganization(ctx_, std::string(201, 'x')), kInvalidArgument);
  EXPECT_CODE(store_->GetOrganization(ctx_, "o_missing"), kNotFound);

  ASSERT_OK(store_->DeleteOrganization(ctx_, acme.id));
  EXPECT_CODE(store_->GetOrganization(ctx_, acme.id), kNotFound);
  EXPECT_CODE(store_->DeleteOrganization(ctx_, acme.id), kNotFound);
  // The name is free again.
  EXPECT_OK(store_->CreateOrganization(ctx_, "acme"));
}

TEST_P(StoreConformanceTest, UserCrud) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));
  ASSERT_OK_AND_ASSIGN(User bob, store_->CreateUser(ctx_, acme.id, "bob", false));
  ASSERT_OK_AND_ASSIGN(User alice, store_->CreateUser(ctx_, acme.id, "alice", true));
  EXPECT_TRUE(alice.id.starts_with("u_")) << alice.id;
  EXPECT_TRUE(alice.admin);
  EXPECT_FALSE(bob.admin);
  EXPECT_EQ(alice.org_id, acme.id);

  ASSERT_OK_AND_ASSIGN(User got, store_->GetUser(ctx_, alice.id));
  EXPECT_EQ(got, alice);
  ASSERT_OK_AND_ASSIGN(std::vector<User> users, store_->ListUsers(ctx_, acme.id));
  EXPECT_EQ(users, (std::vector<User>{alice, bob}));  // By name.

  EXPECT_CODE(store_->CreateUser(ctx_, acme.id, "bob", true), kAlreadyExists);
  EXPECT_OK(store_->CreateUser(ctx_, globex.id, "bob", false));  // Another org: fine.
  EXPECT_CODE(store_->CreateUser(ctx_, "o_missing", "carol", false), kNotFound);
  EXPECT_CODE(store_->ListUsers(ctx_, "o_missing"), kNotFound);
  EXPECT_CODE(store_->GetUser(ctx_, "u_missing"), kNotFound);

  ASSERT_OK(store_->DeleteUser(ctx_, bob.id));
  EXPECT_CODE(store_->GetUser(ctx_, bob.id), kNotFound);
  EXPECT_CODE(store_->DeleteUser(ctx_, bob.id), kNotFound);
}

// --- Projects

TEST_P(StoreConformanceTest, ProjectCrud) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));

  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id,
                                                                 .name = "web",
                                                                 .region = "eu-west",
                                                                 .cache_cap_bytes = 50LL << 30,
                                                                 .build_retention_days = 30}));
  EXPECT_TRUE(web.id.starts_with("p_")) << web.id;
  EXPECT_TRUE(UrlSafe(web.id)) << web.id;
  EXPECT_EQ(web.org_id, acme.id);
  EXPECT_EQ(web.region, "eu-west");
  EXPECT_EQ(web.cache_cap_bytes, 50LL << 30);
  EXPECT_EQ(web.build_retention_days, 30);
  EXPECT_EQ(web.created_at, Now());

  ASSERT_OK_AND_ASSIGN(Project api,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "api"}));
  EXPECT_EQ(api.build_retention_days, 7);  // The default.
  EXPECT_EQ(api.cache_cap_bytes, 0);

  ASSERT_OK_AND_ASSIGN(Project got, store_->GetProject(ctx_, web.id));
  EXPECT_EQ(got, web);

  // Names are unique within an organization only.
  EXPECT_CODE(store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}), kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(Project other_web,
                       store_->CreateProject(ctx_, {.org_id = globex.id, .name = "web"}));

  ASSERT_OK_AND_ASSIGN(std::vector<Project> listed, store_->ListProjects(ctx_, acme.id));
  EXPECT_EQ(listed, (std::vector<Project>{api, web}));  // By name, this org's only.
  ASSERT_OK_AND_ASSIGN(listed, store_->ListProjects(ctx_, globex.id));
  EXPECT_EQ(listed, (std::vector<Project>{other_web}));

  EXPECT_CODE(store_->CreateProject(ctx_, {.org_id = "o_missing", .name = "x"}), kNotFound);
  EXPECT_CODE(store_->ListProjects(ctx_, "o_missing"), kNotFound);
  EXPECT_CODE(store_->CreateProject(ctx_, {.org_id = acme.id, .name = ""}), kInvalidArgument);
  EXPECT_CODE(store_->CreateProject(ctx_, {.org_id = acme.id, .name = "x", .cache_cap_bytes = -1}),
              kInvalidArgument);
  EXPECT_CODE(
      store_->CreateProject(ctx_, {.org_id = acme.id, .name = "x", .build_retention_days = 0}),
      kInvalidArgument);
  EXPECT_CODE(store_->GetProject(ctx_, "p_missing"), kNotFound);

  ASSERT_OK(store_->DeleteProject(ctx_, web.id));
  EXPECT_CODE(store_->GetProject(ctx_, web.id), kNotFound);
  EXPECT_CODE(store_->DeleteProject(ctx_, web.id), kNotFound);
  ASSERT_OK_AND_ASSIGN(listed, store_->ListProjects(ctx_, acme.id));
  EXPECT_EQ(listed, (std::vector<Project>{api}));
}

TEST_P(StoreConformanceTest, ProjectUpdateChangesOnlyWhatItSets) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id,
                                                                 .name = "web",
                                                                 .region = "eu-west",
                                                                 .cache_cap_bytes = 1 << 20}));
  ASSERT_OK_AND_ASSIGN(Project api,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "api"}));

  ASSERT_OK_AND_ASSIGN(Project same, store_->UpdateProject(ctx_, web.id, {}));
  EXPECT_EQ(same, web);
  ASSERT_OK_AND_ASSIGN(Project got,
                       store_->UpdateProject(ctx_, web.id, {.build_retention_days = 30}));
  Project want = web;
  want.build_retention_days = 30;
  EXPECT_EQ(got, want);
  ASSERT_OK_AND_ASSIGN(
      got, store_->UpdateProject(
               ctx_, web.id,
               {.name = "site", .region = "", .cache_cap_bytes = 0, .build_retention_days = 3650}));
  want.name = "site";
  want.region = "";
  want.cache_cap_bytes = 0;
  want.build_retention_days = 3650;
  EXPECT_EQ(got, want);
  ASSERT_OK_AND_ASSIGN(got, store_->GetProject(ctx_, web.id));
  EXPECT_EQ(got, want);

  // Checked as CreateProject checks, and nothing changes on a refusal.
  EXPECT_CODE(store_->UpdateProject(ctx_, web.id, {.name = "api"}), kAlreadyExists);
  EXPECT_CODE(store_->UpdateProject(ctx_, web.id, {.name = ""}), kInvalidArgument);
  EXPECT_CODE(store_->UpdateProject(ctx_, web.id, {.name = "x", .cache_cap_bytes = -1}),
              kInvalidArgument);
  EXPECT_CODE(store_->UpdateProject(ctx_, web.id, {.build_retention_days = 0}), kInvalidArgument);
  EXPECT_CODE(store_->UpdateProject(ctx_, web.id, {.build_retention_days = 3651}),
              kInvalidArgument);
  EXPECT_CODE(store_->CreateProject(
                  ctx_, {.org_id = acme.id, .name = "long", .build_retention_days = 3651}),
              kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(got, store_->GetProject(ctx_, web.id));
  EXPECT_EQ(got, want);
  ASSERT_OK_AND_ASSIGN(Project api_now, store_->GetProject(ctx_, api.id));
  EXPECT_EQ(api_now, api);

  EXPECT_CODE(store_->UpdateProject(ctx_, "p_missing", {.region = "us"}), kNotFound);
  EXPECT_CODE(store_->UpdateProject(ctx_, "../x", {.region = "us"}), kNotFound);
}

TEST_P(StoreConformanceTest, OrganizationBuildMinuteCap) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));
  EXPECT_EQ(acme.build_minutes_cap, 0);  // No cap.

  ASSERT_OK_AND_ASSIGN(Organization got,
                       store_->UpdateOrganization(ctx_, acme.id, {.build_minutes_cap = 600}));
  EXPECT_EQ(got.build_minutes_cap, 600);
  EXPECT_EQ(got.name, "acme");
  EXPECT_EQ(got.created_at, acme.created_at);
  ASSERT_OK_AND_ASSIGN(got, store_->GetOrganization(ctx_, acme.id));
  EXPECT_EQ(got.build_minutes_cap, 600);
  ASSERT_OK_AND_ASSIGN(got, store_->UpdateOrganization(ctx_, acme.id, {}));
  EXPECT_EQ(got.build_minutes_cap, 600);
  ASSERT_OK_AND_ASSIGN(std::vector<Organization> orgs, store_->ListOrganizations(ctx_));
  ASSERT_EQ(orgs.size(), 2U);
  EXPECT_EQ(orgs[0].build_minutes_cap, 600);
  EXPECT_EQ(orgs[1], globex);  // Only that one changed.

  EXPECT_CODE(store_->UpdateOrganization(ctx_, acme.id, {.build_minutes_cap = -1}),
              kInvalidArgument);
  EXPECT_CODE(store_->UpdateOrganization(ctx_, "o_missing", {.build_minutes_cap = 1}), kNotFound);
  ASSERT_OK_AND_ASSIGN(got, store_->UpdateOrganization(ctx_, acme.id, {.build_minutes_cap = 0}));
  EXPECT_EQ(got.build_minutes_cap, 0);
}

TEST_P(StoreConformanceTest, BuildUsageSplitsBuildsAtMonthEdges) {
  // 2027-01-01, 2027-02-01, 2027-03-01, 2027-04-01 00:00:00 UTC.
  constexpr int64_t kJan = 1'798'761'600;
  constexpr int64_t kFeb = 1'801'440'000;
  constexpr int64_t kMar = 1'803'859'200;
  constexpr int64_t kApr = 1'806'537'600;
  auto at = [](int64_t s) {
    return Time(std::chrono::seconds(s));
  };
  auto secs = [](int64_t s) {
    return std::chrono::nanoseconds(std::chrono::seconds(s));
  };
  const std::optional<int64_t> kRunning;
  // A build of `project` that runs from `start` to `end` (still running when `end` is none), by
  // the fake clock.
  auto run = [&](const std::string& project, int64_t start, std::optional<int64_t> end,
                 BuildStatus final_status) {
    now_seconds_ = start;
    ASSERT_OK_AND_ASSIGN(Build build, store_->CreateBuild(ctx_, {.project_id = project}));
    ASSERT_OK(store_->UpdateBuildStatus(ctx_, build.id, BuildStatus::kRunning));
    if (end) {
      now_seconds_ = *end;
      ASSERT_OK(store_->UpdateBuildStatus(ctx_, build.id, final_status));
    }
  };

  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));
  ASSERT_OK_AND_ASSIGN(Project a, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "a"}));
  ASSERT_OK_AND_ASSIGN(Project b, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "b"}));
  ASSERT_OK_AND_ASSIGN(Project idle,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "c-idle"}));
  ASSERT_OK_AND_ASSIGN(Project other,
                       store_->CreateProject(ctx_, {.org_id = globex.id, .name = "a"}));

  // a: Jan 31 23:59 -> Feb 1 00:02 (60 s in January, 120 s in February, a January build).
  ASSERT_NO_FATAL_FAILURE(run(a.id, kFeb - 60, kFeb + 120, BuildStatus::kSuccess));
  // a: starts on February's first instant, 10 s.
  ASSERT_NO_FATAL_FAILURE(run(a.id, kFeb, kFeb + 10, BuildStatus::kSuccess));
  // a: a failed build of 300 s counts too.
  ASSERT_NO_FATAL_FAILURE(
      run(a.id, kFeb + 86400 * 9, kFeb + 86400 * 9 + 300, BuildStatus::kFailed));
  // a: Feb 28 23:58 -> Mar 1 00:01 (120 s in February, 60 s in March).
  ASSERT_NO_FATAL_FAILURE(run(a.id, kMar - 120, kMar + 60, BuildStatus::kCanceled));
  // a: starts on March's first instant, 30 s: nothing of it in February.
  ASSERT_NO_FATAL_FAILURE(run(a.id, kMar, kMar + 30, BuildStatus::kSuccess));
  // a: builds that never started use no time and do not count.
  ASSERT_OK_AND_ASSIGN(Build never, store_->CreateBuild(ctx_, {.project_id = a.id}));
  ASSERT_OK(store_->UpdateBuildStatus(ctx_, never.id, BuildStatus::kCanceled));
  ASSERT_OK(store_->CreateBuild(ctx_, {.project_id = a.id}));
  // globex's build is not acme's.
  ASSERT_NO_FATAL_FAILURE(run(other.id, kFeb + 100, kFeb + 200, BuildStatus::kSuccess));
  // b: started Feb 20 12:00 and still running.
  const int64_t b_start = kFeb + 86400 * 19 + 43200;
  ASSERT_NO_FATAL_FAILURE(run(b.id, b_start, kRunning, BuildStatus::kSuccess));

  // Ten minutes into b's build: it counts up to now.
  now_seconds_ = b_start + 600;
  ASSERT_OK_AND_ASSIGN(std::vector<ProjectUsage> feb,
                       store_->BuildUsage(ctx_, acme.id, at(kFeb), at(kMar)));
  ASSERT_EQ(feb.size(), 3U);  // By name, the idle project too.
  EXPECT_EQ(feb[0], (ProjectUsage{a.id, "a", 3, secs(120 + 10 + 300 + 120)}));
  EXPECT_EQ(feb[1], (ProjectUsage{b.id, "b", 1, secs(600)}));
  EXPECT_EQ(feb[2], (ProjectUsage{idle.id, "c-idle", 0, secs(0)}));

  // On March 2, b is still running: February holds it up to March's first instant.
  now_seconds_ = kMar + 86400;
  ASSERT_OK_AND_ASSIGN(feb, store_->BuildUsage(ctx_, acme.id, at(kFeb), at(kMar)));
  ASSERT_EQ(feb.size(), 3U);
  EXPECT_EQ(feb[1], (ProjectUsage{b.id, "b", 1, secs(kMar - b_start)}));
  ASSERT_OK_AND_ASSIGN(std::vector<ProjectUsage> mar,
                       store_->BuildUsage(ctx_, acme.id, at(kMar), at(kApr)));
  ASSERT_EQ(mar.size(), 3U);
  EXPECT_EQ(mar[0], (ProjectUsage{a.id, "a", 1, secs(60 + 30)}));
  EXPECT_EQ(mar[1], (ProjectUsage{b.id, "b", 0, secs(86400)}));
  ASSERT_OK_AND_ASSIGN(std::vector<ProjectUsage> jan,
                       store_->BuildUsage(ctx_, acme.id, at(kJan), at(kFeb)));
  ASSERT_EQ(jan.size(), 3U);
  EXPECT_EQ(jan[0], (ProjectUsage{a.id, "a", 1, secs(60)}));
  EXPECT_EQ(jan[1], (ProjectUsage{b.id, "b", 0, secs(0)}));

  // One project, and the other organization.
  ASSERT_OK_AND_ASSIGN(ProjectUsage one, store_->ProjectBuildUsage(ctx_, a.id, at(kFeb), at(kMar)));
  EXPECT_EQ(one, (ProjectUsage{a.id, "a", 3, secs(550)}));
  ASSERT_OK_AND_ASSIGN(one, store_->ProjectBuildUsage(ctx_, idle.id, at(kFeb), at(kMar)));
  EXPECT_EQ(one, (ProjectUsage{idle.id, "c-idle", 0, secs(0)}));
  ASSERT_OK_AND_ASSIGN(std::vector<ProjectUsage> theirs,
                       store_->BuildUsage(ctx_, globex.id, at(kFeb), at(kMar)));
  EXPECT_EQ(theirs, (std::vector<ProjectUsage>{{other.id, "a", 1, secs(100)}}));

  // Bad periods and ids.
  EXPECT_CODE(store_->BuildUsage(ctx_, acme.id, at(kMar), at(kMar)), kInvalidArgument);
  EXPECT_CODE(store_->BuildUsage(ctx_, acme.id, at(kMar), at(kFeb)), kInvalidArgument);
  EXPECT_CODE(store_->BuildUsage(ctx_, "o_missing", at(kFeb), at(kMar)), kNotFound);
  EXPECT_CODE(store_->ProjectBuildUsage(ctx_, "p_missing", at(kFeb), at(kMar)), kNotFound);
  ASSERT_OK_AND_ASSIGN(Organization empty, store_->CreateOrganization(ctx_, "empty"));
  ASSERT_OK_AND_ASSIGN(std::vector<ProjectUsage> none,
                       store_->BuildUsage(ctx_, empty.id, at(kFeb), at(kMar)));
  EXPECT_TRUE(none.empty());
}

TEST_P(StoreConformanceTest, UnicodeNamesRoundTrip) {
  ASSERT_OK_AND_ASSIGN(Organization org, store_->CreateOrganization(ctx_, "Zürich 東京 🚢"));
  ASSERT_OK_AND_ASSIGN(Organization got, store_->GetOrganization(ctx_, org.id));
  EXPECT_EQ(got.name, "Zürich 東京 🚢");
  EXPECT_CODE(store_->CreateOrganization(ctx_, "bad \xff utf-8"), kInvalidArgument);
}

TEST_P(StoreConformanceTest, MalformedIdsAreNotFound) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  for (const std::string& id :
       {std::string("p_\xff\xfe"), std::string("p_a\0b", 5), std::string("P_UPPER"),
        std::string("p_x' OR '1'='1"), std::string(""), std::string(1000, 'p')}) {
    SCOPED_TRACE(::testing::PrintToString(id));
    EXPECT_CODE(store_->GetProject(ctx_, id), kNotFound);
    EXPECT_CODE(store_->DeleteProject(ctx_, id), kNotFound);
    EXPECT_CODE(store_->GetOrganization(ctx_, id), kNotFound);
    EXPECT_CODE(store_->ListProjects(ctx_, id), kNotFound);
    EXPECT_CODE(store_->GetBuild(ctx_, id), kNotFound);
    EXPECT_CODE(store_->ListBuilds(ctx_, id, {}), kNotFound);
    EXPECT_CODE(store_->GetToken(ctx_, id), kNotFound);
    EXPECT_CODE(store_->CreateBuild(ctx_, {.project_id = id}), kNotFound);
    EXPECT_CODE(store_->CreateToken(ctx_, {.kind = TokenKind::kProject, .subject = id}), kNotFound);
    EXPECT_CODE(store_->CreateProject(ctx_, {.org_id = id, .name = "x"}), kNotFound);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Project> projects, store_->ListProjects(ctx_, acme.id));
  EXPECT_TRUE(projects.empty());
}

TEST_P(StoreConformanceTest, DeletingAnOrganizationDeletesEverythingInIt) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));
  ASSERT_OK_AND_ASSIGN(User bob, store_->CreateUser(ctx_, acme.id, "bob", false));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Project kept,
                       store_->CreateProject(ctx_, {.org_id = globex.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(NewToken token,
                       store_->CreateToken(ctx_, {.kind = TokenKind::kUser, .subject = bob.id}));
  ASSERT_OK_AND_ASSIGN(NewToken kept_token, store_->CreateToken(ctx_, {.kind = TokenKind::kProject,
                                                                       .subject = kept.id}));
  ASSERT_OK_AND_ASSIGN(Build build, store_->CreateBuild(ctx_, {.project_id = web.id}));
  ASSERT_OK(store_->UpsertBuildStep(ctx_, MakeStep(build.id, "sha256:aa", 1)));
  ASSERT_OK(store_->SetBuildContext(ctx_, build.id, {{"Dockerfile", 10, "sha256:bb"}}, 10));

  ASSERT_OK(store_->DeleteOrganization(ctx_, acme.id));
  EXPECT_CODE(store_->GetUser(ctx_, bob.id), kNotFound);
  EXPECT_CODE(store_->GetProject(ctx_, web.id), kNotFound);
  EXPECT_CODE(store_->GetToken(ctx_, token.token.id), kNotFound);
  EXPECT_CODE(store_->Authenticate(ctx_, token.secret), kUnauthenticated);
  EXPECT_CODE(store_->GetBuild(ctx_, build.id), kNotFound);
  EXPECT_CODE(store_->ListBuildSteps(ctx_, build.id), kNotFound);
  // The other organization keeps its own.
  EXPECT_OK(store_->GetProject(ctx_, kept.id));
  EXPECT_OK(store_->Authenticate(ctx_, kept_token.secret));
}

// --- Tokens

TEST_P(StoreConformanceTest, TokenAuthenticates) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(User bob, store_->CreateUser(ctx_, acme.id, "bob", false));
  ASSERT_OK_AND_ASSIGN(
      NewToken created,
      store_->CreateToken(ctx_, {.kind = TokenKind::kUser, .subject = bob.id, .name = "laptop"}));
  const Token& t = created.token;
  EXPECT_TRUE(t.id.starts_with("t_")) << t.id;
  EXPECT_EQ(t.kind, TokenKind::kUser);
  EXPECT_EQ(t.subject, bob.id);
  EXPECT_EQ(t.org_id, acme.id);
  EXPECT_EQ(t.project_id, "");
  EXPECT_EQ(t.name, "laptop");
  EXPECT_EQ(t.created_at, Now());
  EXPECT_FALSE(t.revoked);
  EXPECT_FALSE(t.expires_at.has_value());
  EXPECT_FALSE(t.last_used_at.has_value());
  // A secret carries 256 random bits and is unique.
  EXPECT_GE(created.secret.size(), 60u);
  EXPECT_TRUE(UrlSafe(created.secret)) << created.secret;
  ASSERT_OK_AND_ASSIGN(NewToken second,
                       store_->CreateToken(ctx_, {.kind = TokenKind::kUser, .subject = bob.id}));
  EXPECT_NE(second.secret, created.secret);
  EXPECT_NE(second.token.id, t.id);

  Advance(std::chrono::seconds(60));
  ASSERT_OK_AND_ASSIGN(Token authed, store_->Authenticate(ctx_, created.secret));
  EXPECT_EQ(authed.id, t.id);
  EXPECT_EQ(authed.kind, TokenKind::kUser);
  EXPECT_EQ(authed.subject, bob.id);
  EXPECT_EQ(authed.org_id, acme.id);
  EXPECT_EQ(authed.last_used_at, Now());
  ASSERT_OK_AND_ASSIGN(Token got, store_->GetToken(ctx_, t.id));
  EXPECT_EQ(got, authed);
  // The other token was not used.
  ASSERT_OK_AND_ASSIGN(got, store_->GetToken(ctx_, second.token.id));
  EXPECT_FALSE(got.last_used_at.has_value());
}

TEST_P(StoreConformanceTest, WrongSecretsDoNotAuthenticate) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(NewToken a, store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                              .subject = acme.id}));
  ASSERT_OK_AND_ASSIGN(NewToken b, store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                              .subject = acme.id}));
  std::string wrong = a.secret;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_CODE(store_->Authenticate(ctx_, wrong), kUnauthenticated);
  // a's id with b's secret part.
  std::string mixed =
      a.secret.substr(0, a.secret.size() - 52) + b.secret.substr(b.secret.size() - 52);
  EXPECT_CODE(store_->Authenticate(ctx_, mixed), kUnauthenticated);
  EXPECT_CODE(store_->Authenticate(ctx_, ""), kUnauthenticated);
  EXPECT_CODE(store_->Authenticate(ctx_, "garbage"), kUnauthenticated);
  EXPECT_CODE(store_->Authenticate(ctx_, a.secret + "x"), kUnauthenticated);
  EXPECT_CODE(store_->Authenticate(ctx_, a.secret.substr(1)), kUnauthenticated);
  EXPECT_CODE(store_->Authenticate(ctx_, std::string(a.secret.size(), '\0')), kUnauthenticated);
  // Failures did not touch the token; the right secret still works.
  ASSERT_OK_AND_ASSIGN(Token got, store_->GetToken(ctx_, a.token.id));
  EXPECT_FALSE(got.last_used_at.has_value());
  EXPECT_OK(store_->Authenticate(ctx_, a.secret));
  EXPECT_OK(store_->Authenticate(ctx_, b.secret));
}

TEST_P(StoreConformanceTest, RevokedTokensDoNotAuthenticate) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(NewToken a, store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                              .subject = acme.id}));
  ASSERT_OK(store_->Authenticate(ctx_, a.secret));
  Advance(std::chrono::seconds(10));
  ASSERT_OK(store_->RevokeToken(ctx_, a.token.id));
  const Time revoked_at = Now();
  EXPECT_CODE(store_->Authenticate(ctx_, a.secret), kUnauthenticated);
  ASSERT_OK_AND_ASSIGN(Token got, store_->GetToken(ctx_, a.token.id));
  EXPECT_TRUE(got.revoked);
  EXPECT_EQ(got.revoked_at, revoked_at);

  // Revoking again is fine and keeps the first time.
  Advance(std::chrono::seconds(10));
  ASSERT_OK(store_->RevokeToken(ctx_, a.token.id));
  ASSERT_OK_AND_ASSIGN(got, store_->GetToken(ctx_, a.token.id));
  EXPECT_EQ(got.revoked_at, revoked_at);
  EXPECT_CODE(store_->RevokeToken(ctx_, "t_missing"), kNotFound);
  EXPECT_CODE(store_->GetToken(ctx_, "t_missing"), kNotFound);
}

TEST_P(StoreConformanceTest, ExpiredTokensDoNotAuthenticate) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  const Time expiry = Now() + std::chrono::hours(1);
  ASSERT_OK_AND_ASSIGN(NewToken a, store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                              .subject = acme.id,
                                                              .expires_at = expiry}));
  EXPECT_EQ(a.token.expires_at, expiry);
  ASSERT_OK_AND_ASSIGN(Token got, store_->GetToken(ctx_, a.token.id));
  EXPECT_EQ(got.expires_at, expiry);
  Advance(std::chrono::minutes(59));
  EXPECT_OK(store_->Authenticate(ctx_, a.secret));
  Advance(std::chrono::minutes(1));
  EXPECT_CODE(store_->Authenticate(ctx_, a.secret), kUnauthenticated);
  Advance(std::chrono::hours(24));
  EXPECT_CODE(store_->Authenticate(ctx_, a.secret), kUnauthenticated);

  EXPECT_CODE(
      store_->CreateToken(
          ctx_, {.kind = TokenKind::kOrganization, .subject = acme.id, .expires_at = Now()}),
      kInvalidArgument);
}

TEST_P(StoreConformanceTest, ImportedSecretsAuthenticate) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  const std::string secret = "admin-token-from-the-environment-42";
  ASSERT_OK_AND_ASSIGN(NewToken admin, store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                                  .subject = acme.id,
                                                                  .name = "admin",
                                                                  .secret = secret}));
  EXPECT_EQ(admin.secret, secret);
  EXPECT_TRUE(admin.token.id.starts_with("t_"));
  ASSERT_OK_AND_ASSIGN(Token authed, store_->Authenticate(ctx_, secret));
  EXPECT_EQ(authed.id, admin.token.id);
  EXPECT_EQ(authed.kind, TokenKind::kOrganization);
  EXPECT_EQ(authed.org_id, acme.id);
  EXPECT_CODE(store_->Authenticate(ctx_, secret + "3"), kUnauthenticated);
  EXPECT_CODE(store_->Authenticate(ctx_, secret.substr(1)), kUnauthenticated);

  // One secret, one token.
  EXPECT_CODE(store_->CreateToken(
                  ctx_, {.kind = TokenKind::kOrganization, .subject = acme.id, .secret = secret}),
              kAlreadyExists);
  EXPECT_CODE(store_->CreateToken(
                  ctx_, {.kind = TokenKind::kOrganization, .subject = acme.id, .secret = "short"}),
              kInvalidArgument);
  EXPECT_CODE(store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                         .subject = acme.id,
                                         .secret = "has a space in the middle"}),
              kInvalidArgument);

  // A secret in berth's own format (made by another berthd) keeps the token id it names.
  std::unique_ptr<Store> other = Reopen(NewUrl());
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(Organization other_org, other->CreateOrganization(ctx_, "elsewhere"));
  ASSERT_OK_AND_ASSIGN(
      NewToken made_elsewhere,
      other->CreateToken(ctx_, {.kind = TokenKind::kOrganization, .subject = other_org.id}));
  ASSERT_OK_AND_ASSIGN(NewToken imported,
                       store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                  .subject = acme.id,
                                                  .secret = made_elsewhere.secret}));
  EXPECT_EQ(imported.token.id, made_elsewhere.token.id);
  ASSERT_OK_AND_ASSIGN(authed, store_->Authenticate(ctx_, made_elsewhere.secret));
  EXPECT_EQ(authed.id, made_elsewhere.token.id);
  EXPECT_EQ(authed.org_id, acme.id);
  EXPECT_CODE(store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                         .subject = acme.id,
                                         .secret = made_elsewhere.secret}),
              kAlreadyExists);

  // Revocation works the same.
  ASSERT_OK(store_->RevokeToken(ctx_, admin.token.id));
  EXPECT_CODE(store_->Authenticate(ctx_, secret), kUnauthenticated);
}

TEST_P(StoreConformanceTest, TokenScopesAreRecorded) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Organization globex, store_->CreateOrganization(ctx_, "globex"));
  ASSERT_OK_AND_ASSIGN(User bob, store_->CreateUser(ctx_, acme.id, "bob", false));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));

  ASSERT_OK_AND_ASSIGN(NewToken user,
                       store_->CreateToken(ctx_, {.kind = TokenKind::kUser, .subject = bob.id}));
  ASSERT_OK_AND_ASSIGN(NewToken org, store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization,
                                                                .subject = acme.id}));
  ASSERT_OK_AND_ASSIGN(
      NewToken project,
      store_->CreateToken(ctx_, {.kind = TokenKind::kProject, .subject = web.id, .name = "ci"}));
  ASSERT_OK_AND_ASSIGN(
      NewToken foreign,
      store_->CreateToken(ctx_, {.kind = TokenKind::kOrganization, .subject = globex.id}));

  ASSERT_OK_AND_ASSIGN(Token authed, store_->Authenticate(ctx_, project.secret));
  EXPECT_EQ(authed.kind, TokenKind::kProject);
  EXPECT_EQ(authed.subject, web.id);
  EXPECT_EQ(authed.project_id, web.id);
  EXPECT_EQ(authed.org_id, acme.id);
  ASSERT_OK_AND_ASSIGN(authed, store_->Authenticate(ctx_, org.secret));
  EXPECT_EQ(authed.kind, TokenKind::kOrganization);
  EXPECT_EQ(authed.subject, acme.id);
  EXPECT_EQ(authed.project_id, "");
  EXPECT_EQ(authed.org_id, acme.id);

  ASSERT_OK_AND_ASSIGN(std::vector<Token> tokens, store_->ListTokens(ctx_, acme.id));
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].id, user.token.id);
  EXPECT_EQ(tokens[1].id, org.token.id);
  EXPECT_EQ(tokens[2].id, project.token.id);
  EXPECT_EQ(tokens[2].name, "ci");
  ASSERT_OK_AND_ASSIGN(tokens, store_->ListTokens(ctx_, globex.id));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].id, foreign.token.id);
  EXPECT_CODE(store_->ListTokens(ctx_, "o_missing"), kNotFound);

  // A token needs a subject that exists.
  EXPECT_CODE(store_->CreateToken(ctx_, {.kind = TokenKind::kProject, .subject = "p_missing"}),
              kNotFound);
  EXPECT_CODE(store_->CreateToken(ctx_, {.kind = TokenKind::kUser, .subject = web.id}), kNotFound);

  // Deleting the subject ends its tokens.
  ASSERT_OK(store_->DeleteProject(ctx_, web.id));
  EXPECT_CODE(store_->Authenticate(ctx_, project.secret), kUnauthenticated);
  ASSERT_OK(store_->DeleteUser(ctx_, bob.id));
  EXPECT_CODE(store_->Authenticate(ctx_, user.secret), kUnauthenticated);
  EXPECT_OK(store_->Authenticate(ctx_, org.secret));
}

// --- Builds

TEST_P(StoreConformanceTest, BuildLifecycle) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id,
                                                           .options_json = R"({"target":"app"})",
                                                           .dockerfile = "FROM busybox\n"}));
  EXPECT_TRUE(b.id.starts_with("b_")) << b.id;
  EXPECT_EQ(b.status, BuildStatus::kQueued);
  EXPECT_EQ(b.queued_at, Now());
  EXPECT_FALSE(b.started_at.has_value());
  EXPECT_FALSE(b.finished_at.has_value());
  ASSERT_OK_AND_ASSIGN(Build got, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(got, b);
  EXPECT_EQ(got.options_json, R"({"target":"app"})");
  EXPECT_EQ(got.dockerfile, "FROM busybox\n");

  Advance(std::chrono::seconds(2));
  ASSERT_OK_AND_ASSIGN(got, store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kRunning));
  EXPECT_EQ(got.status, BuildStatus::kRunning);
  EXPECT_EQ(got.started_at, Now());
  EXPECT_CODE(store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kRunning), kFailedPrecondition);
  EXPECT_CODE(store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kQueued), kFailedPrecondition);

  Advance(std::chrono::seconds(30));
  ASSERT_OK_AND_ASSIGN(got,
                       store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kSuccess, "ignored"));
  EXPECT_EQ(got.status, BuildStatus::kSuccess);
  EXPECT_EQ(got.finished_at, Now());
  EXPECT_EQ(got.error_message, "");
  ASSERT_OK_AND_ASSIGN(Build again, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(again, got);
  // A final build never changes.
  EXPECT_CODE(store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kFailed, "late"),
              kFailedPrecondition);
  EXPECT_CODE(store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kRunning), kFailedPrecondition);

  // Queued straight to canceled, with a reason and no start time.
  ASSERT_OK_AND_ASSIGN(Build c, store_->CreateBuild(ctx_, {.project_id = web.id}));
  EXPECT_EQ(c.options_json, "{}");
  ASSERT_OK_AND_ASSIGN(got,
                       store_->UpdateBuildStatus(ctx_, c.id, BuildStatus::kCanceled, "Ctrl-C"));
  EXPECT_EQ(got.status, BuildStatus::kCanceled);
  EXPECT_EQ(got.error_message, "Ctrl-C");
  EXPECT_FALSE(got.started_at.has_value());
  EXPECT_EQ(got.finished_at, Now());

  EXPECT_CODE(store_->UpdateBuildStatus(ctx_, "b_missing", BuildStatus::kRunning), kNotFound);
  EXPECT_CODE(store_->GetBuild(ctx_, "b_missing"), kNotFound);
  EXPECT_CODE(store_->CreateBuild(ctx_, {.project_id = "p_missing"}), kNotFound);
  EXPECT_CODE(store_->CreateBuild(ctx_, {.project_id = web.id, .options_json = "{not json"}),
              kInvalidArgument);
}

TEST_P(StoreConformanceTest, FailedBuildKeepsItsMessage) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  // A Dockerfile that is not UTF-8 (Latin-1) still stores, its bad bytes replaced.
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id,
                                                           .dockerfile = "# caf\xe9\nFROM x\n"}));
  EXPECT_EQ(b.dockerfile, "# caf\xef\xbf\xbd\nFROM x\n");
  ASSERT_OK(store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kRunning));
  ASSERT_OK_AND_ASSIGN(Build got, store_->UpdateBuildStatus(ctx_, b.id, BuildStatus::kFailed,
                                                            "Dockerfile:7: RUN make: exit code 2"));
  ASSERT_OK_AND_ASSIGN(got, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(got.status, BuildStatus::kFailed);
  EXPECT_EQ(got.error_message, "Dockerfile:7: RUN make: exit code 2");
  EXPECT_EQ(got.dockerfile, b.dockerfile);
}

TEST_P(StoreConformanceTest, ListBuildsNewestFirstInPages) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Project api,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "api"}));
  std::vector<std::string> created;
  for (int i = 0; i < 25; ++i) {
    // Several builds share one instant: order still follows creation.
    if (i % 3 == 0) {
      Advance(std::chrono::seconds(1));
    }
    ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id}));
    created.push_back(b.id);
    ASSERT_OK(store_->CreateBuild(ctx_, {.project_id = api.id}));
  }
  std::vector<std::string> newest_first(created.rbegin(), created.rend());

  ASSERT_OK_AND_ASSIGN(std::vector<Build> page,
                       store_->ListBuilds(ctx_, web.id, {.limit = 10, .offset = 0}));
  EXPECT_EQ(BuildIds(page),
            std::vector<std::string>(newest_first.begin(), newest_first.begin() + 10));
  ASSERT_OK_AND_ASSIGN(page, store_->ListBuilds(ctx_, web.id, {.limit = 10, .offset = 10}));
  EXPECT_EQ(BuildIds(page),
            std::vector<std::string>(newest_first.begin() + 10, newest_first.begin() + 20));
  ASSERT_OK_AND_ASSIGN(page, store_->ListBuilds(ctx_, web.id, {.limit = 10, .offset = 20}));
  EXPECT_EQ(BuildIds(page),
            std::vector<std::string>(newest_first.begin() + 20, newest_first.end()));
  ASSERT_OK_AND_ASSIGN(page, store_->ListBuilds(ctx_, web.id, {.limit = 10, .offset = 30}));
  EXPECT_TRUE(page.empty());
  ASSERT_OK_AND_ASSIGN(page, store_->ListBuilds(ctx_, web.id, {.limit = 1000}));
  EXPECT_EQ(BuildIds(page), newest_first);
  for (const Build& b : page) {
    EXPECT_EQ(b.project_id, web.id);
  }

  EXPECT_CODE(store_->ListBuilds(ctx_, web.id, {.limit = 0}), kInvalidArgument);
  EXPECT_CODE(store_->ListBuilds(ctx_, web.id, {.limit = 1001}), kInvalidArgument);
  EXPECT_CODE(store_->ListBuilds(ctx_, web.id, {.limit = 10, .offset = -1}), kInvalidArgument);
  EXPECT_CODE(store_->ListBuilds(ctx_, "p_missing", {}), kNotFound);

  // A project without builds lists none (and is not NotFound).
  ASSERT_OK_AND_ASSIGN(Project empty,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "empty"}));
  ASSERT_OK_AND_ASSIGN(page, store_->ListBuilds(ctx_, empty.id, {}));
  EXPECT_TRUE(page.empty());

  // Deleting the project deletes its builds.
  ASSERT_OK(store_->DeleteProject(ctx_, web.id));
  EXPECT_CODE(store_->GetBuild(ctx_, created[0]), kNotFound);
}

TEST_P(StoreConformanceTest, FirstMissStepAndContextFiles) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id}));

  ASSERT_OK(store_->SetFirstMissStep(ctx_, b.id, "sha256:first"));
  ASSERT_OK(store_->SetFirstMissStep(ctx_, b.id, "sha256:second"));
  ASSERT_OK_AND_ASSIGN(Build got, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(got.first_miss_step, "sha256:first");
  EXPECT_CODE(store_->SetFirstMissStep(ctx_, "b_missing", "sha256:x"), kNotFound);
  EXPECT_CODE(store_->SetFirstMissStep(ctx_, b.id, ""), kInvalidArgument);

  // More files than one insert batch holds, in a particular (not sorted) order.
  std::vector<ContextFile> files;
  for (int i = 0; i < 250; ++i) {
    files.push_back({.path = "src/" + std::to_string((i * 37) % 250) + ".c",
                     .size = int64_t{i} * 10,
                     .digest = "sha256:" + std::to_string(i)});
  }
  ASSERT_OK(store_->SetBuildContext(ctx_, b.id, files, 12345));
  ASSERT_OK_AND_ASSIGN(got, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(got.context_files_sent, 250);
  EXPECT_EQ(got.context_bytes_sent, 12345);
  ASSERT_OK_AND_ASSIGN(std::vector<ContextFile> listed, store_->ListBuildContext(ctx_, b.id));
  EXPECT_EQ(listed, files);

  // A second record replaces the first.
  std::vector<ContextFile> fewer = {{.path = "Dockerfile", .size = 20, .digest = "sha256:d"}};
  ASSERT_OK(store_->SetBuildContext(ctx_, b.id, fewer, 20));
  ASSERT_OK_AND_ASSIGN(listed, store_->ListBuildContext(ctx_, b.id));
  EXPECT_EQ(listed, fewer);
  ASSERT_OK_AND_ASSIGN(got, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(got.context_files_sent, 1);
  EXPECT_EQ(got.context_bytes_sent, 20);

  // A path twice is refused, and leaves the previous record alone.
  EXPECT_CODE(store_->SetBuildContext(ctx_, b.id, {fewer[0], fewer[0]}, 40), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(listed, store_->ListBuildContext(ctx_, b.id));
  EXPECT_EQ(listed, fewer);
  ASSERT_OK_AND_ASSIGN(got, store_->GetBuild(ctx_, b.id));
  EXPECT_EQ(got.context_bytes_sent, 20);

  // An empty context is a record too.
  ASSERT_OK(store_->SetBuildContext(ctx_, b.id, {}, 0));
  ASSERT_OK_AND_ASSIGN(listed, store_->ListBuildContext(ctx_, b.id));
  EXPECT_TRUE(listed.empty());

  EXPECT_CODE(store_->SetBuildContext(ctx_, "b_missing", fewer, 1), kNotFound);
  EXPECT_CODE(store_->ListBuildContext(ctx_, "b_missing"), kNotFound);
}

TEST_P(StoreConformanceTest, StepsUpsertAndListInFirstRecordedOrder) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id}));
  ASSERT_OK_AND_ASSIGN(Build other, store_->CreateBuild(ctx_, {.project_id = web.id}));

  BuildStep s1 = MakeStep(b.id, "sha256:c1", 1);
  BuildStep s2 = MakeStep(b.id, "sha256:a2", 2);
  BuildStep s3 = MakeStep(b.id, "sha256:b3", 3);
  s3.started_at.reset();
  s3.finished_at.reset();
  for (const BuildStep& s : {s1, s2, s3}) {
    ASSERT_OK(store_->UpsertBuildStep(ctx_, s));
  }
  // The same vertex in another build is another step.
  ASSERT_OK(store_->UpsertBuildStep(ctx_, MakeStep(other.id, "sha256:c1", 9)));

  ASSERT_OK_AND_ASSIGN(std::vector<BuildStep> steps, store_->ListBuildSteps(ctx_, b.id));
  EXPECT_EQ(steps, (std::vector<BuildStep>{s1, s2, s3}));

  // Updating a step keeps its place.
  s1.cached = true;
  s1.log += "more output\n";
  s1.duration = std::chrono::nanoseconds(42);
  s1.layer_size = 0;
  ASSERT_OK(store_->UpsertBuildStep(ctx_, s1));
  ASSERT_OK_AND_ASSIGN(steps, store_->ListBuildSteps(ctx_, b.id));
  EXPECT_EQ(steps, (std::vector<BuildStep>{s1, s2, s3}));
  ASSERT_OK_AND_ASSIGN(steps, store_->ListBuildSteps(ctx_, other.id));
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].line, 9);

  EXPECT_CODE(store_->UpsertBuildStep(ctx_, MakeStep("b_missing", "sha256:x", 1)), kNotFound);
  EXPECT_CODE(store_->ListBuildSteps(ctx_, "b_missing"), kNotFound);
  EXPECT_CODE(store_->UpsertBuildStep(ctx_, MakeStep(b.id, "", 1)), kInvalidArgument);
  BuildStep negative = MakeStep(b.id, "sha256:n", 1);
  negative.line = -1;
  EXPECT_CODE(store_->UpsertBuildStep(ctx_, negative), kInvalidArgument);

  // A build without steps lists none.
  ASSERT_OK_AND_ASSIGN(Build fresh, store_->CreateBuild(ctx_, {.project_id = web.id}));
  ASSERT_OK_AND_ASSIGN(steps, store_->ListBuildSteps(ctx_, fresh.id));
  EXPECT_TRUE(steps.empty());
}

TEST_P(StoreConformanceTest, StepLogsAreBoundedAndValidText) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id}));

  BuildStep big = MakeStep(b.id, "sha256:big", 1);
  big.log.clear();
  for (int i = 0; big.log.size() < 3 * kMaxStepLogBytes; ++i) {
    big.log += "line " + std::to_string(i) + " of a chatty build ✓\n";
  }
  big.log += "error: the last line is kept\n";
  ASSERT_OK(store_->UpsertBuildStep(ctx_, big));

  BuildStep binary = MakeStep(b.id, "sha256:bin", 2);
  binary.log = std::string("ok \xff\xfe\0 end\n", 11);
  ASSERT_OK(store_->UpsertBuildStep(ctx_, binary));

  ASSERT_OK_AND_ASSIGN(std::vector<BuildStep> steps, store_->ListBuildSteps(ctx_, b.id));
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_LE(steps[0].log.size(), kMaxStepLogBytes);
  EXPECT_GT(steps[0].log.size(), kMaxStepLogBytes - 200);
  EXPECT_TRUE(steps[0].log.starts_with("[log truncated: the first ")) << steps[0].log.substr(0, 80);
  EXPECT_TRUE(steps[0].log.ends_with("error: the last line is kept\n"));
  EXPECT_EQ(steps[1].log, "ok \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end\n");
}

// --- Crash recovery

TEST_P(StoreConformanceTest, FailUnfinishedBuildsAfterARestart) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Project api,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "api"}));
  ASSERT_OK_AND_ASSIGN(Build queued, store_->CreateBuild(ctx_, {.project_id = web.id}));
  ASSERT_OK_AND_ASSIGN(Build running, store_->CreateBuild(ctx_, {.project_id = api.id}));
  ASSERT_OK(store_->UpdateBuildStatus(ctx_, running.id, BuildStatus::kRunning));
  ASSERT_OK_AND_ASSIGN(Build done, store_->CreateBuild(ctx_, {.project_id = web.id}));
  ASSERT_OK(store_->UpdateBuildStatus(ctx_, done.id, BuildStatus::kRunning));
  ASSERT_OK_AND_ASSIGN(done, store_->UpdateBuildStatus(ctx_, done.id, BuildStatus::kSuccess));
  ASSERT_OK_AND_ASSIGN(Build canceled, store_->CreateBuild(ctx_, {.project_id = web.id}));
  ASSERT_OK_AND_ASSIGN(canceled,
                       store_->UpdateBuildStatus(ctx_, canceled.id, BuildStatus::kCanceled, "x"));

  // The process dies; a new one opens the store.
  store_.reset();
  Advance(std::chrono::seconds(100));
  store_ = Reopen();
  ASSERT_NE(store_, nullptr);
  ASSERT_OK_AND_ASSIGN(int64_t failed,
                       store_->FailUnfinishedBuilds(ctx_, "berthd restarted during the build"));
  EXPECT_EQ(failed, 2);
  for (const std::string& id : {queued.id, running.id}) {
    ASSERT_OK_AND_ASSIGN(Build b, store_->GetBuild(ctx_, id));
    EXPECT_EQ(b.status, BuildStatus::kFailed);
    EXPECT_EQ(b.error_message, "berthd restarted during the build");
    EXPECT_EQ(b.finished_at, Now());
  }
  ASSERT_OK_AND_ASSIGN(Build b, store_->GetBuild(ctx_, done.id));
  EXPECT_EQ(b, done);
  ASSERT_OK_AND_ASSIGN(b, store_->GetBuild(ctx_, canceled.id));
  EXPECT_EQ(b, canceled);
  ASSERT_OK_AND_ASSIGN(failed, store_->FailUnfinishedBuilds(ctx_, "again"));
  EXPECT_EQ(failed, 0);
}

// --- Concurrency

TEST_P(StoreConformanceTest, ConcurrentWritersLoseNothing) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  std::vector<Project> projects;
  for (const char* name : {"a", "b", "c", "d"}) {
    ASSERT_OK_AND_ASSIGN(Project p, store_->CreateProject(ctx_, {.org_id = acme.id, .name = name}));
    projects.push_back(p);
  }
  // Half the threads use a second handle, as a second process would.
  std::unique_ptr<Store> second = Reopen();
  ASSERT_NE(second, nullptr);

  constexpr int kThreads = 8;
  constexpr int kBuildsPerThread = 10;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  std::vector<std::vector<std::string>> secrets(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : *second;
      auto fail = [&](const Error& e) {
        errors[t] = e.ToString();
      };
      for (int i = 0; i < kBuildsPerThread; ++i) {
        const Project& p = projects[(t + i) % projects.size()];
        Result<Build> b = store.CreateBuild(ctx_, {.project_id = p.id});
        if (!b.ok()) {
          return fail(b.error());
        }
        if (auto r = store.UpdateBuildStatus(ctx_, b->id, BuildStatus::kRunning); !r.ok()) {
          return fail(r.error());
        }
        for (int s = 1; s <= 3; ++s) {
          if (auto r =
                  store.UpsertBuildStep(ctx_, MakeStep(b->id, "sha256:" + std::to_string(s), s));
              !r.ok()) {
            return fail(r.error());
          }
        }
        if (auto r = store.UpdateBuildStatus(ctx_, b->id, BuildStatus::kSuccess); !r.ok()) {
          return fail(r.error());
        }
        Result<NewToken> token =
            store.CreateToken(ctx_, {.kind = TokenKind::kProject, .subject = p.id});
        if (!token.ok()) {
          return fail(token.error());
        }
        if (auto r = store.Authenticate(ctx_, token->secret); !r.ok()) {
          return fail(r.error());
        }
        secrets[t].push_back(token->secret);
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
  }

  int total = 0;
  for (const Project& p : projects) {
    ASSERT_OK_AND_ASSIGN(std::vector<Build> builds,
                         store_->ListBuilds(ctx_, p.id, {.limit = 1000}));
    total += static_cast<int>(builds.size());
    for (const Build& b : builds) {
      EXPECT_EQ(b.status, BuildStatus::kSuccess) << b.id;
      ASSERT_OK_AND_ASSIGN(std::vector<BuildStep> steps, store_->ListBuildSteps(ctx_, b.id));
      EXPECT_EQ(steps.size(), 3u) << b.id;
    }
  }
  EXPECT_EQ(total, kThreads * kBuildsPerThread);
  ASSERT_OK_AND_ASSIGN(std::vector<Token> tokens, store_->ListTokens(ctx_, acme.id));
  EXPECT_EQ(tokens.size(), static_cast<size_t>(kThreads * kBuildsPerThread));
  for (const auto& list : secrets) {
    for (const std::string& secret : list) {
      EXPECT_OK(second->Authenticate(ctx_, secret));
    }
  }
}

TEST_P(StoreConformanceTest, RacesHaveOneWinner) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id}));
  std::unique_ptr<Store> second = Reopen();
  ASSERT_NE(second, nullptr);

  constexpr int kThreads = 8;
  std::atomic<int> started{0}, start_refused{0}, created{0}, name_taken{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : *second;
      Result<Build> r = store.UpdateBuildStatus(ctx_, b.id, BuildStatus::kRunning);
      if (r.ok()) {
        ++started;
      } else if (r.error().code() == kFailedPrecondition) {
        ++start_refused;
      } else {
        ++other;
      }
      Result<Project> p = store.CreateProject(ctx_, {.org_id = acme.id, .name = "contested"});
      if (p.ok()) {
        ++created;
      } else if (p.error().code() == kAlreadyExists) {
        ++name_taken;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  EXPECT_EQ(started, 1);
  EXPECT_EQ(start_refused, kThreads - 1);
  EXPECT_EQ(created, 1);
  EXPECT_EQ(name_taken, kThreads - 1);
  EXPECT_EQ(other, 0);
}

// --- Opening and migrations

TEST_P(StoreConformanceTest, ReopenKeepsEverythingAndMigratesOnce) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "web"}));
  ASSERT_OK_AND_ASSIGN(NewToken token,
                       store_->CreateToken(ctx_, {.kind = TokenKind::kProject, .subject = web.id}));
  ASSERT_OK_AND_ASSIGN(Build b, store_->CreateBuild(ctx_, {.project_id = web.id}));
  store_.reset();
  for (int i = 0; i < 3; ++i) {
    store_ = Reopen();
    ASSERT_NE(store_, nullptr);
    ASSERT_OK_AND_ASSIGN(Project got, store_->GetProject(ctx_, web.id));
    EXPECT_EQ(got, web);
    EXPECT_OK(store_->Authenticate(ctx_, token.secret));
    EXPECT_OK(store_->GetBuild(ctx_, b.id));
  }
  // Two handles open at once.
  std::unique_ptr<Store> second = Reopen();
  ASSERT_NE(second, nullptr);
  EXPECT_OK(second->GetProject(ctx_, web.id));
}

TEST_P(StoreConformanceTest, ConcurrentFirstOpensMigrateOnce) {
  std::string url = NewUrl();
  ASSERT_FALSE(url.empty());
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<Store>> stores(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Result<std::unique_ptr<Store>> s = Open(url, {});
      if (s.ok()) {
        stores[t] = std::move(s).value();
      } else {
        errors[t] = s.error().ToString();
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "opener " << t;
    ASSERT_NE(stores[t], nullptr);
  }
  // Each handle writes; all see every write.
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(stores[t]->CreateOrganization(ctx_, "org" + std::to_string(t)));
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(std::vector<Organization> orgs, stores[t]->ListOrganizations(ctx_));
    EXPECT_EQ(orgs.size(), static_cast<size_t>(kThreads));
  }
}

// --- Registry

TEST_P(StoreConformanceTest, RegistryBlobsLinkPerRepository) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "w"}));
  std::string repo = web.id;
  std::string other = web.id + "/sub/dir";
  std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_CODE(store_->GetRegistryBlob(ctx_, repo, d), kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, store_->RegistryRepositoryExists(ctx_, repo));
  EXPECT_FALSE(exists);
  ASSERT_OK(store_->PutRegistryBlob(ctx_, web.id, {.repository = repo, .digest = d, .size = 5}));
  Advance(std::chrono::seconds(10));
  // A second link is a no-op that keeps the first record.
  ASSERT_OK(store_->PutRegistryBlob(ctx_, web.id, {.repository = repo, .digest = d, .size = 5}));
  ASSERT_OK_AND_ASSIGN(RegistryBlob got, store_->GetRegistryBlob(ctx_, repo, d));
  EXPECT_EQ(got, (RegistryBlob{.repository = repo,
                               .digest = d,
                               .size = 5,
                               .created_at = Now() - std::chrono::seconds(10)}));
  ASSERT_OK_AND_ASSIGN(exists, store_->RegistryRepositoryExists(ctx_, repo));
  EXPECT_TRUE(exists);
  // Linked into one repository only.
  EXPECT_CODE(store_->GetRegistryBlob(ctx_, other, d), kNotFound);
  ASSERT_OK(store_->PutRegistryBlob(ctx_, web.id, {.repository = other, .digest = d, .size = 5}));
  ASSERT_OK(store_->DeleteRegistryBlob(ctx_, repo, d));
  EXPECT_CODE(store_->DeleteRegistryBlob(ctx_, repo, d), kNotFound);
  EXPECT_CODE(store_->GetRegistryBlob(ctx_, repo, d), kNotFound);
  EXPECT_OK(store_->GetRegistryBlob(ctx_, other, d));
  // Bad input.
  EXPECT_CODE(store_->PutRegistryBlob(ctx_, "p_nosuchproject234567a",
                                      {.repository = "x", .digest = d, .size = 1}),
              kNotFound);
  EXPECT_CODE(store_->PutRegistryBlob(ctx_, web.id, {.repository = repo, .digest = d, .size = -1}),
              kInvalidArgument);
  EXPECT_CODE(store_->PutRegistryBlob(ctx_, web.id, {.repository = "", .digest = d}),
              kInvalidArgument);
  EXPECT_CODE(store_->GetRegistryBlob(ctx_, std::string(2000, 'a'), d), kInvalidArgument);
}

TEST_P(StoreConformanceTest, RegistryManifestsTagsAndReferrers) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "w"}));
  std::string repo = web.id;
  RegistryManifest m{.repository = repo,
                     .digest = "sha256:" + std::string(64, '1'),
                     .media_type = "application/vnd.oci.image.manifest.v1+json",
                     .size = 123,
                     .annotations_json = "{}",
                     .created_at = Now()};
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, m, "v1"));
  ASSERT_OK_AND_ASSIGN(RegistryManifest got, store_->GetRegistryManifest(ctx_, repo, m.digest));
  EXPECT_EQ(got, m);
  ASSERT_OK_AND_ASSIGN(got, store_->ResolveRegistryTag(ctx_, repo, "v1"));
  EXPECT_EQ(got, m);
  EXPECT_CODE(store_->ResolveRegistryTag(ctx_, repo, "v2"), kNotFound);
  EXPECT_CODE(store_->GetRegistryManifest(ctx_, repo + "/x", m.digest), kNotFound);

  // A second manifest takes over tag v1 and adds more tags.
  RegistryManifest m2 = m;
  m2.digest = "sha256:" + std::string(64, '2');
  Advance(std::chrono::seconds(1));
  m2.created_at = Now();
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, m2, "v1"));
  for (const char* tag : {"b", "a", "latest", "Z", "v10"}) {
    ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, m2, tag));
  }
  ASSERT_OK_AND_ASSIGN(got, store_->ResolveRegistryTag(ctx_, repo, "v1"));
  EXPECT_EQ(got.digest, m2.digest);
  // Byte order, pages after `last`.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> tags,
                       store_->ListRegistryTags(ctx_, repo, "", 100));
  EXPECT_EQ(tags, (std::vector<std::string>{"Z", "a", "b", "latest", "v1", "v10"}));
  ASSERT_OK_AND_ASSIGN(tags, store_->ListRegistryTags(ctx_, repo, "", 2));
  EXPECT_EQ(tags, (std::vector<std::string>{"Z", "a"}));
  ASSERT_OK_AND_ASSIGN(tags, store_->ListRegistryTags(ctx_, repo, "a", 3));
  EXPECT_EQ(tags, (std::vector<std::string>{"b", "latest", "v1"}));
  ASSERT_OK_AND_ASSIGN(tags, store_->ListRegistryTags(ctx_, repo, "v10", 3));
  EXPECT_TRUE(tags.empty());
  EXPECT_CODE(store_->ListRegistryTags(ctx_, repo, "", 0), kInvalidArgument);

  // Deleting a tag keeps the manifest; deleting the manifest takes its tags.
  ASSERT_OK(store_->DeleteRegistryTag(ctx_, repo, "Z"));
  EXPECT_CODE(store_->DeleteRegistryTag(ctx_, repo, "Z"), kNotFound);
  EXPECT_OK(store_->GetRegistryManifest(ctx_, repo, m2.digest));
  ASSERT_OK(store_->DeleteRegistryManifest(ctx_, repo, m2.digest));
  EXPECT_CODE(store_->DeleteRegistryManifest(ctx_, repo, m2.digest), kNotFound);
  ASSERT_OK_AND_ASSIGN(tags, store_->ListRegistryTags(ctx_, repo, "", 100));
  EXPECT_TRUE(tags.empty());
  EXPECT_OK(store_->GetRegistryManifest(ctx_, repo, m.digest));

  // Referrers: manifests whose subject is m, oldest first, in this repository only.
  RegistryManifest sig = m;
  sig.digest = "sha256:" + std::string(64, '3');
  sig.subject = m.digest;
  sig.artifact_type = "application/vnd.example.sig";
  sig.annotations_json = R"({"org.example":"yes"})";
  sig.created_at = Now();
  RegistryManifest sbom = sig;
  sbom.digest = "sha256:" + std::string(64, '4');
  sbom.artifact_type = "application/spdx+json";
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, sig, ""));
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, sbom, ""));
  RegistryManifest elsewhere = sig;
  elsewhere.repository = repo + "/other";
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, elsewhere, ""));
  ASSERT_OK_AND_ASSIGN(std::vector<RegistryManifest> refs,
                       store_->ListRegistryReferrers(ctx_, repo, m.digest));
  EXPECT_EQ(refs, (std::vector<RegistryManifest>{sig, sbom}));
  ASSERT_OK_AND_ASSIGN(refs, store_->ListRegistryReferrers(ctx_, repo, sig.digest));
  EXPECT_TRUE(refs.empty());
}

TEST_P(StoreConformanceTest, RegistryListingsPerProjectForSavedBuildsAndExpiry) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "w"}));
  ASSERT_OK_AND_ASSIGN(Project api, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "a"}));
  std::string blob = "sha256:" + std::string(64, 'b');
  std::string shared = "sha256:" + std::string(64, 'c');
  Time first = Now();
  ASSERT_OK(
      store_->PutRegistryBlob(ctx_, web.id, {.repository = web.id, .digest = blob, .size = 7}));
  ASSERT_OK(
      store_->PutRegistryBlob(ctx_, api.id, {.repository = api.id, .digest = shared, .size = 1}));
  RegistryManifest m{.repository = web.id,
                     .digest = shared,
                     .media_type = "application/vnd.oci.image.manifest.v1+json",
                     .size = 9,
                     .annotations_json = "{}"};
  Advance(std::chrono::seconds(1));
  Time second = Now();
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, m, "b_two"));
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, m, "a_one"));
  m.repository = web.id + "/sub";
  ASSERT_OK(store_->PutRegistryManifest(ctx_, web.id, m, "x"));

  ASSERT_OK_AND_ASSIGN(std::vector<RegistryBlob> blobs, store_->ListRegistryBlobs(ctx_, web.id));
  EXPECT_EQ(blobs, (std::vector<RegistryBlob>{
                       {.repository = web.id, .digest = blob, .size = 7, .created_at = first}}));
  ASSERT_OK_AND_ASSIGN(std::vector<RegistryManifest> manifests,
                       store_->ListRegistryManifests(ctx_, web.id));
  ASSERT_EQ(manifests.size(), 2u);
  EXPECT_EQ(manifests[0].repository, web.id);
  EXPECT_EQ(manifests[0].created_at, second);
  EXPECT_EQ(manifests[1].repository, web.id + "/sub");
  ASSERT_OK_AND_ASSIGN(std::vector<RegistryTag> tags, store_->ListRegistryTagRecords(ctx_, web.id));
  EXPECT_EQ(
      tags,
      (std::vector<RegistryTag>{
          {.repository = web.id, .tag = "a_one", .digest = shared, .updated_at = second},
          {.repository = web.id, .tag = "b_two", .digest = shared, .updated_at = second},
          {.repository = web.id + "/sub", .tag = "x", .digest = shared, .updated_at = second}}));
  // Another project's records are not listed; every project's digests are.
  ASSERT_OK_AND_ASSIGN(tags, store_->ListRegistryTagRecords(ctx_, api.id));
  EXPECT_TRUE(tags.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> digests, store_->ListRegistryDigests(ctx_));
  EXPECT_EQ(digests, (std::vector<std::string>{blob, shared}));
  EXPECT_CODE(store_->ListRegistryBlobs(ctx_, "p_nosuchproject234567a"), kNotFound);
  EXPECT_CODE(store_->ListRegistryManifests(ctx_, "p_nosuchproject234567a"), kNotFound);
  EXPECT_CODE(store_->ListRegistryTagRecords(ctx_, "p_nosuchproject234567a"), kNotFound);
}

TEST_P(StoreConformanceTest, RegistryRecordsGoWithTheirProject) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "w"}));
  std::string d = "sha256:" + std::string(64, '5');
  ASSERT_OK(store_->PutRegistryBlob(ctx_, web.id, {.repository = web.id, .digest = d, .size = 1}));
  ASSERT_OK(store_->PutRegistryManifest(
      ctx_, web.id, {.repository = web.id, .digest = d, .media_type = "x", .size = 1}, "t"));
  ASSERT_OK(
      store_->PutRegistryBlob(ctx_, web.id, {.repository = web.id + "/b", .digest = d, .size = 1}));
  ASSERT_OK(store_->PutRegistryManifest(
      ctx_, web.id, {.repository = web.id + "/a", .digest = d, .media_type = "x", .size = 1}, ""));
  ASSERT_OK(store_->PutRegistryManifest(
      ctx_, web.id, {.repository = web.id + "/b", .digest = d, .media_type = "x", .size = 1}, ""));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> repos,
                       store_->ListRegistryRepositories(ctx_, web.id));
  EXPECT_EQ(repos, (std::vector<std::string>{web.id, web.id + "/a", web.id + "/b"}));
  ASSERT_OK_AND_ASSIGN(Project other,
                       store_->CreateProject(ctx_, {.org_id = acme.id, .name = "o"}));
  ASSERT_OK_AND_ASSIGN(repos, store_->ListRegistryRepositories(ctx_, other.id));
  EXPECT_TRUE(repos.empty());
  EXPECT_CODE(store_->ListRegistryRepositories(ctx_, "p_nosuchproject234567a"), kNotFound);
  ASSERT_OK(store_->DeleteProject(ctx_, web.id));
  EXPECT_CODE(store_->GetRegistryBlob(ctx_, web.id, d), kNotFound);
  EXPECT_CODE(store_->GetRegistryManifest(ctx_, web.id, d), kNotFound);
  EXPECT_CODE(store_->ResolveRegistryTag(ctx_, web.id, "t"), kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, store_->RegistryRepositoryExists(ctx_, web.id));
  EXPECT_FALSE(exists);
}

TEST_P(StoreConformanceTest, TrustPoliciesPerProject) {
  ASSERT_OK_AND_ASSIGN(Organization acme, store_->CreateOrganization(ctx_, "acme"));
  ASSERT_OK_AND_ASSIGN(Project web, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "w"}));
  ASSERT_OK_AND_ASSIGN(Project api, store_->CreateProject(ctx_, {.org_id = acme.id, .name = "a"}));
  TrustPolicySpec gh{.project_id = web.id,
                     .provider = "github",
                     .issuer = "https://token.actions.githubusercontent.com",
                     .audience = "berthd",
                     .conditions = {{"repository", "acme/web"}, {"repository_owner", "acme"}}};
  ASSERT_OK_AND_ASSIGN(TrustPolicy p1, store_->CreateTrustPolicy(ctx_, gh));
  EXPECT_EQ(p1.id.substr(0, 3), "tp_");
  EXPECT_EQ(p1.project_id, web.id);
  EXPECT_EQ(p1.conditions, gh.conditions);
  EXPECT_EQ(p1.created_at, Now());
  TrustPolicySpec cci{.project_id = web.id,
                      .provider = "circleci",
                      .issuer = "https://oidc.circleci.com/org/o-1",
                      .audience = "o-1",
                      .conditions = {{"oidc.circleci.com/project-id", "p \"1\" ü"}}};
  ASSERT_OK_AND_ASSIGN(TrustPolicy p2, store_->CreateTrustPolicy(ctx_, cci));
  gh.project_id = api.id;
  gh.conditions = {{"repository", "acme/api"}};
  ASSERT_OK_AND_ASSIGN(TrustPolicy p3, store_->CreateTrustPolicy(ctx_, gh));

  ASSERT_OK_AND_ASSIGN(std::vector<TrustPolicy> list, store_->ListTrustPolicies(ctx_, web.id));
  EXPECT_EQ(list, (std::vector<TrustPolicy>{p1, p2}));
  ASSERT_OK_AND_ASSIGN(list, store_->FindTrustPolicies(ctx_, gh.issuer));
  EXPECT_EQ(list, (std::vector<TrustPolicy>{p1, p3}));
  ASSERT_OK_AND_ASSIGN(list, store_->FindTrustPolicies(ctx_, gh.issuer + "/"));
  EXPECT_TRUE(list.empty());
  ASSERT_OK_AND_ASSIGN(list, store_->FindTrustPolicies(ctx_, "\xff\xfe"));
  EXPECT_TRUE(list.empty());

  // Another project's policy is not found through this one.
  EXPECT_CODE(store_->DeleteTrustPolicy(ctx_, web.id, p3.id), kNotFound);
  ASSERT_OK(store_->DeleteTrustPolicy(ctx_, web.id, p1.id));
  EXPECT_CODE(store_->DeleteTrustPolicy(ctx_, web.id, p1.id), kNotFound);
  EXPECT_CODE(store_->DeleteTrustPolicy(ctx_, web.id, "tp_\xff"), kNotFound);
  ASSERT_OK_AND_ASSIGN(list, store_->ListTrustPolicies(ctx_, web.id));
  EXPECT_EQ(list, (std::vector<TrustPolicy>{p2}));

  // Bad input and missing parents.
  EXPECT_CODE(store_->CreateTrustPolicy(ctx_, {.project_id = "p_nosuchproject234567a",
                                               .provider = "github",
                                               .issuer = "https://i",
                                               .audience = "a"}),
              kNotFound);
  EXPECT_CODE(store_->ListTrustPolicies(ctx_, "p_nosuchproject234567a"), kNotFound);
  TrustPolicySpec bad = cci;
  bad.issuer = "";
  EXPECT_CODE(store_->CreateTrustPolicy(ctx_, bad), kInvalidArgument);
  bad = cci;
  bad.audience = std::string(1025, 'a');
  EXPECT_CODE(store_->CreateTrustPolicy(ctx_, bad), kInvalidArgument);
  bad = cci;
  bad.conditions = {{"k", ""}};
  EXPECT_CODE(store_->CreateTrustPolicy(ctx_, bad), kInvalidArgument);
  bad.conditions = {{"k", "\xff"}};
  EXPECT_CODE(store_->CreateTrustPolicy(ctx_, bad), kInvalidArgument);

  // The policies go with their project.
  ASSERT_OK(store_->DeleteProject(ctx_, web.id));
  ASSERT_OK_AND_ASSIGN(list, store_->FindTrustPolicies(ctx_, cci.issuer));
  EXPECT_TRUE(list.empty());
  ASSERT_OK_AND_ASSIGN(list, store_->FindTrustPolicies(ctx_, gh.issuer));
  EXPECT_EQ(list, (std::vector<TrustPolicy>{p3}));
}

TEST_P(StoreConformanceTest, DoneContextIsRefused) {
  Context cancelled = ctx_.WithCancel();
  cancelled.Cancel("shutting down");
  EXPECT_CODE(store_->CreateOrganization(cancelled, "acme"), ErrorCode::kCancelled);
  EXPECT_CODE(store_->ListOrganizations(cancelled), ErrorCode::kCancelled);
  ASSERT_OK_AND_ASSIGN(std::vector<Organization> orgs, store_->ListOrganizations(ctx_));
  EXPECT_TRUE(orgs.empty());
}

}  // namespace
}  // namespace berth::metastore::testing
