// Saved builds (`berth build --save`): berthd's JSON API over what its registry keeps for a
// project, and the retention that expires them (DESIGN.md "Registry"; decision 0006).
//
//   GET    /api/v1/projects/:id/images           the project repository's tags, newest first:
//          {"items":[{"tag","repository","reference","digest","media_type","size","saved_at",
//                     "expires_at","build_id"}]}  (build_id: the tag when it names a build)
//   DELETE /api/v1/projects/:id/images/:tag      removes the tag; what only it kept goes at once
//   POST   /api/v1/projects/:id/images/:tag/push {"targets": ["registry/repo:tag", ...],
//          "credentials": {"<registry host>": {"username","password"}}}
//          copies the saved image to every target from berthd (registries in parallel, blobs
//          they have skipped) -> {"digest", "pushed": [...]}
//
// Retention: a project keeps a saved image (a tag of its repositories) for its
// build_retention_days after the tag was last set; then the tag goes, and with it every
// manifest and blob link that no remaining tag reaches (an index reaches its children, a
// manifest the referrers whose subject it is) and that is older than the retention too.
// Blob bytes leave the registry's lease once no repository of any project links them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/context.h"
#include "base/result.h"
#include "httpserver/server.h"
#include "metastore/store.h"
#include "registryserver/registry.h"

namespace berth::registryserver {

struct SavedOptions {
  // The builder's state root: its config.toml says which registries are insecure or mirrored.
  std::string builder_root;
};

// Registers the routes above. `store` and `registry` must outlive the server.
void RegisterSavedApi(httpserver::Server& server, metastore::Store& store, Registry& registry,
                      SavedOptions options);

struct ExpiryStats {
  int64_t tags = 0;       // tags removed
  int64_t manifests = 0;  // manifest records removed
  int64_t blobs = 0;      // blob links removed
  int64_t released = 0;   // digests that left the registry's lease
};

// One retention pass over every project (as berthd runs it at start and then hourly): each
// project's saved images older than its retention, then the lease. Errors of one project are
// logged and the others go on.
Result<ExpiryStats> ExpireAll(const Context& ctx, metastore::Store& store, Registry& registry,
                              std::chrono::system_clock::time_point now);

}  // namespace berth::registryserver
