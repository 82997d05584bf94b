#include "service/api.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "registry/auth.h"
#include "service/json_util.h"

namespace berth::service {
namespace {

using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;

json OptTime(const std::optional<metastore::Time>& t) {
  return t ? json(Rfc3339(*t)) : json(nullptr);
}

json ToJson(const metastore::Organization& o) {
  return {{"id", o.id},
          {"name", o.name},
          {"created_at", Rfc3339(o.created_at)},
          {"build_minutes_cap", o.build_minutes_cap}};
}

json ToJson(const metastore::User& u) {
  return {{"id", u.id},
          {"org_id", u.org_id},
          {"name", u.name},
          {"admin", u.admin},
          {"created_at", Rfc3339(u.created_at)}};
}

json ToJson(const metastore::Project& p) {
  return {{"id", p.id},
          {"org_id", p.org_id},
          {"name", p.name},
          {"region", p.region},
          {"cache_cap_bytes", p.cache_cap_bytes},
          {"build_retention_days", p.build_retention_days},
          {"created_at", Rfc3339(p.created_at)}};
}

json ToJson(const metastore::Token& t) {
  return {{"id", t.id},
          {"kind", std::string(metastore::TokenKindName(t.kind))},
          {"subject", t.subject},
          {"org_id", t.org_id},
          {"project_id", t.project_id},
          {"name", t.name},
          {"created_at", Rfc3339(t.created_at)},
          {"expires_at", OptTime(t.expires_at)},
          {"revoked", t.revoked},
          {"revoked_at", OptTime(t.revoked_at)},
          {"last_used_at", OptTime(t.last_used_at)}};
}

json ToJson(const metastore::Build& b) {
  auto seconds = [&]() -> json {
    if (!b.started_at || !b.finished_at) {
      return nullptr;
    }
    return std::chrono::duration<double>(*b.finished_at - *b.started_at).count();
  };
  return {{"id", b.id},
          {"project_id", b.project_id},
          {"status", std::string(metastore::BuildStatusName(b.status))},
          {"queued_at", Rfc3339(b.queued_at)},
          {"started_at", OptTime(b.started_at)},
          {"finished_at", OptTime(b.finished_at)},
          {"duration_seconds", seconds()},
          {"first_miss_step", b.first_miss_step},
          {"error", b.error_message},
          {"context_files_sent", b.context_files_sent},
          {"context_bytes_sent", b.context_bytes_sent}};
}

json ToJson(const metastore::BuildStep& s) {
  return {{"vertex", s.vertex},
          {"name", s.name},
          {"line", s.line},
          {"cached", s.cached},
          {"started_at", OptTime(s.started_at)},
          {"finished_at", OptTime(s.finished_at)},
          {"duration_seconds", std::chrono::duration<double>(s.duration).count()},
          {"layer_size", s.layer_size},
          {"log", s.log}};
}

template <typename T>
json Items(const std::vector<T>& list) {
  json items = json::array();
  for (const T& x : list) {
    items.push_back(ToJson(x));
  }
  return {{"items", items}};
}

Result<int64_t> IntField(const json& j, const char* name, int64_t fallback) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_number_integer()) {
    return Error::InvalidArgument(std::string("field \"") + name + "\": want an integer");
  }
  return it->get<int64_t>();
}

// InvalidArgument naming the first field of `j` that is not in `known`: a PATCH that would
// silently ignore a misspelt field would look like it worked.
Result<> OnlyFields(const json& j, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : j.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string want;
      for (std::string_view k : known) {
        want += (want.empty() ? "" : ", ") + std::string(k);
      }
      return Error::InvalidArgument("field \"" + name + "\" is unknown (want " + want + ")");
    }
  }
  return {};
}

// An integer field in [lo, hi] when present; InvalidArgument naming it otherwise.
Result<std::optional<int64_t>> OptIntField(const json& j, const char* name, int64_t lo, int64_t hi,
                                           std::string_view unit = "") {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    return std::optional<int64_t>();
  }
  if (!it->is_number_integer()) {
    return Error::InvalidArgument(std::string("field \"") + name + "\": want an integer");
  }
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    return Error::InvalidArgument(std::string("field \"") + name + "\": want " +
                                  std::to_string(lo) +
                                  (hi == INT64_MAX ? " or more" : " to " + std::to_string(hi)) +
                                  std::string(unit) + ", not " + std::to_string(v));
  }
  return std::optional<int64_t>(v);
}

