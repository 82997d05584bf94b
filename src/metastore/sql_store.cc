#include "metastore/sql_store.h"

#include <algorithm>
#include <charconv>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/strings.h"
#include "digest/digest.h"

namespace berth::metastore {

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kUser:
      return "user";
    case TokenKind::kOrganization:
      return "organization";
    case TokenKind::kProject:
      return "project";
  }
  return "unknown";
}

std::string_view BuildStatusName(BuildStatus status) {
  switch (status) {
    case BuildStatus::kQueued:
      return "queued";
    case BuildStatus::kRunning:
      return "running";
    case BuildStatus::kSuccess:
      return "success";
    case BuildStatus::kFailed:
      return "failed";
    case BuildStatus::kCanceled:
      return "canceled";
  }
  return "unknown";
}

Result<BuildStatus> ParseBuildStatus(std::string_view name) {
  for (BuildStatus s : {BuildStatus::kQueued, BuildStatus::kRunning, BuildStatus::kSuccess,
                        BuildStatus::kFailed, BuildStatus::kCanceled}) {
    if (BuildStatusName(s) == name) {
      return s;
    }
  }
  return Error::InvalidArgument("unknown build status \"" + std::string(name) +
                                "\" (want queued, running, success, failed or canceled)");
}

namespace internal {

namespace {

constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";
constexpr size_t kIdChars = 20;      // 100 bits.
constexpr size_t kSecretChars = 52;  // 260 bits of text for 256 random bits.
constexpr std::string_view kSecretPrefix = "berth_";
constexpr size_t kMaxNameBytes = 200;

// `chars` characters of [a-z2-7], 5 random bits each.
Result<std::string> RandomBase32(size_t chars) {
  std::vector<unsigned char> bytes((chars * 5 + 7) / 8);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Error::Internal("metastore: the system's random number generator failed");
  }
  std::string out;
  out.reserve(chars);
  uint32_t acc = 0;
  int bits = 0;
  size_t next = 0;
  while (out.size() < chars) {
    if (bits < 5) {
      acc = (acc << 8) | bytes[next++];
      bits += 8;
    }
    out.push_back(kBase32[(acc >> (bits - 5)) & 31]);
    bits -= 5;
  }
  return out;
}

bool IsBase32(std::string_view text) {
  return text.find_first_not_of(kBase32) == std::string_view::npos;
}

int64_t ToNanos(Time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Time FromNanos(int64_t ns) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::nanoseconds(ns)));
}

Value OptNanos(const std::optional<Time>& t) {
  return t ? Value(ToNanos(*t)) : Value(nullptr);
}

// Column readers. The rows come from our own schema, so a value that does not parse means the
// database was damaged or written by something else.
std::string Text(const Row& row, size_t i) {
  return row.at(i).value_or("");
}

Result<int64_t> Int(const Row& row, size_t i) {
  const std::optional<std::string>& cell = row.at(i);
  int64_t v = 0;
  if (!cell) {
    return Error::DataLoss("metastore: unexpected NULL in an integer column");
  }
  auto [ptr, ec] = std::from_chars(cell->data(), cell->data() + cell->size(), v);
  if (ec != std::errc() || ptr != cell->data() + cell->size()) {
    return Error::DataLoss("metastore: malformed integer \"" + *cell + "\" in the database");
  }
  return v;
}

Result<Time> TimeAt(const Row& row, size_t i) {
  return FromNanos(BERTH_TRY(Int(row, i)));
}

Result<std::optional<Time>> OptTimeAt(const Row& row, size_t i) {
  if (!row.at(i)) {
    return std::optional<Time>();
  }
  return std::optional<Time>(BERTH_TRY(TimeAt(row, i)));
}

// The project fields CreateProject and UpdateProject check alike.
Result<> ValidateRegion(const std::string& region) {
  if (region.size() > kMaxNameBytes || ToValidUtf8(region) != region) {
    return Error::InvalidArgument("project region is longer than " + std::to_string(kMaxNameBytes) +
                                  " bytes or not UTF-8");
  }
  return {};
}

Result<> ValidateCacheCap(int64_t cap) {
  if (cap < 0) {
    return Error::InvalidArgument("project cache size cap is negative");
  }
  return {};
}

Result<> ValidateRetention(int64_t days) {
  if (days < kMinRetentionDays || days > kMaxRetentionDays) {
    return Error::InvalidArgument(
        "project build retention must be " + std::to_string(kMinRetentionDays) + " to " +
        std::to_string(kMaxRetentionDays) + " days, not " + std::to_string(days));
  }
  return {};
}

Result<> ValidateName(std::string_view what, const std::string& name) {
  if (name.empty()) {
    return Error::InvalidArgument(std::string(what) + " name is empty");
  }
  if (name.size() > kMaxNameBytes) {
    return Error::InvalidArgument(std::string(what) + " name is longer than " +
                                  std::to_string(kMaxNameBytes) + " bytes");
  }
  if (ToValidUtf8(name) != name) {
    return Error::InvalidArgument(std::string(what) + " name is not valid UTF-8");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Error::InvalidArgument(std::string(what) + " name \"" + name +
                                    "\" holds a control character");
    }
  }
  return {};
}

// Runs `sql` and returns its first row, or nullopt when there is none.
Result<std::optional<Row>> QueryRow(SqlConn& conn, std::string_view sql,
                                    const std::vector<Value>& params) {
  Rows rows = BERTH_TRY(conn.Query(sql, params));
  if (rows.empty()) {
    return std::optional<Row>();
  }
  return std::optional<Row>(std::move(rows.front()));
}

// Whether a row with `id` exists in `table` (fixed text of ours, never data).
Result<bool> Exists(SqlConn& conn, std::string_view table, const std::string& id) {
  std::string sql = "SELECT 1 FROM " + std::string(table) + " WHERE id = ?1";
  return BERTH_TRY(QueryRow(conn, sql, {id})).has_value();
}

// Rolls back unless committed.
class TxGuard {
 public:
  explicit TxGuard(SqlConn& conn) : conn_(conn) {}
  TxGuard(const TxGuard&) = delete;
  TxGuard& operator=(const TxGuard&) = delete;
  TxGuard(TxGuard&&) = delete;
  TxGuard& operator=(TxGuard&&) = delete;
  ~TxGuard() {
    if (!done_) {
      conn_.Rollback();
    }
  }
  Result<> Commit() {
    done_ = true;
    return conn_.Commit();
  }

 private:
  SqlConn& conn_;
  bool done_ = false;
};

Result<TxGuard*> BeginTx(SqlConn& conn, std::optional<TxGuard>& guard) {
  BERTH_TRY(conn.Begin());
  guard.emplace(conn);
  return &*guard;
}

// --- Records <-> rows.

constexpr std::string_view kOrgCols = "id, name, created_at, build_minutes_cap";

Result<Organization> ReadOrg(const Row& row) {
  Organization o;
  o.id = Text(row, 0);
  o.name = Text(row, 1);
  o.created_at = BERTH_TRY(TimeAt(row, 2));
  o.build_minutes_cap = BERTH_TRY(Int(row, 3));
  return o;
}

constexpr std::string_view kUserCols = "id, org_id, name, admin, created_at";

Result<User> ReadUser(const Row& row) {
  User u;
  u.id = Text(row, 0);
  u.org_id = Text(row, 1);
  u.name = Text(row, 2);
  u.admin = BERTH_TRY(Int(row, 3)) != 0;
  u.created_at = BERTH_TRY(TimeAt(row, 4));
  return u;
}

constexpr std::string_view kProjectCols =
    "id, org_id, name, region, cache_cap_bytes, build_retention_days, created_at";

