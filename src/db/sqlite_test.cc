#include "db/sqlite.h"

#include <stdlib.h>

#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace berth::db {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-db-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/test.db";
    db_ = OpenOrDie();
  }
  void TearDown() override {
    db_.reset();
    (void)::system(("rm -rf " + dir_).c_str());
  }

  std::unique_ptr<Database> OpenOrDie(OpenOptions options = {}) {
    Result<std::unique_ptr<Database>> db = Database::Open(path_, options);
    EXPECT_TRUE(db.ok()) << db.error().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  int64_t Count(Database& db, const std::string& table) {
    Result<Statement> st = db.Prepare("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(st.ok());
    Result<bool> row = st->Step();
    EXPECT_TRUE(row.ok() && *row);
    return st->ColumnInt(0);
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteTest, OpensInWalModeWithForeignKeys) {
  Result<Statement> mode = db_->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->ColumnText(0), "wal");
  Result<Statement> fk = db_->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  ASSERT_TRUE(*fk->Step());
  EXPECT_EQ(fk->ColumnInt(0), 1);
}

TEST_F(SqliteTest, BoundParametersAreDataNotSql) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (name TEXT, n INTEGER)").ok());
  const std::string hostile = "x'); DROP TABLE t; --";
  {
    Result<Statement> ins = db_->Prepare("INSERT INTO t (name, n) VALUES (?1, ?2)");
    ASSERT_TRUE(ins.ok());
    ins->BindAll(hostile, int64_t{1} << 40);
    ASSERT_TRUE(ins->Run().ok());
  }
  Result<Statement> sel = db_->Prepare("SELECT name, n FROM t WHERE name = ?1");
  ASSERT_TRUE(sel.ok());
  sel->BindAll(hostile);
  Result<bool> row = sel->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(sel->ColumnText(0), hostile);
  EXPECT_EQ(sel->ColumnInt(1), int64_t{1} << 40);
  EXPECT_FALSE(*sel->Step());
}

TEST_F(SqliteTest, BindingAMissingParameterFailsAtStep) {
  Result<Statement> st = db_->Prepare("SELECT ?1");
  ASSERT_TRUE(st.ok());
  st->Bind(2, int64_t{5});
  Result<bool> row = st->Step();
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.error().code(), ErrorCode::kInvalidArgument) << row.error().ToString();
}

TEST_F(SqliteTest, StatementsAreCachedAndMayBeBorrowedTwice) {
  Result<Statement> outer = db_->Prepare("SELECT ?1");
  ASSERT_TRUE(outer.ok());
  outer->BindAll(1);
  ASSERT_TRUE(*outer->Step());
  {
    // The same SQL while the first is still in use: a second statement, not the same one.
    Result<Statement> inner = db_->Prepare("SELECT ?1");
    ASSERT_TRUE(inner.ok());
    inner->BindAll(2);
    ASSERT_TRUE(*inner->Step());
    EXPECT_EQ(inner->ColumnInt(0), 2);
  }
  EXPECT_EQ(outer->ColumnInt(0), 1);
  // Returned to the cache reset, with bindings cleared.
  Result<Statement> again = db_->Prepare("SELECT ?1");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(*again->Step());
  EXPECT_TRUE(again->ColumnIsNull(0));
}

TEST_F(SqliteTest, UniqueConstraintIsAlreadyExists) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)").ok());
  Result<Statement> ins = db_->Prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
  ASSERT_TRUE(ins.ok());
  ins->BindAll("a", "1");
  ASSERT_TRUE(ins->Run().ok());
  ins->Reset();
  ins->BindAll("a", "2");
  Result<> dup = ins->Run();
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists) << dup.error().ToString();
  ins->Reset();
  ins->Bind(1, "b").BindNull(2);
  Result<> null = ins->Run();
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error().code(), ErrorCode::kInvalidArgument) << null.error().ToString();
}

TEST_F(SqliteTest, TransactionsRollBackUnlessCommitted) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (n INTEGER)").ok());
  {
    Result<Transaction> tx = db_->Begin(TxMode::kImmediate);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (1)").ok());
  }
  EXPECT_EQ(Count(*db_, "t"), 0);
  {
    Result<Transaction> tx = db_->Begin(TxMode::kImmediate);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (1)").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(Count(*db_, "t"), 1);
  std::unique_ptr<Database> other = OpenOrDie();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(Count(*other, "t"), 1);
}

