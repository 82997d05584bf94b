#include "metastore/store.h"

#include "metastore/postgres_store.h"
#include "metastore/sqlite_store.h"

namespace berth::metastore {

Result<std::unique_ptr<Store>> Open(const std::string& url, const StoreOptions& options) {
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    std::unique_ptr<PostgresStore> store =
        BERTH_TRY(PostgresStore::Open({.url = url,
                                       .connect_timeout = options.busy_timeout,
                                       .max_connections = options.max_connections,
                                       .clock = options.clock}));
    return std::unique_ptr<Store>(std::move(store));
  }
  std::string path = url;
  if (url.starts_with("sqlite://")) {
    path = url.substr(9);  // sqlite:///abs/path -> /abs/path; sqlite://rel -> rel
  } else if (url.find("://") != std::string::npos) {
    return Error::InvalidArgument("metastore: unsupported database URL \"" + RedactUrl(url) +
                                  "\" (want sqlite:///PATH, a path, or postgres://...)");
  }
  if (path.empty()) {
    return Error::InvalidArgument("metastore: database URL \"" + url + "\" names no file");
  }
  std::unique_ptr<SqliteStore> store = BERTH_TRY(SqliteStore::Open(
      {.path = path, .busy_timeout = options.busy_timeout, .clock = options.clock}));
  return std::unique_ptr<Store>(std::move(store));
}

std::string RedactUrl(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    return url;
  }
  size_t start = scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) {
    end = url.size();
  }
  size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < start) {
    return url;
  }
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) {
    return url;
  }
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace berth::metastore
