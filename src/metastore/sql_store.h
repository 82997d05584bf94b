// SqlStore: the Store operations written once, in the SQL that SQLite and PostgreSQL share, over
// a small connection interface that each backend implements. Internal to metastore/: users see
// Store, SqliteStore and PostgresStore.
//
// Why one implementation: the two backends must behave the same (one conformance suite), and the
// rules (status transitions, token checks, log bounds, id formats) should live in one place.
// What differs per backend is small: parameter markers, the schema's auto-increment column,
// how the schema is versioned and locked while migrating, how connections are pooled, and how
// errors map to codes. SQL here sticks to the common subset (ON CONFLICT ... DO UPDATE,
// RETURNING, LIMIT/OFFSET; integers for flags and times).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "metastore/store.h"

namespace berth::metastore::internal {

// A bound parameter: NULL, an integer or text.
using Value = std::variant<std::nullptr_t, int64_t, std::string>;
// A result row: each column as text (integers in decimal), nullopt for NULL.
using Row = std::vector<std::optional<std::string>>;
using Rows = std::vector<Row>;

// One connection, borrowed by one thread for one operation; returned to its pool when destroyed
// (rolling back a transaction left open).
class SqlConn {
 public:
  SqlConn() = default;
  SqlConn(const SqlConn&) = delete;
  SqlConn& operator=(const SqlConn&) = delete;
  SqlConn(SqlConn&&) = delete;
  SqlConn& operator=(SqlConn&&) = delete;
  virtual ~SqlConn() = default;

  // Runs one statement with parameters ?1, ?2, ... bound to `params` in order; returns its rows.
  // Errors carry the canonical codes: AlreadyExists for a unique violation, FailedPrecondition
  // for a foreign key violation, Unavailable when the database is unreachable or locked.
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) = 0;
  // Begins a transaction that will write (SQLite: IMMEDIATE, so that it never has to upgrade a
  // read lock). Transactions do not nest.
  virtual Result<> Begin() = 0;
  virtual Result<> Commit() = 0;
  virtual void Rollback() = 0;
};

class SqlStore : public Store {
 public:
  Result<Organization> CreateOrganization(const Context& ctx, const std::string& name) override;
  Result<Organization> GetOrganization(const Context& ctx, const std::string& id) override;
  Result<std::vector<Organization>> ListOrganizations(const Context& ctx) override;
  Result<> DeleteOrganization(const Context& ctx, const std::string& id) override;
  Result<Organization> UpdateOrganization(const Context& ctx, const std::string& id,
                                          const OrganizationUpdate& update) override;

  Result<User> CreateUser(const Context& ctx, const std::string& org_id, const std::string& name,
                          bool admin) override;
  Result<User> GetUser(const Context& ctx, const std::string& id) override;
  Result<std::vector<User>> ListUsers(const Context& ctx, const std::string& org_id) override;
  Result<> DeleteUser(const Context& ctx, const std::string& id) override;

  Result<Project> CreateProject(const Context& ctx, const ProjectSpec& spec) override;
  Result<Project> GetProject(const Context& ctx, const std::string& id) override;
  Result<std::vector<Project>> ListProjects(const Context& ctx, const std::string& org_id) override;
  Result<> DeleteProject(const Context& ctx, const std::string& id) override;
  Result<Project> UpdateProject(const Context& ctx, const std::string& id,
                                const ProjectUpdate& update) override;

  Result<NewToken> CreateToken(const Context& ctx, const TokenSpec& spec) override;
  Result<Token> Authenticate(const Context& ctx, std::string_view secret) override;
  Result<Token> GetToken(const Context& ctx, const std::string& id) override;
  Result<> RevokeToken(const Context& ctx, const std::string& id) override;
  Result<std::vector<Token>> ListTokens(const Context& ctx, const std::string& org_id) override;

  Result<Build> CreateBuild(const Context& ctx, const BuildSpec& spec) override;
  Result<Build> GetBuild(const Context& ctx, const std::string& id) override;
  Result<std::vector<Build>> ListBuilds(const Context& ctx, const std::string& project_id,
                                        const Page& page) override;
  Result<Build> UpdateBuildStatus(const Context& ctx, const std::string& id, BuildStatus status,
                                  const std::string& error_message) override;
  Result<> SetFirstMissStep(const Context& ctx, const std::string& build_id,
                            const std::string& vertex) override;
  Result<> SetBuildContext(const Context& ctx, const std::string& build_id,
                           const std::vector<ContextFile>& files, int64_t bytes_sent) override;
  Result<std::vector<ContextFile>> ListBuildContext(const Context& ctx,
                                                    const std::string& build_id) override;
  Result<int64_t> FailUnfinishedBuilds(const Context& ctx, const std::string& message) override;

