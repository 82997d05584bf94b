#include "cmd/berth/usage.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "client/client.h"
#include "cmd/berth/flags.h"
#include "cmd/berth/remote.h"
#include "cmd/berth/remote_common.h"

namespace berth::cmd {
namespace {

struct UsageArgs {
  std::string project;
  std::string org;
  std::string month;
};

struct OrgArgs {
  std::string org;
  std::optional<int64_t> build_minutes_cap;
};

struct ProjectUpdateArgs {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> region;
  std::optional<std::string> cache_cap;
  std::optional<int64_t> retention_days;
};

// "YYYY-MM", checked here so that a typo is a usage error (exit 2) before any request.
Result<> CheckMonth(const std::string& month) {
  bool ok = month.size() == 7 && month[4] == '-';
  for (size_t i = 0; ok && i < month.size(); ++i) {
    ok = i == 4 || (month[i] >= '0' && month[i] <= '9');
  }
  if (ok) {
    int m = std::stoi(month.substr(5));
    ok = m >= 1 && m <= 12 && month.substr(0, 4) >= "1970";
  }
  if (!ok) {
    return Error::InvalidArgument("--month " + month + ": want YYYY-MM, e.g. 2026-11");
  }
  return {};
}

// The id of the organization `org` names by id or by name among those the caller sees;
// `org` itself when none matches (the server then answers that it was not found).
Result<std::string> ResolveOrg(const Context& ctx, client::Client& c, const std::string& org) {
  for (const client::Organization& o : BERTH_TRY(c.ListOrganizations(ctx))) {
    if (o.id == org || o.name == org) {
      return o.id;
    }
  }
  return org;
}

std::string Minutes(double minutes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", minutes);
  return buf;
}

Rows ProjectUsageRows(const std::vector<client::ProjectUsage>& usage) {
  Rows rows;
  rows.csv_header = {"project_id",    "name",          "month",      "builds",
                     "build_minutes", "build_seconds", "cache_bytes"};
  rows.table_header = {"PROJECT", "NAME", "BUILDS", "BUILD MINUTES", "CACHE"};
  for (const client::ProjectUsage& u : usage) {
    rows.csv.push_back({u.project_id, u.name, u.month, std::to_string(u.builds),
                        Minutes(u.build_minutes), std::to_string(u.build_seconds),
                        std::to_string(u.cache_bytes)});
    rows.table.push_back({u.project_id, u.name, std::to_string(u.builds), Minutes(u.build_minutes),
                          u.cache_bytes == 0 ? "0" : HumanBytes(u.cache_bytes)});
    rows.objects.push_back(u.json);
  }
  return rows;
}

Rows OrgRows(const std::vector<client::Organization>& orgs) {
  Rows rows;
  rows.csv_header = {"id", "name", "build_minutes_cap", "created"};
  rows.table_header = {"ID", "NAME", "BUILD MINUTES CAP", "CREATED"};
  for (const client::Organization& o : orgs) {
    rows.csv.push_back({o.id, o.name, std::to_string(o.build_minutes_cap), o.created_at});
    rows.table.push_back(
        {o.id, o.name,
         o.build_minutes_cap == 0 ? std::string("-") : std::to_string(o.build_minutes_cap),
         HumanTime(o.created_at)});
    rows.objects.push_back(o.json);
  }
  return rows;
}

void PrintProjectUsage(Format format, const client::ProjectUsage& u) {
  Print(format, ProjectUsageRows({u}), true);
}

Result<> ShowUsage(const RemoteFlags& flags, const UsageArgs& args, int& exit_code) {
  if (!args.month.empty()) {
    if (Result<> ok = CheckMonth(args.month); !ok.ok()) {
      return Usage(exit_code, std::move(ok).error());
    }
  }
  if (!args.project.empty() && !args.org.empty()) {
    return Usage(exit_code, Error::InvalidArgument("--project and --org: pass one of them"));
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Context ctx = Context::Background();
  Format format = ChooseFormat(flags.output);
  if (!args.project.empty()) {
    PrintProjectUsage(format, BERTH_TRY(c->GetProjectUsage(ctx, args.project, args.month)));
    return {};
  }
  std::string org;
  if (!args.org.empty()) {
    org = BERTH_TRY(ResolveOrg(ctx, *c, args.org));
  }
  Result<client::Usage> usage = c->GetUsage(ctx, org, args.month);
  if (!usage.ok() && usage.error().code() == ErrorCode::kPermissionDenied && org.empty()) {
    // A project token sees only its project's usage.
    client::Whoami me = BERTH_TRY(c->GetWhoami(ctx));
    if (!me.token.project_id.empty()) {
      PrintProjectUsage(format,
                        BERTH_TRY(c->GetProjectUsage(ctx, me.token.project_id, args.month)));
      return {};
    }
  }
  client::Usage u = BERTH_TRY(std::move(usage));
  if (format == Format::kTable) {
    std::string cap = u.build_minutes_cap == 0
                          ? std::string("no cap")
                          : "cap " + std::to_string(u.build_minutes_cap) + " build minutes";
    std::printf("organization %s (%s), %s: %lld builds, %s build minutes (%s), cache %s\n\n",
                u.org_name.c_str(), u.org_id.c_str(), u.month.c_str(),
                static_cast<long long>(u.builds), Minutes(u.build_minutes).c_str(), cap.c_str(),
                u.cache_bytes == 0 ? "0" : HumanBytes(u.cache_bytes).c_str());
    Print(format, ProjectUsageRows(u.projects), false);
    return {};
  }
  if (format == Format::kJson) {
    std::printf("%s\n", u.json.c_str());
    return {};
  }
  Print(format, ProjectUsageRows(u.projects), false);
  return {};
}

Result<> OrgsList(const RemoteFlags& flags, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Print(ChooseFormat(flags.output), OrgRows(BERTH_TRY(c->ListOrganizations(Context::Background()))),
        false);
  return {};
}

Result<> OrgsGet(const RemoteFlags& flags, const OrgArgs& args, int& exit_code) {
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Context ctx = Context::Background();
  std::string id = BERTH_TRY(ResolveOrg(ctx, *c, args.org));
  Print(ChooseFormat(flags.output), OrgRows({BERTH_TRY(c->GetOrganization(ctx, id))}), true);
  return {};
}

Result<> OrgsUpdate(const RemoteFlags& flags, const OrgArgs& args, int& exit_code) {
  if (!args.build_minutes_cap) {
    return Usage(exit_code,
                 Error::InvalidArgument("nothing to change: pass --build-minutes-cap N"));
  }
  if (*args.build_minutes_cap < 0) {
    return Usage(exit_code, Error::InvalidArgument("--build-minutes-cap " +
                                                   std::to_string(*args.build_minutes_cap) +
                                                   ": want 0 (no cap) or more minutes"));
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  Context ctx = Context::Background();
  std::string id = BERTH_TRY(ResolveOrg(ctx, *c, args.org));
  client::Organization org = BERTH_TRY(c->SetBuildMinutesCap(ctx, id, *args.build_minutes_cap));
  Print(ChooseFormat(flags.output), OrgRows({org}), true);
  return {};
}

Result<> ProjectsUpdate(const RemoteFlags& flags, const ProjectUpdateArgs& args, int& exit_code) {
  client::ProjectUpdate update;
  update.name = args.name;
  update.region = args.region;
  update.build_retention_days = args.retention_days;
  if (args.cache_cap) {
    Result<int64_t> cap = ParseByteSize("--cache-cap", *args.cache_cap);
    if (!cap.ok()) {
      return Usage(exit_code, std::move(cap).error());
    }
    update.cache_cap_bytes = *cap;
  }
  if (!update.name && !update.region && !update.cache_cap_bytes && !update.build_retention_days) {
    return Usage(exit_code,
                 Error::InvalidArgument("nothing to change: pass --name, --region, --cache-cap or "
                                        "--retention-days"));
  }
  std::unique_ptr<client::Client> c = BERTH_TRY(Connect(flags, exit_code));
  client::Project p = BERTH_TRY(c->UpdateProject(Context::Background(), args.id, update));
  Print(ChooseFormat(flags.output), ProjectRows({p}), true);
  return {};
}

}  // namespace

// clang-format off
void RegisterUsageCommands(CLI::App& app, int& exit_code) {
  // Owned by the callbacks: they run inside app.parse(), while `app` holds them.
  auto flags = std::make_shared<RemoteFlags>();

  auto usage_args = std::make_shared<UsageArgs>();
  auto* usage = app.add_subcommand("usage", "Show build minutes, builds and cache size per project for a month (berthd)");
  usage->add_option("--project", usage_args->project, "One project's usage (its id)");
  usage->add_option("--org", usage_args->org, "An organization's usage, by id or name (default: the token's)");
  usage->add_option("--month", usage_args->month, "The month, YYYY-MM in UTC (default: the current one)");
  AddServerFlags(usage, *flags);
  AddOutputFlag(usage, *flags);
  usage->callback([flags, usage_args, &exit_code] {
    Report(exit_code, [&] { return ShowUsage(*flags, *usage_args, exit_code); });
  });

  auto org_args = std::make_shared<OrgArgs>();
  auto* orgs = app.add_subcommand("orgs", "Show berthd organizations and change their settings");
  orgs->require_subcommand(1);
  auto* olist = orgs->add_subcommand("list", "List the organizations the token can see");
  olist->alias("ls");
  AddServerFlags(olist, *flags);
  AddOutputFlag(olist, *flags);
  olist->callback([flags, &exit_code] {
    Report(exit_code, [&] { return OrgsList(*flags, exit_code); });
  });
  auto* oget = orgs->add_subcommand("get", "Show an organization");
  oget->add_option("ORG", org_args->org, "Organization id or name")->required();
  AddServerFlags(oget, *flags);
  AddOutputFlag(oget, *flags);
  oget->callback([flags, org_args, &exit_code] {
    Report(exit_code, [&] { return OrgsGet(*flags, *org_args, exit_code); });
  });
  auto* oupdate = orgs->add_subcommand("update", "Change an organization's settings (admins)");
  oupdate->add_option("ORG", org_args->org, "Organization id or name")->required();
  oupdate->add_option("--build-minutes-cap", org_args->build_minutes_cap,
                      "Build minutes its projects may use per calendar month (UTC); 0: no cap");
  AddServerFlags(oupdate, *flags);
  AddOutputFlag(oupdate, *flags);
  oupdate->callback([flags, org_args, &exit_code] {
    Report(exit_code, [&] { return OrgsUpdate(*flags, *org_args, exit_code); });
  });

  auto update_args = std::make_shared<ProjectUpdateArgs>();
  CLI::App* projects = app.get_subcommand("projects");
  auto* pupdate = projects->add_subcommand("update", "Change a project's settings");
  pupdate->add_option("ID", update_args->id, "Project id")->required();
  pupdate->add_option("--name", update_args->name, "New name (unique in its organization)");
  pupdate->add_option("--region", update_args->region, "Region label");
  pupdate->add_option("--cache-cap", update_args->cache_cap,
                      "Cache size cap in bytes (suffixes k, m, g, t: binary units; 0: none)");
  pupdate->add_option("--retention-days", update_args->retention_days,
                      "Days saved builds are kept (1 to 3650)")
      ->check(CLI::Range(1, 3650));
  AddServerFlags(pupdate, *flags);
  AddOutputFlag(pupdate, *flags);
  pupdate->callback([flags, update_args, &exit_code] {
    Report(exit_code, [&] { return ProjectsUpdate(*flags, *update_args, exit_code); });
  });
}
// clang-format on

}  // namespace berth::cmd
