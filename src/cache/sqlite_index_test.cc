#include "cache/sqlite_index.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cache/testing/index_conformance.h"
#include "db/sqlite.h"

extern char** environ;

namespace berth::cache {
namespace {

using testing::IndexConformanceTest;
using testing::IndexFactory;
using testing::IndexFactoryName;
using testing::MakeRecord;

INSTANTIATE_TEST_SUITE_P(
    Sqlite, IndexConformanceTest,
    ::testing::Values(IndexFactory{
        "sqlite",
        [](const std::string& dir, std::function<Time()> clock) -> Result<std::unique_ptr<Index>> {
          std::unique_ptr<SqliteIndex> index =
              BERTH_TRY(SqliteIndex::Open({.path = dir + "/cache.db", .clock = std::move(clock)}));
          return std::unique_ptr<Index>(std::move(index));
        }}),
    IndexFactoryName);

class SqliteIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-sqlite-index-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/cache.db";
  }
  void TearDown() override { (void)::system(("rm -rf " + dir_).c_str()); }

  static void WriteFile(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  }

  Context ctx_ = Context::Background();
  std::string dir_;
  std::string path_;
};

TEST_F(SqliteIndexTest, MigratesAnEmptyVersionZeroFile) {
  {
    // A database that exists but has never been migrated: user_version 0.
    Result<std::unique_ptr<db::Database>> raw = db::Database::Open(path_);
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    Result<int> version = (*raw)->UserVersion();
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, 0);
  }
  Result<std::unique_ptr<SqliteIndex>> index = SqliteIndex::Open({.path = path_});
  ASSERT_TRUE(index.ok()) << index.error().ToString();
  ASSERT_TRUE((*index)->Put(ctx_, "", "k", MakeRecord("s")).ok());
  Result<std::unique_ptr<db::Database>> raw = db::Database::Open(path_);
  ASSERT_TRUE(raw.ok());
  Result<int> version = (*raw)->UserVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, SqliteIndex::SchemaVersion());
}

TEST_F(SqliteIndexTest, ANewerSchemaIsRefused) {
  {
    Result<std::unique_ptr<db::Database>> raw = db::Database::Open(path_);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Exec("PRAGMA user_version = 999").ok());
  }
  Result<std::unique_ptr<SqliteIndex>> index = SqliteIndex::Open({.path = path_});
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.error().code(), ErrorCode::kFailedPrecondition) << index.error().ToString();
  EXPECT_NE(index.error().ToString().find("999"), std::string::npos);
}

TEST_F(SqliteIndexTest, AFileThatIsNotADatabaseIsDataLoss) {
  WriteFile(path_, std::string(8192, 'x'));
  Result<std::unique_ptr<SqliteIndex>> index = SqliteIndex::Open({.path = path_});
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.error().code(), ErrorCode::kDataLoss) << index.error().ToString();
  EXPECT_NE(index.error().ToString().find(path_), std::string::npos) << index.error().ToString();
}

TEST_F(SqliteIndexTest, DamagedPagesAreDataLoss) {
  {
    Result<std::unique_ptr<SqliteIndex>> index = SqliteIndex::Open({.path = path_});
    ASSERT_TRUE(index.ok()) << index.error().ToString();
    for (int i = 0; i < 500; ++i) {
      Record r = MakeRecord("snapshot-with-a-long-name-" + std::to_string(i));
      r.layers = {testing::MakeLayer(std::to_string(i))};
      ASSERT_TRUE((*index)->Put(ctx_, "p", "key-" + std::to_string(i), r).ok());
    }
    // Closing the last connection checkpoints the WAL into the main file.
  }
  std::string data;
  {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    data = ss.str();
  }
  ASSERT_GT(data.size(), 8192u);
  // Keep the header page, scribble over the rest (b-tree pages of both tables and indexes).
  for (size_t i = 4096; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 7919) & 0xff);
  }
  WriteFile(path_, data);

  Result<std::unique_ptr<SqliteIndex>> index = SqliteIndex::Open({.path = path_});
  if (!index.ok()) {
    EXPECT_EQ(index.error().code(), ErrorCode::kDataLoss) << index.error().ToString();
    RecordProperty("error", index.error().ToString());
    return;
  }
  Result<std::vector<Record>> list = (*index)->List(ctx_, "p");
  ASSERT_FALSE(list.ok()) << "read " << list->size() << " records from a damaged file";
  EXPECT_EQ(list.error().code(), ErrorCode::kDataLoss) << list.error().ToString();
  EXPECT_NE(list.error().ToString().find("damaged"), std::string::npos);
  RecordProperty("error", list.error().ToString());
}

