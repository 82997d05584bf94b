// berthd's usage accounting: build minutes and builds per project and organization per calendar
// month (UTC), each project's cache bytes on the builder, and the monthly build-minute cap of an
// organization that remote builds are checked against.
//
//   GET /api/v1/usage?org=ORG_ID&month=YYYY-MM   (org: the caller's; month: the current one)
//       -> {"org_id","org_name","month","from","to","builds","build_seconds","build_minutes",
//           "build_minutes_cap","cache_bytes",
//           "projects":[{"project_id","name","builds","build_seconds","build_minutes",
//                        "cache_bytes"}]}   projects by name, those without builds too
//   GET /api/v1/projects/:id/usage?month=YYYY-MM
//       -> {"project_id","name","org_id","month","from","to","builds","build_seconds",
//           "build_minutes","cache_bytes"}
//
// A build's minutes are the part of its run (started to finished; a running build up to now)
// that lies in the month, so a build across midnight of the 1st counts in both months; its
// "builds" count goes to the month it started in. build_minutes has two decimals;
// build_seconds is whole seconds (rounded down). The cap (organizations.build_minutes_cap, set
// with PATCH /api/v1/orgs/:org, api.h) compares against the same minutes.
//
// Authorised as the rest of the API (api.h): the organization's user and organization tokens
// and admins read its usage; a project token reads only its own project's (the organization's
// answers 403); another tenant's organization or project answers 404.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/context.h"
#include "base/result.h"
#include "httpserver/server.h"
#include "metastore/store.h"

namespace berth::service {

// A calendar month in UTC.
struct Month {
  int year = 1970;
  unsigned month = 1;  // 1..12

  // "YYYY-MM" (years 1970..9999); InvalidArgument naming `what` otherwise.
  static Result<Month> Parse(std::string_view text, std::string_view what = "month");
  // The month `t` falls in.
  static Month Of(metastore::Time t);

  metastore::Time Start() const;  // Its first instant.
  Month Next() const;
  std::string ToString() const;   // "2026-11"
  std::string StartDate() const;  // "2026-11-01"

  friend bool operator==(const Month&, const Month&) = default;
};

// Whether a build of `project` may start at `now`: ResourceExhausted (HTTP 429) when its
// organization has a cap and has used at least that many build minutes in the month of `now`,
// with a message that says how many, when the cap resets and how an admin raises it.
Result<> CheckBuildMinutes(const Context& ctx, metastore::Store& store,
                           const metastore::Project& project,
                           metastore::Time now = std::chrono::system_clock::now());

// Registers the routes above. `builder_root` is the engine's state directory on the builder
// (Builder::Options::root), where each project's cache is measured. `store` must outlive the
// server.
void RegisterUsageApi(httpserver::Server& server, metastore::Store& store,
                      const std::string& builder_root);

}  // namespace berth::service
