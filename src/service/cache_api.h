// berthd's cache endpoints: a project's cache entries on the builder, and dropping them.
//
//   GET    /api/v1/projects/:id/cache
//          -> {"items": [{"key","description","location","platform","size","created_at",
//                         "last_used_at","layers"}], "total_bytes", "cap_bytes"}
//             most recently used first
//   DELETE /api/v1/projects/:id/cache
//          -> {"entries","bytes","snapshots","cache_mounts","deferred"} (engine::CacheCleanup)
//
// Authorised like every project endpoint (api.h): the project's own token, a user or
// organization token of its organization, an admin; another tenant's project answers 404.
#pragma once

#include <string>

#include "httpserver/server.h"
#include "metastore/store.h"

namespace berth::service {

// Registers the routes above. `builder_root` is the engine's state directory on the builder
// (Builder::Options::root). `store` must outlive the server.
void RegisterCacheApi(httpserver::Server& server, metastore::Store& store,
                      const std::string& builder_root);

}  // namespace berth::service
