#include "registry/transfer.h"

#include <future>
#include <map>
#include <mutex>
#include <set>

#include "base/thread_pool.h"
#include "oci/media_types.h"
#include "oci/walk.h"

namespace berth::registry {

namespace {

// Runs fn(item) for every item on `pool`, waits for all, and returns the first error; an error
// cancels `ctx` so the others stop early.
template <typename T, typename Fn>
Result<> RunAll(const Context& ctx, ThreadPool& pool, const std::vector<T>& items, Fn fn) {
  std::mutex mu;
  std::optional<Error> first;
  std::vector<std::future<void>> futures;
  futures.reserve(items.size());
  for (const T& item : items) {
    futures.push_back(pool.Submit([&, item] {
      Result<> r = ctx.Done() ? Result<>(ctx.Check()) : fn(item);
      if (!r.ok()) {
        std::lock_guard lock(mu);
        if (!first.has_value()) {
          first = std::move(r).error();
          ctx.Cancel("an earlier transfer failed");
        }
      }
    }));
  }
  for (auto& f : futures) {
    f.wait();
  }
  if (first.has_value()) {
    return std::move(*first);
  }
  return {};
}

Result<> StoreDocument(const Context& ctx, content::Store& store, const oci::Descriptor& desc,
                       const std::string& bytes) {
  StringReader reader(bytes);
  content::WriterOptions wo;
  wo.ref = "registry-" + desc.digest.algorithm() + "-" + desc.digest.hex();
  wo.expected = desc.digest;
  wo.expected_size = static_cast<uint64_t>(desc.size);
  BERTH_TRY(content::WriteBlob(ctx, store, reader, wo));
  return {};
}

}  // namespace

Result<std::unique_ptr<Reader>> StoreBlobSource::Open(const digest::Digest& digest) {
  std::unique_ptr<content::BlobReader> r = BERTH_TRY(store_.OpenReader(ctx_, digest));
  return std::unique_ptr<Reader>(std::move(r));
}

Result<PullResult> Pull(const Context& ctx, Client& client, const reference::Reference& ref,
                        const oci::PlatformMatcher& matcher, content::Store& store,
                        const ProgressFn& progress) {
  std::string what = "pulling " + ref.String();
  PullResult result;
  FetchedManifest fetched;
  {
    // One GET both resolves and fetches the root document.
    Result<FetchedManifest> f = client.FetchManifest(ctx, ref);
    if (!f.ok()) {
      return std::move(f).error().AddContext(what);
    }
    fetched = std::move(f).value();
  }
  result.root = fetched.descriptor;
  BERTH_TRY_CONTEXT(StoreDocument(ctx, store, result.root, fetched.bytes), what);

  std::string manifest_bytes = std::move(fetched.bytes);
  result.manifest = result.root;
  for (int depth = 0; oci::IsIndexMediaType(result.manifest.media_type); ++depth) {
    if (depth >= 8) {
      return Error::InvalidArgument(what + ": indexes nested too deep");
    }
    oci::Index index = BERTH_TRY_CONTEXT(oci::ParseIndex(manifest_bytes), what);
    oci::Descriptor chosen = BERTH_TRY_CONTEXT(oci::SelectManifest(index, matcher), what);
    manifest_bytes = BERTH_TRY_CONTEXT(client.FetchManifest(ctx, ref, chosen), what);
    BERTH_TRY_CONTEXT(StoreDocument(ctx, store, chosen, manifest_bytes), what);
    result.manifest = chosen;
  }
  if (!oci::IsManifestMediaType(result.manifest.media_type)) {
    return Error::InvalidArgument(what + ": unsupported manifest media type " +
                                  result.manifest.media_type);
  }
  result.image = BERTH_TRY_CONTEXT(oci::ParseManifest(manifest_bytes), what);

  std::vector<oci::Descriptor> blobs;
  std::set<digest::Digest> seen;
  auto add = [&](const oci::Descriptor& d) {
    if (seen.insert(d.digest).second) {
      blobs.push_back(d);
    }
  };
  add(result.image.config);
  for (const oci::Descriptor& layer : result.image.layers) {
    if (oci::IsNonDistributableLayerMediaType(layer.media_type)) {
      continue;  // registries do not host these; the runtime fetches them from their URLs
    }
    add(layer);
  }
  Context child = ctx.WithCancel();
  ThreadPool pool(std::max<size_t>(1, std::min(client.options().parallelism, blobs.size())));
  BERTH_TRY_CONTEXT(RunAll(child, pool, blobs,
                           [&](const oci::Descriptor& d) {
                             return client.FetchBlobToStore(child, ref, d, store, progress);
                           }),
                    what);
  return result;
}

Result<> Push(const Context& ctx, Client& client, oci::BlobSource& source,
              const oci::Descriptor& root, const std::vector<reference::Reference>& targets,
              const ProgressFn& progress) {
  if (targets.empty()) {
    return Error::InvalidArgument("push: no target reference");
  }
  oci::BlobSet set;
  BERTH_TRY_CONTEXT(oci::CollectBlobs(source, root, set),
                    "collecting the blobs of " + root.digest.ToString());
  std::vector<oci::Descriptor> plain;      // configs, layers, other blobs
  std::vector<oci::Descriptor> documents;  // manifests and indexes, children first
  for (const oci::Descriptor& d : set.blobs) {
    bool doc = oci::IsManifestMediaType(d.media_type) || oci::IsIndexMediaType(d.media_type);
    (doc ? documents : plain).push_back(d);
  }

  // Targets by registry, then by repository (in the order given).
  std::map<std::string, std::vector<std::pair<reference::Reference, std::vector<std::string>>>>
      by_registry;
  for (const reference::Reference& t : targets) {
    auto& repos = by_registry[t.domain];
    auto it = std::find_if(repos.begin(), repos.end(),
                           [&](const auto& r) { return r.first.path == t.path; });
    if (it == repos.end()) {
      repos.push_back({t, {}});
      it = repos.end() - 1;
    }
    std::string name = !t.tag.empty() ? t.tag : t.digest;
    if (!t.digest.empty() && t.digest != root.digest.ToString()) {
      return Error::InvalidArgument("push: target " + t.String() + " names another digest than " +
                                    root.digest.ToString());
    }
    it->second.push_back(name.empty() ? root.digest.ToString() : name);
  }

  Context child = ctx.WithCancel();
  ThreadPool blob_pool(std::max<size_t>(1, client.options().parallelism));
  auto push_registry = [&](const auto& repos) -> Result<> {
    for (size_t i = 0; i < repos.size(); ++i) {
      const reference::Reference& repo = repos[i].first;
      std::string what = "pushing " + root.digest.ToString() + " to " + repo.Name();
      // The first repository receives the bytes; the others mount them from it.
      std::string from = i == 0 ? std::string() : repos[0].first.path;
      BERTH_TRY_CONTEXT(RunAll(child, blob_pool, plain,
                               [&](const oci::Descriptor& d) {
                                 return client.PushBlob(child, repo, d, source, from, progress);
                               }),
                        what);
      for (const oci::Descriptor& d : documents) {
        const std::string& bytes = set.documents.at(d.digest);
        if (d.digest == root.digest) {
          for (const std::string& tag : repos[i].second) {
            BERTH_TRY_CONTEXT(client.PushManifest(child, repo, tag, d.media_type, bytes), what);
          }
        } else {
          BERTH_TRY_CONTEXT(
              client.PushManifest(child, repo, d.digest.ToString(), d.media_type, bytes), what);
        }
      }
    }
    return Ok();
  };

  std::vector<std::future<Result<>>> registries;
  for (const auto& [domain, repos] : by_registry) {
    registries.push_back(std::async(std::launch::async, [&, &repos = repos]() -> Result<> {
      Result<> r = push_registry(repos);
      if (!r.ok()) {
        child.Cancel("a push failed");
      }
      return r;
    }));
  }
  std::optional<Error> first;
  for (auto& f : registries) {
    Result<> r = f.get();
    if (!r.ok() && (!first.has_value() || first->code() == ErrorCode::kCancelled)) {
      first = std::move(r).error();
    }
  }
  if (first.has_value()) {
    return std::move(*first);
  }
  return {};
}

}  // namespace berth::registry
