#include "service/cache_api.h"

#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/cache_admin.h"
#include "service/api.h"
#include "service/json_util.h"

namespace berth::service {
namespace {

using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;

json ToJson(const cache::Record& r) {
  return {{"key", r.key},
          {"description", r.description},
          {"location", r.location},
          {"platform", r.platform},
          {"size", r.size},
          {"created_at", Rfc3339(r.created_at)},
          {"last_used_at", Rfc3339(r.last_used_at)},
          {"layers", r.layers.size()}};
}

class CacheApi {
 public:
  CacheApi(metastore::Store& store, std::string root) : store_(store), root_(std::move(root)) {}

  httpserver::Handler Handle(Result<Response> (CacheApi::*method)(const Context&,
                                                                  const metastore::Project&)) {
    return Authed(store_,
                  [this, method](const Context& ctx, const Principal& who,
                                 const Request& r) -> Result<Response> {
                    metastore::Project project =
                        BERTH_TRY(AuthorizeProject(ctx, store_, who, r.params.at("id")));
                    return (this->*method)(ctx, project);
                  });
  }

  Result<Response> List(const Context& ctx, const metastore::Project& p) {
    json items = json::array();
    int64_t total = 0;
    for (const cache::Record& r : BERTH_TRY(engine::ListCache(ctx, root_, p.id))) {
      items.push_back(ToJson(r));
      total += r.size;
    }
    return JsonOk({{"items", items}, {"total_bytes", total}, {"cap_bytes", p.cache_cap_bytes}});
  }

  Result<Response> Reset(const Context& ctx, const metastore::Project& p) {
    engine::CacheCleanup c = BERTH_TRY(engine::ResetCache(ctx, root_, p.id));
    return JsonOk({{"entries", c.entries},
                   {"bytes", c.bytes},
                   {"snapshots", c.snapshots},
                   {"cache_mounts", c.cache_mounts},
                   {"deferred", c.deferred}});
  }

 private:
  metastore::Store& store_;
  std::string root_;
};

}  // namespace

void RegisterCacheApi(httpserver::Server& server, metastore::Store& store,
                      const std::string& builder_root) {
  auto api = std::make_shared<CacheApi>(store, builder_root);
  // The handlers hold `api` alive.
  auto handle = [api](auto method) {
    return [api, h = api->Handle(method)](const Request& r) {
      return h(r);
    };
  };
  server.Route("GET", "/api/v1/projects/:id/cache", handle(&CacheApi::List));
  server.Route("DELETE", "/api/v1/projects/:id/cache", handle(&CacheApi::Reset));
}

}  // namespace berth::service
