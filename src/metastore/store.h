// metastore: berthd's control-plane data: organizations, users, projects, tokens, build records
// and their steps, and what each repository of berthd's registry holds.
//
// One interface (Store), two backends behind it: SQLite (sqlite_store.h) for the embedded
// default and a single berthd, PostgreSQL (postgres_store.h) when several berthd share one
// control plane. Open() picks the backend from a URL. Both pass one conformance suite
// (testing/conformance.h), so the service above never knows which one it talks to.
//
// Ids are random, url-safe strings with a kind prefix: "o_" organizations, "u_" users, "p_"
// projects, "t_" tokens, "b_" builds, then 20 characters of [a-z2-7] (100 random bits). Times
// are system-clock instants; the stores keep nanoseconds, so what goes in comes back equal.
//
// Tokens: CreateToken returns the secret once; the store keeps only its SHA-256 and compares
// hashes in constant time. A generated secret reads "berth_" + the token id's 20 random
// characters + 52 characters of 256 random bits, so Authenticate finds its record by id. A secret
// imported from outside (TokenSpec::secret) is found by its hash instead.
//
// Contract of every method:
//   - Thread-safe: berthd calls one Store from many threads (see each backend for how).
//   - `ctx` is checked first: Cancelled / DeadlineExceeded once it is done.
//   - Errors: NotFound for a missing id (also one that cannot be an id, and a parent that does
//     not exist), AlreadyExists for a duplicate name (org name; user or project name within an
//     org), InvalidArgument for a bad field (empty name, negative cap, bad page),
//     FailedPrecondition for a forbidden build status transition, Unauthenticated for any token
//     that does not authenticate, Unavailable when the database cannot be reached or stays
//     locked, DataLoss for damaged data.
//
// Usage (builds and build time per project and period) is here; the cache bytes of a project are
// the builder's to measure (engine/cache_admin.h), not the store's.
//
// Not here yet (berthd's later issues): build retention clean-up (delete builds older than a
// project's retention days), users' passwords or OIDC identities.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"

namespace berth::metastore {

using Time = std::chrono::system_clock::time_point;

struct Organization {
  std::string id;
  std::string name;
  Time created_at;
  // The most build minutes the organization's projects may use per calendar month (UTC);
  // 0 = no cap.
  int64_t build_minutes_cap = 0;

  friend bool operator==(const Organization&, const Organization&) = default;
};

struct User {
  std::string id;
  std::string org_id;
  std::string name;
  bool admin = false;
  Time created_at;

  friend bool operator==(const User&, const User&) = default;
};

struct Project {
  std::string id;
  std::string org_id;
  std::string name;
  std::string region;           // A label ("eu-west"); free text, may be empty.
  int64_t cache_cap_bytes = 0;  // The project's cache size cap; 0 = no cap.
  int build_retention_days = 7;
  Time created_at;

  friend bool operator==(const Project&, const Project&) = default;
};

// What CreateProject takes: the id and created_at are the store's.
struct ProjectSpec {
  std::string org_id;
  std::string name;
  std::string region;
  int64_t cache_cap_bytes = 0;
  int build_retention_days = 7;
};

// Build retention is kMinRetentionDays..kMaxRetentionDays days (ten years).
inline constexpr int kMinRetentionDays = 1;
inline constexpr int kMaxRetentionDays = 3650;

// What UpdateProject changes: each field that is set (the others keep their values).
struct ProjectUpdate {
  std::optional<std::string> name;
  std::optional<std::string> region;
  std::optional<int64_t> cache_cap_bytes;
  std::optional<int> build_retention_days;
};

// What UpdateOrganization changes: each field that is set.
struct OrganizationUpdate {
  std::optional<int64_t> build_minutes_cap;
};

// A project's builds in a period [from, to) (BuildUsage).
struct ProjectUsage {
  std::string project_id;
  std::string name;
  // Builds that started in the period.
  int64_t builds = 0;
  // The part of every build's run (started_at to finished_at; a running build up to now) that
  // lies in the period: a build across the period's edge counts only its time inside.
  std::chrono::nanoseconds build_time{0};

