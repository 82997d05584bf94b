#include "db/sqlite.h"

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include <sqlite3.h>

namespace berth::db {

namespace {

ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return ErrorCode::kUnavailable;
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_FOREIGNKEY:
          return ErrorCode::kFailedPrecondition;
        case SQLITE_CONSTRAINT_NOTNULL:
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_DATATYPE:
          return ErrorCode::kInvalidArgument;
        default:
          return ErrorCode::kAlreadyExists;
      }
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kDataLoss;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return ErrorCode::kPermissionDenied;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return ErrorCode::kResourceExhausted;
    case SQLITE_INTERRUPT:
      return ErrorCode::kCancelled;
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return ErrorCode::kInvalidArgument;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace

// --- Database

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const OpenOptions& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) {
    flags |= SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (raw == nullptr) {
    return Error::Internal("sqlite: out of memory opening " + path);
  }
  // From here on the Database owns the handle, even if opening failed.
  std::unique_ptr<Database> db(new Database(raw, path));
  if (rc != SQLITE_OK) {
    return db->ErrorFor(rc, "opening database");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));

  // Switching a new file to WAL takes an exclusive lock for a moment, and a concurrent opener
  // can see SQLITE_BUSY without the busy handler running; retry within the busy timeout. Once a
  // file is in WAL mode it stays there and this is a no-op read of the header, which is also
  // where a file that is not a database is first noticed (NOTADB -> DataLoss).
  auto deadline = std::chrono::steady_clock::now() + options.busy_timeout;
  while (true) {
    Result<Statement> st = db->Prepare("PRAGMA journal_mode=WAL");
    Result<bool> row = st.ok() ? st->Step() : Result<bool>(st.error());
    if (row.ok()) {
      std::string mode = *row ? st->ColumnText(0) : "";
      if (mode != "wal") {
        return Error::Unavailable("sqlite: " + path + ": cannot use WAL journal (got \"" + mode +
                                  "\")");
      }
      break;
    }
    if (row.error().code() != ErrorCode::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return std::move(row).error();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BERTH_TRY(db->Exec("PRAGMA synchronous=NORMAL"));
  BERTH_TRY(db->Exec("PRAGMA foreign_keys=ON"));
  return db;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db_);
}

Error Database::ErrorFor(int rc, std::string_view what) const {
  ErrorCode code = CodeFor(rc);
  std::string detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string message;
  switch (code) {
    case ErrorCode::kDataLoss:
      message = "database " + path_ + " is damaged (" + detail +
                "); remove the file to start over with an empty database";
      break;
    case ErrorCode::kUnavailable:
      if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        message = "database " + path_ + " is locked by another process or thread (" + detail +
                  "), still after the busy timeout";
      } else {
        message = "database " + path_ + ": " + detail;
      }
      break;
    default:
      message = "database " + path_ + ": " + detail;
  }
  int sys_errno = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
  if ((rc & 0xff) != SQLITE_IOERR && (rc & 0xff) != SQLITE_CANTOPEN) {
    sys_errno = 0;
  }
  Error error(code, std::move(message), sys_errno);
  error.AddContext(std::string(what));
  return error;
}

Result<> Database::Exec(std::string_view sql) {
  std::string text(sql);
  char* errmsg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &errmsg);
  sqlite3_free(errmsg);
  if (rc != SQLITE_OK) {
    return ErrorFor(rc, "running " + text.substr(0, 60));
  }
  return {};
}