Result<Project> ReadProject(const Row& row) {
  Project p;
  p.id = Text(row, 0);
  p.org_id = Text(row, 1);
  p.name = Text(row, 2);
  p.region = Text(row, 3);
  p.cache_cap_bytes = BERTH_TRY(Int(row, 4));
  p.build_retention_days = static_cast<int>(BERTH_TRY(Int(row, 5)));
  p.created_at = BERTH_TRY(TimeAt(row, 6));
  return p;
}

constexpr std::string_view kTokenCols =
    "id, kind, subject, org_id, project_id, name, created_at, expires_at, revoked_at, "
    "last_used_at";

Result<Token> ReadToken(const Row& row) {
  Token t;
  t.id = Text(row, 0);
  std::string kind = Text(row, 1);
  if (kind == "user") {
    t.kind = TokenKind::kUser;
  } else if (kind == "organization") {
    t.kind = TokenKind::kOrganization;
  } else if (kind == "project") {
    t.kind = TokenKind::kProject;
  } else {
    return Error::DataLoss("metastore: token " + t.id + " has unknown kind \"" + kind + "\"");
  }
  t.subject = Text(row, 2);
  t.org_id = Text(row, 3);
  t.project_id = Text(row, 4);
  t.name = Text(row, 5);
  t.created_at = BERTH_TRY(TimeAt(row, 6));
  t.expires_at = BERTH_TRY(OptTimeAt(row, 7));
  t.revoked_at = BERTH_TRY(OptTimeAt(row, 8));
  t.revoked = t.revoked_at.has_value();
  t.last_used_at = BERTH_TRY(OptTimeAt(row, 9));
  return t;
}

constexpr std::string_view kBuildCols =
    "id, project_id, status, queued_at, started_at, finished_at, options_json, dockerfile, "
    "first_miss_step, error_message, context_files_sent, context_bytes_sent";

Result<Build> ReadBuild(const Row& row) {
  Build b;
  b.id = Text(row, 0);
  b.project_id = Text(row, 1);
  Result<BuildStatus> status = ParseBuildStatus(Text(row, 2));
  if (!status.ok()) {
    return Error::DataLoss("metastore: build " + b.id + ": " + status.error().message());
  }
  b.status = *status;
  b.queued_at = BERTH_TRY(TimeAt(row, 3));
  b.started_at = BERTH_TRY(OptTimeAt(row, 4));
  b.finished_at = BERTH_TRY(OptTimeAt(row, 5));
  b.options_json = Text(row, 6);
  b.dockerfile = Text(row, 7);
  b.first_miss_step = Text(row, 8);
  b.error_message = Text(row, 9);
  b.context_files_sent = BERTH_TRY(Int(row, 10));
  b.context_bytes_sent = BERTH_TRY(Int(row, 11));
  return b;
}

constexpr std::string_view kStepCols =
    "build_id, vertex, name, line, cached, started_at, finished_at, duration_ns, log, layer_size";

Result<BuildStep> ReadStep(const Row& row) {
  BuildStep s;
  s.build_id = Text(row, 0);
  s.vertex = Text(row, 1);
  s.name = Text(row, 2);
  s.line = static_cast<int>(BERTH_TRY(Int(row, 3)));
  s.cached = BERTH_TRY(Int(row, 4)) != 0;
  s.started_at = BERTH_TRY(OptTimeAt(row, 5));
  s.finished_at = BERTH_TRY(OptTimeAt(row, 6));
  s.duration = std::chrono::nanoseconds(BERTH_TRY(Int(row, 7)));
  s.log = Text(row, 8);
  s.layer_size = BERTH_TRY(Int(row, 9));
  return s;
}

template <typename T>
Result<std::vector<T>> ReadAll(const Rows& rows, Result<T> (*read)(const Row&)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const Row& row : rows) {
    out.push_back(BERTH_TRY(read(row)));
  }
  return out;
}

std::string Select(std::string_view cols, std::string_view rest) {
  return "SELECT " + std::string(cols) + " " + std::string(rest);
}

// The error for an insert whose parent row is gone: a foreign key violation means NotFound.
Error ParentError(Error error, const std::string& what) {
  if (error.code() == ErrorCode::kFailedPrecondition) {
    return Error::NotFound(what + " not found");
  }
  return error;
}

Error NotFoundError(std::string_view what, const std::string& id) {
  return Error::NotFound(std::string(what) + " " + id + " not found");
}

// Ids are ours: a prefix and base32 ([a-z0-9_]). Anything else (an id from a URL with odd bytes)
// cannot exist, and is NotFound without a query, the same in both backends (PostgreSQL would
// refuse bytes that are not UTF-8 as a bad argument).
Result<> CheckId(std::string_view what, const std::string& id) {
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
    return Error::NotFound(std::string(what) + " " + QuoteString(ToValidUtf8(id.substr(0, 64))) +
                           " not found");
  }
  return {};
}

// The token id in a secret of berth's own format ("berth_" + id body + random part), or nullopt.
std::optional<std::string> IdInSecret(std::string_view secret) {
  if (secret.size() != kSecretPrefix.size() + kIdChars + kSecretChars ||
      secret.substr(0, kSecretPrefix.size()) != kSecretPrefix ||
      !IsBase32(secret.substr(kSecretPrefix.size()))) {
    return std::nullopt;
  }
  return "t_" + std::string(secret.substr(kSecretPrefix.size(), kIdChars));
}

std::string HashSecret(std::string_view secret) {
  return digest::FromBytes(secret).hex();
}

}  // namespace

Result<std::string> NewId(std::string_view prefix) {
  return std::string(prefix) + "_" + BERTH_TRY(RandomBase32(kIdChars));
}

std::string ToValidUtf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  const size_t n = text.size();
  auto cont = [&](size_t k) {
    return k < n && (static_cast<unsigned char>(text[k]) & 0xc0) == 0x80;
  };
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    if (c == 0) {
      len = 0;
    } else if (c < 0x80) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = cont(i + 1) ? 2 : 0;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (cont(i + 1) && cont(i + 2)) {
        auto c1 = static_cast<unsigned char>(text[i + 1]);
        bool overlong = c == 0xe0 && c1 < 0xa0;
        bool surrogate = c == 0xed && c1 >= 0xa0;
        len = overlong || surrogate ? 0 : 3;
      }
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        auto c1 = static_cast<unsigned char>(text[i + 1]);
        bool overlong = c == 0xf0 && c1 < 0x90;
        bool too_big = c == 0xf4 && c1 >= 0x90;
        len = overlong || too_big ? 0 : 4;
      }
    }
    if (len == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string ToPostgresDialect(std::string_view sqlite_sql) {
  auto replace_all = [](std::string text, std::string_view from, std::string_view to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      at += to.size();
    }
    return text;
  };
  std::string sql = replace_all(std::string(sqlite_sql), "seq INTEGER PRIMARY KEY",
                                "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
  return replace_all(std::move(sql), " INTEGER", " BIGINT");
}

int ResultColumns(std::string_view sql) {
  std::string_view list;
  if (sql.starts_with("SELECT ")) {
    list = sql.substr(7);
    size_t from = list.find(" FROM ");
    if (from != std::string_view::npos) {
      list = list.substr(0, from);
    }
  } else if (size_t r = sql.find(" RETURNING "); r != std::string_view::npos) {
    list = sql.substr(r + 11);
  } else {
    return 0;
  }
  int columns = 1;
  int depth = 0;
  for (char c : list) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == ',' && depth == 0) {
      ++columns;
    }
  }
  return columns;
}

