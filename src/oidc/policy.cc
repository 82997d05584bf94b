#include "oidc/policy.h"

#include "base/strings.h"
#include "oidc/verifier.h"

namespace berth::oidc {
namespace {

Error Field(const std::string& field, const std::string& why) {
  return Error::InvalidArgument("field \"" + field + "\": " + why);
}

bool IsText(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

Result<> Require(const PolicySpec& spec, std::initializer_list<const char*> any_of) {
  for (const char* claim : any_of) {
    if (spec.conditions.count(claim) != 0) {
      return {};
    }
  }
  std::vector<std::string> names;
  for (const char* claim : any_of) {
    names.push_back(QuoteString(claim));
  }
  return Field("conditions", "a " + spec.provider + " policy needs a condition on " +
                                 StrJoin(names, " or ") + " (the issuer is shared by every " +
                                 spec.provider + " user)");
}

}  // namespace

Result<PolicySpec> Normalize(PolicySpec spec, bool allow_http_loopback) {
  if (spec.conditions.size() > kMaxConditions) {
    return Field("conditions", "more than " + std::to_string(kMaxConditions) + " conditions");
  }
  for (const auto& [claim, value] : spec.conditions) {
    if (claim.empty() || claim.size() > kMaxConditionBytes || !IsText(claim)) {
      return Field("conditions", "claim names must be 1 to " + std::to_string(kMaxConditionBytes) +
                                     " bytes without control characters");
    }
    if (value.empty() || value.size() > kMaxConditionBytes || !IsText(value)) {
      return Field("conditions." + claim, "want a value of 1 to " +
                                              std::to_string(kMaxConditionBytes) +
                                              " bytes without control characters");
    }
    if (claim == "iss" || claim == "aud" || claim == "exp" || claim == "nbf" || claim == "iat") {
      return Field("conditions." + claim,
                   "is checked by the policy itself (issuer, audience) or by time");
    }
  }
  if (spec.audience.size() > kMaxConditionBytes || !IsText(spec.audience)) {
    return Field("audience", "too long or holds control characters");
  }
  if (spec.provider == "github") {
    if (spec.issuer.empty()) {
      spec.issuer = std::string(kGithubIssuer);
    }
    BERTH_TRY(Require(spec, {"repository", "repository_owner"}));
    if (auto it = spec.conditions.find("repository");
        it != spec.conditions.end() && it->second.find('/') == std::string::npos) {
      return Field("conditions.repository", "want \"owner/repo\"");
    }
  } else if (spec.provider == "circleci") {
    if (spec.issuer.empty()) {
      return Field("issuer",
                   "a circleci policy needs " + std::string(kCircleciIssuerPrefix) + "<org-id>");
    }
    if (spec.audience.empty() && spec.issuer.starts_with(kCircleciIssuerPrefix)) {
      // CircleCI's tokens carry the organization id as their audience.
      spec.audience = spec.issuer.substr(kCircleciIssuerPrefix.size());
    }
    BERTH_TRY(Require(spec, {"oidc.circleci.com/project-id"}));
  } else if (spec.provider == "buildkite") {
    if (spec.issuer.empty()) {
      spec.issuer = std::string(kBuildkiteIssuer);
    }
    BERTH_TRY(Require(spec, {"organization_slug", "organization_id"}));
  } else if (spec.provider == "generic") {
    if (spec.issuer.empty()) {
      return Field("issuer", "a generic policy needs the issuer's URL");
    }
    if (spec.conditions.empty()) {
      return Field("conditions", "a generic policy needs at least one claim condition");
    }
  } else {
    return Field("provider", "want github, circleci, buildkite or generic, not " +
                                 QuoteString(spec.provider.substr(0, 64)));
  }
  if (Result<> ok = CheckIssuerUrl(spec.issuer, allow_http_loopback); !ok.ok()) {
    return Field("issuer", ok.error().message());
  }
  if (spec.audience.empty()) {
    spec.audience = std::string(kDefaultAudience);
  }
  return spec;
}

Result<> MatchConditions(const Claims& claims,
                         const std::map<std::string, std::string>& conditions) {
  for (const auto& [claim, value] : conditions) {
    auto it = claims.values.find(claim);
    if (it == claims.values.end()) {
      return Error::Unauthenticated("oidc token: claim " + QuoteString(claim) +
                                    " is missing (the trust policy has a condition on it)");
    }
    if (it->second != value) {
      return Error::Unauthenticated("oidc token: claim " + QuoteString(claim) + " is " +
                                    QuoteString(it->second.substr(0, 200)) +
                                    ", which the trust policy does not accept");
    }
  }
  return {};
}

}  // namespace berth::oidc
