#include "client/client.h"

#include <nlohmann/json.hpp>

#include "client/settings.h"
#include "registry/http.h"

namespace berth::client {
namespace {

using json = nlohmann::json;

// The API's snake_case error codes (httpserver::ErrorCodeName) back to ours.
std::optional<ErrorCode> CodeFromName(std::string_view name) {
  static constexpr std::pair<std::string_view, ErrorCode> kCodes[] = {
      {"not_found", ErrorCode::kNotFound},
      {"invalid_argument", ErrorCode::kInvalidArgument},
      {"unauthenticated", ErrorCode::kUnauthenticated},
      {"permission_denied", ErrorCode::kPermissionDenied},
      {"already_exists", ErrorCode::kAlreadyExists},
      {"failed_precondition", ErrorCode::kFailedPrecondition},
      {"resource_exhausted", ErrorCode::kResourceExhausted},
      {"unimplemented", ErrorCode::kUnimplemented},
      {"unavailable", ErrorCode::kUnavailable},
      {"cancelled", ErrorCode::kCancelled},
      {"deadline_exceeded", ErrorCode::kDeadlineExceeded},
      {"internal", ErrorCode::kInternal},
  };
  for (const auto& [n, code] : kCodes) {
    if (n == name) {
      return code;
    }
  }
  return std::nullopt;
}

ErrorCode CodeFromStatus(long status) {
  switch (status) {
    case 400:
    case 405:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kAlreadyExists;
    case 412:
      return ErrorCode::kFailedPrecondition;
    case 429:
      return ErrorCode::kResourceExhausted;
    case 499:
      return ErrorCode::kCancelled;
    case 501:
      return ErrorCode::kUnimplemented;
    case 502:
    case 503:
      return ErrorCode::kUnavailable;
    case 504:
      return ErrorCode::kDeadlineExceeded;
    default:
      return status >= 500 ? ErrorCode::kInternal : ErrorCode::kUnknown;
  }
}

// Percent-encodes an id for one path segment.
std::string Segment(const std::string& id) {
  return registry::QueryEscape(id);
}

// Field readers that tolerate null and absent fields (older or newer servers) but not a field
// of another type: json's type_error is caught by Decode below.
std::string Str(const json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
}
int64_t Int(const json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? 0 : it->get<int64_t>();
}
bool Bool(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && !it->is_null() && it->get<bool>();
}

Token TokenFrom(const json& j) {
  Token t;
  t.id = Str(j, "id");
  t.kind = Str(j, "kind");
  t.subject = Str(j, "subject");
  t.org_id = Str(j, "org_id");
  t.project_id = Str(j, "project_id");
  t.name = Str(j, "name");
  t.created_at = Str(j, "created_at");
  t.expires_at = Str(j, "expires_at");
  t.revoked = Bool(j, "revoked");
  t.last_used_at = Str(j, "last_used_at");
  t.json = j.dump();
  return t;
}

Project ProjectFrom(const json& j) {
  Project p;
  p.id = Str(j, "id");
  p.org_id = Str(j, "org_id");
  p.name = Str(j, "name");
  p.region = Str(j, "region");
  p.cache_cap_bytes = Int(j, "cache_cap_bytes");
  p.build_retention_days = Int(j, "build_retention_days");
  p.created_at = Str(j, "created_at");
  p.json = j.dump();
  return p;
}

Organization OrganizationFrom(const json& j) {
  Organization o;
  o.id = Str(j, "id");
  o.name = Str(j, "name");
  o.created_at = Str(j, "created_at");
  o.build_minutes_cap = Int(j, "build_minutes_cap");
  o.json = j.dump();
  return o;
}

double Num(const json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? 0 : it->get<double>();
}

ProjectUsage ProjectUsageFrom(const json& j) {
  ProjectUsage u;
  u.project_id = Str(j, "project_id");
  u.name = Str(j, "name");
  u.month = Str(j, "month");
  u.builds = Int(j, "builds");
  u.build_minutes = Num(j, "build_minutes");
  u.build_seconds = Int(j, "build_seconds");
  u.cache_bytes = Int(j, "cache_bytes");
  u.json = j.dump();
  return u;
}

Usage UsageFrom(const json& j) {
  Usage u;
  u.org_id = Str(j, "org_id");
  u.org_name = Str(j, "org_name");
  u.month = Str(j, "month");
  u.builds = Int(j, "builds");
  u.build_minutes = Num(j, "build_minutes");
  u.build_seconds = Int(j, "build_seconds");
  u.build_minutes_cap = Int(j, "build_minutes_cap");
  u.cache_bytes = Int(j, "cache_bytes");
  for (const json& p : j.at("projects")) {
    ProjectUsage pu = ProjectUsageFrom(p);
    pu.month = u.month;
    u.projects.push_back(std::move(pu));
  }
  u.json = j.dump();
  return u;
}

NewToken NewTokenFrom(const json& j) {
  NewToken t;
  t.token = TokenFrom(j.at("token"));
  t.secret = Str(j, "secret");
  t.json = j.dump();
  return t;
}

Build BuildFrom(const json& j) {
  Build b;
  b.id = Str(j, "id");
  b.project_id = Str(j, "project_id");
  b.status = Str(j, "status");
  b.queued_at = Str(j, "queued_at");
  b.started_at = Str(j, "started_at");
  b.finished_at = Str(j, "finished_at");
  if (auto it = j.find("duration_seconds"); it != j.end() && !it->is_null()) {
    b.duration_seconds = it->get<double>();
  }
  b.first_miss_step = Str(j, "first_miss_step");
  b.error = Str(j, "error");
  b.context_files_sent = Int(j, "context_files_sent");
  b.context_bytes_sent = Int(j, "context_bytes_sent");
  b.json = j.dump();
  return b;
}

BuildStep StepFrom(const json& j) {
  BuildStep s;
  s.vertex = Str(j, "vertex");
  s.name = Str(j, "name");
  s.line = Int(j, "line");
  s.cached = Bool(j, "cached");
  s.started_at = Str(j, "started_at");
  s.finished_at = Str(j, "finished_at");
  if (auto it = j.find("duration_seconds"); it != j.end() && !it->is_null()) {
    s.duration_seconds = it->get<double>();
  }
  s.layer_size = Int(j, "layer_size");
  s.log = Str(j, "log");
  s.json = j.dump();
  return s;
}

// Parses an answer and decodes it with `fn`; DataLoss naming the request when the server sent
// something else than the API's JSON.
template <typename F>
auto Decode(const std::string& what, const std::string& body, F fn)
    -> Result<decltype(fn(json()))> {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::DataLoss(what + ": the answer is not a JSON object");
  }
  try {
    return fn(j);
  } catch (const json::exception& e) {
    return Error::DataLoss(what + ": unexpected answer: " + e.what());
  }
}

template <typename T, typename F>
Result<std::vector<T>> DecodeItems(const std::string& what, const std::string& body, F fn) {
  return Decode(what, body, [&](const json& j) {
    std::vector<T> out;
    for (const json& item : j.at("items")) {
      out.push_back(fn(item));
    }
    return out;
  });
}

CacheEntry CacheEntryFrom(const json& j) {
  CacheEntry e;
  e.key = Str(j, "key");
  e.description = Str(j, "description");
  e.location = Str(j, "location");
  e.platform = Str(j, "platform");
  e.size = Int(j, "size");
  e.created_at = Str(j, "created_at");
  e.last_used_at = Str(j, "last_used_at");
  e.json = j.dump();
  return e;
}

}  // namespace

