#include "engine/exporter.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>

#include "archive/export.h"
#include "archive/tar_writer.h"
#include "base/scope_exit.h"
#include "content/lease.h"
#include "engine/runner.h"
#include "fileop/fileop.h"
#include "images/import.h"
#include "oci/media_types.h"
#include "os/file.h"
#include "snapshot/mount.h"

namespace berth::engine {
namespace {

constexpr std::chrono::hours kExportLeaseTtl{24};

}  // namespace

Result<cache::Layer> SnapshotLayer(const Context& ctx, const ExportEnv& env,
                                   const std::string& name, const std::string& lease,
                                   std::optional<int64_t> source_date_epoch) {
  Result<cache::Record> record = env.index->Lookup(ctx, "", LayerKey(name));
  if (record.ok()) {
    for (const cache::Layer& layer : record->layers) {
      if (env.content->Exists(ctx, layer.digest).value_or(false)) {
        BERTH_TRY(env.content->leases().AddResource(ctx, lease, layer.digest));
        return layer;
      }
    }
  } else if (record.error().code() != ErrorCode::kNotFound) {
    return std::move(record).error();
  }
  std::string upper = BERTH_TRY(UpperDir(*env.snapshotter, name));
  std::string ref = UniqueName("export-");
  std::unique_ptr<content::Writer> ingest =
      BERTH_TRY(env.content->OpenWriter(ctx, {.ref = ref, .lease = lease}));
  archive::ExportOptions options;
  options.tar.layout = archive::SourceLayout::kOverlayUpper;
  options.tar.source_date_epoch = source_date_epoch;
  options.compression = compress::Format::kGzip;
  Result<archive::ExportedLayer> exported = archive::ExportLayer(ctx, upper, *ingest, options);
  if (!exported.ok()) {
    ingest.reset();
    (void)env.content->Abort(ctx, ref);
    return std::move(exported).error().AddContext("exporting snapshot " + name);
  }
  Result<> committed = ingest->Commit(ctx, exported->compressed_size, exported->blob_digest);
  if (!committed.ok() && committed.error().code() != ErrorCode::kAlreadyExists) {
    return std::move(committed).error().AddContext("storing the layer of " + name);
  }
  cache::Layer layer{.media_type = std::string(oci::kMediaTypeImageLayerGzip),
                     .digest = exported->blob_digest,
                     .size = static_cast<int64_t>(exported->compressed_size),
                     .diff_id = exported->diff_id,
                     .compression = "gzip"};
  cache::Record fresh;
  fresh.snapshot = name;
  BERTH_TRY(env.index->Put(ctx, "", LayerKey(name), fresh));
  BERTH_TRY(env.index->AddLayer(ctx, "", LayerKey(name), layer));
  return layer;
}

Result<std::vector<std::string>> SnapshotChain(const Context& ctx,
                                               snapshot::OverlaySnapshotter& snapshotter,
                                               const std::string& top) {
  std::vector<std::string> chain;
  for (std::string s = top; !s.empty();) {
    chain.push_back(s);
    snapshot::Info info = BERTH_TRY(snapshotter.Stat(ctx, s));
    s = info.parent;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

Result<oci::Descriptor> StoreDocument(const Context& ctx, content::Store& content,
                                      std::string_view media_type, const std::string& data,
                                      const std::string& lease) {
  oci::Descriptor desc = oci::DescribeBlob(media_type, data);
  StringReader reader(data);
  BERTH_TRY(content::WriteBlob(ctx, content, reader,
                               {.ref = "build-" + desc.digest.hex(),
                                .expected = desc.digest,
                                .expected_size = static_cast<uint64_t>(desc.size),
                                .lease = lease}));
  return desc;
}

Result<ExportedImage> ExportImage(const Context& ctx, const ExportEnv& env, const std::string& top,
                                  const frontend::dockerfile::convert::ImageConfig& config,
                                  const std::map<std::string, std::string>& annotations,
                                  std::optional<int64_t> source_date_epoch) {
  std::vector<std::string> chain = BERTH_TRY(SnapshotChain(ctx, *env.snapshotter, top));

  content::ScopedLease lease =
      BERTH_TRY(content::ScopedLease::Create(ctx, env.content->leases(), {.ttl = kExportLeaseTtl}));
  std::vector<cache::Layer> layers;
  for (const std::string& name : chain) {
    layers.push_back(BERTH_TRY(SnapshotLayer(ctx, env, name, lease.id(), source_date_epoch)));
  }

  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string created = images::FormatRfc3339(source_date_epoch.value_or(now));
  platform::Platform p =
      platform::Normalize(config.platform.os.empty() ? platform::HostPlatform() : config.platform);

  oci::ImageConfig image;
  image.created = created;
  image.author = config.author;
  image.architecture = p.architecture;
  image.os = p.os;
  image.variant = p.variant;
  oci::ContainerConfig& c = image.config;
  c.env = config.env;
  c.cmd = config.cmd;
  c.entrypoint = config.entrypoint;
  c.shell = config.shell;
  c.user = config.user;
  c.working_dir = config.working_dir;
  c.stop_signal = config.stop_signal;
  c.labels = config.labels;
  c.exposed_ports.insert(config.exposed_ports.begin(), config.exposed_ports.end());
  c.volumes.insert(config.volumes.begin(), config.volumes.end());
  if (config.healthcheck) {
    c.healthcheck = oci::HealthConfig{.test = config.healthcheck->test,
                                      .interval = config.healthcheck->interval,
                                      .timeout = config.healthcheck->timeout,
                                      .start_period = config.healthcheck->start_period,
                                      .start_interval = config.healthcheck->start_interval,
                                      .retries = config.healthcheck->retries};
  }
  c.on_build = config.on_build;
  for (const cache::Layer& layer : layers) {
    image.rootfs.diff_ids.push_back(layer.diff_id);
  }
  // History: one non-empty entry per layer. The frontend's history has one per layer-making
  // instruction; where the snapshot chain differs (a materialised merge adds layers), entries
  // are added or marked empty so that consumers that pair them with layers stay consistent.
  size_t non_empty = 0;
  for (const auto& h : config.history) {
    oci::History entry{.created = created,
                       .created_by = h.created_by,
                       .comment = h.comment,
                       .empty_layer = h.empty_layer};
    if (!entry.empty_layer) {
      if (non_empty >= layers.size()) {
        entry.empty_layer = true;
      } else {
        ++non_empty;
      }
    }
    image.history.push_back(std::move(entry));
  }
  for (; non_empty < layers.size(); ++non_empty) {
    image.history.push_back({.created = created, .created_by = "berth build", .comment = ""});
  }

  oci::Descriptor config_desc =
      BERTH_TRY_CONTEXT(StoreDocument(ctx, *env.content, oci::kMediaTypeImageConfig,
                                      oci::Serialize(image), lease.id()),
                        "storing the image config");
  oci::Manifest manifest;
  manifest.media_type = std::string(oci::kMediaTypeImageManifest);
  manifest.config = config_desc;
  manifest.annotations = annotations;
  for (const cache::Layer& layer : layers) {
    manifest.layers.push_back(
        {.media_type = layer.media_type, .digest = layer.digest, .size = layer.size});
  }
  oci::Descriptor manifest_desc =
      BERTH_TRY_CONTEXT(StoreDocument(ctx, *env.content, oci::kMediaTypeImageManifest,
                                      oci::Serialize(manifest), lease.id()),
                        "storing the image manifest");
  manifest_desc.platform = oci::Platform{p};
  return ExportedImage{.manifest = manifest_desc, .config = config_desc};
}

Result<> WithView(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                  const std::string& tmp_dir, const std::string& top,
                  const std::function<Result<>(const std::string&)>& fn) {
  BERTH_TRY(os::MakeDirs(tmp_dir, 0700));
  std::string dir = tmp_dir + "/export-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    return Error::FromErrno("mkdtemp " + dir, errno);
  }
  ScopeExit remove_dir([&] { (void)rmdir(dir.c_str()); });
  if (top.empty()) {
    return fn(dir);
  }
  std::string key = UniqueName("view-");
  std::vector<snapshot::Mount> mounts = BERTH_TRY(snapshotter.View(ctx, key, top));
  ScopeExit remove_view([&] { (void)snapshotter.Remove(ctx, key); });
  snapshot::ScopedMount mounted = BERTH_TRY(snapshot::MountAll(mounts, dir));
  Result<> r = fn(dir);
  BERTH_TRY(mounted.Unmount());
  return r;
}

Result<> ExportFiles(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                     const std::string& tmp_dir, const std::string& top, const std::string& dest) {
  BERTH_TRY_CONTEXT(os::MakeDirs(dest, 0755), "creating " + dest);
  return WithView(ctx, snapshotter, tmp_dir, top, [&](const std::string& dir) -> Result<> {
    graph::FileOp op;
    op.actions.push_back(graph::CopyAction{.src_input = 0,
                                           .src = "/",
                                           .dest = "/",
                                           .follow_symlinks = false,
                                           .allow_wildcard = false});
    fileop::FileOpEnv env;
    env.dest_root = dest;
    env.sources.push_back({.path = dir});
    BERTH_TRY_CONTEXT(fileop::ApplyFileOp(ctx, op, env), "copying the result to " + dest);
    return {};
  });
}

Result<> ExportTar(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                   const std::string& tmp_dir, const std::string& top,
                   std::optional<int64_t> source_date_epoch, Writer& out) {
  return WithView(ctx, snapshotter, tmp_dir, top, [&](const std::string& dir) -> Result<> {
    archive::TarOptions options;
    options.layout = archive::SourceLayout::kDirectory;
    options.source_date_epoch = source_date_epoch;
    BERTH_TRY(archive::WriteLayerTar(ctx, dir, out, options));
    return {};
  });
}

}  // namespace berth::engine
