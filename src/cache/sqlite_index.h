// SqliteIndex: the cache index in one SQLite file, for the embedded default and a single berthd.
//
// Layout: table `entries` (one row per project and key, with a `removing` mark) and table
// `layers` (exported layer descriptors, deleted with their entry through a foreign key). Times are
// stored as Unix nanoseconds. The schema is versioned by PRAGMA user_version (see kMigrations in
// the .cc) and migrated on open.
//
// Thread-safety and processes: see index.h. Each calling thread borrows its own connection from
// a pool (db::ConnectionPool), so lookups on many threads run in parallel; writers serialise on
// SQLite's write lock (BEGIN IMMEDIATE), which also orders writers in other processes. Lookup is
// a writer too (it records last_used_at): a short one, without fsync (synchronous=NORMAL in WAL
// mode syncs at checkpoints), so a build's lookups cost tens of microseconds each.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cache/index.h"
#include "db/sqlite.h"

namespace berth::cache {

struct SqliteIndexOptions {
  // The database file; created (with its directory's permission) if absent.
  std::string path;
  // How long an operation waits for another process's write lock before Unavailable.
  std::chrono::milliseconds busy_timeout{10000};
  // The time source for created_at/last_used_at; the system clock when empty. Tests inject one.
  std::function<Time()> clock;
};

class SqliteIndex final : public Index {
 public:
  // Opens (creating and migrating as needed) the index. DataLoss for a damaged file;
  // FailedPrecondition for a file written by a newer schema.
  static Result<std::unique_ptr<SqliteIndex>> Open(const SqliteIndexOptions& options);

  // The schema version this build writes.
  static int SchemaVersion();

  Result<Record> Lookup(const Context& ctx, const std::string& project,
                        const std::string& key) override;
  Result<Record> Put(const Context& ctx, const std::string& project, const std::string& key,
                     const Record& record) override;
  Result<> AddLayer(const Context& ctx, const std::string& project, const std::string& key,
                    const Layer& layer) override;
  Result<std::vector<Record>> List(const Context& ctx, const std::string& project) override;
  Result<Removal> Delete(const Context& ctx, const std::string& project,
                         const std::string& key) override;
  Result<Removal> Reset(const Context& ctx, const std::string& project) override;
  Result<Removal> Evict(const Context& ctx, const std::string& project, int64_t cap_bytes,
                        Time keep_used_since) override;
  Result<> Forget(const Context& ctx, const std::string& project,
                  const std::vector<std::string>& keys) override;
  Result<int64_t> TotalSize(const Context& ctx, const std::string& project) override;
  Result<cache::GcRoots> GcRoots(const Context& ctx, const std::string& weak_prefix) override;

 private:
  SqliteIndex(std::unique_ptr<db::ConnectionPool> pool, std::function<Time()> clock)
      : pool_(std::move(pool)), clock_(std::move(clock)) {}

  Time Now() const { return clock_ ? clock_() : std::chrono::system_clock::now(); }

  std::unique_ptr<db::ConnectionPool> pool_;
  std::function<Time()> clock_;
};

}  // namespace berth::cache
