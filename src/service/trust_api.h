// berthd's OIDC trust endpoints (docs/decisions/0009-oidc-trust.md): a project's trust policies,
// and the exchange of a CI job's OIDC ID token for a short-lived project token.
//
//   GET    /api/v1/projects/:id/trust-policies
//          -> {"items": [{"id","project_id","provider","issuer","audience","conditions",
//                         "created_at"}]}  (oldest first)
//   POST   /api/v1/projects/:id/trust-policies
//          {"provider": "github"|"circleci"|"buildkite"|"generic", "issuer"?, "audience"?,
//           "conditions": {"<claim>": "<value>", ...}}  -> 201 and the policy
//          (oidc/policy.h: each provider's issuer, audience and required conditions; the default
//          audience is "berthd")
//   DELETE /api/v1/projects/:id/trust-policies/:policy
//   POST   /api/v1/oidc/token {"project_id", "token": "<OIDC ID token>"}   (no berthd token)
//          -> 201 {"token": {...}, "secret": "..."} as POST /api/v1/projects/:id/tokens answers:
//             a project token named "oidc:<policy-id>" that expires at the ID token's exp or in
//             an hour, whichever is first.
//
// Listing is authorised like every project endpoint (api.h); creating and deleting need a token
// that may use the project's organization (user, organization, admin): a project token gets 404
// as for a missing project. The exchange tries the project's policies whose issuer is the
// token's: signature (RS256/ES256 against the issuer's JWKS), audience, expiry, conditions. Any
// failure is 401 naming the check that failed, the same whether the project exists or not, and
// never showing a policy's expected values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "httpserver/server.h"
#include "metastore/store.h"

namespace berth::oidc {
class KeySource;
}

namespace berth::service {

struct TrustApiOptions {
  // Whether policies may name plain-http issuers on loopback (tests with a local issuer).
  bool allow_http_loopback = false;
  // Unix seconds; the system clock when empty.
  std::function<int64_t()> now;
};

// Registers the routes above. `store` must outlive the server; `keys` fetches issuers' keys.
void RegisterTrustApi(httpserver::Server& server, metastore::Store& store,
                      std::shared_ptr<oidc::KeySource> keys, TrustApiOptions options = {});

}  // namespace berth::service
