#include "service/usage_api.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/cache_admin.h"
#include "service/api.h"
#include "service/json_util.h"

namespace berth::service {

Result<Month> Month::Parse(std::string_view text, std::string_view what) {
  auto bad = [&] {
    return Error::InvalidArgument(std::string(what) + " \"" + std::string(text.substr(0, 32)) +
                                  "\": want YYYY-MM, e.g. 2026-11");
  };
  if (text.size() != 7 || text[4] != '-') {
    return bad();
  }
  int year = 0;
  unsigned month = 0;
  for (size_t i = 0; i < 7; ++i) {
    if (i == 4) {
      continue;
    }
    if (text[i] < '0' || text[i] > '9') {
      return bad();
    }
    if (i < 4) {
      year = year * 10 + (text[i] - '0');
    } else {
      month = month * 10 + static_cast<unsigned>(text[i] - '0');
    }
  }
  if (year < 1970 || month < 1 || month > 12) {
    return bad();
  }
  return Month{.year = year, .month = month};
}

Month Month::Of(metastore::Time t) {
  std::chrono::year_month_day day{std::chrono::floor<std::chrono::days>(t)};
  return Month{.year = static_cast<int>(day.year()), .month = static_cast<unsigned>(day.month())};
}

metastore::Time Month::Start() const {
  std::chrono::sys_days day =
      std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{1};
  return std::chrono::time_point_cast<metastore::Time::duration>(day);
}

Month Month::Next() const {
  return month == 12 ? Month{.year = year + 1, .month = 1}
                     : Month{.year = year, .month = month + 1};
}

std::string Month::ToString() const {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02u", year, month);
  return buf;
}

std::string Month::StartDate() const {
  return ToString() + "-01";
}

namespace {

using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;

// Whole minutes used, rounded down (what the cap message says).
int64_t WholeMinutes(std::chrono::nanoseconds t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t).count();
}

json Minutes(std::chrono::nanoseconds t) {
  double minutes = std::chrono::duration<double, std::ratio<60>>(t).count();
  return std::round(minutes * 100) / 100;
}

int64_t Seconds(std::chrono::nanoseconds t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t).count();
}

// The month the query names, else the current one.
Result<Month> QueryMonth(const Request& r) {
  auto it = r.query.find("month");
  if (it == r.query.end() || it->second.empty()) {
    return Month::Of(std::chrono::system_clock::now());
  }
  return Month::Parse(it->second, "query month");
}

void AddPeriod(json& j, const Month& month) {
  j["month"] = month.ToString();
  j["from"] = Rfc3339(month.Start());
  j["to"] = Rfc3339(month.Next().Start());
}

class UsageApi {
 public:
  UsageApi(metastore::Store& store, std::string root) : store_(store), root_(std::move(root)) {}

  // GET /api/v1/usage
  Result<Response> Org(const Context& ctx, const Principal& who, const Request& r) {
    auto it = r.query.find("org");
    std::string org_id = it == r.query.end() || it->second.empty() ? who.token.org_id : it->second;
    if (who.token.kind == metastore::TokenKind::kProject && org_id == who.token.org_id &&
        !who.admin) {
      return Error::PermissionDenied(
          "a project token reads only its project's usage: GET /api/v1/projects/" +
          who.token.project_id + "/usage");
    }
    if (!CanUseOrganization(who, org_id)) {
      return Error::NotFound("organization " + org_id + " not found");
    }
    Month month = BERTH_TRY(QueryMonth(r));
    metastore::Organization org = BERTH_TRY(store_.GetOrganization(ctx, org_id));
    std::vector<metastore::ProjectUsage> usage =
        BERTH_TRY(store_.BuildUsage(ctx, org.id, month.Start(), month.Next().Start()));
    std::chrono::nanoseconds total{0};
    int64_t builds = 0;
    int64_t cache_bytes = 0;
    json projects = json::array();
    for (const metastore::ProjectUsage& u : usage) {
      int64_t bytes = BERTH_TRY(CacheBytes(ctx, u.project_id));
      projects.push_back({{"project_id", u.project_id},
                          {"name", u.name},
                          {"builds", u.builds},
                          {"build_seconds", Seconds(u.build_time)},
                          {"build_minutes", Minutes(u.build_time)},
                          {"cache_bytes", bytes}});
      total += u.build_time;
      builds += u.builds;
      cache_bytes += bytes;
    }
    json j = {{"org_id", org.id}, {"org_name", org.name}};
    AddPeriod(j, month);
    j["builds"] = builds;
    j["build_seconds"] = Seconds(total);
    j["build_minutes"] = Minutes(total);
    j["build_minutes_cap"] = org.build_minutes_cap;
    j["cache_bytes"] = cache_bytes;
    j["projects"] = std::move(projects);
    return JsonOk(j);
  }

