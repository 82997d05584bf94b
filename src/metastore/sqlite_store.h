// SqliteStore: the metadata store in one SQLite file, for the embedded default and a single
// berthd.
//
// The schema is versioned by PRAGMA user_version and migrated on open (schema.h):
// db::Database::Migrate applies the missing steps in one IMMEDIATE transaction and re-reads the
// version under the write lock, so two processes opening one file at once migrate it once.
// Times are Unix nanoseconds in INTEGER columns; flags are 0/1.
//
// Thread-safety: every method is thread-safe. Each call borrows a connection of its own from a
// db::ConnectionPool, so readers on many threads run in parallel (WAL); writers serialise on
// SQLite's write lock, waiting up to the busy timeout (then Unavailable), which also orders
// writers in other processes sharing the file. No lock of ours is held across a query.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "db/sqlite.h"
#include "metastore/sql_store.h"
#include "metastore/store.h"

namespace berth::metastore {

struct SqliteStoreOptions {
  // The database file; created if absent (its directory must exist).
  std::string path;
  std::chrono::milliseconds busy_timeout{10000};
  // The time source; the system clock when empty.
  std::function<Time()> clock;
};

class SqliteStore final : public internal::SqlStore {
 public:
  // Opens (creating and migrating as needed) the store. DataLoss for a damaged file;
  // FailedPrecondition for a file written by a newer schema.
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);

  // The schema version this build writes.
  static int SchemaVersion();

 protected:
  Result<std::unique_ptr<internal::SqlConn>> Acquire() override;

 private:
  SqliteStore(std::unique_ptr<db::ConnectionPool> pool, std::function<Time()> clock)
      : SqlStore(std::move(clock)), pool_(std::move(pool)) {}

  std::unique_ptr<db::ConnectionPool> pool_;
};

}  // namespace berth::metastore
