// db: a small SQLite wrapper for berth's metadata (the cache index now; projects, tokens and
// build records later).
//
// What it adds over the C API, and nothing more:
//   - Database::Open sets up a connection the way every berth database wants it: WAL journal
//     (readers never block the writer and the writer never blocks readers), a busy timeout (a
//     writer waits for another writer instead of failing at once), foreign keys on, extended
//     result codes, synchronous=NORMAL (an application crash loses nothing; a power cut may lose
//     the last transactions, never consistency).
//   - Statements are prepared once per connection and cached; parameters are always bound, so
//     data never becomes SQL text.
//   - Transaction is RAII: it rolls back unless committed. Writers begin IMMEDIATE, taking the
//     write lock up front, so that two processes never deadlock upgrading read locks (in WAL a
//     deferred reader that tries to write after another writer committed gets SQLITE_BUSY with
//     no retry).
//   - Migrate() applies numbered schema steps under the write lock, versioned by
//     PRAGMA user_version, so that two processes opening one file at once migrate it once.
//   - SQLite result codes become Errors: BUSY/LOCKED after the busy timeout -> Unavailable,
//     UNIQUE/PRIMARY KEY constraint -> AlreadyExists, CORRUPT/NOTADB -> DataLoss (with the file
//     named), READONLY/PERM -> PermissionDenied, FULL/NOMEM -> ResourceExhausted.
//
// Concurrency: several processes may open one database file (SQLite's own file locks, WAL). A
// Database object is one connection and is NOT thread-safe: use it from one thread at a time.
// Components that serve many threads keep a pool of connections (see ConnectionPool), so threads
// read in parallel and only writers serialise, in SQLite, not behind a mutex of ours.
//
// sqlite3.h stays out of this header: the handles are opaque.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::db {

class Database;

// A prepared statement borrowed from its Database's cache. Bind parameters (1-based, as in
// SQLite), Step() through the rows, read columns (0-based). Returned to the cache, reset and
// with its bindings cleared, when destroyed. Move-only; must not outlive its Database.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t value);
  Statement& BindNull(int index);

  // Binds every argument in order, from parameter 1.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 0;
    (BindOne(++index, args), ...);
    return *this;
  }

  // Advances to the next row: true if there is one, false when done. Errors from binding
  // (e.g. an index out of range) surface here.
  Result<bool> Step();
  // Runs a statement that returns no rows (or whose rows are ignored) to completion.
  Result<> Run();
  // Resets to run again with new bindings.
  void Reset();

  // REQUIRES: the last Step() returned true.
  std::string ColumnText(int column) const;
  int64_t ColumnInt(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class Database;
  Statement(Database* db, std::string sql, sqlite3_stmt* stmt)
      : db_(db), sql_(std::move(sql)), stmt_(stmt) {}

  void BindOne(int index, std::string_view text) { Bind(index, text); }
  void BindOne(int index, const std::string& text) { Bind(index, std::string_view(text)); }
  void BindOne(int index, const char* text) { Bind(index, std::string_view(text)); }
  void BindOne(int index, int64_t value) { Bind(index, value); }
  void BindOne(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void BindOne(int index, uint64_t value) { Bind(index, static_cast<int64_t>(value)); }

  Database* db_;
  std::string sql_;
  sqlite3_stmt* stmt_;
  int bind_error_ = 0;  // The first sqlite3_bind_* failure, reported by Step().
};

class Transaction;

enum class TxMode {
  kDeferred,   // A reader: takes a consistent snapshot at the first read.
  kImmediate,  // A writer: takes the write lock now, waiting up to the busy timeout.
};

// One numbered schema step. `sql` may hold several statements; it is fixed text in our code,
// never data.
struct Migration {
  int version;
  std::string_view sql;
};

struct OpenOptions {
  // How long a statement waits for another connection's lock before failing with Unavailable.
  std::chrono::milliseconds busy_timeout{10000};
  // Create the file if it does not exist.
  bool create = true;
};

class Database {
 public:
  // Opens (creating if allowed) the database at `path` and configures the connection (see the
  // file comment). DataLoss if the file is not a database or is corrupt; Unavailable if the
  // file cannot be opened.
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                const OpenOptions& options = {});

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&&) = delete;
  Database& operator=(Database&&) = delete;
  ~Database();

  // Runs fixed SQL text (schema, pragmas) with no parameters. Never pass data in `sql`.
  Result<> Exec(std::string_view sql);

  // A prepared statement for `sql`, from the cache when this connection prepared it before.
  Result<Statement> Prepare(std::string_view sql);

  // Begins a transaction (see TxMode). Transactions do not nest.
  Result<Transaction> Begin(TxMode mode);

  // PRAGMA user_version.
  Result<int> UserVersion();

  // Brings the schema to the last of `migrations` (sorted by version, starting at 1): applies,
  // in one IMMEDIATE transaction, every step above the current user_version, then sets
  // user_version. Returns the version the database had before. FailedPrecondition if the
  // database is newer than the last known step (written by a newer berth).
  Result<int> Migrate(std::span<const Migration> migrations);

  // Runs PRAGMA quick_check: DataLoss naming the first problem if the file is damaged.
  Result<> QuickCheck();

  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;

  const std::string& path() const { return path_; }

  // The Error for SQLite result code `rc` on this connection; `what` says what was being done.
  Error ErrorFor(int rc, std::string_view what) const;

 private:
  friend class Statement;
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void Return(std::string sql, sqlite3_stmt* stmt);

  sqlite3* db_;
  std::string path_;
  // Prepared statements not currently borrowed, by SQL text.
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// An open transaction; rolls back on destruction unless committed. Move-only.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&& other) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits. On failure the transaction is rolled back.
  Result<> Commit();
  // Rolls back now, reporting errors.
  Result<> Rollback();

 private:
  friend class Database;
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

// A pool of connections to one database file for a thread-safe component: Acquire() hands a
// connection to one thread, which returns it by destroying the handle. Connections are opened on
// demand and kept for reuse; the pool itself is thread-safe. The mutex guards only the list of
// idle connections, never a query.
class ConnectionPool {
 public:
  class Handle {
   public:
    Handle(ConnectionPool* pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
    Handle(Handle&&) noexcept = default;
    Handle& operator=(Handle&&) = delete;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle();

    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Database> db_;
  };

  // Opens the first connection (so that open errors surface here) and runs `migrations`.
  static Result<std::unique_ptr<ConnectionPool>> Open(const std::string& path,
                                                      const OpenOptions& options,
                                                      std::span<const Migration> migrations);

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ~ConnectionPool() = default;

  Result<Handle> Acquire();

  const std::string& path() const { return path_; }

 private:
  ConnectionPool(std::string path, OpenOptions options)
      : path_(std::move(path)), options_(options) {}

  const std::string path_;
  const OpenOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Database>> idle_;  // Guarded by mu_.
};

}  // namespace berth::db
