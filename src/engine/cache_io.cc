#include "engine/cache_io.h"

#include <chrono>
#include <set>

#include "base/io.h"
#include "base/strings.h"
#include "cache/export_format.h"
#include "content/lease.h"
#include "engine/output.h"
#include "engine/runner.h"
#include "images/blob_source.h"
#include "oci/image.h"
#include "oci/layout.h"
#include "oci/media_types.h"
#include "reference/reference.h"
#include "registry/client.h"
#include "registry/transfer.h"

namespace berth::engine {
namespace {

constexpr size_t kMaxManifestBytes = size_t{4} << 20;
constexpr int64_t kMaxConfigBytes = int64_t{64} << 20;
constexpr std::chrono::hours kCacheExportLeaseTtl{1};

Result<CacheSpec> ParseCacheSpec(std::string_view spec, bool export_) {
  std::string flag = export_ ? "--cache-to" : "--cache-from";
  std::string what = flag + " " + std::string(spec);
  CacheSpec out;
  out.text = std::string(spec);
  if (Trim(spec).empty()) {
    return Error::InvalidArgument(flag + ": empty value");
  }
  if (spec.find('=') == std::string_view::npos) {
    out.ref = std::string(Trim(spec));  // a bare reference: type=registry,ref=REF
    return out;
  }
  std::map<std::string, std::string> attrs = BERTH_TRY(ParseCsvFields(what, spec));
  std::string type = attrs.count("type") != 0 ? attrs["type"] : "registry";
  attrs.erase("type");
  if (type == "registry") {
    out.type = CacheSpec::Type::kRegistry;
  } else if (type == "local") {
    out.type = CacheSpec::Type::kLocal;
  } else if (type == "inline" || type == "gha" || type == "s3" || type == "azblob") {
    return Error::Unimplemented(what + ": type=" + type +
                                " is not supported by berth; use type=registry or type=local");
  } else {
    return Error::InvalidArgument(what + ": unknown type \"" + type + "\": want registry or local");
  }
  static const std::set<std::string> kIgnored = {"oci-mediatypes", "image-manifest",
                                                 "compression-level", "force-compression"};
  for (const auto& [key, value] : attrs) {
    if (key == "ref" && out.type == CacheSpec::Type::kRegistry) {
      out.ref = value;
    } else if (key == (export_ ? "dest" : "src") && out.type == CacheSpec::Type::kLocal) {
      out.dir = value;
    } else if (key == "tag" && out.type == CacheSpec::Type::kLocal) {
      out.tag = value;
    } else if (key == "digest" && !export_ && out.type == CacheSpec::Type::kLocal) {
      BERTH_TRY_CONTEXT(digest::Digest::Parse(value), what + ": digest");
      out.digest = value;
    } else if (key == "mode" && export_) {
      if (value != "min" && value != "max") {
        return Error::InvalidArgument(what + ": mode=" + value + ": want min or max");
      }
      out.max = value == "max";
    } else if (key == "ignore-error" && export_) {
      out.ignore_error = BERTH_TRY(ParseBoolField(flag, key, value));
    } else if (key == "compression") {
      if (value != "gzip") {
        return Error::InvalidArgument(what + ": compression=" + value +
                                      ": only gzip layers are made so far");
      }
    } else if (kIgnored.count(key) == 0) {
      return Error::InvalidArgument(what + ": unknown attribute \"" + key + "\" for type=" + type);
    }
  }
  if (out.type == CacheSpec::Type::kRegistry && out.ref.empty()) {
    return Error::InvalidArgument(what + ": ref= is required for type=registry");
  }
  if (out.type == CacheSpec::Type::kLocal && out.dir.empty()) {
    return Error::InvalidArgument(what + (export_ ? ": dest=" : ": src=") +
                                  " is required for type=local");
  }
  if (out.type == CacheSpec::Type::kRegistry) {
    BERTH_TRY_CONTEXT(reference::ParseNormalized(out.ref), what);
  }
  return out;
}

// The manifest's config, checked to be a cache config of bounded size.
Result<oci::Manifest> ParseCacheManifest(std::string_view bytes, const std::string& what) {
  oci::Manifest manifest = BERTH_TRY_CONTEXT(oci::ParseManifest(bytes), what);
  if (manifest.config.media_type != cache::kMediaTypeCacheConfig) {
    return Error::InvalidArgument(what + ": not a berth cache (its config is " +
                                  QuoteString(manifest.config.media_type) + ")");
  }
  if (manifest.config.size < 0 || manifest.config.size > kMaxConfigBytes) {
    return Error::InvalidArgument(what + ": cache config of " +
                                  std::to_string(manifest.config.size) + " bytes");
  }
  return manifest;
}

}  // namespace

Result<CacheSpec> ParseCacheImport(std::string_view spec) {
  return ParseCacheSpec(spec, /*export_=*/false);
}

Result<CacheSpec> ParseCacheExport(std::string_view spec) {
  return ParseCacheSpec(spec, /*export_=*/true);
}

struct CacheImporter::Source {
  CacheSpec spec;
  cache::CacheConfig config;
  std::unique_ptr<oci::LayoutReader> layout;  // kLocal
  reference::Reference repo;                  // kRegistry
  std::unique_ptr<registry::Client> client;   // kRegistry
};

CacheImporter::CacheImporter(content::Store& content, snapshot::OverlaySnapshotter& snapshotter,
                             cache::Index& index, std::string root)
    : content_(content), snapshotter_(snapshotter), index_(index), root_(std::move(root)) {}

CacheImporter::~CacheImporter() = default;

Result<size_t> CacheImporter::Add(const Context& ctx, const CacheSpec& spec) {
  auto source = std::make_unique<Source>();
  source->spec = spec;
  std::string what = "--cache-from " + spec.text;
  std::string config_bytes;
  if (spec.type == CacheSpec::Type::kLocal) {
    source->layout = BERTH_TRY_CONTEXT(oci::LayoutReader::OpenDir(spec.dir), what);
    oci::Descriptor desc;
    if (!spec.digest.empty()) {
      bool found = false;
      for (const oci::LayoutEntry& e : source->layout->Entries()) {
        if (e.descriptor.digest.ToString() == spec.digest) {
          desc = e.descriptor;
          found = true;
        }
      }
      if (!found) {
        return Error::NotFound(what + ": no manifest " + spec.digest + " in " + spec.dir);
      }
    } else {
      desc = BERTH_TRY_CONTEXT(source->layout->Resolve(spec.tag), what);
    }
    std::unique_ptr<Reader> reader = BERTH_TRY_CONTEXT(source->layout->Open(desc.digest), what);
    std::string bytes = BERTH_TRY_CONTEXT(ReadAll(*reader, kMaxManifestBytes), what);
    oci::Manifest manifest = BERTH_TRY(ParseCacheManifest(bytes, what));
    reader = BERTH_TRY_CONTEXT(source->layout->Open(manifest.config.digest), what);
    config_bytes = BERTH_TRY_CONTEXT(ReadAll(*reader, kMaxConfigBytes), what);
  } else {
    source->repo = BERTH_TRY_CONTEXT(reference::ParseNormalized(spec.ref), what);
    source->client = BERTH_TRY(registry::Client::FromEnvironment(root_));
    registry::FetchedManifest fetched =
        BERTH_TRY_CONTEXT(source->client->FetchManifest(ctx, source->repo), what);
    if (fetched.bytes.size() > kMaxManifestBytes) {
      return Error::InvalidArgument(what + ": manifest too large");
    }
    oci::Manifest manifest = BERTH_TRY(ParseCacheManifest(fetched.bytes, what));
    StringWriter out;
    BERTH_TRY_CONTEXT(source->client->FetchBlob(ctx, source->repo, manifest.config, out), what);
    config_bytes = out.Take();
  }
  source->config = BERTH_TRY_CONTEXT(cache::ParseCacheConfig(config_bytes), what);
  size_t index = sources_.size();
  for (size_t i = 0; i < source->config.records.size(); ++i) {
    keys_.emplace(source->config.records[i].key, std::make_pair(index, i));
  }
  size_t records = source->config.records.size();
  sources_.push_back(std::move(source));
  return records;
}

Result<> CacheImporter::EnsureBlob(const Context& ctx, const Source& source,
                                   const cache::Layer& layer) {
  if (BERTH_TRY(content_.Exists(ctx, layer.digest))) {
    return {};
  }
  oci::Descriptor desc{.media_type = layer.media_type, .digest = layer.digest, .size = layer.size};
  if (source.spec.type == CacheSpec::Type::kRegistry) {
    return source.client->FetchBlobToStore(ctx, source.repo, desc, content_);
  }
  std::unique_ptr<Reader> reader = BERTH_TRY(source.layout->Open(layer.digest));
  BERTH_TRY(content::WriteBlob(ctx, content_, *reader,
                               {.ref = "cache-import-" + layer.digest.hex(),
                                .expected = layer.digest,
                                .expected_size = static_cast<uint64_t>(layer.size),
                                .lease = ""}));
  return {};
}

Result<std::optional<cache::Record>> CacheImporter::Fetch(const Context& ctx,
                                                          const std::string& key) {
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    return std::optional<cache::Record>();
  }
  const Source& source = *sources_[it->second.first];
  const cache::ExportedRecord& exported = source.config.records[it->second.second];
  std::vector<cache::Layer> layers;
  for (size_t i : exported.chain) {
    layers.push_back(source.config.layers[i]);
  }
  std::string what = "cache " + source.spec.text;
  std::string top = BERTH_TRY(UnpackChain(
      ctx, snapshotter_, index_, layers, what,
      [&](const cache::Layer& layer) -> Result<std::unique_ptr<Reader>> {
        BERTH_TRY(EnsureBlob(ctx, source, layer));
        return std::unique_ptr<Reader>(BERTH_TRY(content_.OpenReader(ctx, layer.digest)));
      }));
  cache::Record record;
  record.snapshot = top;
  record.description = exported.description.empty() ? "imported from " + what
                                                    : exported.description + " (" + what + ")";
  if (Result<snapshot::DiskUsage> usage = snapshotter_.Usage(ctx, top); usage.ok()) {
    record.size = usage->bytes;
  }
  return std::optional<cache::Record>(std::move(record));
}