std::string BoundLog(std::string_view log) {
  if (log.size() <= kMaxStepLogBytes) {
    return std::string(log);
  }
  std::string marker = "[log truncated: the first ";
  // The marker's length depends on the number in it; leave room for the longest.
  size_t keep = kMaxStepLogBytes - 80;
  size_t start = log.size() - keep;
  // Start on a character boundary (not a UTF-8 continuation byte).
  while (start < log.size() && (static_cast<unsigned char>(log[start]) & 0xc0) == 0x80) {
    ++start;
  }
  marker += std::to_string(start) + " bytes were dropped]\n";
  return marker + std::string(log.substr(start));
}

Time SqlStore::Now() const {
  return clock_ ? clock_() : std::chrono::system_clock::now();
}

Result<std::unique_ptr<SqlConn>> SqlStore::Connect(const Context& ctx) {
  BERTH_TRY(ctx.Check());
  return Acquire();
}

// --- Organizations

Result<Organization> SqlStore::CreateOrganization(const Context& ctx, const std::string& name) {
  BERTH_TRY(ValidateName("organization", name));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Organization o{.id = BERTH_TRY(NewId("o")), .name = name, .created_at = Now()};
  Result<Rows> r =
      conn->Query("INSERT INTO organizations (id, name, created_at) VALUES (?1, ?2, ?3)",
                  {o.id, o.name, ToNanos(o.created_at)});
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kAlreadyExists) {
      return Error::AlreadyExists("organization \"" + name + "\" already exists");
    }
    return std::move(r).error();
  }
  return o;
}

Result<Organization> SqlStore::GetOrganization(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("organization", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row =
      BERTH_TRY(QueryRow(*conn, Select(kOrgCols, "FROM organizations WHERE id = ?1"), {id}));
  if (!row) {
    return NotFoundError("organization", id);
  }
  return ReadOrg(*row);
}

Result<std::vector<Organization>> SqlStore::ListOrganizations(const Context& ctx) {
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(Select(kOrgCols, "FROM organizations ORDER BY seq"), {}));
  return ReadAll(rows, &ReadOrg);
}

Result<> SqlStore::DeleteOrganization(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("organization", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query("DELETE FROM organizations WHERE id = ?1 RETURNING id", {id}));
  if (rows.empty()) {
    return NotFoundError("organization", id);
  }
  return {};
}

Result<Organization> SqlStore::UpdateOrganization(const Context& ctx, const std::string& id,
                                                  const OrganizationUpdate& update) {
  BERTH_TRY(CheckId("organization", id));
  if (update.build_minutes_cap && *update.build_minutes_cap < 0) {
    return Error::InvalidArgument("organization build minute cap is negative");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  // One statement: a field that is not set keeps its value (NULL -> COALESCE).
  Value cap = update.build_minutes_cap ? Value(*update.build_minutes_cap) : Value(nullptr);
  std::optional<Row> row = BERTH_TRY(
      QueryRow(*conn,
               "UPDATE organizations SET build_minutes_cap = COALESCE(CAST(?2 AS BIGINT), "
               "build_minutes_cap) WHERE id = ?1 RETURNING " +
                   std::string(kOrgCols),
               {id, cap}));
  if (!row) {
    return NotFoundError("organization", id);
  }
  return ReadOrg(*row);
}

// --- Users

Result<User> SqlStore::CreateUser(const Context& ctx, const std::string& org_id,
                                  const std::string& name, bool admin) {
  BERTH_TRY(CheckId("organization", org_id));
  BERTH_TRY(ValidateName("user", name));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  User u{.id = BERTH_TRY(NewId("u")),
         .org_id = org_id,
         .name = name,
         .admin = admin,
         .created_at = Now()};
  Result<Rows> r = conn->Query(
      "INSERT INTO users (id, org_id, name, admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
      {u.id, u.org_id, u.name, int64_t{admin ? 1 : 0}, ToNanos(u.created_at)});
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kAlreadyExists) {
      return Error::AlreadyExists("user \"" + name + "\" already exists in organization " + org_id);
    }
    return ParentError(std::move(r).error(), "organization " + org_id);
  }
  return u;
}

Result<User> SqlStore::GetUser(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("user", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row =
      BERTH_TRY(QueryRow(*conn, Select(kUserCols, "FROM users WHERE id = ?1"), {id}));
  if (!row) {
    return NotFoundError("user", id);
  }
  return ReadUser(*row);
}

Result<std::vector<User>> SqlStore::ListUsers(const Context& ctx, const std::string& org_id) {
  BERTH_TRY(CheckId("organization", org_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query(Select(kUserCols, "FROM users WHERE org_id = ?1 ORDER BY name"), {org_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "organizations", org_id))) {
    return NotFoundError("organization", org_id);
  }
  return ReadAll(rows, &ReadUser);
}

Result<> SqlStore::DeleteUser(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("user", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query("DELETE FROM users WHERE id = ?1 RETURNING id", {id}));
  if (rows.empty()) {
    return NotFoundError("user", id);
  }
  return {};
}

// --- Projects

Result<Project> SqlStore::CreateProject(const Context& ctx, const ProjectSpec& spec) {
  BERTH_TRY(CheckId("organization", spec.org_id));
  BERTH_TRY(ValidateName("project", spec.name));
  BERTH_TRY(ValidateRegion(spec.region));
  BERTH_TRY(ValidateCacheCap(spec.cache_cap_bytes));
  BERTH_TRY(ValidateRetention(spec.build_retention_days));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Project p{.id = BERTH_TRY(NewId("p")),
            .org_id = spec.org_id,
            .name = spec.name,
            .region = spec.region,
            .cache_cap_bytes = spec.cache_cap_bytes,
            .build_retention_days = spec.build_retention_days,
            .created_at = Now()};
  Result<Rows> r = conn->Query(
      "INSERT INTO projects (id, org_id, name, region, cache_cap_bytes, build_retention_days, "
      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      {p.id, p.org_id, p.name, p.region, p.cache_cap_bytes, int64_t{p.build_retention_days},
       ToNanos(p.created_at)});
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kAlreadyExists) {
      return Error::AlreadyExists("project \"" + spec.name + "\" already exists in organization " +
                                  spec.org_id);
    }
    return ParentError(std::move(r).error(), "organization " + spec.org_id);
  }
  return p;
}

