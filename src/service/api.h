// service: berthd's JSON API over the metastore (DESIGN.md, "Service").
//
// Every request except GET /healthz authenticates with a token: `Authorization: Bearer <secret>`
// or HTTP basic auth with user `x-token` and the secret as the password (what registry clients
// send). Who may do what:
//   - an admin user's token: everything, in every organization;
//   - a user token or an organization token: its organization's projects, tokens and builds;
//   - a project token: that one project (its builds; it may revoke itself).
// No or a bad token is 401. Something that exists but is not the caller's answers 404, exactly
// as if it did not exist, so ids of other tenants cannot be probed.
//
// Resources (JSON; lists are {"items":[...]}):
//   GET    /healthz
//   GET    /api/v1/whoami
//   GET    /api/v1/orgs                      POST /api/v1/orgs {"name"}            (admin)
//   GET    /api/v1/orgs/:org                 DELETE /api/v1/orgs/:org              (admin)
//   PATCH  /api/v1/orgs/:org {"build_minutes_cap"}                                 (admin)
//          (organizations show "build_minutes_cap": build minutes per month, 0 = no cap)
//   POST   /api/v1/orgs/:org/users {"name","admin"}                                (admin)
//   GET    /api/v1/projects                  POST /api/v1/projects {"name","org_id","region",
//                                              "cache_cap_bytes","build_retention_days"}
//   GET    /api/v1/projects/:id              DELETE /api/v1/projects/:id
//   PATCH  /api/v1/projects/:id {"name","region","cache_cap_bytes","build_retention_days"}
//          (each optional; not with a project token; retention 1..3650 days, cap >= 0;
//          an unknown field is 400)
//   POST   /api/v1/projects/:id/tokens {"name","expires_in_seconds"}  -> {"token":..,"secret"}
//   POST   /api/v1/tokens {"kind":"user"|"organization","subject","name","expires_in_seconds"}
//   GET    /api/v1/tokens                    DELETE /api/v1/tokens/:id (revoke)
//   GET    /api/v1/projects/:id/builds?limit=&offset=
//   GET    /api/v1/builds/:id                GET /api/v1/builds/:id/steps
//   GET    /api/v1/builds/:id/context        (the context files sent)
//   GET    /api/v1/projects/:id/cache        DELETE /api/v1/projects/:id/cache  (cache_api.h)
//   GET|POST /api/v1/projects/:id/trust-policies, DELETE .../trust-policies/:policy,
//   POST   /api/v1/oidc/token {"project_id","token"}  (OIDC trust, trust_api.h)
//   GET    /api/v1/usage?org=&month=         GET /api/v1/projects/:id/usage?month= (usage_api.h)
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "base/context.h"
#include "base/result.h"
#include "httpserver/server.h"
#include "metastore/store.h"

namespace berth::service {

// Who is calling: the token that authenticated, and whether it acts as an admin.
struct Principal {
  metastore::Token token;
  bool admin = false;
};

// Authenticates the request's token. Unauthenticated (401) when there is none or it does not
// authenticate (unknown, wrong, revoked, expired).
Result<Principal> Authenticate(const Context& ctx, metastore::Store& store,
                               const httpserver::Request& request);

// The project `id` if `who` may use it; NotFound (the same answer as for a missing project)
// otherwise.
Result<metastore::Project> AuthorizeProject(const Context& ctx, metastore::Store& store,
                                            const Principal& who, const std::string& id);

// What an authenticated endpoint does: its answer, or an error that becomes the JSON error
// document with the error's status.
using AuthedAction = std::function<Result<httpserver::Response>(const Context&, const Principal&,
                                                                const httpserver::Request&)>;
// The handler of every authenticated endpoint: a caller without a valid token gets 401 with
// `WWW-Authenticate: Bearer realm="berthd"`; the others reach `action`.
httpserver::Handler Authed(metastore::Store& store, AuthedAction action);

// Whether `who` may act on organization `org_id` (admins everywhere, user and org tokens in
// their own organization; project tokens never).
bool CanUseOrganization(const Principal& who, const std::string& org_id);

// `t` as the API writes times: RFC 3339 in UTC with nanoseconds, "2026-11-27T08:41:03.000000001Z".
std::string Rfc3339(std::chrono::system_clock::time_point t);

// The answer of an endpoint that made a token: 201 {"token": {...}, "secret": "..."}.
httpserver::Response NewTokenResponse(const metastore::NewToken& made);

// Registers every route above on `server`. `store` must outlive the server.
void RegisterApi(httpserver::Server& server, metastore::Store& store);

// First start: when no organization exists, creates organization "default" with an admin user
// "admin" and a token for it. The token's secret is `admin_secret` (BERTHD_ADMIN_TOKEN) when
// given, else a new one. Returns the secret when a token was made ("" when the store already
// had an organization).
Result<std::string> Bootstrap(const Context& ctx, metastore::Store& store,
                              const std::string& admin_secret);

}  // namespace berth::service
