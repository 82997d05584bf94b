#include "service/trust_api.h"

#include <chrono>
#include <ctime>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "oidc/jwt.h"
#include "oidc/policy.h"
#include "oidc/verifier.h"
#include "service/api.h"
#include "service/json_util.h"

namespace berth::service {
namespace {

using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;

// A minted token lives at most this long (less when the ID token expires first).
constexpr std::chrono::seconds kMaxMintedLifetime{3600};

json ToJson(const metastore::TrustPolicy& p) {
  json conditions = json::object();
  for (const auto& [claim, value] : p.conditions) {
    conditions[claim] = value;
  }
  return {{"id", p.id},
          {"project_id", p.project_id},
          {"provider", p.provider},
          {"issuer", p.issuer},
          {"audience", p.audience},
          {"conditions", conditions},
          {"created_at", Rfc3339(p.created_at)}};
}

class TrustApi {
 public:
  TrustApi(metastore::Store& store, std::shared_ptr<oidc::KeySource> keys, TrustApiOptions options)
      : store_(store), keys_(std::move(keys)), options_(std::move(options)) {}

  int64_t Now() const { return options_.now ? options_.now() : std::time(nullptr); }

  Result<Response> List(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    json items = json::array();
    for (const metastore::TrustPolicy& policy : BERTH_TRY(store_.ListTrustPolicies(ctx, p.id))) {
      items.push_back(ToJson(policy));
    }
    return JsonOk({{"items", items}});
  }