Error ErrorFromResponse(long status, std::string_view body, const std::string& base_url) {
  ErrorCode code = CodeFromStatus(status);
  std::string message;
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    if (e.contains("code") && e["code"].is_string()) {
      code = CodeFromName(e["code"].get<std::string>()).value_or(code);
    }
    if (e.contains("message") && e["message"].is_string()) {
      message = e["message"].get<std::string>();
    }
  }
  if (message.empty()) {
    std::string snippet(body.substr(0, 200));
    message = "HTTP " + std::to_string(status) + (snippet.empty() ? "" : ": " + snippet);
  }
  if (code == ErrorCode::kUnauthenticated && !base_url.empty()) {
    message = base_url + ": " + message + "; run `berth login " + base_url +
              " --token TOKEN`, set BERTH_TOKEN or pass --token";
  }
  return {code, message};
}

Client::Client(std::string base_url, std::string token)
    : base_url_(std::move(base_url)),
      token_(std::move(token)),
      http_(std::make_unique<registry::HttpClient>()) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(std::string_view host, std::string token) {
  std::string url = BERTH_TRY(BaseUrl(host));
  return std::unique_ptr<Client>(new Client(std::move(url), std::move(token)));
}

Result<std::string> Client::Call(const Context& ctx, const std::string& method,
                                 const std::string& path, const std::string& body) {
  return Send(ctx, method, path, body, token_, base_url_);
}