TEST_F(SqliteIndexTest, AWriterHeldLockIsUnavailableAfterTheBusyTimeout) {
  Result<std::unique_ptr<SqliteIndex>> index =
      SqliteIndex::Open({.path = path_, .busy_timeout = std::chrono::milliseconds(100)});
  ASSERT_TRUE(index.ok()) << index.error().ToString();
  Result<std::unique_ptr<db::Database>> other = db::Database::Open(path_);
  ASSERT_TRUE(other.ok());
  {
    Result<db::Transaction> tx = (*other)->Begin(db::TxMode::kImmediate);
    ASSERT_TRUE(tx.ok()) << tx.error().ToString();
    auto start = std::chrono::steady_clock::now();
    Result<Record> put = (*index)->Put(ctx_, "", "k", MakeRecord("s"));
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.error().code(), ErrorCode::kUnavailable) << put.error().ToString();
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
    // Readers are not blocked by a writer (WAL).
    Result<std::vector<Record>> list = (*index)->List(ctx_, "");
    EXPECT_TRUE(list.ok()) << list.error().ToString();
  }
  EXPECT_TRUE((*index)->Put(ctx_, "", "k", MakeRecord("s")).ok());
}

// Starts `argv` with stdout and stderr going to files; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(SqliteIndexTest, ProcessesAndThreadsPuttingTheSameKeysAgree) {
  constexpr int kKeys = 100;
  constexpr int kProcesses = 2;
  constexpr int kThreads = 2;
  const std::string helper = std::string(BERTH_BIN) + "/cache_index_helper";
  ASSERT_EQ(::access(helper.c_str(), X_OK), 0) << helper << " is not built";
  const std::string start = dir_ + "/start";

  // Create the file first in this process, as a build would; the children open it as-is.
  Result<std::unique_ptr<SqliteIndex>> index = SqliteIndex::Open({.path = path_});
  ASSERT_TRUE(index.ok()) << index.error().ToString();

  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    std::string name = dir_ + "/proc-" + std::to_string(p);
    pid_t pid = Spawn({helper, "put", path_, "proj", "snap-proc-" + std::to_string(p),
                       std::to_string(kKeys), start},
                      name + ".out", name + ".err");
    ASSERT_GT(pid, 0);
    pids.push_back(pid);
  }

  std::vector<std::map<std::string, std::string>> thread_results(kThreads);
  std::vector<std::string> thread_errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // One thread shares the test's handle, the other opens its own.
      std::unique_ptr<SqliteIndex> own;
      Index* idx = index->get();
      if (t == 1) {
        Result<std::unique_ptr<SqliteIndex>> opened = SqliteIndex::Open({.path = path_});
        if (!opened.ok()) {
          thread_errors[t] = opened.error().ToString();
          return;
        }
        own = std::move(opened).value();
        idx = own.get();
      }
      while (::access(start.c_str(), F_OK) != 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      for (int k = 0; k < kKeys; ++k) {
        std::string key = "key-" + std::to_string(k);
        Result<Record> r =
            idx->Put(ctx_, "proj", key, MakeRecord("snap-thread-" + std::to_string(t)));
        if (!r.ok()) {
          thread_errors[t] = r.error().ToString();
          return;
        }
        thread_results[t][key] = r->snapshot;
      }
    });
  }
  WriteFile(start, "go");
  for (std::thread& t : threads) {
    t.join();
  }
  std::vector<std::map<std::string, std::string>> results = thread_results;
  for (int p = 0; p < kProcesses; ++p) {
    int status = 0;
    ASSERT_EQ(::waitpid(pids[p], &status, 0), pids[p]);
    std::string name = dir_ + "/proc-" + std::to_string(p);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "helper " << p << " failed: " << ReadAll(name + ".err");
    std::map<std::string, std::string> got;
    std::istringstream lines(ReadAll(name + ".out"));
    std::string key, snapshot;
    while (lines >> key >> snapshot) {
      got[key] = snapshot;
    }
    EXPECT_EQ(got.size(), static_cast<size_t>(kKeys));
    results.push_back(std::move(got));
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(thread_errors[t], "") << "thread " << t;
  }

  Result<std::vector<Record>> list = (*index)->List(ctx_, "proj");
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->size(), static_cast<size_t>(kKeys));
  std::map<std::string, int> winners;
  for (const Record& stored : *list) {
    winners[stored.snapshot]++;
    for (size_t w = 0; w < results.size(); ++w) {
      EXPECT_EQ(results[w][stored.key], stored.snapshot) << "writer " << w << " " << stored.key;
    }
  }
  // Not a requirement, but the test is only meaningful if writers really raced.
  std::string summary;
  for (const auto& [snapshot, count] : winners) {
    summary += snapshot + "=" + std::to_string(count) + " ";
  }
  RecordProperty("winners", summary);
}

}  // namespace
}  // namespace berth::cache