TEST_F(SqliteTest, ASecondWriterWaitsThenGetsUnavailable) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (n INTEGER)").ok());
  std::unique_ptr<Database> other = OpenOrDie({.busy_timeout = std::chrono::milliseconds(50)});
  ASSERT_NE(other, nullptr);
  Result<Transaction> held = db_->Begin(TxMode::kImmediate);
  ASSERT_TRUE(held.ok());
  Result<Transaction> second = other->Begin(TxMode::kImmediate);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable) << second.error().ToString();
  // A writer that lets go within the timeout is waited for.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)held->Commit();
  });
  std::unique_ptr<Database> patient = OpenOrDie({.busy_timeout = std::chrono::seconds(5)});
  Result<Transaction> third = patient->Begin(TxMode::kImmediate);
  release.join();
  ASSERT_TRUE(third.ok()) << third.error().ToString();
}

constexpr Migration kSteps[] = {
    {1, "CREATE TABLE a (x INTEGER);"},
    {2, "ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT ''; CREATE TABLE b (z INTEGER);"},
};

TEST_F(SqliteTest, MigratesStepByStepFromVersionZero) {
  Result<int> before = db_->Migrate(std::span(kSteps, 1));
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ(*before, 0);
  EXPECT_EQ(*db_->UserVersion(), 1);
  ASSERT_TRUE(db_->Exec("INSERT INTO a (x) VALUES (7)").ok());

  before = db_->Migrate(kSteps);
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ(*before, 1);
  EXPECT_EQ(*db_->UserVersion(), 2);
  EXPECT_EQ(Count(*db_, "a"), 1);
  EXPECT_EQ(Count(*db_, "b"), 0);

  // Up to date: nothing runs (step 1 again would fail: the table exists).
  before = db_->Migrate(kSteps);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, 2);
}

TEST_F(SqliteTest, AFailedMigrationChangesNothing) {
  constexpr Migration broken[] = {
      {1, "CREATE TABLE a (x INTEGER);"},
      {2, "CREATE TABLE c (x INTEGER); THIS IS NOT SQL;"},
  };
  Result<int> r = db_->Migrate(broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*db_->UserVersion(), 0);
  Result<Statement> st = db_->Prepare("SELECT COUNT(*) FROM sqlite_master");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 0);
}

TEST_F(SqliteTest, ANewerDatabaseIsFailedPrecondition) {
  ASSERT_TRUE(db_->Exec("PRAGMA user_version = 5").ok());
  Result<int> r = db_->Migrate(kSteps);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(SqliteTest, NotADatabaseIsDataLoss) {
  db_.reset();
  std::string junk = dir_ + "/junk.db";
  {
    std::ofstream out(junk, std::ios::binary);
    out << std::string(4096, 'j');
  }
  Result<std::unique_ptr<Database>> db = Database::Open(junk);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code(), ErrorCode::kDataLoss) << db.error().ToString();
  EXPECT_NE(db.error().ToString().find(junk), std::string::npos);
}

TEST_F(SqliteTest, QuickCheckPassesOnAHealthyFile) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (n INTEGER)").ok());
  EXPECT_TRUE(db_->QuickCheck().ok());
}

TEST_F(SqliteTest, AMissingDirectoryIsUnavailable) {
  Result<std::unique_ptr<Database>> db = Database::Open(dir_ + "/no/such/dir/x.db");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code(), ErrorCode::kUnavailable) << db.error().ToString();
}

TEST_F(SqliteTest, PoolHandsEachThreadItsOwnConnection) {
  Result<std::unique_ptr<ConnectionPool>> pool = ConnectionPool::Open(path_, {}, std::span(kSteps));
  ASSERT_TRUE(pool.ok()) << pool.error().ToString();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Result<ConnectionPool::Handle> h = (*pool)->Acquire();
        if (!h.ok()) {
          failures++;
          return;
        }
        Result<Transaction> tx = (**h).Begin(TxMode::kImmediate);
        Result<Statement> ins = tx.ok() ? (*h)->Prepare("INSERT INTO a (x) VALUES (?1)")
                                        : Result<Statement>(tx.error());
        if (!ins.ok()) {
          failures++;
          return;
        }
        ins->BindAll(t * 1000 + i);
        if (!ins->Run().ok() || !tx->Commit().ok()) {
          failures++;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(*db_, "a"), 200);
}

}  // namespace
}  // namespace berth::db
