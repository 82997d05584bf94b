#include "metastore/sqlite_store.h"

#include <stdlib.h>

#include <filesystem>
#include <span>

#include <gtest/gtest.h>

#include "db/sqlite.h"
#include "metastore/schema.h"
#include "metastore/testing/conformance.h"

namespace berth::metastore {
namespace {

using testing::StoreConformanceTest;
using testing::StoreFactory;
using testing::StoreFactoryName;

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
                         ::testing::Values(StoreFactory{
                             "sqlite",
                             [](const std::string& dir) -> Result<std::string> {
                               return "sqlite://" + dir + "/meta.db";
                             }}),
                         StoreFactoryName);

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-sqlite-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/meta.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, SchemaVersionIsRecorded) {
  ASSERT_TRUE(SqliteStore::Open({.path = path_}).ok());
  Result<std::unique_ptr<db::Database>> db = db::Database::Open(path_);
  ASSERT_TRUE(db.ok());
  Result<int> version = (*db)->UserVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, SqliteStore::SchemaVersion());
}

TEST_F(SqliteStoreTest, MigratesAnOlderSchema) {
  // A file at schema version 1, with a token in it.
  {
    Result<std::unique_ptr<db::Database>> db = db::Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Migrate(std::span(internal::kSchema, 1)).ok());
    ASSERT_TRUE(
        (*db)
            ->Exec("INSERT INTO organizations (id, name, created_at) VALUES ('o_a', 'a', 0)")
            .ok());
  }
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open({.path = path_});
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  Result<Organization> org = (*store)->GetOrganization(Context::Background(), "o_a");
  ASSERT_TRUE(org.ok()) << org.error().ToString();
  Result<std::unique_ptr<db::Database>> db = db::Database::Open(path_);
  ASSERT_TRUE(db.ok());
  Result<int> version = (*db)->UserVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, SqliteStore::SchemaVersion());
  EXPECT_GE(SqliteStore::SchemaVersion(), 2);
}

TEST_F(SqliteStoreTest, RefusesANewerSchema) {
  ASSERT_TRUE(SqliteStore::Open({.path = path_}).ok());
  {
    Result<std::unique_ptr<db::Database>> db = db::Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kFailedPrecondition) << store.error().ToString();
}

TEST_F(SqliteStoreTest, MissingDirectoryIsAnError) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open({.path = dir_ + "/no/such/x.db"});
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace berth::metastore
