// client: a typed client of berthd's JSON API (src/service/api.h), for the berth CLI.
//
// Every method is one HTTP exchange over registry::HttpClient with the token as a bearer
// credential. An answer that is not 2xx becomes an Error carrying the API's code and message
// (`{"error":{"code","message"}}`): unauthenticated → Unauthenticated (with a hint to run
// `berth login`), not_found → NotFound, permission_denied → PermissionDenied, and so on; when
// the body is not such a document the code follows the HTTP status. Transport failures are
// Unavailable naming the URL.
//
// Each value type keeps `json`, the object exactly as the server sent it, so that
// `--output json` prints the API's objects and fields added later pass through.
//
// Thread-safety: a Client may be used from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"

namespace berth::registry {
class HttpClient;
}  // namespace berth::registry

namespace berth::client {

struct Token {
  std::string id;
  std::string kind;  // "user", "organization" or "project"
  std::string subject;
  std::string org_id;
  std::string project_id;  // for project tokens
  std::string name;
  std::string created_at;  // RFC 3339
  std::string expires_at;  // RFC 3339; "" when it never expires
  bool revoked = false;
  std::string last_used_at;  // "" when never used
  std::string json;
};

struct Whoami {
  Token token;
  bool admin = false;
  std::string json;
};

struct Project {
  std::string id;
  std::string org_id;
  std::string name;
  std::string region;
  int64_t cache_cap_bytes = 0;  // 0: no cap
  int64_t build_retention_days = 0;
  std::string created_at;
  std::string json;
};

struct ProjectSpec {
  std::string name;
  std::string org_id;  // "": the caller's organization
  std::string region;
  int64_t cache_cap_bytes = 0;
  int64_t build_retention_days = 0;  // 0: the server's default (7)
};

// What UpdateProject changes: each field that is set.
struct ProjectUpdate {
  std::optional<std::string> name;
  std::optional<std::string> region;
  std::optional<int64_t> cache_cap_bytes;
  std::optional<int64_t> build_retention_days;
};

struct Organization {
  std::string id;
  std::string name;
  std::string created_at;
  int64_t build_minutes_cap = 0;  // build minutes per calendar month; 0: no cap
  std::string json;
};

// A project's builds in one month (service/usage_api.h).
struct ProjectUsage {
  std::string project_id;
  std::string name;
  std::string month;  // "2026-11"
  int64_t builds = 0;
  double build_minutes = 0;  // two decimals
  int64_t build_seconds = 0;
  int64_t cache_bytes = 0;  // the project's cache on the builder, now
  std::string json;
};

// An organization's builds in one month, per project.
struct Usage {
  std::string org_id;
  std::string org_name;
  std::string month;
  int64_t builds = 0;
  double build_minutes = 0;
  int64_t build_seconds = 0;
  int64_t build_minutes_cap = 0;  // 0: no cap
  int64_t cache_bytes = 0;
  std::vector<ProjectUsage> projects;  // by name
  std::string json;
};

// A token just made, with its secret (shown this once; the server keeps only a hash).
struct NewToken {
  Token token;
  std::string secret;
  std::string json;
};

struct Build {
  std::string id;
  std::string project_id;
  std::string status;  // queued, running, success, failed, canceled
  std::string queued_at;
  std::string started_at;   // "" until it starts
  std::string finished_at;  // "" until it ends
  std::optional<double> duration_seconds;
  std::string first_miss_step;  // vertex digest of the first step that missed the cache
  std::string error;
  int64_t context_files_sent = 0;
  int64_t context_bytes_sent = 0;
  std::string json;
};

struct BuildStep {
  std::string vertex;
  std::string name;
  int64_t line = 0;
  bool cached = false;
  std::string started_at;
  std::string finished_at;
  double duration_seconds = 0;
  int64_t layer_size = 0;
  std::string log;
  std::string json;
};

struct Page {
  int limit = 50;
  int offset = 0;
};

// One entry of a project's cache on the builder (service/cache_api.h).
struct CacheEntry {
  std::string key;
  std::string description;  // the step: "[build 2/4] RUN make"
  std::string location;     // "Dockerfile:7"
  std::string platform;     // "linux/amd64"
  int64_t size = 0;
  std::string created_at;
  std::string last_used_at;
  std::string json;
};

struct CacheList {
  std::vector<CacheEntry> entries;  // most recently used first
  int64_t total_bytes = 0;
  int64_t cap_bytes = 0;  // 0: no cap
};

// What a cache reset removed.
struct CacheReset {
  int64_t entries = 0;
  int64_t bytes = 0;
  int64_t snapshots = 0;
  bool cache_mounts = false;
  bool deferred = false;  // a build was running: its snapshots and mounts go later
  std::string json;
};

// An OIDC trust policy of a project (service/trust_api.h).
struct TrustPolicy {
  std::string id;
  std::string project_id;
  std::string provider;  // github, circleci, buildkite, generic
  std::string issuer;
  std::string audience;
  std::map<std::string, std::string> conditions;  // claim -> value
  std::string created_at;
  std::string json;
};

struct TrustPolicySpec {
  std::string provider;
  std::string issuer;    // "": the provider's
  std::string audience;  // "": the provider's default ("berthd"; CircleCI: the org id)
  std::map<std::string, std::string> conditions;
};

class Client {
 public:
  // `host` as the user gives it: "http://h:p", "https://h:p" or a bare "h:p" (https, or http
  // for a loopback host; see settings.h BaseUrl). InvalidArgument for a malformed host.
  static Result<std::unique_ptr<Client>> Create(std::string_view host, std::string token);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) = delete;
  Client& operator=(Client&&) = delete;
  ~Client();

