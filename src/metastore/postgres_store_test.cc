// The conformance suite against a real PostgreSQL, started by the test on loopback from Debian's
// packages (testing/postgres_server.h); every test gets a database of its own. Without the
// PostgreSQL binaries the tests fail, saying which package to install.
#include "metastore/postgres_store.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "metastore/schema.h"
#include "metastore/sql_store.h"
#include "metastore/testing/conformance.h"
#include "metastore/testing/postgres_server.h"

namespace berth::metastore {
namespace {

using testing::PostgresServer;
using testing::SharedPostgresServer;
using testing::StoreConformanceTest;
using testing::StoreFactory;
using testing::StoreFactoryName;

Result<std::string> NewDatabase(const std::string& /*dir*/) {
  PostgresServer* server = BERTH_TRY(SharedPostgresServer());
  return server->CreateDatabase();
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(StoreFactory{"postgres", &NewDatabase}),
                         StoreFactoryName);

// The database name at the end of a URL.
std::string DatabaseOf(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<PostgresServer*> server = SharedPostgresServer();
    ASSERT_TRUE(server.ok()) << server.error().ToString();
    server_ = *server;
    Result<std::string> url = server_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.error().ToString();
    url_ = *url;
  }

  PostgresServer* server_ = nullptr;
  std::string url_;
  Context ctx_ = Context::Background();
};

TEST_F(PostgresStoreTest, PostgresqlSchemeWorksToo) {
  // libpq URI parameters pass through.
  std::string url = "postgresql://" + url_.substr(std::string("postgres://").size()) +
                    "?connect_timeout=3&application_name=berth-test";
  Result<std::unique_ptr<Store>> store = Open(url);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  EXPECT_TRUE((*store)->CreateOrganization(ctx_, "acme").ok());
}

TEST_F(PostgresStoreTest, MigrationsAreRecordedOnce) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(PostgresStore::Open({.url = url_}).ok());
  }
  // The table holds one row per step: a second row for version 1 would violate its key, and
  // this statement fails unless exactly the known versions are there.
  ASSERT_TRUE(server_
                  ->Exec(DatabaseOf(url_),
                         "DO $$ BEGIN IF (SELECT COUNT(*) FROM berth_schema_migrations) <> " +
                             std::to_string(PostgresStore::SchemaVersion()) +
                             " THEN RAISE EXCEPTION 'wrong migration rows'; END IF; END $$")
                  .ok());
}

TEST_F(PostgresStoreTest, MigratesAnOlderSchema) {
  // A database at schema version 1, with an organization in it.
  ASSERT_TRUE(
      server_
          ->Exec(
              DatabaseOf(url_),
              "SET ROLE berth; CREATE TABLE berth_schema_migrations (version BIGINT PRIMARY KEY, "
              "applied_at BIGINT NOT NULL); INSERT INTO berth_schema_migrations VALUES "
              "(1, 0);" +
                  internal::ToPostgresDialect(internal::kSchema[0].sql) +
                  "INSERT INTO organizations (id, name, created_at) VALUES ('o_a', "
                  "'a', 0);")
          .ok());
  Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open({.url = url_});
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  Result<Organization> org = (*store)->GetOrganization(ctx_, "o_a");
  ASSERT_TRUE(org.ok()) << org.error().ToString();
  EXPECT_GE(PostgresStore::SchemaVersion(), 2);
  ASSERT_TRUE(server_
                  ->Exec(DatabaseOf(url_),
                         "DO $$ BEGIN IF (SELECT MAX(version) FROM berth_schema_migrations) <> " +
                             std::to_string(PostgresStore::SchemaVersion()) +
                             " THEN RAISE EXCEPTION 'not migrated'; END IF; END $$")
                  .ok());
}

TEST_F(PostgresStoreTest, RefusesANewerSchema) {
  ASSERT_TRUE(PostgresStore::Open({.url = url_}).ok());
  ASSERT_TRUE(server_
                  ->Exec(DatabaseOf(url_),
                         "INSERT INTO berth_schema_migrations (version, applied_at) VALUES (99, 0)")
                  .ok());
  Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open({.url = url_});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kFailedPrecondition) << store.error().ToString();
}

TEST_F(PostgresStoreTest, RecoversFromDroppedConnections) {
  Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open({.url = url_});
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  ASSERT_TRUE((*store)->CreateOrganization(ctx_, "acme").ok());
  // The server ends every session of the store (as a server restart or a failover would) and
  // the sessions are gone.
  const std::string sessions = "FROM pg_stat_activity WHERE datname = '" + DatabaseOf(url_) +
                               "' AND pid <> pg_backend_pid()";
  ASSERT_TRUE(server_->Exec("postgres", "SELECT pg_terminate_backend(pid) " + sessions).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_
              ->Exec("postgres", "DO $$ BEGIN IF EXISTS (SELECT 1 " + sessions +
                                     ") THEN RAISE EXCEPTION 'still there'; END IF; END $$")
              .ok()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sessions were not terminated";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The pool notices the dead idle connection and connects afresh: the call succeeds.
  Result<std::vector<Organization>> orgs = (*store)->ListOrganizations(ctx_);
  ASSERT_TRUE(orgs.ok()) << orgs.error().ToString();
  EXPECT_EQ(orgs->size(), 1u);
}

TEST_F(PostgresStoreTest, OneConnectionServesManyThreads) {
  Result<std::unique_ptr<PostgresStore>> opened = PostgresStore::Open(
      {.url = url_, .connect_timeout = std::chrono::milliseconds(300), .max_connections = 1});
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  // Many threads through one connection: they queue, and all succeed.
  PostgresStore& store = **opened;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      if (store.CreateOrganization(ctx_, "org" + std::to_string(t)).ok()) {
        ++ok;
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  EXPECT_EQ(ok, 4);
}

}  // namespace
}  // namespace berth::metastore