Result<size_t> ExportCache(const Context& ctx, const ExportEnv& env, const std::string& root,
                           const std::vector<CacheResult>& results, const CacheSpec& spec,
                           std::optional<int64_t> source_date_epoch) {
  std::string what = "--cache-to " + spec.text;
  content::ScopedLease lease = BERTH_TRY(
      content::ScopedLease::Create(ctx, env.content->leases(), {.ttl = kCacheExportLeaseTtl}));
  cache::CacheConfig config;
  std::map<std::string, size_t> layer_of;  // snapshot -> index in config.layers
  std::set<std::string> keys;
  for (const CacheResult& result : results) {
    if (!keys.insert(result.key).second) {
      continue;
    }
    cache::ExportedRecord record{.key = result.key, .chain = {}, .description = result.description};
    for (const std::string& name :
         BERTH_TRY(SnapshotChain(ctx, *env.snapshotter, result.snapshot))) {
      auto found = layer_of.find(name);
      if (found == layer_of.end()) {
        cache::Layer layer =
            BERTH_TRY(SnapshotLayer(ctx, env, name, lease.id(), source_date_epoch));
        found = layer_of.emplace(name, config.layers.size()).first;
        config.layers.push_back(std::move(layer));
      }
      record.chain.push_back(found->second);
    }
    if (!record.chain.empty()) {
      config.records.push_back(std::move(record));
    }
  }
  oci::Manifest manifest;
  manifest.media_type = std::string(oci::kMediaTypeImageManifest);
  manifest.config = BERTH_TRY(StoreDocument(ctx, *env.content, cache::kMediaTypeCacheConfig,
                                            cache::SerializeCacheConfig(config), lease.id()));
  std::set<digest::Digest> seen;
  for (const cache::Layer& layer : config.layers) {
    if (seen.insert(layer.digest).second) {
      manifest.layers.push_back(
          {.media_type = layer.media_type, .digest = layer.digest, .size = layer.size});
    }
  }
  oci::Descriptor desc = BERTH_TRY(StoreDocument(ctx, *env.content, oci::kMediaTypeImageManifest,
                                                 oci::Serialize(manifest), lease.id()));
  images::ContentBlobSource blobs(ctx, *env.content);
  if (spec.type == CacheSpec::Type::kLocal) {
    std::vector<oci::LayoutEntry> entries{{.descriptor = desc, .ref_name = spec.tag}};
    BERTH_TRY_CONTEXT(oci::WriteLayoutDir(spec.dir, blobs, entries), what);
  } else {
    reference::Reference ref = BERTH_TRY_CONTEXT(reference::ParseNormalized(spec.ref), what);
    std::unique_ptr<registry::Client> client = BERTH_TRY(registry::Client::FromEnvironment(root));
    BERTH_TRY_CONTEXT(registry::Push(ctx, *client, blobs, desc, {ref}), what);
  }
  return config.records.size();
}

}  // namespace berth::engine