  // GET /api/v1/projects/:id/usage
  Result<Response> Project(const Context& ctx, const Principal& who, const Request& r) {
    metastore::Project p = BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
    Month month = BERTH_TRY(QueryMonth(r));
    metastore::ProjectUsage u =
        BERTH_TRY(store_.ProjectBuildUsage(ctx, p.id, month.Start(), month.Next().Start()));
    json j = {{"project_id", p.id}, {"name", p.name}, {"org_id", p.org_id}};
    AddPeriod(j, month);
    j["builds"] = u.builds;
    j["build_seconds"] = Seconds(u.build_time);
    j["build_minutes"] = Minutes(u.build_time);
    j["cache_bytes"] = BERTH_TRY(CacheBytes(ctx, p.id));
    return JsonOk(j);
  }

 private:
  // The bytes of the project's cache entries on the builder (what `berth cache ls` totals).
  Result<int64_t> CacheBytes(const Context& ctx, const std::string& project_id) {
    int64_t bytes = 0;
    for (const cache::Record& record : BERTH_TRY(engine::ListCache(ctx, root_, project_id))) {
      bytes += record.size;
    }
    return bytes;
  }

  metastore::Store& store_;
  std::string root_;
};

}  // namespace

Result<> CheckBuildMinutes(const Context& ctx, metastore::Store& store,
                           const metastore::Project& project, metastore::Time now) {
  metastore::Organization org = BERTH_TRY(store.GetOrganization(ctx, project.org_id));
  if (org.build_minutes_cap <= 0) {
    return {};
  }
  Month month = Month::Of(now);
  std::vector<metastore::ProjectUsage> usage =
      BERTH_TRY(store.BuildUsage(ctx, org.id, month.Start(), month.Next().Start()));
  std::chrono::nanoseconds used{0};
  for (const metastore::ProjectUsage& u : usage) {
    used += u.build_time;
  }
  // Whole minutes: used >= cap minutes exactly when floor(used) >= cap, and no cap overflows.
  if (WholeMinutes(used) < org.build_minutes_cap) {
    return {};
  }
  return Error(ErrorCode::kResourceExhausted,
               "organization \"" + org.name + "\" has used " + std::to_string(WholeMinutes(used)) +
                   " of its " + std::to_string(org.build_minutes_cap) + " build minutes in " +
                   month.ToString() + "; the cap resets on " + month.Next().StartDate() +
                   " (an admin can raise it: berth orgs update " + org.name +
                   " --build-minutes-cap N)");
}

void RegisterUsageApi(httpserver::Server& server, metastore::Store& store,
                      const std::string& builder_root) {
  auto api = std::make_shared<UsageApi>(store, builder_root);
  // The handlers hold `api` alive.
  auto bind = [api, &store](Result<Response> (UsageApi::*method)(const Context&, const Principal&,
                                                                 const Request&)) {
    return Authed(store, [api, method](const Context& ctx, const Principal& who, const Request& r) {
      return ((*api).*method)(ctx, who, r);
    });
  };
  server.Route("GET", "/api/v1/usage", bind(&UsageApi::Org));
  server.Route("GET", "/api/v1/projects/:id/usage", bind(&UsageApi::Project));
}

}  // namespace berth::service