  friend bool operator==(const ProjectUsage&, const ProjectUsage&) = default;
};

enum class TokenKind {
  kUser,          // Acts as a user (subject = user id) across the user's organization.
  kOrganization,  // Acts for an organization (subject = org id), on all its projects.
  kProject,       // Reaches one project only (subject = project id).
};
std::string_view TokenKindName(TokenKind kind);  // "user", "organization", "project"

// A token record. Never holds the secret or its hash.
struct Token {
  std::string id;
  TokenKind kind = TokenKind::kUser;
  std::string subject;     // The user, organization or project id the token acts as.
  std::string org_id;      // The organization the subject belongs to (always set).
  std::string project_id;  // The one project a project token reaches; empty otherwise.
  std::string name;        // A label ("ci", "alice's laptop").
  Time created_at;
  std::optional<Time> expires_at;  // None: never expires.
  bool revoked = false;
  std::optional<Time> revoked_at;
  std::optional<Time> last_used_at;

  friend bool operator==(const Token&, const Token&) = default;
};

struct TokenSpec {
  TokenKind kind = TokenKind::kUser;
  std::string subject;
  std::string name;
  std::optional<Time> expires_at;
  // Empty: the store generates the secret (the normal case). Otherwise this secret, for a token
  // set from outside (berthd's BERTHD_ADMIN_TOKEN): printable ASCII without spaces, at least
  // kMinImportedSecretBytes long.
  std::string secret;
};

inline constexpr size_t kMinImportedSecretBytes = 16;

// CreateToken's answer: the record and the secret, which nobody can read again.
struct NewToken {
  Token token;
  std::string secret;
};

enum class BuildStatus { kQueued, kRunning, kSuccess, kFailed, kCanceled };
std::string_view BuildStatusName(BuildStatus status);  // "queued", "running", ...
Result<BuildStatus> ParseBuildStatus(std::string_view name);
// Success, failed and canceled are final.
inline bool IsFinal(BuildStatus s) {
  return s == BuildStatus::kSuccess || s == BuildStatus::kFailed || s == BuildStatus::kCanceled;
}

struct Build {
  std::string id;
  std::string project_id;
  BuildStatus status = BuildStatus::kQueued;
  Time queued_at;
  std::optional<Time> started_at;   // Set on the move to running.
  std::optional<Time> finished_at;  // Set on the move to a final status.
  std::string options_json;         // The build's options as the API received them.
  std::string dockerfile;           // The Dockerfile text.
  std::string first_miss_step;      // Vertex digest of the first step that missed the cache.
  std::string error_message;        // Why it failed (or was canceled); empty on success.
  int64_t context_files_sent = 0;   // Files of the context that travelled for this build.
  int64_t context_bytes_sent = 0;   // Their bytes on the wire.

  friend bool operator==(const Build&, const Build&) = default;
};

struct BuildSpec {
  std::string project_id;
  std::string options_json;  // "{}" when empty.
  std::string dockerfile;
};

// One step (vertex) of a build, keyed by (build_id, vertex).
struct BuildStep {
  std::string build_id;
  std::string vertex;  // The vertex digest.
  std::string name;    // "[build 2/3] RUN make".
  int line = 0;        // The Dockerfile line; 0 if none.
  bool cached = false;
  std::optional<Time> started_at;
  std::optional<Time> finished_at;
  std::chrono::nanoseconds duration{0};
  std::string log;  // Bounded: see kMaxStepLogBytes.
  int64_t layer_size = 0;

  friend bool operator==(const BuildStep&, const BuildStep&) = default;
};

// A step's log keeps at most this many bytes: the last ones (where a failure shows), after a
// line that says how much was dropped.
inline constexpr size_t kMaxStepLogBytes = size_t{256} * 1024;

// One file of a build's context that was sent.
struct ContextFile {
  std::string path;
  int64_t size = 0;
  std::string digest;  // "sha256:..." of the content.

  friend bool operator==(const ContextFile&, const ContextFile&) = default;
};

struct Page {
  int limit = 50;  // At most this many; 1..1000.
  int offset = 0;
};

// --- berthd's registry (registryserver/). The bytes of blobs and manifests live in the content
// store; these records say which repository may serve them, what a manifest is (for HEAD, the
// referrers API and tags), and where tags point. A repository is "<project-id>" or
// "<project-id>/<path>", and its records go with the project.

// A blob linked into a repository (pushed there, or mounted from another).
struct RegistryBlob {
  std::string repository;
  std::string digest;  // "sha256:..."
  int64_t size = 0;
  Time created_at;

  friend bool operator==(const RegistryBlob&, const RegistryBlob&) = default;
};

// A manifest (image manifest, index, or artifact) stored in a repository.
struct RegistryManifest {
  std::string repository;
  std::string digest;
  std::string media_type;
  int64_t size = 0;
  std::string artifact_type;     // For the referrers API: artifactType or the config's type.
  std::string subject;           // The digest of the manifest this one refers to; "" if none.
  std::string annotations_json;  // The manifest's annotations as a JSON object ("{}" if none).
  Time created_at;

