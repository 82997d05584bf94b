#include "metastore/sqlite_store.h"

#include <optional>
#include <utility>
#include <variant>

#include "metastore/schema.h"

namespace berth::metastore {

namespace {

class SqliteConn final : public internal::SqlConn {
 public:
  explicit SqliteConn(db::ConnectionPool::Handle handle) : db_(std::move(handle)) {}

  Result<internal::Rows> Query(std::string_view sql,
                               const std::vector<internal::Value>& params) override {
    db::Statement st = BERTH_TRY(db_->Prepare(sql));
    int index = 0;
    for (const internal::Value& v : params) {
      ++index;
      if (const auto* i = std::get_if<int64_t>(&v)) {
        st.Bind(index, *i);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        st.Bind(index, std::string_view{*s});
      } else {
        st.BindNull(index);
      }
    }
    const int columns = internal::ResultColumns(sql);
    internal::Rows rows;
    while (BERTH_TRY(st.Step())) {
      internal::Row row(columns);
      for (int c = 0; c < columns; ++c) {
        if (!st.ColumnIsNull(c)) {
          row[c] = st.ColumnText(c);
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<> Begin() override {
    tx_.emplace(BERTH_TRY(db_->Begin(db::TxMode::kImmediate)));
    return {};
  }

  Result<> Commit() override {
    if (!tx_) {
      return Error::Internal("metastore: commit without a transaction");
    }
    Result<> r = tx_->Commit();
    tx_.reset();
    return r;
  }

  void Rollback() override { tx_.reset(); }

 private:
  db::ConnectionPool::Handle db_;
  // Declared after db_, so destroyed first: a transaction left open rolls back before the
  // connection goes back to the pool.
  std::optional<db::Transaction> tx_;
};

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return Error::InvalidArgument("metastore: empty SQLite database path");
  }
  db::OpenOptions open{.busy_timeout = options.busy_timeout, .create = true};
  std::unique_ptr<db::ConnectionPool> pool = BERTH_TRY_CONTEXT(
      db::ConnectionPool::Open(options.path, open, internal::kSchema), "opening metadata store");
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(pool), options.clock));
}

int SqliteStore::SchemaVersion() {
  return std::end(internal::kSchema)[-1].version;
}

Result<std::unique_ptr<internal::SqlConn>> SqliteStore::Acquire() {
  db::ConnectionPool::Handle handle = BERTH_TRY(pool_->Acquire());
  return std::unique_ptr<internal::SqlConn>(new SqliteConn(std::move(handle)));
}

}  // namespace berth::metastore
