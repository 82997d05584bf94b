#include "cmd/berth/trust_policy.h"

#include <memory>

#include <CLI/CLI.hpp>

#include "base/strings.h"
#include "cmd/berth/remote_common.h"

namespace berth::cmd {
namespace {

// "a/b" as {"a", "b"}; InvalidArgument naming the flag unless both parts are there.
Result<std::pair<std::string, std::string>> TwoParts(const std::string& flag,
                                                     const std::string& value,
                                                     const std::string& want) {
  bool found = false;
  auto [a, b] = SplitOnce(value, '/', &found);
  if (!found || a.empty() || b.empty() || b.find('/') != std::string::npos) {
    return Error::InvalidArgument(flag + " " + QuoteString(value) + ": want " + want);
  }
  return std::make_pair(a, b);
}

Rows PolicyRows(const std::vector<client::TrustPolicy>& policies) {
  Rows rows;
  rows.csv_header = {"id", "provider", "issuer", "audience", "conditions", "created_at"};
  rows.table_header = {"ID", "PROVIDER", "ISSUER", "AUDIENCE", "CONDITIONS", "CREATED"};
  for (const client::TrustPolicy& p : policies) {
    std::vector<std::string> conditions;
    for (const auto& [claim, value] : p.conditions) {
      conditions.push_back(claim + "=" + value);
    }
    std::string joined = StrJoin(conditions, " ");
    rows.csv.push_back({p.id, p.provider, p.issuer, p.audience, joined, p.created_at});
    rows.table.push_back({p.id, p.provider, p.issuer, p.audience, joined, HumanTime(p.created_at)});
    rows.objects.push_back(p.json);
  }
  return rows;
}

struct Args {
  std::string project;
  std::string policy;
  TrustPolicyFlags add;
};

Result<> Add(const RemoteFlags& flags, const Args& args, int& exit_code) {
  Result<client::TrustPolicySpec> spec = TrustPolicySpecFrom(args.add);
  if (!spec.ok()) {
    return Usage(exit_code, std::move(spec).error());
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  client::TrustPolicy p =
      BERTH_TRY(c->CreateTrustPolicy(Context::Background(), args.project, *spec));
  Print(ChooseFormat(flags.output), PolicyRows({p}), true);
  return {};
}

Result<> List(const RemoteFlags& flags, const Args& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  std::vector<client::TrustPolicy> policies =
      BERTH_TRY(c->ListTrustPolicies(Context::Background(), args.project));
  Print(ChooseFormat(flags.output), PolicyRows(policies), false);
  return {};
}

Result<> Remove(const RemoteFlags& flags, const Args& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  BERTH_TRY(c->DeleteTrustPolicy(Context::Background(), args.project, args.policy));
  std::printf("%s\n", args.policy.c_str());
  return {};
}

}  // namespace

Result<client::TrustPolicySpec> TrustPolicySpecFrom(const TrustPolicyFlags& f) {
  int chosen = !f.github.empty() + !f.circleci.empty() + !f.buildkite.empty() + !f.issuer.empty();
  if (chosen != 1) {
    return Error::InvalidArgument(
        "want exactly one of --github, --circleci, --buildkite and --issuer");
  }
  client::TrustPolicySpec spec;
  spec.audience = f.audience;
  for (const std::string& claim : f.claims) {
    bool found = false;
    auto [k, v] = SplitOnce(claim, '=', &found);
    if (!found || k.empty() || v.empty()) {
      return Error::InvalidArgument("--claim " + QuoteString(claim) + ": want CLAIM=VALUE");
    }
    spec.conditions[k] = v;
  }
  if (!f.github.empty()) {
    auto [owner, repo] = BERTH_TRY(TwoParts("--github", f.github, "OWNER/REPO"));
    spec.provider = "github";
    spec.conditions["repository_owner"] = owner;
    spec.conditions["repository"] = owner + "/" + repo;
  } else if (!f.circleci.empty()) {
    auto [org, project] = BERTH_TRY(TwoParts("--circleci", f.circleci, "ORG_ID/PROJECT_ID"));
    spec.provider = "circleci";
    spec.issuer = "https://oidc.circleci.com/org/" + org;
    spec.conditions["oidc.circleci.com/project-id"] = project;
  } else if (!f.buildkite.empty()) {
    auto [org, pipeline] = BERTH_TRY(TwoParts("--buildkite", f.buildkite, "ORG/PIPELINE"));
    spec.provider = "buildkite";
    spec.conditions["organization_slug"] = org;
    spec.conditions["pipeline_slug"] = pipeline;
  } else {
    spec.provider = "generic";
    spec.issuer = f.issuer;
  }
  return spec;
}

void RegisterTrustPolicyCommands(CLI::App& app, int& exit_code) {
  CLI::App* projects = app.get_subcommand("projects");
  auto flags = std::make_shared<RemoteFlags>();
  auto args = std::make_shared<Args>();
  auto* trust = projects->add_subcommand(
      "trust-policy", "Manage the OIDC trust policies that let CI jobs reach a project");
  trust->require_subcommand(1);

  auto* add = trust->add_subcommand(
      "add", "Trust a CI provider's OIDC tokens that meet conditions (one provider flag)");
  add->add_option("PROJECT", args->project, "Project id")->required();
  add->add_option("--github", args->add.github, "GitHub Actions: OWNER/REPO");
  add->add_option("--circleci", args->add.circleci, "CircleCI: ORG_ID/PROJECT_ID");
  add->add_option("--buildkite", args->add.buildkite, "Buildkite: ORG/PIPELINE");
  add->add_option("--issuer", args->add.issuer, "Any other OIDC issuer URL (with --claim)");
  add->add_option("--audience", args->add.audience,
                  "Audience the tokens must carry (default: berthd; CircleCI: the org id)");
  add->add_option("--claim", args->add.claims, "Claim condition CLAIM=VALUE (repeatable)");
  AddServerFlags(add, *flags);
  AddOutputFlag(add, *flags);
  add->callback([flags, args, &exit_code] {
    Report(exit_code, [&] { return Add(*flags, *args, exit_code); });
  });

  auto* ls = trust->add_subcommand("ls", "List a project's trust policies");
  ls->alias("list");
  ls->add_option("PROJECT", args->project, "Project id")->required();
  AddServerFlags(ls, *flags);
  AddOutputFlag(ls, *flags);
  ls->callback([flags, args, &exit_code] {
    Report(exit_code, [&] { return List(*flags, *args, exit_code); });
  });

  auto* rm = trust->add_subcommand("rm", "Remove a trust policy");
  rm->alias("delete");
  rm->add_option("PROJECT", args->project, "Project id")->required();
  rm->add_option("POLICY", args->policy, "Policy id (tp_...)")->required();
  AddServerFlags(rm, *flags);
  rm->callback([flags, args, &exit_code] {
    Report(exit_code, [&] { return Remove(*flags, *args, exit_code); });
  });
}

}  // namespace berth::cmd
