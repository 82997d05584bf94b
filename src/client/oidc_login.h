// oidc_login: a CI job's OIDC ID token in place of a berthd token
// (docs/decisions/0009-oidc-trust.md).
//
// A command that works in one project (build, bake, pull, push, image ls) and finds no berthd
// token for its host (settings.h: no --token, no BERTH_TOKEN, no login) looks for an ID token,
// highest first:
//   1. BERTH_OIDC_TOKEN: the ID token itself (any provider: Buildkite, CircleCI, GitLab, ...);
//   2. GitHub Actions: in a job with `permissions: id-token: write` GitHub sets
//      ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN; a GET of the URL with
//      `audience=AUD` added, the request token as a bearer credential, answers {"value":"<jwt>"}.
//      AUD is BERTH_OIDC_AUDIENCE, else "berthd" (the trust policies' default).
// and trades it for a short-lived token of the project (POST /api/v1/oidc/token). An explicit
// berthd token always wins: the ID token is never looked at then.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/context.h"
#include "base/result.h"
#include "client/settings.h"

namespace berth::client {

// The audience asked of GitHub when BERTH_OIDC_AUDIENCE is not set.
inline constexpr const char* kDefaultOidcAudience = "berthd";

// Where an ID token is to be had.
struct OidcSource {
  // For messages: "BERTH_OIDC_TOKEN" or "GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL)".
  std::string name;
  std::string id_token;       // BERTH_OIDC_TOKEN's value; "" for GitHub
  std::string request_url;    // GitHub: the request URL with the audience added
  std::string request_token;  // GitHub: the bearer credential of that request
};

// The source the environment offers, in the order above; nullopt when none (GitHub's needs
// both variables).
std::optional<OidcSource> FindOidcSource(const Getenv& env);

// GitHub's request URL with `audience` added as a query parameter (percent-encoded): after "&"
// when the URL already has a query, else after "?".
std::string GithubIdTokenUrl(std::string_view request_url, std::string_view audience);

// The ID token: BERTH_OIDC_TOKEN's value, or GitHub's answer's "value" (one GET, bounded to
// 10 s). Errors name the source: Unavailable when the endpoint cannot be reached, Unauthenticated
// for a non-2xx answer, Internal for an answer without a "value".
Result<std::string> FetchIdToken(const Context& ctx, const OidcSource& source);

// Server and token for a command in project `project_id`: ResolveServer's answer when it finds
// a token; when it finds none for the host (or has no login file to look in) and an ID token is
// available, a token of `project_id` exchanged for it (token_source "OIDC (<source>)").
// Errors: ResolveServer's when there is no ID token either (and always for a bad host or login
// file); FailedPrecondition when an ID token is available but `project_id` is empty; else those
// of getting and exchanging the ID token, as "exchanging the OIDC token from <source> for
// project <id>: <reason>" with code Unauthenticated (refused: the server's reason) or
// Unavailable (unreachable) — never InvalidArgument or FailedPrecondition, which callers treat
// as a usage error.
Result<Server> ResolveServerForProject(const Context& ctx, const ServerFlags& flags,
                                       const Getenv& env, const std::string& project_id);

}  // namespace berth::client
