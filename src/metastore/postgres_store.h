// PostgresStore: the metadata store in PostgreSQL, for several berthd sharing one control plane
// (or anyone who prefers a database server). Reached through libpq; libpq-fe.h stays in the .cc.
//
// The schema (schema.h, turned into PostgreSQL's dialect) is versioned in a table,
// berth_schema_migrations, one row per applied step. Open() migrates inside one transaction that
// first takes a transaction-scoped advisory lock (pg_advisory_xact_lock), so berthd processes
// starting together apply each step once: the second waits for the first, then finds nothing left
// to do. DDL is transactional in PostgreSQL, so a failed step leaves the schema as it was. Times
// are Unix nanoseconds in BIGINT columns, the same values the SQLite backend keeps.
//
// Thread-safety: every method is thread-safe. The store keeps a pool of at most
// `max_connections` connections; each call borrows one for its duration (a libpq connection is
// used by one thread at a time) and waits, up to `connect_timeout`, when all are busy. The
// mutex guards only the pool's list, never a query. An idle connection that the server closed
// (restart, failover) is noticed before reuse and replaced; one that breaks during a call fails
// that call with Unavailable and is dropped. Isolation is READ COMMITTED; every rule that two
// writers could race on is one conditional statement (UPDATE ... WHERE status IN (...)) or a
// unique constraint, so it holds without stronger isolation.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "metastore/sql_store.h"
#include "metastore/store.h"

namespace berth::metastore {

namespace internal {
class PgPool;
}  // namespace internal

struct PostgresStoreOptions {
  // postgres://user:password@host:port/database (or postgresql://...; libpq's URI syntax, with
  // its query parameters such as ?sslmode=require).
  std::string url;
  // How long to wait for a connection: to the server, or from a full pool.
  std::chrono::milliseconds connect_timeout{10000};
  int max_connections = 8;
  // The time source; the system clock when empty.
  std::function<Time()> clock;
};

class PostgresStore final : public internal::SqlStore {
 public:
  // Connects and migrates. Unavailable when the server cannot be reached; PermissionDenied when
  // it refuses the credentials; FailedPrecondition for a schema newer than this berth.
  static Result<std::unique_ptr<PostgresStore>> Open(const PostgresStoreOptions& options);

  // The schema version this build writes.
  static int SchemaVersion();

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  PostgresStore(PostgresStore&&) = delete;
  PostgresStore& operator=(PostgresStore&&) = delete;
  ~PostgresStore() override;

 protected:
  Result<std::unique_ptr<internal::SqlConn>> Acquire() override;

 private:
  PostgresStore(std::unique_ptr<internal::PgPool> pool, std::function<Time()> clock);

  std::unique_ptr<internal::PgPool> pool_;
};

}  // namespace berth::metastore
