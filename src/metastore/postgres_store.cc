#include "metastore/postgres_store.h"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <libpq-fe.h>

#include "metastore/schema.h"

namespace berth::metastore {

namespace {

// The advisory lock every berth process takes while migrating ("berthmst" in ASCII).
constexpr std::string_view kMigrationLock = "SELECT pg_advisory_xact_lock(7090761255008940916)";

ErrorCode CodeForSqlState(std::string_view state) {
  if (state == "23505") {
    return ErrorCode::kAlreadyExists;
  }
  if (state == "23503") {
    return ErrorCode::kFailedPrecondition;
  }
  if (state == "57014") {
    return ErrorCode::kCancelled;
  }
  if (state == "40001" || state == "40P01" || state == "55P03" || state.starts_with("08") ||
      state.starts_with("57P")) {
    return ErrorCode::kUnavailable;
  }
  if (state.starts_with("22") || state.starts_with("23")) {
    return ErrorCode::kInvalidArgument;
  }
  if (state.starts_with("53")) {
    return ErrorCode::kResourceExhausted;
  }
  if (state == "42501" || state.starts_with("28")) {
    return ErrorCode::kPermissionDenied;
  }
  if (state.starts_with("XX")) {
    return ErrorCode::kDataLoss;
  }
  return ErrorCode::kInternal;
}

std::string TrimMessage(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// ?N markers (our SQL's) become $N (PostgreSQL's). Our statements hold no '?' elsewhere.
std::string ToDollarParams(std::string_view sql) {
  std::string out(sql);
  std::replace(out.begin(), out.end(), '?', '$');
  return out;
}

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

// One libpq connection with its prepared statements. Used by one thread at a time.
class PgConnection {
 public:
  PgConnection(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  PgConnection(PgConnection&&) = delete;
  PgConnection& operator=(PgConnection&&) = delete;
  ~PgConnection() { PQfinish(conn_); }

  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& url,
                                                       std::chrono::milliseconds timeout) {
    std::string seconds = std::to_string(std::max<int64_t>(1, (timeout.count() + 999) / 1000));
    // In order: our defaults, which the URL's own parameters (?connect_timeout=3) override, then
    // what the store needs whatever the URL says (UTF-8 text).
    const char* keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding",
                          nullptr};
    const char* values[] = {seconds.c_str(), "berth", url.c_str(), "UTF8", nullptr};
    // expand_dbname=1: the URL in "dbname" is parsed as a connection string.
    PGconn* conn = PQconnectdbParams(keys, values, 1);
    std::string where = "postgres " + RedactUrl(url);
    if (conn == nullptr) {
      return Error(ErrorCode::kResourceExhausted, where + ": out of memory");
    }
    auto pg = std::make_unique<PgConnection>(conn, where);
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = TrimMessage(PQerrorMessage(conn));
      ErrorCode code = message.find("password authentication failed") != std::string::npos ||
                               message.find("no pg_hba.conf entry") != std::string::npos
                           ? ErrorCode::kPermissionDenied
                           : ErrorCode::kUnavailable;
      return Error(code, where + ": cannot connect: " + message);
    }
    PQsetNoticeProcessor(conn, &IgnoreNotice, nullptr);
    return pg;
  }

  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

  bool in_transaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

