#include "registryserver/saved.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "content/store.h"
#include "digest/digest.h"
#include "oci/image.h"
#include "reference/reference.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/config.h"
#include "registry/transfer.h"
#include "registryserver/parse.h"
#include "service/api.h"
#include "service/json_util.h"

namespace berth::registryserver {
namespace {

using Clock = std::chrono::system_clock;
using httpserver::Request;
using httpserver::Response;
using json = nlohmann::json;
using service::JsonOk;
using Key = std::pair<std::string, std::string>;  // (repository, digest)

// A removal of a tag leaves what only it kept for this long (a push in progress may be about
// to reference it).
constexpr std::chrono::minutes kRemovalGrace{10};
// A blob written this recently stays in the lease though nothing links it yet.
constexpr std::chrono::hours kLeaseGrace{1};

Clock::time_point RetentionCutoff(const metastore::Project& p, Clock::time_point now) {
  return now - std::chrono::hours(24) * std::max(p.build_retention_days, 1);
}

class SavedApi {
 public:
  SavedApi(metastore::Store& store, Registry& registry, SavedOptions options)
      : store_(store), registry_(registry), options_(std::move(options)) {}

  using Method = Result<Response> (SavedApi::*)(const Context&, const metastore::Project&,
                                                const Request&);
  // The handler of `method`: the caller must reach the project. The handler owns `self`.
  static httpserver::Handler Handle(const std::shared_ptr<SavedApi>& self, Method method) {
    return service::Authed(self->store_,
                           [self, method](const Context& ctx, const service::Principal& who,
                                          const Request& r) -> Result<Response> {
                             metastore::Project project = BERTH_TRY(service::AuthorizeProject(
                                 ctx, self->store_, who, r.params.at("id")));
                             return ((*self).*method)(ctx, project, r);
                           });
  }

  Result<Response> List(const Context& ctx, const metastore::Project& p, const Request&) {
    std::vector<metastore::RegistryTag> tags = BERTH_TRY(store_.ListRegistryTagRecords(ctx, p.id));
    std::map<Key, metastore::RegistryManifest> manifests;
    for (metastore::RegistryManifest& m : BERTH_TRY(store_.ListRegistryManifests(ctx, p.id))) {
      Key key{m.repository, m.digest};
      manifests.emplace(std::move(key), std::move(m));
    }
    std::stable_sort(tags.begin(), tags.end(),
                     [](const auto& a, const auto& b) { return a.updated_at > b.updated_at; });
    json items = json::array();
    for (const metastore::RegistryTag& t : tags) {
      auto m = manifests.find({t.repository, t.digest});
      bool is_build = t.tag.starts_with("b_") && store_.GetBuild(ctx, t.tag).ok();
      items.push_back({{"tag", t.tag},
                       {"repository", t.repository},
                       {"digest", t.digest},
                       {"media_type", m != manifests.end() ? m->second.media_type : ""},
                       {"size", m != manifests.end() ? m->second.size : 0},
                       {"saved_at", service::Rfc3339(t.updated_at)},
                       {"expires_at", service::Rfc3339(t.updated_at + std::chrono::hours(24) *
                                                                          p.build_retention_days)},
                       {"build_id", is_build ? t.tag : ""}});
    }
    return JsonOk({{"items", items}, {"retention_days", p.build_retention_days}});
  }

  Result<Response> Remove(const Context& ctx, const metastore::Project& p, const Request& r) {
    const std::string& tag = r.params.at("tag");
    Result<> removed = store_.DeleteRegistryTag(ctx, p.id, tag);
    if (!removed.ok()) {
      if (removed.error().code() == ErrorCode::kNotFound) {
        return Error::NotFound("no saved image " + tag + " in project " + p.id);
      }
      return removed.error();
    }
    Clock::time_point now = Clock::now();
    ExpiryStats stats =
        BERTH_TRY(registry_.Collect(ctx, p.id, RetentionCutoff(p, now), now - kRemovalGrace));
    return JsonOk({{"removed", tag}, {"manifests", stats.manifests}, {"blobs", stats.blobs}});
  }

