// oidc: trust policies. A project trusts the tokens of one CI provider's issuer whose claims meet
// the policy's conditions (each named claim equals its value, compared as text: jwt.h's
// Claims::values). The providers berth knows fill in their issuer and say which conditions a
// policy must have, so that a policy can never trust every job of a shared issuer:
//
//   github     issuer https://token.actions.githubusercontent.com; needs "repository"
//              ("owner/repo") or "repository_owner"
//   circleci   issuer https://oidc.circleci.com/org/<org-id> (given); audience: the org id,
//              as CircleCI sets it; needs "oidc.circleci.com/project-id"
//   buildkite  issuer https://agent.buildkite.com; needs "organization_slug"
//   generic    any issuer (given) with at least one condition
//
// The audience a token must carry is kDefaultAudience unless the policy names another (for
// circleci: the org id). A policy may name its own issuer for any provider (GitHub Enterprise
// Server, or a test's local issuer).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "oidc/jwt.h"

namespace berth::oidc {

inline constexpr std::string_view kDefaultAudience = "berthd";
inline constexpr std::string_view kGithubIssuer = "https://token.actions.githubusercontent.com";
inline constexpr std::string_view kCircleciIssuerPrefix = "https://oidc.circleci.com/org/";
inline constexpr std::string_view kBuildkiteIssuer = "https://agent.buildkite.com";

// At most this many conditions; claim names and values at most kMaxConditionBytes.
inline constexpr size_t kMaxConditions = 32;
inline constexpr size_t kMaxConditionBytes = 512;

struct PolicySpec {
  std::string provider;  // "github", "circleci", "buildkite", "generic"
  std::string issuer;    // "" = the provider's
  std::string audience;  // "" = the provider's default
  std::map<std::string, std::string> conditions;
};

// The spec with the provider's defaults filled in, or InvalidArgument naming the field
// ("provider", "issuer", "audience", "conditions" or "conditions.<claim>") and what is wrong.
Result<PolicySpec> Normalize(PolicySpec spec, bool allow_http_loopback);

// Whether every condition holds. Unauthenticated naming the first claim that is missing or
// differs (never the expected value: the caller of the exchange has no right to see it).
Result<> MatchConditions(const Claims& claims,
                         const std::map<std::string, std::string>& conditions);

}  // namespace berth::oidc