  // False when an idle connection may be dead. An idle connection is sent nothing (we never
  // LISTEN) unless the server ends the session (restart, failover, pg_terminate_backend): then it
  // sends an error and closes, which shows as a readable socket. Such a connection is dropped
  // rather than parsed (at worst a reconnect), so that no call fails on a connection that died
  // while idle.
  bool StillAlive() const {
    if (broken()) {
      return false;
    }
    pollfd p{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
    return p.fd >= 0 && ::poll(&p, 1, 0) == 0;
  }

  // Runs fixed SQL text of ours without parameters (several statements allowed).
  Result<> Exec(std::string_view sql) {
    PGresult* res = PQexec(conn_, std::string(sql).c_str());
    Result<> r = Check(res, sql);
    PQclear(res);
    return r;
  }

  Result<internal::Rows> Query(std::string_view sql, const std::vector<internal::Value>& params) {
    const std::string* name = BERTH_TRY(Prepared(sql, static_cast<int>(params.size())));
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* v = std::get_if<int64_t>(&params[i])) {
        text[i] = std::to_string(*v);
        values[i] = text[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        if (s->find('\0') != std::string::npos) {
          return Error::InvalidArgument(where_ + ": text holds a NUL byte");
        }
        values[i] = s->c_str();
      }
    }
    PGresult* res = PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()),
                                   values.data(), nullptr, nullptr, 0);
    Result<> ok = Check(res, sql);
    if (!ok.ok()) {
      PQclear(res);
      return std::move(ok).error();
    }
    const int columns = PQnfields(res);
    if (columns != internal::ResultColumns(sql)) {
      PQclear(res);
      return Error::Internal(where_ + ": statement returned " + std::to_string(columns) +
                             " columns, not the expected " +
                             std::to_string(internal::ResultColumns(sql)) + ": " +
                             std::string(sql.substr(0, 60)));
    }
    const int n = PQntuples(res);
    internal::Rows rows;
    rows.reserve(n);
    for (int r = 0; r < n; ++r) {
      internal::Row row(columns);
      for (int c = 0; c < columns; ++c) {
        if (!PQgetisnull(res, r, c)) {
          row[c] = std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c));
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

 private:
  // The name of the server-side prepared statement for `sql`, preparing it on first use.
  Result<const std::string*> Prepared(std::string_view sql, int nparams) {
    auto it = prepared_.find(std::string(sql));
    if (it != prepared_.end()) {
      return &it->second;
    }
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    // Parameter types are left to the server, inferred from where each one is used.
    PGresult* res = PQprepare(conn_, name.c_str(), ToDollarParams(sql).c_str(), nparams, nullptr);
    Result<> ok = Check(res, sql);
    PQclear(res);
    BERTH_TRY(ok);
    auto [inserted, _] = prepared_.emplace(std::string(sql), std::move(name));
    return &inserted->second;
  }

  Result<> Check(PGresult* res, std::string_view sql) {
    ExecStatusType status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      return {};
    }
    std::string message =
        TrimMessage(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    ErrorCode code = state != nullptr ? CodeForSqlState(state)
                     : broken()       ? ErrorCode::kUnavailable
                                      : ErrorCode::kInternal;
    Error error(code, where_ + ": " + message);
    error.AddContext("running " + std::string(sql.substr(0, 60)));
    return error;
  }

  PGconn* conn_;
  std::string where_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name.
};

// Brings the schema to the last step of kSchema (see the header).
Result<> Migrate(PgConnection& conn, const std::string& where) {
  BERTH_TRY(conn.Exec("BEGIN"));
  Result<> r = [&]() -> Result<> {
    BERTH_TRY(conn.Exec(kMigrationLock));
    BERTH_TRY(
        conn.Exec("CREATE TABLE IF NOT EXISTS berth_schema_migrations (version BIGINT PRIMARY "
                  "KEY, applied_at BIGINT NOT NULL)"));
    internal::Rows rows =
        BERTH_TRY(conn.Query("SELECT COALESCE(MAX(version), 0) FROM berth_schema_migrations", {}));
    std::string text = rows.at(0).at(0).value_or("0");
    int current = 0;
    std::from_chars(text.data(), text.data() + text.size(), current);
    int latest = std::end(internal::kSchema)[-1].version;
    if (current > latest) {
      return Error::FailedPrecondition(where + " has schema version " + std::to_string(current) +
                                       ", newer than this berth knows (" + std::to_string(latest) +
                                       "); upgrade berth");
    }
    for (const db::Migration& m : internal::kSchema) {
      if (m.version <= current) {
        continue;
      }
      BERTH_TRY_CONTEXT(conn.Exec(internal::ToPostgresDialect(m.sql)),
                        "migrating to schema version " + std::to_string(m.version));
      int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      BERTH_TRY(
          conn.Query("INSERT INTO berth_schema_migrations (version, applied_at) "
                     "VALUES (?1, ?2)",
                     {int64_t{m.version}, now}));
    }
    return conn.Exec("COMMIT");
  }();
  if (!r.ok()) {
    (void)conn.Exec("ROLLBACK");
  }
  return r;
}

}  // namespace