  // The server's base URL, e.g. "http://127.0.0.1:8088".
  const std::string& base_url() const { return base_url_; }

  Result<Whoami> GetWhoami(const Context& ctx);

  Result<Project> CreateProject(const Context& ctx, const ProjectSpec& spec);
  Result<std::vector<Project>> ListProjects(const Context& ctx);
  Result<Project> GetProject(const Context& ctx, const std::string& id);
  Result<> DeleteProject(const Context& ctx, const std::string& id);
  Result<Project> UpdateProject(const Context& ctx, const std::string& id,
                                const ProjectUpdate& update);

  Result<std::vector<Organization>> ListOrganizations(const Context& ctx);
  Result<Organization> GetOrganization(const Context& ctx, const std::string& id);
  // Sets the organization's monthly build-minute cap (0: none). Admins only.
  Result<Organization> SetBuildMinutesCap(const Context& ctx, const std::string& org_id,
                                          int64_t minutes);

  // Usage in `month` ("YYYY-MM"; "" the current one) of organization `org_id` ("" the caller's),
  // or of one project.
  Result<Usage> GetUsage(const Context& ctx, const std::string& org_id, const std::string& month);
  Result<ProjectUsage> GetProjectUsage(const Context& ctx, const std::string& project_id,
                                       const std::string& month);

  // A token for project `project_id`; `expires_in` zero: it never expires.
  Result<NewToken> CreateProjectToken(const Context& ctx, const std::string& project_id,
                                      const std::string& name, std::chrono::seconds expires_in);
  Result<std::vector<Token>> ListTokens(const Context& ctx);
  Result<> RevokeToken(const Context& ctx, const std::string& id);

  Result<std::vector<Build>> ListBuilds(const Context& ctx, const std::string& project_id,
                                        Page page = {});
  Result<Build> GetBuild(const Context& ctx, const std::string& id);
  Result<std::vector<BuildStep>> ListBuildSteps(const Context& ctx, const std::string& build_id);

  Result<CacheList> ListCache(const Context& ctx, const std::string& project_id);
  Result<CacheReset> ResetCache(const Context& ctx, const std::string& project_id);

  Result<std::vector<TrustPolicy>> ListTrustPolicies(const Context& ctx,
                                                     const std::string& project_id);
  Result<TrustPolicy> CreateTrustPolicy(const Context& ctx, const std::string& project_id,
                                        const TrustPolicySpec& spec);
  Result<> DeleteTrustPolicy(const Context& ctx, const std::string& project_id,
                             const std::string& policy_id);
  // Exchanges a CI job's OIDC ID token for a short-lived token of `project_id` (POST
  // /api/v1/oidc/token; the client's own token is not sent). Unauthenticated naming the check
  // that failed when no trust policy of the project accepts it (without the login hint).
  Result<NewToken> ExchangeOidcToken(const Context& ctx, const std::string& project_id,
                                     const std::string& id_token);

  // One exchange with any API path ("/api/v1/..."): `body` (JSON text) is sent when not empty.
  // Returns the 2xx answer's body; the errors above otherwise.
  Result<std::string> Call(const Context& ctx, const std::string& method, const std::string& path,
                           const std::string& body = "");

 private:
  Client(std::string base_url, std::string token);
  // Call with `token` as the credential ("": none); `hint_url` as in ErrorFromResponse.
  Result<std::string> Send(const Context& ctx, const std::string& method, const std::string& path,
                           const std::string& body, const std::string& token,
                           const std::string& hint_url);

  std::string base_url_;
  std::string token_;
  std::unique_ptr<registry::HttpClient> http_;
};

// The Error for an API answer that is not 2xx: code and message from the JSON error document,
// else from `status`. `base_url` names the server in the login hint of Unauthenticated ("": no
// hint).
Error ErrorFromResponse(long status, std::string_view body, const std::string& base_url);

}  // namespace berth::client