  friend bool operator==(const RegistryManifest&, const RegistryManifest&) = default;
};

// --- OIDC trust policies (oidc/policy.h, service/trust_api.h): a project trusts the ID tokens
// of one issuer whose claims meet the conditions. The service validates providers, issuers and
// conditions (oidc::Normalize); the store bounds them and keeps them. Ids read "tp_...".
struct TrustPolicy {
  std::string id;
  std::string project_id;
  std::string provider;  // "github", "circleci", "buildkite", "generic"
  std::string issuer;
  std::string audience;
  std::map<std::string, std::string> conditions;  // Claim name -> the value it must have.
  Time created_at;

  friend bool operator==(const TrustPolicy&, const TrustPolicy&) = default;
};

struct TrustPolicySpec {
  std::string project_id;
  std::string provider;
  std::string issuer;
  std::string audience;
  std::map<std::string, std::string> conditions;
};

// A tag of a repository and the manifest it points at.
struct RegistryTag {
  std::string repository;
  std::string tag;
  std::string digest;
  Time updated_at;  // When the tag was last pointed (saved, pushed).

  friend bool operator==(const RegistryTag&, const RegistryTag&) = default;
};

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) = delete;
  Store& operator=(Store&&) = delete;
  virtual ~Store() = default;

  // --- Organizations. Names are unique.
  virtual Result<Organization> CreateOrganization(const Context& ctx, const std::string& name) = 0;
  virtual Result<Organization> GetOrganization(const Context& ctx, const std::string& id) = 0;
  // Oldest first.
  virtual Result<std::vector<Organization>> ListOrganizations(const Context& ctx) = 0;
  // Deletes the organization with its users, projects, tokens and builds.
  virtual Result<> DeleteOrganization(const Context& ctx, const std::string& id) = 0;
  // Changes the fields `update` sets; returns the organization as it is now. InvalidArgument
  // for a negative cap.
  virtual Result<Organization> UpdateOrganization(const Context& ctx, const std::string& id,
                                                  const OrganizationUpdate& update) = 0;

  // --- Users. Names are unique within an organization.
  virtual Result<User> CreateUser(const Context& ctx, const std::string& org_id,
                                  const std::string& name, bool admin) = 0;
  virtual Result<User> GetUser(const Context& ctx, const std::string& id) = 0;
  // The organization's users, by name. NotFound if the organization does not exist.
  virtual Result<std::vector<User>> ListUsers(const Context& ctx, const std::string& org_id) = 0;
  // Deletes the user and the user's tokens.
  virtual Result<> DeleteUser(const Context& ctx, const std::string& id) = 0;

  // --- Projects. Names are unique within an organization.
  virtual Result<Project> CreateProject(const Context& ctx, const ProjectSpec& spec) = 0;
  virtual Result<Project> GetProject(const Context& ctx, const std::string& id) = 0;
  // The organization's projects, by name. NotFound if the organization does not exist.
  virtual Result<std::vector<Project>> ListProjects(const Context& ctx,
                                                    const std::string& org_id) = 0;
  // Deletes the project with its tokens and builds.
  virtual Result<> DeleteProject(const Context& ctx, const std::string& id) = 0;
  // Changes the fields `update` sets, checked as CreateProject checks them (retention
  // kMinRetentionDays..kMaxRetentionDays); returns the project as it is now. AlreadyExists for a
  // name another project of the organization has.
  virtual Result<Project> UpdateProject(const Context& ctx, const std::string& id,
                                        const ProjectUpdate& update) = 0;

  // --- Tokens.
  // Creates a token for the subject (which must exist: NotFound otherwise) and returns its
  // secret, once. InvalidArgument for an expiry not after now or an unfit imported secret;
  // AlreadyExists for an imported secret that another token has.
  virtual Result<NewToken> CreateToken(const Context& ctx, const TokenSpec& spec) = 0;
  // The live token whose secret this is, with last_used_at set to now. Unauthenticated for a
  // malformed or unknown secret, a wrong one, a revoked or an expired token.
  virtual Result<Token> Authenticate(const Context& ctx, std::string_view secret) = 0;
  virtual Result<Token> GetToken(const Context& ctx, const std::string& id) = 0;
  // Revokes the token (idempotent: a second revocation keeps the first time). NotFound if absent.
  virtual Result<> RevokeToken(const Context& ctx, const std::string& id) = 0;
  // The organization's tokens (of every kind, revoked ones too), oldest first. NotFound if the
  // organization does not exist.
  virtual Result<std::vector<Token>> ListTokens(const Context& ctx, const std::string& org_id) = 0;

  // --- Builds.
  // A new build, queued now. NotFound if the project does not exist.
  virtual Result<Build> CreateBuild(const Context& ctx, const BuildSpec& spec) = 0;
  virtual Result<Build> GetBuild(const Context& ctx, const std::string& id) = 0;
  // The project's builds, newest (last created) first. NotFound if the project does not exist.
  virtual Result<std::vector<Build>> ListBuilds(const Context& ctx, const std::string& project_id,
                                                const Page& page) = 0;
  // Moves a build to `status`: queued -> running, queued|running -> success|failed|canceled.
  // Sets started_at (running) or finished_at (final) to now and the error message (kept empty
  // for success). FailedPrecondition for any other move (a final build never changes).
  virtual Result<Build> UpdateBuildStatus(const Context& ctx, const std::string& id,
                                          BuildStatus status,
                                          const std::string& error_message = {}) = 0;
  // Records the first step that missed the cache: the first call wins, later ones are no-ops.
  virtual Result<> SetFirstMissStep(const Context& ctx, const std::string& build_id,
                                    const std::string& vertex) = 0;
  // Records the context files sent for the build and the bytes they took on the wire
  // (replacing an earlier call's record).
  virtual Result<> SetBuildContext(const Context& ctx, const std::string& build_id,
                                   const std::vector<ContextFile>& files, int64_t bytes_sent) = 0;
  virtual Result<std::vector<ContextFile>> ListBuildContext(const Context& ctx,
                                                            const std::string& build_id) = 0;
  // Marks every queued or running build (of every project) failed with `message`, finished now;
  // returns how many. berthd calls it at start, before it takes builds: after a crash no build
  // of the previous process is still running. (Several berthd sharing one PostgreSQL need a
  // per-builder lease instead: see docs/decisions/0004-metadata-store.md.)
  virtual Result<int64_t> FailUnfinishedBuilds(const Context& ctx, const std::string& message) = 0;

  // --- Usage.
  // Every project of the organization (by name, also those without builds) with its builds and
  // build time in [from, to) (see ProjectUsage). A running build counts up to the store's now.
  // NotFound if the organization does not exist; InvalidArgument unless from < to.
  virtual Result<std::vector<ProjectUsage>> BuildUsage(const Context& ctx,
                                                       const std::string& org_id, Time from,
                                                       Time to) = 0;
  // The same for one project. NotFound if the project does not exist.
  virtual Result<ProjectUsage> ProjectBuildUsage(const Context& ctx, const std::string& project_id,
                                                 Time from, Time to) = 0;

  // --- Build steps.
  // Inserts the step or replaces the one with the same (build_id, vertex). The log is cut to
  // kMaxStepLogBytes. NotFound if the build does not exist.
  virtual Result<> UpsertBuildStep(const Context& ctx, const BuildStep& step) = 0;
  // The build's steps in the order they were first recorded.
  virtual Result<std::vector<BuildStep>> ListBuildSteps(const Context& ctx,
                                                        const std::string& build_id) = 0;

  // --- Registry. `project_id` names the project the repository belongs to (NotFound if it does
  // not exist); the registry checks that the repository name starts with it. Digests, tags and
  // repository names are validated by the registry; the store takes them as given (bounded to
  // 256 bytes for digests and tags, 1024 for names: InvalidArgument beyond).
  //
  // Links `blob` into its repository (idempotent: a second link keeps the first record).
  virtual Result<> PutRegistryBlob(const Context& ctx, const std::string& project_id,
                                   const RegistryBlob& blob) = 0;
  // NotFound if the blob is not linked into `repository`.
  virtual Result<RegistryBlob> GetRegistryBlob(const Context& ctx, const std::string& repository,
                                               const std::string& digest) = 0;
  // Unlinks the blob from `repository`. NotFound if it was not linked.
  virtual Result<> DeleteRegistryBlob(const Context& ctx, const std::string& repository,
                                      const std::string& digest) = 0;
  // Stores the manifest record (a second put of the same digest keeps the first record) and,
  // when `tag` is non-empty, points the tag at it, in one transaction.
  virtual Result<> PutRegistryManifest(const Context& ctx, const std::string& project_id,
                                       const RegistryManifest& manifest,
                                       const std::string& tag) = 0;
  // NotFound if the manifest is not in `repository`.
  virtual Result<RegistryManifest> GetRegistryManifest(const Context& ctx,
                                                       const std::string& repository,
                                                       const std::string& digest) = 0;
  // The manifest `tag` points at. NotFound if there is no such tag.
  virtual Result<RegistryManifest> ResolveRegistryTag(const Context& ctx,
                                                      const std::string& repository,
                                                      const std::string& tag) = 0;
  // The repository's tags in byte order, those after `last` (all when empty), at most `limit`
  // (1..100000: InvalidArgument otherwise).
  virtual Result<std::vector<std::string>> ListRegistryTags(const Context& ctx,
                                                            const std::string& repository,
                                                            const std::string& last, int limit) = 0;
  // The project's repositories that hold anything (a blob, a manifest), in byte order.
  // NotFound if the project does not exist.
  virtual Result<std::vector<std::string>> ListRegistryRepositories(
      const Context& ctx, const std::string& project_id) = 0;
  // Whether the repository holds anything (a blob, a manifest).
  virtual Result<bool> RegistryRepositoryExists(const Context& ctx,
                                                const std::string& repository) = 0;
  // Deletes the manifest and every tag pointing at it. NotFound if absent.
  virtual Result<> DeleteRegistryManifest(const Context& ctx, const std::string& repository,
                                          const std::string& digest) = 0;
  // Deletes the tag (the manifest stays). NotFound if absent.
  virtual Result<> DeleteRegistryTag(const Context& ctx, const std::string& repository,
                                     const std::string& tag) = 0;
  // The repository's manifests whose subject is `subject`, oldest first.
  virtual Result<std::vector<RegistryManifest>> ListRegistryReferrers(
      const Context& ctx, const std::string& repository, const std::string& subject) = 0;
  // What saved-build listings and expiry read: every blob link, manifest and tag of the
  // project's repositories (oldest first; tags by repository, then in byte order). NotFound if
  // the project does not exist.
  virtual Result<std::vector<RegistryBlob>> ListRegistryBlobs(const Context& ctx,
                                                              const std::string& project_id) = 0;
  virtual Result<std::vector<RegistryManifest>> ListRegistryManifests(
      const Context& ctx, const std::string& project_id) = 0;
  virtual Result<std::vector<RegistryTag>> ListRegistryTagRecords(
      const Context& ctx, const std::string& project_id) = 0;
  // Every digest any repository of any project holds (blobs and manifests), sorted and unique:
  // what the registry's content-store lease must keep.
  virtual Result<std::vector<std::string>> ListRegistryDigests(const Context& ctx) = 0;

  // --- Trust policies. They go with their project.
  // NotFound if the project does not exist; InvalidArgument for an empty provider, issuer or
  // audience, or a field over 1024 bytes (conditions: at most 64, claim and value 1..1024 bytes).
  virtual Result<TrustPolicy> CreateTrustPolicy(const Context& ctx,
                                                const TrustPolicySpec& spec) = 0;
  // The project's policies, oldest first. NotFound if the project does not exist.
  virtual Result<std::vector<TrustPolicy>> ListTrustPolicies(const Context& ctx,
                                                             const std::string& project_id) = 0;
  // Deletes the project's policy `id`. NotFound if the project has no such policy (also when the
  // policy belongs to another project).
  virtual Result<> DeleteTrustPolicy(const Context& ctx, const std::string& project_id,
                                     const std::string& id) = 0;
  // Every project's policies that trust `issuer` (exact match), oldest first.
  virtual Result<std::vector<TrustPolicy>> FindTrustPolicies(const Context& ctx,
                                                             const std::string& issuer) = 0;
};

struct StoreOptions {
  // The time source; the system clock when empty. Tests inject one.
  std::function<Time()> clock;
  // SQLite: how long a writer waits for another process's lock. PostgreSQL: the connect timeout.
  std::chrono::milliseconds busy_timeout{10000};
  // PostgreSQL: the most connections the store holds open.
  int max_connections = 8;
};

// Opens the store named by `url`, creating and migrating its schema as needed:
//   sqlite:///abs/path.db, sqlite://rel/path.db or a plain path -> SQLite;
//   postgres://user:pass@host:port/db or postgresql://... -> PostgreSQL.
// InvalidArgument for another scheme; FailedPrecondition for a schema newer than this berth.
Result<std::unique_ptr<Store>> Open(const std::string& url, const StoreOptions& options = {});

// `url` with any password replaced by "***", for logs and error messages.
std::string RedactUrl(const std::string& url);

}  // namespace berth::metastore