namespace internal {

// At most `max` connections; idle ones kept for reuse.
class PgPool {
 public:
  PgPool(std::string url, std::chrono::milliseconds timeout, int max)
      : url_(std::move(url)), timeout_(timeout), max_(std::max(1, max)) {}

  const std::string& url() const { return url_; }

  Result<std::unique_ptr<PgConnection>> Take() {
    for (;;) {
      std::unique_ptr<PgConnection> idle;
      {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, timeout_, [&] { return !idle_.empty() || open_ < max_; })) {
          return Error::Unavailable("postgres " + RedactUrl(url_) + ": all " +
                                    std::to_string(max_) + " connections stayed busy for " +
                                    std::to_string(timeout_.count()) + " ms");
        }
        if (!idle_.empty()) {
          idle = std::move(idle_.back());
          idle_.pop_back();
        } else {
          ++open_;
        }
      }
      // Outside the lock: both the check and connecting are network I/O.
      if (idle) {
        if (idle->StillAlive()) {
          return idle;
        }
        idle.reset();
        Drop();
        continue;
      }
      Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(url_, timeout_);
      if (!conn.ok()) {
        Drop();
      }
      return conn;
    }
  }

  void Give(std::unique_ptr<PgConnection> conn) {
    if (conn->broken() || conn->in_transaction()) {
      conn.reset();
      Drop();
      return;
    }
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
    cv_.notify_one();
  }

 private:
  void Drop() {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
  }

  const std::string url_;
  const std::chrono::milliseconds timeout_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // Guarded by mu_.
  int open_ = 0;                                     // Guarded by mu_: idle and borrowed.
};

}  // namespace internal

namespace {

class PostgresConn final : public internal::SqlConn {
 public:
  PostgresConn(internal::PgPool* pool, std::unique_ptr<PgConnection> conn)
      : pool_(pool), conn_(std::move(conn)) {}
  PostgresConn(const PostgresConn&) = delete;
  PostgresConn& operator=(const PostgresConn&) = delete;
  PostgresConn(PostgresConn&&) = delete;
  PostgresConn& operator=(PostgresConn&&) = delete;
  ~PostgresConn() override {
    if (conn_->in_transaction()) {
      (void)conn_->Exec("ROLLBACK");
    }
    pool_->Give(std::move(conn_));
  }

  Result<internal::Rows> Query(std::string_view sql,
                               const std::vector<internal::Value>& params) override {
    return conn_->Query(sql, params);
  }
  Result<> Begin() override { return conn_->Exec("BEGIN"); }
  Result<> Commit() override { return conn_->Exec("COMMIT"); }
  void Rollback() override { (void)conn_->Exec("ROLLBACK"); }

 private:
  internal::PgPool* pool_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<internal::PgPool> pool, std::function<Time()> clock)
    : SqlStore(std::move(clock)), pool_(std::move(pool)) {}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresStoreOptions& options) {
  if (!options.url.starts_with("postgres://") && !options.url.starts_with("postgresql://")) {
    return Error::InvalidArgument("metastore: \"" + RedactUrl(options.url) +
                                  "\" is not a postgres:// URL");
  }
  auto pool = std::make_unique<internal::PgPool>(options.url, options.connect_timeout,
                                                 options.max_connections);
  {
    // The first connection surfaces connection errors here, and migrates.
    std::unique_ptr<PgConnection> conn = BERTH_TRY_CONTEXT(pool->Take(), "opening metadata store");
    BERTH_TRY_CONTEXT(Migrate(*conn, "postgres " + RedactUrl(options.url)),
                      "opening metadata store");
    pool->Give(std::move(conn));
  }
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(pool), options.clock));
}

int PostgresStore::SchemaVersion() {
  return std::end(internal::kSchema)[-1].version;
}

Result<std::unique_ptr<internal::SqlConn>> PostgresStore::Acquire() {
  std::unique_ptr<PgConnection> conn = BERTH_TRY(pool_->Take());
  return std::unique_ptr<internal::SqlConn>(new PostgresConn(pool_.get(), std::move(conn)));
}

}  // namespace berth::metastore
