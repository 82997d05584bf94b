// Unit tests of the parts shared by both backends: the URL factory, redaction, ids, text
// clean-up, log bounds.
#include "metastore/store.h"

#include <stdlib.h>

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "metastore/sql_store.h"
#include "metastore/testing/postgres_server.h"

namespace berth::metastore {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-metastore-unit-XXXXXX";
    path_ = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(OpenTest, SqliteUrlsAndPlainPaths) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Context ctx = Context::Background();
  std::string path = dir.path() + "/meta.db";
  {
    Result<std::unique_ptr<Store>> store = Open("sqlite://" + path);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    ASSERT_TRUE((*store)->CreateOrganization(ctx, "acme").ok());
  }
  // The same file as a plain path.
  Result<std::unique_ptr<Store>> store = Open(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  Result<std::vector<Organization>> orgs = (*store)->ListOrganizations(ctx);
  ASSERT_TRUE(orgs.ok());
  ASSERT_EQ(orgs->size(), 1u);
  EXPECT_EQ((*orgs)[0].name, "acme");
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(OpenTest, RefusesOtherSchemes) {
  Result<std::unique_ptr<Store>> store = Open("mysql://root:hunter2@db/berth");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.error().message().find("hunter2"), std::string::npos) << store.error().message();
  EXPECT_EQ(Open("sqlite://").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Open("").error().code(), ErrorCode::kInvalidArgument);
}

TEST(OpenTest, UnreachablePostgresIsUnavailableAndHidesThePassword) {
  // Port 1 on loopback: nothing listens there.
  Result<std::unique_ptr<Store>> store =
      Open("postgres://berth:hunter2@127.0.0.1:1/berth", {.busy_timeout = std::chrono::seconds(2)});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kUnavailable) << store.error().ToString();
  EXPECT_EQ(store.error().ToString().find("hunter2"), std::string::npos)
      << store.error().ToString();
  EXPECT_NE(store.error().ToString().find("127.0.0.1:1"), std::string::npos)
      << store.error().ToString();
}

TEST(PostgresServerTest, MissingBinariesFailWithTheFix) {
  ASSERT_EQ(::setenv("BERTH_POSTGRES_BIN", "/nonexistent/postgresql/bin", 1), 0);
  Result<std::unique_ptr<testing::PostgresServer>> server = testing::PostgresServer::Start();
  ::unsetenv("BERTH_POSTGRES_BIN");
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(server.error().message().find("`postgresql` package"), std::string::npos)
      << server.error().message();
}

TEST(RedactUrlTest, HidesOnlyThePassword) {
  EXPECT_EQ(RedactUrl("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(RedactUrl("postgresql://u:p%40ss@h/db?sslmode=require"),
            "postgresql://u:***@h/db?sslmode=require");
  EXPECT_EQ(RedactUrl("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
  EXPECT_EQ(RedactUrl("postgres://h:5432/db"), "postgres://h:5432/db");
  EXPECT_EQ(RedactUrl("/var/lib/berth/meta.db"), "/var/lib/berth/meta.db");
}

TEST(NewIdTest, PrefixedUrlSafeAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Result<std::string> id = internal::NewId("p");
    ASSERT_TRUE(id.ok());
    ASSERT_EQ(id->size(), 22u) << *id;
    EXPECT_TRUE(id->starts_with("p_"));
    EXPECT_EQ(id->find_first_not_of("abcdefghijklmnopqrstuvwxyz234567", 2), std::string::npos)
        << *id;
    EXPECT_TRUE(seen.insert(*id).second) << *id;
  }
}

TEST(ToValidUtf8Test, KeepsValidTextAndReplacesTheRest) {
  EXPECT_EQ(internal::ToValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(internal::ToValidUtf8("Zürich 東京 🚢"), "Zürich 東京 🚢");
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(internal::ToValidUtf8("caf\xe9"), "caf" + r);                   // Latin-1
  EXPECT_EQ(internal::ToValidUtf8(std::string("a\0b", 3)), "a" + r + "b");  // NUL
  EXPECT_EQ(internal::ToValidUtf8("\xc0\xaf"), r + r);                      // overlong
  EXPECT_EQ(internal::ToValidUtf8("\xed\xa0\x80"), r + r + r);              // surrogate
  EXPECT_EQ(internal::ToValidUtf8("\xf4\x90\x80\x80"), r + r + r + r);      // > U+10FFFF
  EXPECT_EQ(internal::ToValidUtf8("\xe6\x9d"), r + r);                      // cut short
}

TEST(BoundLogTest, KeepsTheTailOnACharacterBoundary) {
  EXPECT_EQ(internal::BoundLog("short"), "short");
  std::string log(kMaxStepLogBytes, 'a');
  EXPECT_EQ(internal::BoundLog(log), log);
  std::string big;
  while (big.size() < 2 * kMaxStepLogBytes) {
    big += "é";
  }
  big += "END";
  std::string bounded = internal::BoundLog(big);
  EXPECT_LE(bounded.size(), kMaxStepLogBytes);
  EXPECT_TRUE(bounded.ends_with("END"));
  EXPECT_TRUE(bounded.starts_with("[log truncated: the first "));
  EXPECT_EQ(internal::ToValidUtf8(bounded), bounded);
}

TEST(ResultColumnsTest, CountsSelectAndReturningLists) {
  EXPECT_EQ(internal::ResultColumns("SELECT 1 FROM t WHERE id = ?1"), 1);
  EXPECT_EQ(internal::ResultColumns("SELECT a, b, c FROM t"), 3);
  EXPECT_EQ(internal::ResultColumns("SELECT COALESCE(MAX(v), 0) FROM t"), 1);
  EXPECT_EQ(internal::ResultColumns("UPDATE t SET a = ?2 WHERE id = ?1 RETURNING id, a"), 2);
  EXPECT_EQ(internal::ResultColumns("INSERT INTO t (a, b) VALUES (?1, ?2)"), 0);
}

TEST(ToPostgresDialectTest, IdentityAndBigint) {
  EXPECT_EQ(internal::ToPostgresDialect("CREATE TABLE t (\n  seq INTEGER PRIMARY KEY,\n  n INTEGER "
                                        "NOT NULL,\n  s TEXT\n);"),
            "CREATE TABLE t (\n  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  n BIGINT "
            "NOT NULL,\n  s TEXT\n);");
}

TEST(BuildStatusTest, NamesRoundTrip) {
  for (BuildStatus s : {BuildStatus::kQueued, BuildStatus::kRunning, BuildStatus::kSuccess,
                        BuildStatus::kFailed, BuildStatus::kCanceled}) {
    Result<BuildStatus> parsed = ParseBuildStatus(BuildStatusName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_FALSE(ParseBuildStatus("done").ok());
  EXPECT_FALSE(IsFinal(BuildStatus::kRunning));
  EXPECT_TRUE(IsFinal(BuildStatus::kCanceled));
}

}  // namespace
}  // namespace berth::metastore
