// berth projects trust-policy add|ls|rm: a project's OIDC trust policies on berthd
// (service/trust_api.h, docs/decisions/0009-oidc-trust.md).
//
//   berth projects trust-policy add PROJECT (--github OWNER/REPO | --circleci ORG_ID/PROJECT_ID |
//       --buildkite ORG/PIPELINE | --issuer URL [--audience A] [--claim k=v ...])
//   berth projects trust-policy ls PROJECT [--output table|json|csv]
//   berth projects trust-policy rm PROJECT POLICY
#pragma once

#include <map>
#include <string>

#include "base/result.h"
#include "client/client.h"

namespace CLI {
class App;
}  // namespace CLI

namespace berth::cmd {

// Adds the commands above under `app`'s "projects" command (RegisterRemoteCommands first).
void RegisterTrustPolicyCommands(CLI::App& app, int& exit_code);

// What `add`'s flags ask for. InvalidArgument naming the flag when they say too little or too
// much (exactly one of --github, --circleci, --buildkite, --issuer).
struct TrustPolicyFlags {
  std::string github;     // OWNER/REPO
  std::string circleci;   // ORG_ID/PROJECT_ID
  std::string buildkite;  // ORG/PIPELINE
  std::string issuer;
  std::string audience;
  std::vector<std::string> claims;  // k=v
};
Result<client::TrustPolicySpec> TrustPolicySpecFrom(const TrustPolicyFlags& flags);

}  // namespace berth::cmd