Result<Project> SqlStore::GetProject(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("project", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row =
      BERTH_TRY(QueryRow(*conn, Select(kProjectCols, "FROM projects WHERE id = ?1"), {id}));
  if (!row) {
    return NotFoundError("project", id);
  }
  return ReadProject(*row);
}

Result<std::vector<Project>> SqlStore::ListProjects(const Context& ctx, const std::string& org_id) {
  BERTH_TRY(CheckId("organization", org_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query(Select(kProjectCols, "FROM projects WHERE org_id = ?1 ORDER BY name"), {org_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "organizations", org_id))) {
    return NotFoundError("organization", org_id);
  }
  return ReadAll(rows, &ReadProject);
}

Result<> SqlStore::DeleteProject(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("project", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query("DELETE FROM projects WHERE id = ?1 RETURNING id", {id}));
  if (rows.empty()) {
    return NotFoundError("project", id);
  }
  return {};
}

Result<Project> SqlStore::UpdateProject(const Context& ctx, const std::string& id,
                                        const ProjectUpdate& update) {
  BERTH_TRY(CheckId("project", id));
  if (update.name) {
    BERTH_TRY(ValidateName("project", *update.name));
  }
  if (update.region) {
    BERTH_TRY(ValidateRegion(*update.region));
  }
  if (update.cache_cap_bytes) {
    BERTH_TRY(ValidateCacheCap(*update.cache_cap_bytes));
  }
  if (update.build_retention_days) {
    BERTH_TRY(ValidateRetention(*update.build_retention_days));
  }
  auto opt_text = [](const std::optional<std::string>& v) {
    return v ? Value(*v) : Value(nullptr);
  };
  auto opt_int = [](const auto& v) {
    return v ? Value(static_cast<int64_t>(*v)) : Value(nullptr);
  };
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Result<Rows> rows = conn->Query(
      "UPDATE projects SET name = COALESCE(CAST(?2 AS TEXT), name), "
      "region = COALESCE(CAST(?3 AS TEXT), region), "
      "cache_cap_bytes = COALESCE(CAST(?4 AS BIGINT), cache_cap_bytes), "
      "build_retention_days = COALESCE(CAST(?5 AS BIGINT), build_retention_days) "
      "WHERE id = ?1 RETURNING " +
          std::string(kProjectCols),
      {id, opt_text(update.name), opt_text(update.region), opt_int(update.cache_cap_bytes),
       opt_int(update.build_retention_days)});
  if (!rows.ok()) {
    if (rows.error().code() == ErrorCode::kAlreadyExists) {
      return Error::AlreadyExists("project \"" + update.name.value_or("") +
                                  "\" already exists in its organization");
    }
    return std::move(rows).error();
  }
  if (rows->empty()) {
    return NotFoundError("project", id);
  }
  return ReadProject(rows->front());
}

// --- Tokens

Result<NewToken> SqlStore::CreateToken(const Context& ctx, const TokenSpec& spec) {
  BERTH_TRY(CheckId(TokenKindName(spec.kind), spec.subject));
  if (!spec.name.empty()) {
    BERTH_TRY(ValidateName("token", spec.name));
  }
  if (!spec.secret.empty()) {
    if (spec.secret.size() < kMinImportedSecretBytes) {
      return Error::InvalidArgument("token secret is shorter than " +
                                    std::to_string(kMinImportedSecretBytes) + " characters");
    }
    for (unsigned char c : spec.secret) {
      if (c <= 0x20 || c >= 0x7f) {
        return Error::InvalidArgument(
            "token secret holds a character that is not printable "
            "ASCII or is a space");
      }
    }
  }
  Time now = Now();
  if (spec.expires_at && *spec.expires_at <= now) {
    return Error::InvalidArgument("token expiry is not in the future");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));

  // The subject decides the organization (and the project) the token is bound to.
  std::string_view what;
  std::string lookup;
  switch (spec.kind) {
    case TokenKind::kUser:
      what = "user";
      lookup = "SELECT org_id FROM users WHERE id = ?1";
      break;
    case TokenKind::kOrganization:
      what = "organization";
      lookup = "SELECT id FROM organizations WHERE id = ?1";
      break;
    case TokenKind::kProject:
      what = "project";
      lookup = "SELECT org_id FROM projects WHERE id = ?1";
      break;
  }
  std::optional<Row> subject = BERTH_TRY(QueryRow(*conn, lookup, {spec.subject}));
  if (!subject) {
    return NotFoundError(what, spec.subject);
  }

  NewToken out;
  Token& t = out.token;
  if (spec.secret.empty()) {
    std::string body = BERTH_TRY(RandomBase32(kIdChars));
    t.id = "t_" + body;
    out.secret = std::string(kSecretPrefix) + body + BERTH_TRY(RandomBase32(kSecretChars));
  } else {
    // An imported secret in berth's format (made by another berthd) keeps the id it names, so
    // that Authenticate finds it by id like any other.
    std::optional<std::string> id = IdInSecret(spec.secret);
    t.id = id ? *id : "t_" + BERTH_TRY(RandomBase32(kIdChars));
    out.secret = spec.secret;
  }
  t.kind = spec.kind;
  t.subject = spec.subject;
  t.org_id = Text(*subject, 0);
  t.project_id = spec.kind == TokenKind::kProject ? spec.subject : std::string();
  t.name = spec.name;
  t.created_at = now;
  t.expires_at = spec.expires_at;

  Value user_id = spec.kind == TokenKind::kUser ? Value(spec.subject) : Value(nullptr);
  Value project_id = spec.kind == TokenKind::kProject ? Value(spec.subject) : Value(nullptr);
  Result<Rows> r = conn->Query(
      "INSERT INTO tokens (id, kind, subject, org_id, user_id, project_id, name, secret_hash, "
      "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      {t.id, std::string(TokenKindName(t.kind)), t.subject, t.org_id, user_id, project_id, t.name,
       HashSecret(out.secret), ToNanos(t.created_at), OptNanos(t.expires_at)});
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kAlreadyExists) {
      // Only an imported secret can collide (a generated one has 256 random bits).
      return Error::AlreadyExists("another token has this secret");
    }
    // The subject was deleted between the lookup and the insert.
    return ParentError(std::move(r).error(), std::string(what) + " " + spec.subject);
  }
  return out;
}

Result<Token> SqlStore::Authenticate(const Context& ctx, std::string_view secret) {
  // One answer for every token that is not ours, so that a caller learns nothing from it.
  const Error invalid = Error::Unauthenticated("invalid token");
  if (secret.size() < kMinImportedSecretBytes || secret.size() > 1024) {
    return invalid;
  }
  const std::string presented = HashSecret(secret);
  const std::optional<std::string> id = IdInSecret(secret);

  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row;
  if (id) {
    // Berth's format: the id is in the secret.
    row = BERTH_TRY(QueryRow(
        *conn, "SELECT " + std::string(kTokenCols) + ", secret_hash FROM tokens WHERE id = ?1",
        {*id}));
  } else {
    // Imported: found by the hash (a lookup that can only tell an attacker about hashes).
    row = BERTH_TRY(QueryRow(
        *conn,
        "SELECT " + std::string(kTokenCols) + ", secret_hash FROM tokens WHERE secret_hash = ?1",
        {presented}));
  }
  if (!row) {
    return invalid;
  }
  std::string stored = Text(*row, 10);
  if (stored.size() != presented.size() ||
      CRYPTO_memcmp(stored.data(), presented.data(), presented.size()) != 0) {
    return invalid;
  }
  Token t = BERTH_TRY(ReadToken(*row));
  Time now = Now();
  if (t.revoked) {
    return Error::Unauthenticated("token " + t.id + " has been revoked");
  }
  if (t.expires_at && *t.expires_at <= now) {
    return Error::Unauthenticated("token " + t.id + " has expired");
  }
  BERTH_TRY(conn->Query("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1", {t.id, ToNanos(now)}));
  t.last_used_at = now;
  return t;
}

Result<Token> SqlStore::GetToken(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("token", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row =
      BERTH_TRY(QueryRow(*conn, Select(kTokenCols, "FROM tokens WHERE id = ?1"), {id}));
  if (!row) {
    return NotFoundError("token", id);
  }
  return ReadToken(*row);
}

Result<> SqlStore::RevokeToken(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("token", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1 RETURNING id",
      {id, ToNanos(Now())}));
  if (rows.empty()) {
    return NotFoundError("token", id);
  }
  return {};
}