  Result<Response> Push(const Context& ctx, const metastore::Project& p, const Request& r) {
    const std::string& tag = r.params.at("tag");
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return Error::InvalidArgument("request body: want a JSON object");
    }
    if (!body.contains("targets") || !body["targets"].is_array() || body["targets"].empty() ||
        body["targets"].size() > 64) {
      return Error::InvalidArgument(
          "request body: field \"targets\": want 1 to 64 image references");
    }
    std::vector<reference::Reference> targets;
    for (const json& t : body["targets"]) {
      if (!t.is_string()) {
        return Error::InvalidArgument("request body: targets: want strings");
      }
      targets.push_back(BERTH_TRY_CONTEXT(reference::ParseNormalized(t.get<std::string>()),
                                          "request body: targets"));
    }
    registry::ClientOptions options;
    options.config = BERTH_TRY_CONTEXT(registry::RegistryConfig::Load(options_.builder_root),
                                       "the builder's config.toml");
    if (body.contains("credentials")) {
      if (!body["credentials"].is_object()) {
        return Error::InvalidArgument("request body: field \"credentials\": want an object");
      }
      for (const auto& [host, c] : body["credentials"].items()) {
        if (!c.is_object() || !c.value("username", json()).is_string() ||
            !c.value("password", json()).is_string()) {
          return Error::InvalidArgument("request body: credentials." + host +
                                        ": want {\"username\", \"password\"}");
        }
        options.credentials.Set(host, {.username = c["username"].get<std::string>(),
                                       .password = c["password"].get<std::string>()});
      }
    }
    metastore::RegistryManifest m = BERTH_TRY(Resolve(ctx, p, tag));
    oci::Descriptor root{.media_type = m.media_type,
                         .digest = BERTH_TRY(digest::Digest::Parse(m.digest)),
                         .size = m.size};
    registry::Client client(std::move(options));
    registry::StoreBlobSource source(registry_.content(), ctx);
    BERTH_TRY_CONTEXT(registry::Push(ctx, client, source, root, targets),
                      "pushing saved image " + tag);
    json pushed = json::array();
    for (const reference::Reference& t : targets) {
      pushed.push_back(t.String());
    }
    registry::ClientStats stats = client.stats();
    return JsonOk({{"digest", m.digest},
                   {"pushed", pushed},
                   {"blobs_uploaded", stats.blobs_uploaded},
                   {"blobs_skipped", stats.blobs_skipped + stats.blobs_mounted},
                   {"bytes_uploaded", stats.bytes_uploaded}});
  }

 private:
  // The saved image `ref` (a tag or a digest) of the project's repository.
  Result<metastore::RegistryManifest> Resolve(const Context& ctx, const metastore::Project& p,
                                              const std::string& ref) {
    Result<metastore::RegistryManifest> m = ref.starts_with("sha256:")
                                                ? store_.GetRegistryManifest(ctx, p.id, ref)
                                                : store_.ResolveRegistryTag(ctx, p.id, ref);
    if (!m.ok() && m.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound("no saved image " + ref + " in project " + p.id);
    }
    return m;
  }

  metastore::Store& store_;
  Registry& registry_;
  SavedOptions options_;
};

}  // namespace

void RegisterSavedApi(httpserver::Server& server, metastore::Store& store, Registry& registry,
                      SavedOptions options) {
  auto api = std::make_shared<SavedApi>(store, registry, std::move(options));
  server.Route("GET", "/api/v1/projects/:id/images", SavedApi::Handle(api, &SavedApi::List));
  server.Route("DELETE", "/api/v1/projects/:id/images/:tag",
               SavedApi::Handle(api, &SavedApi::Remove));
  server.Route("POST", "/api/v1/projects/:id/images/:tag/push",
               SavedApi::Handle(api, &SavedApi::Push));
}

