// A throwaway PostgreSQL server for tests: Debian's binaries, a fresh cluster in a temporary
// directory, listening on 127.0.0.1 only, stopped (by the pid we started) when destroyed.
//
// PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user that
// the package creates (through setpriv, which execs in place, so the pid we hold is the server's),
// in a directory handed to that user. Missing binaries are an error naming the package, never a
// silent skip: CI installs them through scripts/setup.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "base/result.h"

namespace berth::metastore::testing {

class PostgresServer {
 public:
  // Finds /usr/lib/postgresql/*/bin/{initdb,postgres} (the newest version; $BERTH_POSTGRES_BIN
  // names another directory), creates a cluster
  // with trust authentication on loopback, starts the server on a free port and waits until it
  // accepts connections. FailedPrecondition when the binaries are missing. Call it from the main
  // thread: as root the server gets SIGKILL when the thread that started it exits (so that a
  // crashed test leaves no server behind).
  static Result<std::unique_ptr<PostgresServer>> Start();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  PostgresServer(PostgresServer&&) = delete;
  PostgresServer& operator=(PostgresServer&&) = delete;
  // Stops the server (fast shutdown, then SIGKILL after 10 s) and removes its directory.
  ~PostgresServer();

  // Creates a new, empty database and returns its URL
  // (postgres://berth:PASSWORD@127.0.0.1:PORT/NAME).
  Result<std::string> CreateDatabase();
  // Runs SQL as the superuser in database `db` (tests use it to tamper with a store).
  Result<> Exec(const std::string& db, const std::string& sql) const;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  PostgresServer(std::string dir, int port, pid_t pid)
      : dir_(std::move(dir)), port_(port), pid_(pid) {}

  std::string dir_;
  int port_;
  pid_t pid_;
  std::atomic<int> databases_{0};
};

// One server for the whole test process, started on first use; destroyed at exit. Returns the
// start error to every caller when it could not start.
Result<PostgresServer*> SharedPostgresServer();

}  // namespace berth::metastore::testing