Result<std::vector<Token>> SqlStore::ListTokens(const Context& ctx, const std::string& org_id) {
  BERTH_TRY(CheckId("organization", org_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query(Select(kTokenCols, "FROM tokens WHERE org_id = ?1 ORDER BY seq"), {org_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "organizations", org_id))) {
    return NotFoundError("organization", org_id);
  }
  return ReadAll(rows, &ReadToken);
}

// --- Builds

Result<Build> SqlStore::CreateBuild(const Context& ctx, const BuildSpec& spec) {
  BERTH_TRY(CheckId("project", spec.project_id));
  Build b;
  b.id = BERTH_TRY(NewId("b"));
  b.project_id = spec.project_id;
  b.status = BuildStatus::kQueued;
  b.queued_at = Now();
  b.options_json = spec.options_json.empty() ? "{}" : spec.options_json;
  if (!nlohmann::json::accept(b.options_json)) {
    return Error::InvalidArgument("build options are not valid JSON");
  }
  b.dockerfile = ToValidUtf8(spec.dockerfile);
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Result<Rows> r = conn->Query(
      "INSERT INTO builds (id, project_id, status, queued_at, options_json, dockerfile, "
      "first_miss_step, error_message, context_files_sent, context_bytes_sent) "
      "VALUES (?1, ?2, 'queued', ?3, ?4, ?5, '', '', 0, 0)",
      {b.id, b.project_id, ToNanos(b.queued_at), b.options_json, b.dockerfile});
  if (!r.ok()) {
    return ParentError(std::move(r).error(), "project " + spec.project_id);
  }
  return b;
}

Result<Build> SqlStore::GetBuild(const Context& ctx, const std::string& id) {
  BERTH_TRY(CheckId("build", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row =
      BERTH_TRY(QueryRow(*conn, Select(kBuildCols, "FROM builds WHERE id = ?1"), {id}));
  if (!row) {
    return NotFoundError("build", id);
  }
  return ReadBuild(*row);
}

Result<std::vector<Build>> SqlStore::ListBuilds(const Context& ctx, const std::string& project_id,
                                                const Page& page) {
  BERTH_TRY(CheckId("project", project_id));
  if (page.limit < 1 || page.limit > 1000 || page.offset < 0) {
    return Error::InvalidArgument("page limit must be 1 to 1000 and offset at least 0");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      Select(kBuildCols, "FROM builds WHERE project_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3"),
      {project_id, int64_t{page.limit}, int64_t{page.offset}}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "projects", project_id))) {
    return NotFoundError("project", project_id);
  }
  return ReadAll(rows, &ReadBuild);
}

Result<Build> SqlStore::UpdateBuildStatus(const Context& ctx, const std::string& id,
                                          BuildStatus status, const std::string& error_message) {
  BERTH_TRY(CheckId("build", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Time now = Now();
  Rows rows;
  if (status == BuildStatus::kRunning) {
    rows =
        BERTH_TRY(conn->Query("UPDATE builds SET status = 'running', started_at = ?2 "
                              "WHERE id = ?1 AND status = 'queued' RETURNING " +
                                  std::string(kBuildCols),
                              {id, ToNanos(now)}));
  } else if (IsFinal(status)) {
    std::string message = status == BuildStatus::kSuccess ? "" : ToValidUtf8(error_message);
    rows =
        BERTH_TRY(conn->Query("UPDATE builds SET status = ?2, finished_at = ?3, error_message = ?4 "
                              "WHERE id = ?1 AND status IN ('queued', 'running') RETURNING " +
                                  std::string(kBuildCols),
                              {id, std::string(BuildStatusName(status)), ToNanos(now), message}));
  }
  if (!rows.empty()) {
    return ReadBuild(rows.front());
  }
  std::optional<Row> current =
      BERTH_TRY(QueryRow(*conn, "SELECT status FROM builds WHERE id = ?1", {id}));
  if (!current) {
    return NotFoundError("build", id);
  }
  return Error::FailedPrecondition("build " + id + " is " + Text(*current, 0) +
                                   ": it cannot become " + std::string(BuildStatusName(status)));
}

Result<> SqlStore::SetFirstMissStep(const Context& ctx, const std::string& build_id,
                                    const std::string& vertex) {
  BERTH_TRY(CheckId("build", build_id));
  if (vertex.empty()) {
    return Error::InvalidArgument("first cache miss: empty vertex");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query("UPDATE builds SET first_miss_step = ?2 WHERE id = ?1 AND first_miss_step = '' "
                  "RETURNING id",
                  {build_id, vertex}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "builds", build_id))) {
    return NotFoundError("build", build_id);
  }
  return {};
}

Result<> SqlStore::SetBuildContext(const Context& ctx, const std::string& build_id,
                                   const std::vector<ContextFile>& files, int64_t bytes_sent) {
  BERTH_TRY(CheckId("build", build_id));
  if (bytes_sent < 0) {
    return Error::InvalidArgument("build context: negative byte count");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<TxGuard> guard;
  TxGuard* tx = BERTH_TRY(BeginTx(*conn, guard));
  Rows updated = BERTH_TRY(conn->Query(
      "UPDATE builds SET context_files_sent = ?2, context_bytes_sent = ?3 WHERE id = ?1 "
      "RETURNING id",
      {build_id, static_cast<int64_t>(files.size()), bytes_sent}));
  if (updated.empty()) {
    return NotFoundError("build", build_id);
  }
  BERTH_TRY(conn->Query("DELETE FROM build_context_files WHERE build_id = ?1", {build_id}));
  // Many rows per statement: a 10,000-file context is 100 round trips, not 10,000.
  constexpr size_t kBatch = 100;
  for (size_t start = 0; start < files.size(); start += kBatch) {
    size_t end = std::min(files.size(), start + kBatch);
    std::string sql =
        "INSERT INTO build_context_files (build_id, ordinal, path, size, digest) "
        "VALUES ";
    std::vector<Value> params{build_id};
    for (size_t i = start; i < end; ++i) {
      size_t p = params.size();
      sql += (i == start ? "" : ", ");
      sql += "(?1, ?" + std::to_string(p + 1) + ", ?" + std::to_string(p + 2) + ", ?" +
             std::to_string(p + 3) + ", ?" + std::to_string(p + 4) + ")";
      params.insert(params.end(), {static_cast<int64_t>(i), ToValidUtf8(files[i].path),
                                   files[i].size, files[i].digest});
    }
    Result<Rows> r = conn->Query(sql, params);
    if (!r.ok()) {
      if (r.error().code() == ErrorCode::kAlreadyExists) {
        return Error::InvalidArgument("build context: a path is listed twice");
      }
      return std::move(r).error();
    }
  }
  return tx->Commit();
}

Result<std::vector<ContextFile>> SqlStore::ListBuildContext(const Context& ctx,
                                                            const std::string& build_id) {
  BERTH_TRY(CheckId("build", build_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      "SELECT path, size, digest FROM build_context_files WHERE build_id = ?1 ORDER BY ordinal",
      {build_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "builds", build_id))) {
    return NotFoundError("build", build_id);
  }
  std::vector<ContextFile> files;
  files.reserve(rows.size());
  for (const Row& row : rows) {
    files.push_back({.path = Text(row, 0), .size = BERTH_TRY(Int(row, 1)), .digest = Text(row, 2)});
  }
  return files;
}

Result<int64_t> SqlStore::FailUnfinishedBuilds(const Context& ctx, const std::string& message) {
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query("UPDATE builds SET status = 'failed', finished_at = ?1, error_message = ?2 "
                  "WHERE status IN ('queued', 'running') RETURNING id",
                  {ToNanos(Now()), ToValidUtf8(message)}));
  return static_cast<int64_t>(rows.size());
}

// --- Usage

namespace {

// Per project: the builds that started in [?2, ?3) and the time every build ran inside it, a
// running build up to ?4 (now); a project without builds has one row of NULLs (LEFT JOIN), which
// adds nothing. Each build's run is clipped to the period in SQL both databases
// take (CASE, not SQLite's MIN/MAX nor PostgreSQL's LEAST/GREATEST). Parameters are cast so
// that PostgreSQL infers no other type for them.
constexpr std::string_view kRunStart =
    "(CASE WHEN b.started_at > CAST(?2 AS BIGINT) THEN b.started_at ELSE CAST(?2 AS BIGINT) END)";
constexpr std::string_view kRunEnd =
    "(CASE WHEN COALESCE(b.finished_at, CAST(?4 AS BIGINT)) < CAST(?3 AS BIGINT) "
    "THEN COALESCE(b.finished_at, CAST(?4 AS BIGINT)) ELSE CAST(?3 AS BIGINT) END)";

std::string UsageQuery(std::string_view project_filter) {
  std::string start(kRunStart);
  std::string end(kRunEnd);
  return "SELECT p.id, p.name, "
         "COALESCE(SUM(CASE WHEN b.started_at >= CAST(?2 AS BIGINT) THEN 1 ELSE 0 END), 0), "
         "COALESCE(SUM(CASE WHEN b.id IS NOT NULL AND " +
         end + " > " + start + " THEN " + end + " - " + start +
         " ELSE 0 END), 0) "
         "FROM projects p LEFT JOIN builds b ON b.project_id = p.id "
         "AND b.started_at IS NOT NULL AND b.started_at < CAST(?3 AS BIGINT) "
         "AND COALESCE(b.finished_at, CAST(?4 AS BIGINT)) > CAST(?2 AS BIGINT) WHERE " +
         std::string(project_filter) + " GROUP BY p.id, p.name ORDER BY p.name";
}

Result<ProjectUsage> ReadUsage(const Row& row) {
  ProjectUsage u;
  u.project_id = Text(row, 0);
  u.name = Text(row, 1);
  u.builds = BERTH_TRY(Int(row, 2));
  u.build_time = std::chrono::nanoseconds(BERTH_TRY(Int(row, 3)));
  return u;
}

Result<> CheckPeriod(Time from, Time to) {
  if (!(from < to)) {
    return Error::InvalidArgument("usage: the period's start is not before its end");
  }
  return {};
}

}  // namespace

Result<std::vector<ProjectUsage>> SqlStore::BuildUsage(const Context& ctx,
                                                       const std::string& org_id, Time from,
                                                       Time to) {
  BERTH_TRY(CheckId("organization", org_id));
  BERTH_TRY(CheckPeriod(from, to));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(UsageQuery("p.org_id = ?1"),
                                    {org_id, ToNanos(from), ToNanos(to), ToNanos(Now())}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "organizations", org_id))) {
    return NotFoundError("organization", org_id);
  }
  return ReadAll(rows, &ReadUsage);
}