Result<ExpiryStats> Registry::Collect(const Context& ctx, const std::string& project_id,
                                      Clock::time_point tag_cutoff,
                                      Clock::time_point object_cutoff) {
  ExpiryStats stats;
  // Live roots: the tags that stay, and whatever is younger than the cutoff.
  std::deque<Key> queue;
  for (const metastore::RegistryTag& t :
       BERTH_TRY(metadata_.ListRegistryTagRecords(ctx, project_id))) {
    if (t.updated_at < tag_cutoff) {
      Result<> removed = metadata_.DeleteRegistryTag(ctx, t.repository, t.tag);
      if (!removed.ok() && removed.error().code() != ErrorCode::kNotFound) {
        return removed.error();
      }
      stats.tags += removed.ok() ? 1 : 0;
    } else {
      queue.emplace_back(t.repository, t.digest);
    }
  }
  std::map<Key, metastore::RegistryManifest> manifests;
  std::multimap<Key, std::string> referrers;  // (repository, subject) -> referrer digest
  for (metastore::RegistryManifest& m :
       BERTH_TRY(metadata_.ListRegistryManifests(ctx, project_id))) {
    if (m.created_at >= object_cutoff) {
      queue.emplace_back(m.repository, m.digest);
    }
    if (!m.subject.empty()) {
      referrers.emplace(Key{m.repository, m.subject}, m.digest);
    }
    Key key{m.repository, m.digest};
    manifests.emplace(std::move(key), std::move(m));
  }
  // Everything the live manifests reach, read from their bytes. A live manifest that cannot be
  // read stops the pass: nothing it may reach is removed.
  std::set<Key> live;
  std::set<Key> live_blobs;
  while (!queue.empty()) {
    Key key = std::move(queue.front());
    queue.pop_front();
    auto m = manifests.find(key);
    if (m == manifests.end() || !live.insert(key).second) {
      continue;
    }
    digest::Digest d = BERTH_TRY(digest::Digest::Parse(key.second));
    std::string body =
        BERTH_TRY_CONTEXT(content::ReadBlob(ctx, content_, d, options_.max_manifest_bytes),
                          "expiry: reading manifest " + key.second + " of " + key.first);
    ParsedManifest parsed = BERTH_TRY_CONTEXT(
        ParseManifest(body,
                      body.find("\"mediaType\"") == std::string::npos ? m->second.media_type : ""),
        "expiry: manifest " + key.second + " of " + key.first);
    for (const ManifestDescriptor& child : parsed.children) {
      queue.emplace_back(key.first, child.digest);
    }
    for (const ManifestDescriptor& blob : parsed.blobs) {
      live_blobs.emplace(key.first, blob.digest);
    }
    auto [first, last] = referrers.equal_range(key);
    for (auto it = first; it != last; ++it) {
      queue.emplace_back(key.first, it->second);
    }
  }
  for (const auto& [key, m] : manifests) {
    if (live.count(key) == 0) {
      Result<> removed = metadata_.DeleteRegistryManifest(ctx, key.first, key.second);
      if (!removed.ok() && removed.error().code() != ErrorCode::kNotFound) {
        return removed.error();
      }
      stats.manifests += removed.ok() ? 1 : 0;
    }
  }
  for (const metastore::RegistryBlob& b : BERTH_TRY(metadata_.ListRegistryBlobs(ctx, project_id))) {
    if (b.created_at < object_cutoff && live_blobs.count({b.repository, b.digest}) == 0) {
      Result<> removed = metadata_.DeleteRegistryBlob(ctx, b.repository, b.digest);
      if (!removed.ok() && removed.error().code() != ErrorCode::kNotFound) {
        return removed.error();
      }
      stats.blobs += removed.ok() ? 1 : 0;
    }
  }
  return stats;
}

Result<int64_t> Registry::ReleaseUnreferenced(const Context& ctx, std::chrono::seconds grace) {
  std::vector<std::string> held = BERTH_TRY(metadata_.ListRegistryDigests(ctx));
  std::set<std::string> referenced(held.begin(), held.end());
  Clock::time_point recent = Clock::now() - grace;
  std::vector<digest::Digest> released;
  for (const digest::Digest& d : BERTH_TRY(content_.leases().ListResources(ctx, options_.lease))) {
    if (referenced.count(d.ToString()) != 0) {
      continue;
    }
    Result<content::Info> info = content_.Info(ctx, d);
    if (info.ok() && info->updated_at >= recent) {
      continue;
    }
    BERTH_TRY(content_.leases().DeleteResource(ctx, options_.lease, d));
    released.push_back(d);
  }
  // A save or upload may have linked one of them meanwhile (it adds to the lease first, then
  // links): those go back into the lease before anything can collect them.
  held = BERTH_TRY(metadata_.ListRegistryDigests(ctx));
  referenced = std::set<std::string>(held.begin(), held.end());
  int64_t count = 0;
  for (const digest::Digest& d : released) {
    if (referenced.count(d.ToString()) != 0) {
      BERTH_TRY(content_.leases().AddResource(ctx, options_.lease, d));
    } else {
      ++count;
    }
  }
  return count;
}

Result<ExpiryStats> ExpireAll(const Context& ctx, metastore::Store& store, Registry& registry,
                              Clock::time_point now) {
  ExpiryStats total;
  for (const metastore::Organization& org : BERTH_TRY(store.ListOrganizations(ctx))) {
    for (const metastore::Project& p : BERTH_TRY(store.ListProjects(ctx, org.id))) {
      Clock::time_point cutoff = RetentionCutoff(p, now);
      Result<ExpiryStats> s = registry.Collect(ctx, p.id, cutoff, cutoff);
      if (!s.ok()) {
        log::Warn("expiring the saved images of project " + p.id + ": " + s.error().ToString());
        continue;
      }
      total.tags += s->tags;
      total.manifests += s->manifests;
      total.blobs += s->blobs;
    }
  }
  total.released = BERTH_TRY(registry.ReleaseUnreferenced(
      ctx, std::chrono::duration_cast<std::chrono::seconds>(kLeaseGrace)));
  return total;
}

}  // namespace berth::registryserver