  Result<std::vector<ProjectUsage>> BuildUsage(const Context& ctx, const std::string& org_id,
                                               Time from, Time to) override;
  Result<ProjectUsage> ProjectBuildUsage(const Context& ctx, const std::string& project_id,
                                         Time from, Time to) override;

  Result<> UpsertBuildStep(const Context& ctx, const BuildStep& step) override;
  Result<std::vector<BuildStep>> ListBuildSteps(const Context& ctx,
                                                const std::string& build_id) override;

  Result<> PutRegistryBlob(const Context& ctx, const std::string& project_id,
                           const RegistryBlob& blob) override;
  Result<RegistryBlob> GetRegistryBlob(const Context& ctx, const std::string& repository,
                                       const std::string& digest) override;
  Result<> DeleteRegistryBlob(const Context& ctx, const std::string& repository,
                              const std::string& digest) override;
  Result<> PutRegistryManifest(const Context& ctx, const std::string& project_id,
                               const RegistryManifest& manifest, const std::string& tag) override;
  Result<RegistryManifest> GetRegistryManifest(const Context& ctx, const std::string& repository,
                                               const std::string& digest) override;
  Result<RegistryManifest> ResolveRegistryTag(const Context& ctx, const std::string& repository,
                                              const std::string& tag) override;
  Result<std::vector<std::string>> ListRegistryTags(const Context& ctx,
                                                    const std::string& repository,
                                                    const std::string& last, int limit) override;
  Result<std::vector<std::string>> ListRegistryRepositories(const Context& ctx,
                                                            const std::string& project_id) override;
  Result<bool> RegistryRepositoryExists(const Context& ctx, const std::string& repository) override;
  Result<> DeleteRegistryManifest(const Context& ctx, const std::string& repository,
                                  const std::string& digest) override;
  Result<> DeleteRegistryTag(const Context& ctx, const std::string& repository,
                             const std::string& tag) override;
  Result<std::vector<RegistryManifest>> ListRegistryReferrers(const Context& ctx,
                                                              const std::string& repository,
                                                              const std::string& subject) override;
  Result<std::vector<RegistryBlob>> ListRegistryBlobs(const Context& ctx,
                                                      const std::string& project_id) override;
  Result<std::vector<RegistryManifest>> ListRegistryManifests(
      const Context& ctx, const std::string& project_id) override;
  Result<std::vector<RegistryTag>> ListRegistryTagRecords(const Context& ctx,
                                                          const std::string& project_id) override;
  Result<std::vector<std::string>> ListRegistryDigests(const Context& ctx) override;

  Result<TrustPolicy> CreateTrustPolicy(const Context& ctx, const TrustPolicySpec& spec) override;
  Result<std::vector<TrustPolicy>> ListTrustPolicies(const Context& ctx,
                                                     const std::string& project_id) override;
  Result<> DeleteTrustPolicy(const Context& ctx, const std::string& project_id,
                             const std::string& id) override;
  Result<std::vector<TrustPolicy>> FindTrustPolicies(const Context& ctx,
                                                     const std::string& issuer) override;

 protected:
  explicit SqlStore(std::function<Time()> clock) : clock_(std::move(clock)) {}

  // A connection for the calling thread, for one operation.
  virtual Result<std::unique_ptr<SqlConn>> Acquire() = 0;

 private:
  Time Now() const;
  // Checks `ctx`, then acquires a connection.
  Result<std::unique_ptr<SqlConn>> Connect(const Context& ctx);

  std::function<Time()> clock_;
};

// --- Helpers shared with the backends and their tests.

// A new random id: `prefix` + "_" + 20 characters of [a-z2-7].
Result<std::string> NewId(std::string_view prefix);
// `text` with every invalid UTF-8 sequence and every NUL byte replaced by U+FFFD, so that any
// bytes (a build's log, a Latin-1 Dockerfile) store in a UTF-8 text column.
std::string ToValidUtf8(std::string_view text);
// How many columns `sql` (one of our statements) returns: its SELECT list or RETURNING list,
// counted by top-level commas; 0 for a statement that returns nothing. The SQLite backend needs
// it (db::Statement does not expose the count); the PostgreSQL backend checks it against the
// server's answer, so the conformance suite catches a statement it miscounts.
int ResultColumns(std::string_view sql);
// A schema step (schema.h, SQLite's dialect) in PostgreSQL's: `seq INTEGER PRIMARY KEY` (SQLite's
// rowid) becomes an identity column, and INTEGER becomes BIGINT (SQLite's integers are 64-bit).
std::string ToPostgresDialect(std::string_view sqlite_sql);
// The log cut to kMaxStepLogBytes (see store.h), on a UTF-8 boundary.
std::string BoundLog(std::string_view log);

}  // namespace berth::metastore::internal