Result<ProjectUsage> SqlStore::ProjectBuildUsage(const Context& ctx, const std::string& project_id,
                                                 Time from, Time to) {
  BERTH_TRY(CheckId("project", project_id));
  BERTH_TRY(CheckPeriod(from, to));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row = BERTH_TRY(QueryRow(
      *conn, UsageQuery("p.id = ?1"), {project_id, ToNanos(from), ToNanos(to), ToNanos(Now())}));
  if (!row) {
    return NotFoundError("project", project_id);
  }
  return ReadUsage(*row);
}

// --- Build steps

Result<> SqlStore::UpsertBuildStep(const Context& ctx, const BuildStep& step) {
  BERTH_TRY(CheckId("build", step.build_id));
  if (step.vertex.empty()) {
    return Error::InvalidArgument("build step without a vertex digest");
  }
  if (step.line < 0 || step.layer_size < 0 || step.duration.count() < 0) {
    return Error::InvalidArgument("build step " + step.vertex +
                                  ": negative line, layer size or duration");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Result<Rows> r = conn->Query(
      "INSERT INTO build_steps (build_id, vertex, name, line, cached, started_at, finished_at, "
      "duration_ns, log, layer_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT (build_id, vertex) DO UPDATE SET name = excluded.name, line = excluded.line, "
      "cached = excluded.cached, started_at = excluded.started_at, "
      "finished_at = excluded.finished_at, duration_ns = excluded.duration_ns, "
      "log = excluded.log, layer_size = excluded.layer_size",
      {step.build_id, step.vertex, ToValidUtf8(step.name), int64_t{step.line},
       int64_t{step.cached ? 1 : 0}, OptNanos(step.started_at), OptNanos(step.finished_at),
       static_cast<int64_t>(step.duration.count()), BoundLog(ToValidUtf8(step.log)),
       step.layer_size});
  if (!r.ok()) {
    return ParentError(std::move(r).error(), "build " + step.build_id);
  }
  return {};
}

Result<std::vector<BuildStep>> SqlStore::ListBuildSteps(const Context& ctx,
                                                        const std::string& build_id) {
  BERTH_TRY(CheckId("build", build_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      Select(kStepCols, "FROM build_steps WHERE build_id = ?1 ORDER BY seq"), {build_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "builds", build_id))) {
    return NotFoundError("build", build_id);
  }
  return ReadAll(rows, &ReadStep);
}

// --- Registry

namespace {

constexpr std::string_view kRegistryBlobCols = "repository, digest, size, created_at";
constexpr std::string_view kRegistryManifestCols =
    "repository, digest, media_type, size, artifact_type, subject, annotations_json, created_at";
constexpr size_t kMaxRegistryNameBytes = 1024;
constexpr size_t kMaxRegistryKeyBytes = 256;  // Digests and tags.

Result<RegistryBlob> ReadRegistryBlob(const Row& row) {
  RegistryBlob b;
  b.repository = Text(row, 0);
  b.digest = Text(row, 1);
  b.size = BERTH_TRY(Int(row, 2));
  b.created_at = BERTH_TRY(TimeAt(row, 3));
  return b;
}

Result<RegistryManifest> ReadRegistryManifest(const Row& row) {
  RegistryManifest m;
  m.repository = Text(row, 0);
  m.digest = Text(row, 1);
  m.media_type = Text(row, 2);
  m.size = BERTH_TRY(Int(row, 3));
  m.artifact_type = Text(row, 4);
  m.subject = Text(row, 5);
  m.annotations_json = Text(row, 6);
  m.created_at = BERTH_TRY(TimeAt(row, 7));
  return m;
}

// The registry validates names, digests and tags; the store only bounds them and keeps them
// text that both databases take.
Result<> CheckRegistryText(std::string_view what, const std::string& text, size_t max) {
  if (text.empty() || text.size() > max || ToValidUtf8(text) != text) {
    return Error::InvalidArgument("registry: bad " + std::string(what) + " " +
                                  QuoteString(ToValidUtf8(text.substr(0, 64))));
  }
  return {};
}

Result<> CheckRepository(const std::string& repository) {
  return CheckRegistryText("repository name", repository, kMaxRegistryNameBytes);
}

}  // namespace

Result<> SqlStore::PutRegistryBlob(const Context& ctx, const std::string& project_id,
                                   const RegistryBlob& blob) {
  BERTH_TRY(CheckId("project", project_id));
  BERTH_TRY(CheckRepository(blob.repository));
  BERTH_TRY(CheckRegistryText("digest", blob.digest, kMaxRegistryKeyBytes));
  if (blob.size < 0) {
    return Error::InvalidArgument("registry: negative blob size");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Result<Rows> r = conn->Query(
      "INSERT INTO registry_blobs (project_id, repository, digest, size, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (repository, digest) DO NOTHING",
      {project_id, blob.repository, blob.digest, blob.size, ToNanos(Now())});
  if (!r.ok()) {
    return ParentError(std::move(r).error(), "project " + project_id);
  }
  return {};
}

Result<RegistryBlob> SqlStore::GetRegistryBlob(const Context& ctx, const std::string& repository,
                                               const std::string& digest) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row = BERTH_TRY(QueryRow(
      *conn, Select(kRegistryBlobCols, "FROM registry_blobs WHERE repository = ?1 AND digest = ?2"),
      {repository, digest}));
  if (!row) {
    return Error::NotFound("blob " + digest + " not found in " + repository);
  }
  return ReadRegistryBlob(*row);
}

Result<> SqlStore::DeleteRegistryBlob(const Context& ctx, const std::string& repository,
                                      const std::string& digest) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      "DELETE FROM registry_blobs WHERE repository = ?1 AND digest = ?2 RETURNING digest",
      {repository, digest}));
  if (rows.empty()) {
    return Error::NotFound("blob " + digest + " not found in " + repository);
  }
  return {};
}