Result<std::string> Client::Send(const Context& ctx, const std::string& method,
                                 const std::string& path, const std::string& body,
                                 const std::string& token, const std::string& hint_url) {
  registry::HttpRequest req;
  req.method = method;
  req.url = base_url_ + path;
  req.headers.emplace_back("Accept", "application/json");
  if (!token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + token);
  }
  if (!body.empty()) {
    req.body = body;
    req.headers.emplace_back("Content-Type", "application/json");
  }
  registry::HttpResponse res = BERTH_TRY(http_->Do(ctx, req));
  if (res.status < 200 || res.status >= 300) {
    return ErrorFromResponse(res.status, res.body, hint_url);
  }
  return std::move(res.body);
}

Result<Whoami> Client::GetWhoami(const Context& ctx) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/whoami"));
  return Decode("whoami", body, [](const json& j) {
    Whoami w;
    w.token = TokenFrom(j);
    w.admin = Bool(j, "admin");
    w.json = j.dump();
    return w;
  });
}

Result<Project> Client::CreateProject(const Context& ctx, const ProjectSpec& spec) {
  json req = {{"name", spec.name}};
  if (!spec.org_id.empty()) {
    req["org_id"] = spec.org_id;
  }
  if (!spec.region.empty()) {
    req["region"] = spec.region;
  }
  if (spec.cache_cap_bytes != 0) {
    req["cache_cap_bytes"] = spec.cache_cap_bytes;
  }
  if (spec.build_retention_days != 0) {
    req["build_retention_days"] = spec.build_retention_days;
  }
  std::string body = BERTH_TRY(Call(ctx, "POST", "/api/v1/projects", req.dump()));
  return Decode("creating project " + spec.name, body, ProjectFrom);
}

Result<std::vector<Project>> Client::ListProjects(const Context& ctx) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/projects"));
  return DecodeItems<Project>("listing projects", body, ProjectFrom);
}

Result<Project> Client::GetProject(const Context& ctx, const std::string& id) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/projects/" + Segment(id)));
  return Decode("project " + id, body, ProjectFrom);
}

Result<> Client::DeleteProject(const Context& ctx, const std::string& id) {
  BERTH_TRY(Call(ctx, "DELETE", "/api/v1/projects/" + Segment(id)));
  return {};
}

Result<Project> Client::UpdateProject(const Context& ctx, const std::string& id,
                                      const ProjectUpdate& update) {
  json req = json::object();
  if (update.name) {
    req["name"] = *update.name;
  }
  if (update.region) {
    req["region"] = *update.region;
  }
  if (update.cache_cap_bytes) {
    req["cache_cap_bytes"] = *update.cache_cap_bytes;
  }
  if (update.build_retention_days) {
    req["build_retention_days"] = *update.build_retention_days;
  }
  std::string body = BERTH_TRY(Call(ctx, "PATCH", "/api/v1/projects/" + Segment(id), req.dump()));
  return Decode("updating project " + id, body, ProjectFrom);
}