Result<std::optional<std::string>> OptStringField(const json& j, const char* name) {
  if (!j.contains(name) || j[name].is_null()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(BERTH_TRY(StringField(j, name, true)));
}

Result<std::optional<metastore::Time>> Expiry(const json& j) {
  int64_t seconds = BERTH_TRY(IntField(j, "expires_in_seconds", 0));
  if (seconds < 0) {
    return Error::InvalidArgument("field \"expires_in_seconds\": must not be negative");
  }
  if (seconds == 0) {
    return std::optional<metastore::Time>();
  }
  return std::optional<metastore::Time>(std::chrono::system_clock::now() +
                                        std::chrono::seconds(seconds));
}

// A query parameter as an integer in [lo, hi].
Result<int> QueryInt(const Request& r, const char* name, int fallback, int lo, int hi) {
  auto it = r.query.find(name);
  if (it == r.query.end()) {
    return fallback;
  }
  char* end = nullptr;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < lo || v > hi) {
    return Error::InvalidArgument(std::string("query ") + name + ": want an integer in [" +
                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(v);
}

bool IsAdminToken(const Context& ctx, metastore::Store& store, const metastore::Token& t) {
  if (t.kind != metastore::TokenKind::kUser) {
    return false;
  }
  Result<metastore::User> user = store.GetUser(ctx, t.subject);
  return user.ok() && user->admin;
}

// A route body: authenticated, errors turned into JSON answers.
using Action = std::function<Result<Response>(const Context&, const Principal&, const Request&)>;

class Api {
 public:
  explicit Api(metastore::Store& store) : store_(store) {}

  httpserver::Handler Authed(Action action) { return service::Authed(store_, std::move(action)); }

  Result<Response> Whoami(const Context& ctx, const Principal& who, const Request&) {
    json j = ToJson(who.token);
    j["admin"] = who.admin;
    return JsonOk(j);
  }

  // --- organizations

  Result<Response> ListOrgs(const Context& ctx, const Principal& who, const Request&) {
    std::vector<metastore::Organization> orgs;
    if (who.admin) {
      orgs = BERTH_TRY(store_.ListOrganizations(ctx));
    } else if (who.token.kind != metastore::TokenKind::kProject) {
      orgs.push_back(BERTH_TRY(store_.GetOrganization(ctx, who.token.org_id)));
    }
    return JsonOk(Items(orgs));
  }

  Result<Response> CreateOrg(const Context& ctx, const Principal& who, const Request& r) {
    if (!who.admin) {
      return Error::PermissionDenied("only an admin may create organizations");
    }
    json body = BERTH_TRY(JsonBody(r));
    std::string name = BERTH_TRY(StringField(body, "name", true));
    return JsonOk(ToJson(BERTH_TRY(store_.CreateOrganization(ctx, name))), 201);
  }

  Result<metastore::Organization> VisibleOrg(const Context& ctx, const Principal& who,
                                             const std::string& id) {
    if (!CanUseOrganization(who, id)) {
      return Error::NotFound("organization " + id + " not found");
    }
    return store_.GetOrganization(ctx, id);
  }

  Result<Response> GetOrg(const Context& ctx, const Principal& who, const Request& r) {
    return JsonOk(ToJson(BERTH_TRY(VisibleOrg(ctx, who, r.params.at("org")))));
  }

  Result<Response> UpdateOrg(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Organization org = BERTH_TRY(VisibleOrg(ctx, who, r.params.at("org")));
    if (!who.admin) {
      return Error::PermissionDenied("only an admin may change an organization's settings");
    }
    json body = BERTH_TRY(JsonBody(r));
    BERTH_TRY(OnlyFields(body, {"build_minutes_cap"}));
    metastore::OrganizationUpdate update;
    update.build_minutes_cap = BERTH_TRY(OptIntField(body, "build_minutes_cap", 0, INT64_MAX));
    return JsonOk(ToJson(BERTH_TRY(store_.UpdateOrganization(ctx, org.id, update))));
  }

  Result<Response> DeleteOrg(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Organization org = BERTH_TRY(VisibleOrg(ctx, who, r.params.at("org")));
    if (!who.admin) {
      return Error::PermissionDenied("only an admin may delete organizations");
    }
    BERTH_TRY(store_.DeleteOrganization(ctx, org.id));
    return JsonOk(json::object());
  }

  Result<Response> CreateUser(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Organization org = BERTH_TRY(VisibleOrg(ctx, who, r.params.at("org")));
    if (!who.admin) {
      return Error::PermissionDenied("only an admin may create users");
    }
    json body = BERTH_TRY(JsonBody(r));
    std::string name = BERTH_TRY(StringField(body, "name", true));
    bool admin = body.value("admin", false);
    return JsonOk(ToJson(BERTH_TRY(store_.CreateUser(ctx, org.id, name, admin))), 201);
  }

  // --- projects

  Result<Response> ListProjects(const Context& ctx, const Principal& who, const Request& r) {
    std::vector<metastore::Project> projects;
    if (who.token.kind == metastore::TokenKind::kProject) {
      projects.push_back(BERTH_TRY(store_.GetProject(ctx, who.token.project_id)));
    } else if (who.admin && r.query.count("org_id") == 0) {
      for (const metastore::Organization& org : BERTH_TRY(store_.ListOrganizations(ctx))) {
        for (metastore::Project& p : BERTH_TRY(store_.ListProjects(ctx, org.id))) {
          projects.push_back(std::move(p));
        }
      }
    } else {
      std::string org = r.query.count("org_id") ? r.query.at("org_id") : who.token.org_id;
      BERTH_TRY(VisibleOrg(ctx, who, org));
      projects = BERTH_TRY(store_.ListProjects(ctx, org));
    }
    return JsonOk(Items(projects));
  }

  Result<Response> CreateProject(const Context& ctx, const Principal& who, const Request& r) {
    if (who.token.kind == metastore::TokenKind::kProject) {
      return Error::PermissionDenied("a project token cannot create projects");
    }
    json body = BERTH_TRY(JsonBody(r));
    metastore::ProjectSpec spec;
    spec.name = BERTH_TRY(StringField(body, "name", true));
    spec.org_id = BERTH_TRY(StringField(body, "org_id", false));
    if (spec.org_id.empty()) {
      spec.org_id = who.token.org_id;
    }
    BERTH_TRY(VisibleOrg(ctx, who, spec.org_id));
    spec.region = BERTH_TRY(StringField(body, "region", false));
    spec.cache_cap_bytes = BERTH_TRY(IntField(body, "cache_cap_bytes", 0));
    spec.build_retention_days = static_cast<int>(
        BERTH_TRY(OptIntField(body, "build_retention_days", metastore::kMinRetentionDays,
                              metastore::kMaxRetentionDays, " days"))
            .value_or(spec.build_retention_days));
    return JsonOk(ToJson(BERTH_TRY(store_.CreateProject(ctx, spec))), 201);
  }

  Result<Response> UpdateProject(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    if (who.token.kind == metastore::TokenKind::kProject) {
      return Error::PermissionDenied("a project token cannot change its project's settings");
    }
    json body = BERTH_TRY(JsonBody(r));
    BERTH_TRY(OnlyFields(body, {"name", "region", "cache_cap_bytes", "build_retention_days"}));
    metastore::ProjectUpdate update;
    update.name = BERTH_TRY(OptStringField(body, "name"));
    update.region = BERTH_TRY(OptStringField(body, "region"));
    update.cache_cap_bytes = BERTH_TRY(OptIntField(body, "cache_cap_bytes", 0, INT64_MAX));
    std::optional<int64_t> days =
        BERTH_TRY(OptIntField(body, "build_retention_days", metastore::kMinRetentionDays,
                              metastore::kMaxRetentionDays, " days"));
    if (days) {
      update.build_retention_days = static_cast<int>(*days);
    }
    return JsonOk(ToJson(BERTH_TRY(store_.UpdateProject(ctx, p.id, update))));
  }

  Result<Response> GetProject(const Context& ctx, const Principal& who, const Request& r) {
    return JsonOk(ToJson(BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")))));
  }

  Result<Response> DeleteProject(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    if (who.token.kind == metastore::TokenKind::kProject) {
      return Error::PermissionDenied("a project token cannot delete its project");
    }
    BERTH_TRY(store_.DeleteProject(ctx, p.id));
    return JsonOk(json::object());
  }

  // --- tokens

  Result<Response> CreateProjectToken(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    if (who.token.kind == metastore::TokenKind::kProject) {
      return Error::PermissionDenied("a project token cannot create tokens");
    }
    json body = BERTH_TRY(JsonBody(r));
    metastore::TokenSpec spec;
    spec.kind = metastore::TokenKind::kProject;
    spec.subject = p.id;
    spec.name = BERTH_TRY(StringField(body, "name", false));
    spec.expires_at = BERTH_TRY(Expiry(body));
    metastore::NewToken made = BERTH_TRY(store_.CreateToken(ctx, spec));
    return JsonOk({{"token", ToJson(made.token)}, {"secret", made.secret}}, 201);
  }

  Result<Response> CreateToken(const Context& ctx, const Principal& who, const Request& r) {
    if (who.token.kind == metastore::TokenKind::kProject) {
      return Error::PermissionDenied("a project token cannot create tokens");
    }
    json body = BERTH_TRY(JsonBody(r));
    std::string kind = BERTH_TRY(StringField(body, "kind", false));
    metastore::TokenSpec spec;
    spec.name = BERTH_TRY(StringField(body, "name", false));
    spec.expires_at = BERTH_TRY(Expiry(body));
    spec.subject = BERTH_TRY(StringField(body, "subject", false));
    if (kind.empty() || kind == "user") {
      spec.kind = metastore::TokenKind::kUser;
      if (spec.subject.empty()) {
        if (who.token.kind != metastore::TokenKind::kUser) {
          return Error::InvalidArgument("field \"subject\" is required: a user id");
        }
        spec.subject = who.token.subject;
      }
      metastore::User user = BERTH_TRY(store_.GetUser(ctx, spec.subject));
      if (!CanUseOrganization(who, user.org_id) ||
          (!who.admin && user.id != who.token.subject &&
           who.token.kind == metastore::TokenKind::kUser)) {
        return Error::NotFound("user " + spec.subject + " not found");
      }
      if (user.admin && !who.admin) {
        return Error::PermissionDenied("only an admin may create tokens for an admin");
      }
    } else if (kind == "organization") {
      spec.kind = metastore::TokenKind::kOrganization;
      if (spec.subject.empty()) {
        spec.subject = who.token.org_id;
      }
      BERTH_TRY(VisibleOrg(ctx, who, spec.subject));
    } else {
      return Error::InvalidArgument(
          "field \"kind\": want user or organization (project tokens: POST "
          "/api/v1/projects/:id/tokens)");
    }
    metastore::NewToken made = BERTH_TRY(store_.CreateToken(ctx, spec));
    return JsonOk({{"token", ToJson(made.token)}, {"secret", made.secret}}, 201);
  }

  Result<Response> ListTokens(const Context& ctx, const Principal& who, const Request& r) {
    if (who.token.kind == metastore::TokenKind::kProject) {
      return JsonOk(Items(std::vector<metastore::Token>{who.token}));
    }
    std::string org = r.query.count("org_id") ? r.query.at("org_id") : who.token.org_id;
    BERTH_TRY(VisibleOrg(ctx, who, org));
    return JsonOk(Items(BERTH_TRY(store_.ListTokens(ctx, org))));
  }

  Result<Response> RevokeToken(const Context& ctx, const Principal& who, const Request& r) {
    const std::string& id = r.params.at("id");
    metastore::Token t = BERTH_TRY(store_.GetToken(ctx, id));
    bool self = t.id == who.token.id;
    bool allowed = self || (who.token.kind != metastore::TokenKind::kProject &&
                            CanUseOrganization(who, t.org_id));
    if (!allowed) {
      return Error::NotFound("token " + id + " not found");
    }
    BERTH_TRY(store_.RevokeToken(ctx, id));
    return JsonOk(json::object());
  }

  // --- builds

  Result<metastore::Build> VisibleBuild(const Context& ctx, const Principal& who,
                                        const std::string& id) {
    Result<metastore::Build> b = store_.GetBuild(ctx, id);
    if (!b.ok()) {
      return std::move(b).error();
    }
    if (!AuthorizeProject(ctx, store_, who, b->project_id).ok()) {
      return Error::NotFound("build " + id + " not found");
    }
    return b;
  }

  Result<Response> ListBuilds(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    metastore::Page page;
    page.limit = BERTH_TRY(QueryInt(r, "limit", 50, 1, 1000));
    page.offset = BERTH_TRY(QueryInt(r, "offset", 0, 0, 1 << 30));
    return JsonOk(Items(BERTH_TRY(store_.ListBuilds(ctx, p.id, page))));
  }

  Result<Response> GetBuild(const Context& ctx, const Principal& who, const Request& r) {
    return JsonOk(ToJson(BERTH_TRY(VisibleBuild(ctx, who, r.params.at("id")))));
  }

  Result<Response> BuildSteps(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Build b = BERTH_TRY(VisibleBuild(ctx, who, r.params.at("id")));
    return JsonOk(Items(BERTH_TRY(store_.ListBuildSteps(ctx, b.id))));
  }

  Result<Response> BuildContext(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Build b = BERTH_TRY(VisibleBuild(ctx, who, r.params.at("id")));
    json items = json::array();
    for (const metastore::ContextFile& f : BERTH_TRY(store_.ListBuildContext(ctx, b.id))) {
      items.push_back({{"path", f.path}, {"size", f.size}, {"digest", f.digest}});
    }
    return JsonOk({{"items", items}});
  }

 private:
  metastore::Store& store_;
};

}  // namespace

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  return FormatRfc3339Nano(t);
}

Result<Principal> Authenticate(const Context& ctx, metastore::Store& store,
                               const httpserver::Request& request) {
  std::string header = request.Header("Authorization");
  std::string secret;
  if (EqualsIgnoreCase(header.substr(0, 7), "Bearer ")) {
    secret = std::string(Trim(header.substr(7)));
  } else if (EqualsIgnoreCase(header.substr(0, 6), "Basic ")) {
    Result<std::string> decoded = registry::Base64Decode(Trim(header.substr(6)));
    if (decoded.ok()) {
      bool found = false;
      auto [user, password] = SplitOnce(*decoded, ':', &found);
      if (found) {
        secret = password;
      }
    }
  }
  if (secret.empty()) {
    return Error::Unauthenticated("a token is required (Authorization: Bearer <token>)");
  }
  Result<metastore::Token> token = store.Authenticate(ctx, secret);
  if (!token.ok()) {
    if (token.error().code() == ErrorCode::kUnauthenticated) {
      return Error::Unauthenticated("the token is not valid (unknown, revoked or expired)");
    }
    return std::move(token).error();
  }
  Principal who;
  who.token = *token;
  who.admin = IsAdminToken(ctx, store, *token);
  return who;
}

bool CanUseOrganization(const Principal& who, const std::string& org_id) {
  if (who.admin) {
    return true;
  }
  return who.token.kind != metastore::TokenKind::kProject && who.token.org_id == org_id;
}

httpserver::Response NewTokenResponse(const metastore::NewToken& made) {
  return JsonOk({{"token", ToJson(made.token)}, {"secret", made.secret}}, 201);
}

httpserver::Handler Authed(metastore::Store& store, AuthedAction action) {
  return [&store, action = std::move(action)](const httpserver::Request& r) {
    Context ctx = Context::Background();
    Result<Principal> who = Authenticate(ctx, store, r);
    if (!who.ok()) {
      httpserver::Response out = httpserver::Response::FromError(who.error());
      out.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"berthd\"");
      return out;
    }
    Result<httpserver::Response> out = action(ctx, *who, r);
    return out.ok() ? std::move(out).value() : httpserver::Response::FromError(out.error());
  };
}

Result<metastore::Project> AuthorizeProject(const Context& ctx, metastore::Store& store,
                                            const Principal& who, const std::string& id) {
  Result<metastore::Project> p = store.GetProject(ctx, id);
  bool visible = p.ok() && (who.admin || (who.token.kind == metastore::TokenKind::kProject
                                              ? who.token.project_id == p->id
                                              : who.token.org_id == p->org_id));
  if (!visible) {
    if (!p.ok() && p.error().code() != ErrorCode::kNotFound) {
      return std::move(p).error();
    }
    return Error::NotFound("project " + id + " not found");
  }
  return p;
}

void RegisterApi(httpserver::Server& server, metastore::Store& store) {
  auto api = std::make_shared<Api>(store);
  auto bind = [api](Result<Response> (Api::*method)(const Context&, const Principal&,
                                                    const Request&)) {
    return api->Authed([api, method](const Context& ctx, const Principal& who, const Request& r) {
      return ((*api).*method)(ctx, who, r);
    });
  };
  server.Route("GET", "/healthz",
               [](const Request&) { return Response::Json(200, "{\"status\":\"ok\"}"); });
  server.Route("GET", "/api/v1/whoami", bind(&Api::Whoami));
  server.Route("GET", "/api/v1/orgs", bind(&Api::ListOrgs));
  server.Route("POST", "/api/v1/orgs", bind(&Api::CreateOrg));
  server.Route("GET", "/api/v1/orgs/:org", bind(&Api::GetOrg));
  server.Route("PATCH", "/api/v1/orgs/:org", bind(&Api::UpdateOrg));
  server.Route("DELETE", "/api/v1/orgs/:org", bind(&Api::DeleteOrg));
  server.Route("POST", "/api/v1/orgs/:org/users", bind(&Api::CreateUser));
  server.Route("GET", "/api/v1/projects", bind(&Api::ListProjects));
  server.Route("POST", "/api/v1/projects", bind(&Api::CreateProject));
  server.Route("GET", "/api/v1/projects/:id", bind(&Api::GetProject));
  server.Route("PATCH", "/api/v1/projects/:id", bind(&Api::UpdateProject));
  server.Route("DELETE", "/api/v1/projects/:id", bind(&Api::DeleteProject));
  server.Route("POST", "/api/v1/projects/:id/tokens", bind(&Api::CreateProjectToken));
  server.Route("GET", "/api/v1/projects/:id/builds", bind(&Api::ListBuilds));
  server.Route("POST", "/api/v1/tokens", bind(&Api::CreateToken));
  server.Route("GET", "/api/v1/tokens", bind(&Api::ListTokens));
  server.Route("DELETE", "/api/v1/tokens/:id", bind(&Api::RevokeToken));
  server.Route("GET", "/api/v1/builds/:id", bind(&Api::GetBuild));
  server.Route("GET", "/api/v1/builds/:id/steps", bind(&Api::BuildSteps));
  server.Route("GET", "/api/v1/builds/:id/context", bind(&Api::BuildContext));
}

Result<std::string> Bootstrap(const Context& ctx, metastore::Store& store,
                              const std::string& admin_secret) {
  std::vector<metastore::Organization> orgs = BERTH_TRY(store.ListOrganizations(ctx));
  if (!orgs.empty()) {
    if (!admin_secret.empty() && !store.Authenticate(ctx, admin_secret).ok()) {
      // BERTHD_ADMIN_TOKEN given on a later start: make it valid for the first admin.
      for (const metastore::Organization& org : orgs) {
        for (const metastore::User& u : BERTH_TRY(store.ListUsers(ctx, org.id))) {
          if (u.admin) {
            BERTH_TRY(store.CreateToken(ctx, {.kind = metastore::TokenKind::kUser,
                                              .subject = u.id,
                                              .name = "BERTHD_ADMIN_TOKEN",
                                              .secret = admin_secret}));
            return std::string();
          }
        }
      }
    }
    return std::string();
  }
  metastore::Organization org = BERTH_TRY(store.CreateOrganization(ctx, "default"));
  metastore::User admin = BERTH_TRY(store.CreateUser(ctx, org.id, "admin", true));
  metastore::NewToken token = BERTH_TRY(store.CreateToken(ctx, {.kind = metastore::TokenKind::kUser,
                                                                .subject = admin.id,
                                                                .name = "first admin token",
                                                                .secret = admin_secret}));
  return token.secret;
}

}  // namespace berth::service