Result<> SqlStore::PutRegistryManifest(const Context& ctx, const std::string& project_id,
                                       const RegistryManifest& m, const std::string& tag) {
  BERTH_TRY(CheckId("project", project_id));
  BERTH_TRY(CheckRepository(m.repository));
  BERTH_TRY(CheckRegistryText("digest", m.digest, kMaxRegistryKeyBytes));
  if (!tag.empty()) {
    BERTH_TRY(CheckRegistryText("tag", tag, kMaxRegistryKeyBytes));
  }
  if (m.size < 0) {
    return Error::InvalidArgument("registry: negative manifest size");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<TxGuard> guard;
  TxGuard* tx = BERTH_TRY(BeginTx(*conn, guard));
  int64_t now = ToNanos(Now());
  Result<Rows> r = conn->Query(
      "INSERT INTO registry_manifests (project_id, repository, digest, media_type, size, "
      "artifact_type, subject, annotations_json, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (repository, digest) DO NOTHING",
      {project_id, m.repository, m.digest, ToValidUtf8(m.media_type), m.size,
       ToValidUtf8(m.artifact_type), ToValidUtf8(m.subject),
       m.annotations_json.empty() ? std::string("{}") : ToValidUtf8(m.annotations_json), now});
  if (!r.ok()) {
    return ParentError(std::move(r).error(), "project " + project_id);
  }
  if (!tag.empty()) {
    r = conn->Query(
        "INSERT INTO registry_tags (project_id, repository, tag, digest, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (repository, tag) DO UPDATE SET "
        "digest = excluded.digest, updated_at = excluded.updated_at",
        {project_id, m.repository, tag, m.digest, now});
    if (!r.ok()) {
      return ParentError(std::move(r).error(), "project " + project_id);
    }
  }
  return tx->Commit();
}

Result<RegistryManifest> SqlStore::GetRegistryManifest(const Context& ctx,
                                                       const std::string& repository,
                                                       const std::string& digest) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row =
      BERTH_TRY(QueryRow(*conn,
                         Select(kRegistryManifestCols,
                                "FROM registry_manifests WHERE repository = ?1 AND digest = ?2"),
                         {repository, digest}));
  if (!row) {
    return Error::NotFound("manifest " + digest + " not found in " + repository);
  }
  return ReadRegistryManifest(*row);
}

Result<RegistryManifest> SqlStore::ResolveRegistryTag(const Context& ctx,
                                                      const std::string& repository,
                                                      const std::string& tag) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<Row> row = BERTH_TRY(
      QueryRow(*conn,
               "SELECT m.repository, m.digest, m.media_type, m.size, m.artifact_type, m.subject, "
               "m.annotations_json, m.created_at FROM registry_tags t JOIN registry_manifests m "
               "ON m.repository = t.repository AND m.digest = t.digest "
               "WHERE t.repository = ?1 AND t.tag = ?2",
               {repository, tag}));
  if (!row) {
    return Error::NotFound("tag " + QuoteString(ToValidUtf8(tag.substr(0, 128))) +
                           " not found in " + repository);
  }
  return ReadRegistryManifest(*row);
}

Result<std::vector<std::string>> SqlStore::ListRegistryTags(const Context& ctx,
                                                            const std::string& repository,
                                                            const std::string& last, int limit) {
  BERTH_TRY(CheckRepository(repository));
  if (limit < 1 || limit > 100000) {
    return Error::InvalidArgument("registry: tag list limit " + std::to_string(limit) +
                                  " outside 1..100000");
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows =
      BERTH_TRY(conn->Query("SELECT tag FROM registry_tags WHERE repository = ?1", {repository}));
  // Sorted here, not in SQL: PostgreSQL's ORDER BY follows the database's collation, and the
  // registry's pagination needs byte order in every backend.
  std::vector<std::string> tags;
  tags.reserve(rows.size());
  for (const Row& row : rows) {
    std::string tag = Text(row, 0);
    if (last.empty() || tag > last) {
      tags.push_back(std::move(tag));
    }
  }
  std::sort(tags.begin(), tags.end());
  if (tags.size() > static_cast<size_t>(limit)) {
    tags.resize(static_cast<size_t>(limit));
  }
  return tags;
}

Result<std::vector<std::string>> SqlStore::ListRegistryRepositories(const Context& ctx,
                                                                    const std::string& project_id) {
  BERTH_TRY(CheckId("project", project_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query("SELECT DISTINCT repository FROM registry_blobs WHERE project_id = ?1 UNION "
                  "SELECT DISTINCT repository FROM registry_manifests WHERE project_id = ?1",
                  {project_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "projects", project_id))) {
    return NotFoundError("project", project_id);
  }
  // Byte order in every backend (see ListRegistryTags).
  std::vector<std::string> names;
  names.reserve(rows.size());
  for (const Row& row : rows) {
    names.push_back(Text(row, 0));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<bool> SqlStore::RegistryRepositoryExists(const Context& ctx, const std::string& repository) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  if (BERTH_TRY(QueryRow(*conn, "SELECT 1 FROM registry_manifests WHERE repository = ?1 LIMIT 1",
                         {repository}))) {
    return true;
  }
  return BERTH_TRY(QueryRow(*conn, "SELECT 1 FROM registry_blobs WHERE repository = ?1 LIMIT 1",
                            {repository}))
      .has_value();
}

Result<> SqlStore::DeleteRegistryManifest(const Context& ctx, const std::string& repository,
                                          const std::string& digest) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  std::optional<TxGuard> guard;
  TxGuard* tx = BERTH_TRY(BeginTx(*conn, guard));
  // Tags first: they reference the manifest (the foreign key would cascade too).
  BERTH_TRY(conn->Query("DELETE FROM registry_tags WHERE repository = ?1 AND digest = ?2",
                        {repository, digest}));
  Rows rows = BERTH_TRY(conn->Query(
      "DELETE FROM registry_manifests WHERE repository = ?1 AND digest = ?2 RETURNING digest",
      {repository, digest}));
  if (rows.empty()) {
    return Error::NotFound("manifest " + digest + " not found in " + repository);
  }
  return tx->Commit();
}

Result<> SqlStore::DeleteRegistryTag(const Context& ctx, const std::string& repository,
                                     const std::string& tag) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query("DELETE FROM registry_tags WHERE repository = ?1 AND tag = ?2 RETURNING tag",
                  {repository, tag}));
  if (rows.empty()) {
    return Error::NotFound("tag " + QuoteString(ToValidUtf8(tag.substr(0, 128))) +
                           " not found in " + repository);
  }
  return {};
}

Result<std::vector<RegistryManifest>> SqlStore::ListRegistryReferrers(const Context& ctx,
                                                                      const std::string& repository,
                                                                      const std::string& subject) {
  BERTH_TRY(CheckRepository(repository));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      Select(kRegistryManifestCols,
             "FROM registry_manifests WHERE repository = ?1 AND subject = ?2 ORDER BY seq"),
      {repository, subject}));
  return ReadAll(rows, &ReadRegistryManifest);
}