Result<std::vector<Organization>> Client::ListOrganizations(const Context& ctx) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/orgs"));
  return DecodeItems<Organization>("listing organizations", body, OrganizationFrom);
}

Result<Organization> Client::GetOrganization(const Context& ctx, const std::string& id) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/orgs/" + Segment(id)));
  return Decode("organization " + id, body, OrganizationFrom);
}

Result<Organization> Client::SetBuildMinutesCap(const Context& ctx, const std::string& org_id,
                                                int64_t minutes) {
  json req = {{"build_minutes_cap", minutes}};
  std::string body = BERTH_TRY(Call(ctx, "PATCH", "/api/v1/orgs/" + Segment(org_id), req.dump()));
  return Decode("updating organization " + org_id, body, OrganizationFrom);
}

Result<Usage> Client::GetUsage(const Context& ctx, const std::string& org_id,
                               const std::string& month) {
  std::string query;
  if (!org_id.empty()) {
    query += "org=" + Segment(org_id);
  }
  if (!month.empty()) {
    query += (query.empty() ? "" : "&") + std::string("month=") + Segment(month);
  }
  std::string body =
      BERTH_TRY(Call(ctx, "GET", "/api/v1/usage" + (query.empty() ? "" : "?" + query)));
  return Decode("usage", body, UsageFrom);
}

Result<ProjectUsage> Client::GetProjectUsage(const Context& ctx, const std::string& project_id,
                                             const std::string& month) {
  std::string path = "/api/v1/projects/" + Segment(project_id) + "/usage";
  if (!month.empty()) {
    path += "?month=" + Segment(month);
  }
  std::string body = BERTH_TRY(Call(ctx, "GET", path));
  return Decode("usage of " + project_id, body, ProjectUsageFrom);
}

Result<NewToken> Client::CreateProjectToken(const Context& ctx, const std::string& project_id,
                                            const std::string& name,
                                            std::chrono::seconds expires_in) {
  json req = json::object();
  if (!name.empty()) {
    req["name"] = name;
  }
  if (expires_in.count() > 0) {
    req["expires_in_seconds"] = expires_in.count();
  }
  std::string body = BERTH_TRY(
      Call(ctx, "POST", "/api/v1/projects/" + Segment(project_id) + "/tokens", req.dump()));
  return Decode("creating a token for " + project_id, body, NewTokenFrom);
}

Result<std::vector<Token>> Client::ListTokens(const Context& ctx) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/tokens"));
  return DecodeItems<Token>("listing tokens", body, TokenFrom);
}

Result<> Client::RevokeToken(const Context& ctx, const std::string& id) {
  BERTH_TRY(Call(ctx, "DELETE", "/api/v1/tokens/" + Segment(id)));
  return {};
}

Result<std::vector<Build>> Client::ListBuilds(const Context& ctx, const std::string& project_id,
                                              Page page) {
  std::string path = "/api/v1/projects/" + Segment(project_id) +
                     "/builds?limit=" + std::to_string(page.limit) +
                     "&offset=" + std::to_string(page.offset);
  std::string body = BERTH_TRY(Call(ctx, "GET", path));
  return DecodeItems<Build>("listing builds of " + project_id, body, BuildFrom);
}

Result<Build> Client::GetBuild(const Context& ctx, const std::string& id) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/builds/" + Segment(id)));
  return Decode("build " + id, body, BuildFrom);
}

Result<std::vector<BuildStep>> Client::ListBuildSteps(const Context& ctx,
                                                      const std::string& build_id) {
  std::string body = BERTH_TRY(Call(ctx, "GET", "/api/v1/builds/" + Segment(build_id) + "/steps"));
  return DecodeItems<BuildStep>("steps of build " + build_id, body, StepFrom);
}