  // The project, if `who` may change its policies; NotFound as for a missing project otherwise.
  Result<metastore::Project> Manageable(const Context& ctx, const Principal& who,
                                        const std::string& id) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, id));
    if (!CanUseOrganization(who, p.org_id)) {
      return Error::NotFound("project " + id + " not found");
    }
    return p;
  }

  Result<Response> Create(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(Manageable(ctx, who, r.params.at("id")));
    json body = BERTH_TRY(JsonBody(r));
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (it.key() != "provider" && it.key() != "issuer" && it.key() != "audience" &&
          it.key() != "conditions") {
        return Error::InvalidArgument("field " + QuoteString(it.key().substr(0, 64)) +
                                      " is unknown (want provider, issuer, audience, conditions)");
      }
    }
    oidc::PolicySpec spec;
    spec.provider = BERTH_TRY(StringField(body, "provider", true));
    spec.issuer = BERTH_TRY(StringField(body, "issuer", false));
    spec.audience = BERTH_TRY(StringField(body, "audience", false));
    if (auto it = body.find("conditions"); it != body.end() && !it->is_null()) {
      if (!it->is_object()) {
        return Error::InvalidArgument(
            "field \"conditions\": want an object of claim names to values");
      }
      for (auto c = it->begin(); c != it->end(); ++c) {
        if (!c->is_string()) {
          return Error::InvalidArgument("field \"conditions." + c.key().substr(0, 64) +
                                        "\": want a string");
        }
        spec.conditions[c.key()] = c->get<std::string>();
      }
    }
    spec = BERTH_TRY(oidc::Normalize(std::move(spec), options_.allow_http_loopback));
    metastore::TrustPolicy made =
        BERTH_TRY(store_.CreateTrustPolicy(ctx, {.project_id = p.id,
                                                 .provider = spec.provider,
                                                 .issuer = spec.issuer,
                                                 .audience = spec.audience,
                                                 .conditions = spec.conditions}));
    return JsonOk(ToJson(made), 201);
  }

  Result<Response> Delete(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(Manageable(ctx, who, r.params.at("id")));
    BERTH_TRY(store_.DeleteTrustPolicy(ctx, p.id, r.params.at("policy")));
    return JsonOk(json::object());
  }

  Response Exchange(const Request& r) {
    Context ctx = Context::Background().WithTimeout(std::chrono::seconds(30));
    Result<Response> out = DoExchange(ctx, r);
    return out.ok() ? std::move(out).value() : Response::FromError(out.error());
  }

  Result<Response> DoExchange(const Context& ctx, const Request& r) {
    json body = BERTH_TRY(JsonBody(r));
    std::string project_id = BERTH_TRY(StringField(body, "project_id", true));
    std::string token = BERTH_TRY(StringField(body, "token", true));
    // Unverified: only to pick the policies to try.
    oidc::Jwt unverified = BERTH_TRY(oidc::ParseJwt(token));
    std::string issuer = unverified.claims.issuer;
    // The same answer for a missing project and one without a policy for the issuer.
    Error none = Error::Unauthenticated(
        "oidc token: project " + QuoteString(project_id.substr(0, 64)) +
        " has no trust policy for issuer " + QuoteString(issuer.substr(0, 200)));
    Result<std::vector<metastore::TrustPolicy>> policies =
        store_.ListTrustPolicies(ctx, project_id);
    if (!policies.ok()) {
      if (policies.error().code() == ErrorCode::kNotFound) {
        return none;
      }
      return std::move(policies).error();
    }
    int64_t now = Now();
    std::optional<Error> first_failure;
    for (const metastore::TrustPolicy& policy : *policies) {
      if (policy.issuer != issuer) {
        continue;
      }
      Result<oidc::Jwt> jwt = oidc::Verify(
          ctx, *keys_, token, {.issuer = policy.issuer, .audience = policy.audience, .now = now});
      Result<> matched =
          jwt.ok() ? oidc::MatchConditions(jwt->claims, policy.conditions) : Result<>(jwt.error());
      if (!matched.ok()) {
        if (matched.error().code() != ErrorCode::kUnauthenticated) {
          return std::move(matched).error();  // The issuer cannot be reached: 503.
        }
        if (!first_failure) {
          first_failure = matched.error();
        }
        continue;
      }
      return Mint(ctx, project_id, policy, *jwt->claims.expires_at, now);
    }
    if (first_failure) {
      return *first_failure;
    }
    return none;
  }

  Result<Response> Mint(const Context& ctx, const std::string& project_id,
                        const metastore::TrustPolicy& policy, int64_t token_exp, int64_t now) {
    auto clock_now = std::chrono::system_clock::now();
    auto expires = std::min(clock_now + kMaxMintedLifetime,
                            std::chrono::system_clock::time_point(std::chrono::seconds(token_exp)));
    if (expires <= clock_now + std::chrono::seconds(1)) {
      return Error::Unauthenticated("oidc token: expired at " + std::to_string(token_exp) +
                                    " (now " + std::to_string(now) + ")");
    }
    metastore::NewToken made =
        BERTH_TRY(store_.CreateToken(ctx, {.kind = metastore::TokenKind::kProject,
                                           .subject = project_id,
                                           .name = "oidc:" + policy.id,
                                           .expires_at = expires}));
    return NewTokenResponse(made);
  }

 private:
  metastore::Store& store_;
  std::shared_ptr<oidc::KeySource> keys_;
  TrustApiOptions options_;
};

}  // namespace

void RegisterTrustApi(httpserver::Server& server, metastore::Store& store,
                      std::shared_ptr<oidc::KeySource> keys, TrustApiOptions options) {
  auto api = std::make_shared<TrustApi>(store, std::move(keys), std::move(options));
  auto bind = [api, &store](Result<Response> (TrustApi::*method)(const Context&, const Principal&,
                                                                 const Request&)) {
    return Authed(store, [api, method](const Context& ctx, const Principal& who, const Request& r) {
      return ((*api).*method)(ctx, who, r);
    });
  };
  server.Route("GET", "/api/v1/projects/:id/trust-policies", bind(&TrustApi::List));
  server.Route("POST", "/api/v1/projects/:id/trust-policies", bind(&TrustApi::Create));
  server.Route("DELETE", "/api/v1/projects/:id/trust-policies/:policy", bind(&TrustApi::Delete));
  server.Route("POST", "/api/v1/oidc/token", [api](const Request& r) { return api->Exchange(r); });
}

}  // namespace berth::service