Result<std::vector<RegistryBlob>> SqlStore::ListRegistryBlobs(const Context& ctx,
                                                              const std::string& project_id) {
  BERTH_TRY(CheckId("project", project_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  if (!BERTH_TRY(Exists(*conn, "projects", project_id))) {
    return NotFoundError("project", project_id);
  }
  Rows rows = BERTH_TRY(conn->Query(
      Select(kRegistryBlobCols, "FROM registry_blobs WHERE project_id = ?1 ORDER BY created_at"),
      {project_id}));
  return ReadAll(rows, &ReadRegistryBlob);
}

Result<std::vector<RegistryManifest>> SqlStore::ListRegistryManifests(
    const Context& ctx, const std::string& project_id) {
  BERTH_TRY(CheckId("project", project_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  if (!BERTH_TRY(Exists(*conn, "projects", project_id))) {
    return NotFoundError("project", project_id);
  }
  Rows rows = BERTH_TRY(conn->Query(
      Select(kRegistryManifestCols, "FROM registry_manifests WHERE project_id = ?1 ORDER BY seq"),
      {project_id}));
  return ReadAll(rows, &ReadRegistryManifest);
}

Result<std::vector<RegistryTag>> SqlStore::ListRegistryTagRecords(const Context& ctx,
                                                                  const std::string& project_id) {
  BERTH_TRY(CheckId("project", project_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  if (!BERTH_TRY(Exists(*conn, "projects", project_id))) {
    return NotFoundError("project", project_id);
  }
  Rows rows = BERTH_TRY(conn->Query(
      "SELECT repository, tag, digest, updated_at FROM registry_tags WHERE project_id = ?1",
      {project_id}));
  std::vector<RegistryTag> tags;
  tags.reserve(rows.size());
  for (const Row& row : rows) {
    tags.push_back({.repository = Text(row, 0),
                    .tag = Text(row, 1),
                    .digest = Text(row, 2),
                    .updated_at = BERTH_TRY(TimeAt(row, 3))});
  }
  // Byte order in every backend (see ListRegistryTags).
  std::sort(tags.begin(), tags.end(), [](const RegistryTag& a, const RegistryTag& b) {
    return std::tie(a.repository, a.tag) < std::tie(b.repository, b.tag);
  });
  return tags;
}

Result<std::vector<std::string>> SqlStore::ListRegistryDigests(const Context& ctx) {
  BERTH_TRY(ctx.Check());
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query("SELECT DISTINCT digest FROM registry_blobs UNION SELECT DISTINCT digest FROM "
                  "registry_manifests",
                  {}));
  std::vector<std::string> digests;
  digests.reserve(rows.size());
  for (const Row& row : rows) {
    digests.push_back(Text(row, 0));
  }
  std::sort(digests.begin(), digests.end());
  digests.erase(std::unique(digests.begin(), digests.end()), digests.end());
  return digests;
}

// --- Trust policies

namespace {

constexpr std::string_view kTrustPolicyCols =
    "id, project_id, provider, issuer, audience, conditions_json, created_at";
constexpr size_t kMaxTrustFieldBytes = 1024;
constexpr size_t kMaxTrustConditions = 64;

Result<TrustPolicy> ReadTrustPolicy(const Row& row) {
  TrustPolicy p;
  p.id = Text(row, 0);
  p.project_id = Text(row, 1);
  p.provider = Text(row, 2);
  p.issuer = Text(row, 3);
  p.audience = Text(row, 4);
  nlohmann::json conditions = nlohmann::json::parse(Text(row, 5), nullptr, false);
  if (!conditions.is_object()) {
    return Error::DataLoss("metastore: trust policy " + p.id + " has damaged conditions");
  }
  for (auto it = conditions.begin(); it != conditions.end(); ++it) {
    if (!it->is_string()) {
      return Error::DataLoss("metastore: trust policy " + p.id + " has damaged conditions");
    }
    p.conditions.emplace(it.key(), it->get<std::string>());
  }
  p.created_at = BERTH_TRY(TimeAt(row, 6));
  return p;
}

Result<> CheckTrustText(std::string_view what, const std::string& text) {
  if (text.empty() || text.size() > kMaxTrustFieldBytes || ToValidUtf8(text) != text) {
    return Error::InvalidArgument("trust policy " + std::string(what) + " must be 1 to " +
                                  std::to_string(kMaxTrustFieldBytes) + " bytes of UTF-8");
  }
  return {};
}

}  // namespace

Result<TrustPolicy> SqlStore::CreateTrustPolicy(const Context& ctx, const TrustPolicySpec& spec) {
  BERTH_TRY(CheckId("project", spec.project_id));
  BERTH_TRY(CheckTrustText("provider", spec.provider));
  BERTH_TRY(CheckTrustText("issuer", spec.issuer));
  BERTH_TRY(CheckTrustText("audience", spec.audience));
  if (spec.conditions.size() > kMaxTrustConditions) {
    return Error::InvalidArgument("trust policy has more than " +
                                  std::to_string(kMaxTrustConditions) + " conditions");
  }
  nlohmann::json conditions = nlohmann::json::object();
  for (const auto& [claim, value] : spec.conditions) {
    BERTH_TRY(CheckTrustText("condition claim", claim));
    BERTH_TRY(CheckTrustText("condition value", value));
    conditions[claim] = value;
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  TrustPolicy p{.id = BERTH_TRY(NewId("tp")),
                .project_id = spec.project_id,
                .provider = spec.provider,
                .issuer = spec.issuer,
                .audience = spec.audience,
                .conditions = spec.conditions,
                .created_at = Now()};
  Result<Rows> r = conn->Query(
      "INSERT INTO trust_policies (id, project_id, provider, issuer, audience, conditions_json, "
      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      {p.id, p.project_id, p.provider, p.issuer, p.audience, conditions.dump(),
       ToNanos(p.created_at)});
  if (!r.ok()) {
    return ParentError(std::move(r).error(), "project " + spec.project_id);
  }
  return p;
}

Result<std::vector<TrustPolicy>> SqlStore::ListTrustPolicies(const Context& ctx,
                                                             const std::string& project_id) {
  BERTH_TRY(CheckId("project", project_id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      Select(kTrustPolicyCols, "FROM trust_policies WHERE project_id = ?1 ORDER BY seq"),
      {project_id}));
  if (rows.empty() && !BERTH_TRY(Exists(*conn, "projects", project_id))) {
    return NotFoundError("project", project_id);
  }
  return ReadAll(rows, &ReadTrustPolicy);
}

Result<> SqlStore::DeleteTrustPolicy(const Context& ctx, const std::string& project_id,
                                     const std::string& id) {
  BERTH_TRY(CheckId("project", project_id));
  BERTH_TRY(CheckId("trust policy", id));
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(
      conn->Query("DELETE FROM trust_policies WHERE id = ?1 AND project_id = ?2 RETURNING id",
                  {id, project_id}));
  if (rows.empty()) {
    return NotFoundError("trust policy", id);
  }
  return {};
}

Result<std::vector<TrustPolicy>> SqlStore::FindTrustPolicies(const Context& ctx,
                                                             const std::string& issuer) {
  if (issuer.empty() || issuer.size() > kMaxTrustFieldBytes || ToValidUtf8(issuer) != issuer) {
    // No policy can have it (and PostgreSQL refuses bytes that are not UTF-8).
    BERTH_TRY(ctx.Check());
    return std::vector<TrustPolicy>();
  }
  std::unique_ptr<SqlConn> conn = BERTH_TRY(Connect(ctx));
  Rows rows = BERTH_TRY(conn->Query(
      Select(kTrustPolicyCols, "FROM trust_policies WHERE issuer = ?1 ORDER BY seq"), {issuer}));
  return ReadAll(rows, &ReadTrustPolicy);
}

}  // namespace internal
}  // namespace berth::metastore