Result<CacheList> Client::ListCache(const Context& ctx, const std::string& project_id) {
  std::string body =
      BERTH_TRY(Call(ctx, "GET", "/api/v1/projects/" + Segment(project_id) + "/cache"));
  return Decode("the cache of " + project_id, body, [](const json& j) {
    CacheList list;
    for (const json& item : j.at("items")) {
      list.entries.push_back(CacheEntryFrom(item));
    }
    list.total_bytes = Int(j, "total_bytes");
    list.cap_bytes = Int(j, "cap_bytes");
    return list;
  });
}

Result<CacheReset> Client::ResetCache(const Context& ctx, const std::string& project_id) {
  std::string body =
      BERTH_TRY(Call(ctx, "DELETE", "/api/v1/projects/" + Segment(project_id) + "/cache"));
  return Decode("resetting the cache of " + project_id, body, [](const json& j) {
    CacheReset r;
    r.entries = Int(j, "entries");
    r.bytes = Int(j, "bytes");
    r.snapshots = Int(j, "snapshots");
    r.cache_mounts = Bool(j, "cache_mounts");
    r.deferred = Bool(j, "deferred");
    r.json = j.dump();
    return r;
  });
}

namespace {

TrustPolicy TrustPolicyFrom(const json& j) {
  TrustPolicy p;
  p.id = Str(j, "id");
  p.project_id = Str(j, "project_id");
  p.provider = Str(j, "provider");
  p.issuer = Str(j, "issuer");
  p.audience = Str(j, "audience");
  for (const auto& [claim, value] : j.at("conditions").items()) {
    p.conditions[claim] = value.get<std::string>();
  }
  p.created_at = Str(j, "created_at");
  p.json = j.dump();
  return p;
}

}  // namespace

Result<std::vector<TrustPolicy>> Client::ListTrustPolicies(const Context& ctx,
                                                           const std::string& project_id) {
  std::string body =
      BERTH_TRY(Call(ctx, "GET", "/api/v1/projects/" + Segment(project_id) + "/trust-policies"));
  return DecodeItems<TrustPolicy>("trust policies of " + project_id, body, TrustPolicyFrom);
}

Result<TrustPolicy> Client::CreateTrustPolicy(const Context& ctx, const std::string& project_id,
                                              const TrustPolicySpec& spec) {
  json req = {{"provider", spec.provider}, {"conditions", spec.conditions}};
  if (!spec.issuer.empty()) {
    req["issuer"] = spec.issuer;
  }
  if (!spec.audience.empty()) {
    req["audience"] = spec.audience;
  }
  std::string body = BERTH_TRY(
      Call(ctx, "POST", "/api/v1/projects/" + Segment(project_id) + "/trust-policies", req.dump()));
  return Decode("creating a trust policy for " + project_id, body, TrustPolicyFrom);
}

Result<> Client::DeleteTrustPolicy(const Context& ctx, const std::string& project_id,
                                   const std::string& policy_id) {
  BERTH_TRY(
      Call(ctx, "DELETE",
           "/api/v1/projects/" + Segment(project_id) + "/trust-policies/" + Segment(policy_id)));
  return {};
}

Result<NewToken> Client::ExchangeOidcToken(const Context& ctx, const std::string& project_id,
                                           const std::string& id_token) {
  json req = {{"project_id", project_id}, {"token", id_token}};
  // The exchange takes no berthd token (the ID token is the credential), and a refusal is the
  // server's reason alone: `berth login` is no cure for a policy that refuses the ID token.
  std::string body =
      BERTH_TRY(Send(ctx, "POST", "/api/v1/oidc/token", req.dump(), /*token=*/"", /*hint_url=*/""));
  return Decode("exchanging an OIDC token for " + project_id, body, NewTokenFrom);
}

}  // namespace berth::client