Result<Statement> Database::Prepare(std::string_view sql) {
  std::string text(sql);
  auto it = cache_.find(text);
  if (it != cache_.end()) {
    sqlite3_stmt* stmt = it->second;
    cache_.erase(it);
    return Statement(this, std::move(text), stmt);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, text.data(), static_cast<int>(text.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return ErrorFor(rc, "preparing " + text.substr(0, 60));
  }
  if (stmt == nullptr) {
    return Error::InvalidArgument("sqlite: empty statement");
  }
  return Statement(this, std::move(text), stmt);
}

void Database::Return(std::string sql, sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  auto [it, inserted] = cache_.emplace(std::move(sql), stmt);
  if (!inserted) {
    // The same SQL was borrowed twice at once; keep one copy.
    sqlite3_finalize(stmt);
  }
}

Result<Transaction> Database::Begin(TxMode mode) {
  BERTH_TRY(Exec(mode == TxMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(this);
}

Result<int> Database::UserVersion() {
  Statement st = BERTH_TRY(Prepare("PRAGMA user_version"));
  bool row = BERTH_TRY(st.Step());
  return row ? static_cast<int>(st.ColumnInt(0)) : 0;
}

Result<int> Database::Migrate(std::span<const Migration> migrations) {
  int latest = migrations.empty() ? 0 : migrations.back().version;
  // The common case, an up-to-date file, needs no write lock.
  int current = BERTH_TRY(UserVersion());
  if (current == latest) {
    return current;
  }
  Transaction tx = BERTH_TRY(Begin(TxMode::kImmediate));
  // Another process may have migrated while we waited for the lock.
  current = BERTH_TRY(UserVersion());
  int before = current;
  if (current > latest) {
    return Error::FailedPrecondition("database " + path_ + " has schema version " +
                                     std::to_string(current) + ", newer than this berth knows (" +
                                     std::to_string(latest) + "); upgrade berth");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) {
      continue;
    }
    BERTH_TRY_CONTEXT(Exec(m.sql), "migrating to schema version " + std::to_string(m.version));
    current = m.version;
  }
  // PRAGMA takes no bound parameters; the version is our own integer, not data.
  BERTH_TRY(Exec("PRAGMA user_version = " + std::to_string(current)));
  BERTH_TRY(tx.Commit());
  return before;
}

Result<> Database::QuickCheck() {
  Statement st = BERTH_TRY(Prepare("PRAGMA quick_check"));
  bool row = BERTH_TRY(st.Step());
  std::string result = row ? st.ColumnText(0) : "no result";
  if (result != "ok") {
    return Error::DataLoss("database " + path_ + " is damaged (" + result +
                           "); remove the file to start over with an empty database");
  }
  return {};
}

int64_t Database::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t Database::Changes() const {
  return sqlite3_changes64(db_);
}

// --- Statement

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      sql_(std::move(other.sql_)),
      stmt_(other.stmt_),
      bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    db_->Return(std::move(sql_), stmt_);
  }
}

Statement& Statement::Bind(int index, std::string_view text) {
  int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) {
    bind_error_ = rc;
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) {
    bind_error_ = rc;
  }
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_error_ == 0) {
    bind_error_ = rc;
  }
  return *this;
}

Result<bool> Statement::Step() {
  if (bind_error_ != 0) {
    return db_->ErrorFor(bind_error_, "binding parameters of " + sql_.substr(0, 60));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Error error = db_->ErrorFor(rc, "running " + sql_.substr(0, 60));
  sqlite3_reset(stmt_);
  return error;
}

Result<> Statement::Run() {
  while (BERTH_TRY(Step())) {
  }
  return {};
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), size);
}

int64_t Statement::ColumnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// --- Transaction

Transaction::~Transaction() {
  if (db_ != nullptr) {
    (void)Rollback();
  }
}

Result<> Transaction::Commit() {
  Database* db = std::exchange(db_, nullptr);
  Result<> r = db->Exec("COMMIT");
  if (!r.ok()) {
    // A failed COMMIT (e.g. SQLITE_FULL) may leave the transaction open: end it.
    (void)db->Exec("ROLLBACK");
  }
  return r;
}

Result<> Transaction::Rollback() {
  Database* db = std::exchange(db_, nullptr);
  return db->Exec("ROLLBACK");
}

// --- ConnectionPool

Result<std::unique_ptr<ConnectionPool>> ConnectionPool::Open(
    const std::string& path, const OpenOptions& options, std::span<const Migration> migrations) {
  std::unique_ptr<Database> first = BERTH_TRY(Database::Open(path, options));
  BERTH_TRY(first->Migrate(migrations));
  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(path, options));
  pool->idle_.push_back(std::move(first));
  return pool;
}

Result<ConnectionPool::Handle> ConnectionPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Database> db = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(db));
    }
  }
  // Opening touches the file: outside the lock.
  std::unique_ptr<Database> db = BERTH_TRY(Database::Open(path_, options_));
  return Handle(this, std::move(db));
}

ConnectionPool::Handle::~Handle() {
  if (db_ != nullptr) {
    std::lock_guard<std::mutex> lock(pool_->mu_);
    pool_->idle_.push_back(std::move(db_));
  }
}

}  // namespace berth::db
